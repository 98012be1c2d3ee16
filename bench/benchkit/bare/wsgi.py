"""WSGI entry point of the bare app (gunicorn benchkit.bare.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchkit.bare.settings")
application = get_wsgi_application()
