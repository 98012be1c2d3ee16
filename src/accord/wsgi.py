"""WSGI entry point (gunicorn accord.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "accord.settings")
application = get_wsgi_application()

from accord.core import warmup  # noqa: E402  (needs the apps loaded)

warmup.start()
