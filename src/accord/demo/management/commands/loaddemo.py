"""``accord loaddemo``: load the demo data once (a small IT service provider with
three customers, four teams, a dozen services and about 300 incidents and requests)."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accord.core.context import acting_as
from accord.core.models import SiteFlag
from accord.demo.loader import VIA, DemoConflict, DemoLoader

FLAG = "demo_data"


class Command(BaseCommand):
    help = (
        "Load the demo data: users (password 'accord-demo'), teams, customers, services "
        "and about 300 incidents and requests. Does nothing if it is already loaded."
    )

    def handle(self, *args, **options):
        started = time.monotonic()
        with acting_as(None, VIA), transaction.atomic():
            if SiteFlag.objects.filter(key=FLAG).exists():
                self.stdout.write("Demo data is already loaded; nothing to do.")
                return
            try:
                counts = DemoLoader().load()
            except DemoConflict as exc:
                raise CommandError(str(exc)) from exc
            SiteFlag.objects.create(key=FLAG, value=timezone.now().isoformat())
        self.stdout.write(
            self.style.SUCCESS(
                "Demo data loaded in {seconds:.1f} s: {users} users, {teams} teams, "
                "{customers} customers, {services} services, {incidents} incidents and "
                "{requests} service requests.".format(seconds=time.monotonic() - started, **counts)
            )
        )
        self.stdout.write(
            "Sign in as admin, agent, manager, owner, auditor, customer-a or customer-b "
            "with the password 'accord-demo'."
        )
