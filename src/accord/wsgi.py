"""WSGI entry point (gunicorn accord.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "accord.settings")
application = get_wsgi_application()

from django.conf import settings  # noqa: E402

from accord.core import warmup  # noqa: E402  (needs the apps loaded)

if not settings.TESTING:
    # Under tests the app is imported by API fuzzing: a thread reading the test
    # database while tests write it and the run drops it would race them.
    warmup.start()
