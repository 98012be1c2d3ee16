"""Settings of the bare comparison app: no apps, no middleware, Accord's own database
configuration (same URL, same SQLite pragmas and transaction mode, same persistent
PostgreSQL connections), so the only difference is what happens inside the request."""

import os

import environ

env = environ.Env()
SECRET_KEY = env.str("ACCORD_SECRET_KEY", default="bench-bare-" + "x" * 40)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = ["benchkit.bare"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "benchkit.bare.urls"
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Take the database settings from Accord's settings module so both apps talk to the
# database in exactly the same way (importing it only reads environment variables).
os.environ.setdefault("ACCORD_SECRET_KEY", SECRET_KEY)
from accord import settings as _accord  # noqa: E402

DATABASES = _accord.DATABASES
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
