"""``accord worker``: run the background job consumer (Huey) alone."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the background job worker (scale out by running several)."

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=None, help="worker threads")

    def handle(self, *args, **options):
        extra = ["--workers", str(options["workers"])] if options["workers"] else []
        call_command("run_huey", *extra)
