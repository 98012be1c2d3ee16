"""``accord serve``: the web server (gunicorn) and the job worker in one command.

The embedded default: one process tree serves the UI and API and runs the jobs.
At scale, run gunicorn and ``accord worker`` separately instead.
"""

import signal
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand
from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, options):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from accord.wsgi import application

        return application


class Command(BaseCommand):
    help = "Serve the UI and API and run the job worker."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--workers", type=int, default=2, help="web worker processes")
        parser.add_argument("--threads", type=int, default=4, help="threads per web worker")
        parser.add_argument("--no-worker", action="store_true", help="do not start the job worker")

    def handle(self, *args, **options):
        worker = None
        if not options["no_worker"]:
            worker = subprocess.Popen([sys.executable, "-m", "accord.cli", "worker"])
        self.stdout.write(
            f"Accord is serving on http://{options['bind']}/ "
            f"({'demo data' if settings.DEMO else 'production'} mode)"
        )
        try:
            _Gunicorn(
                {
                    "bind": options["bind"],
                    "workers": options["workers"],
                    "threads": options["threads"],
                    "accesslog": "-",
                    "timeout": 60,
                }
            ).run()
        finally:
            if worker is not None and worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    worker.kill()
