"""Django settings for Accord.

Everything an operator sets comes from environment variables with the ACCORD_
prefix; the defaults give the embedded mode (SQLite under ./var, Huey on SQLite).
Settings an administrator changes while Accord runs (priority matrices, service
hours, ...) live in the database instead.
"""

import os
import secrets
import sys
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

PACKAGE_DIR = Path(__file__).resolve().parent
env = environ.Env()

TESTING = "pytest" in sys.modules
DATA_DIR = Path(env.str("ACCORD_DATA_DIR", default=str(Path.cwd() / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# Demo mode: `make run` sets it; it allows a generated secret key and loads demo data.
DEMO = env.bool("ACCORD_DEMO", default=False)
DEBUG = env.bool("ACCORD_DEBUG", default=False)


def _secret_key() -> str:
    key = env.str("ACCORD_SECRET_KEY", default="")
    if key:
        return key
    if TESTING:
        return "accord-test-only-" + "x" * 40
    if DEMO:
        # A key of the installation's own, kept beside its database.
        path = DATA_DIR / "demo-secret-key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(50))
            path.chmod(0o600)
        return path.read_text().strip()
    raise ImproperlyConfigured(
        "ACCORD_SECRET_KEY is not set. Accord refuses to start without a secret key of its "
        "own outside demo mode: set ACCORD_SECRET_KEY to a long random string "
        "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ACCORD_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
if TESTING:
    ALLOWED_HOSTS = ["*"]
CSRF_TRUSTED_ORIGINS = env.list("ACCORD_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "huey.contrib.djhuey",
    "accord.core",
    "accord.calendars",
    "accord.users",
    "accord.organizations",
    "accord.catalogue",
    "accord.incidents",
    "accord.slas",
    "accord.cmdb",
    "accord.problems",
    "accord.changes",
    "accord.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accord.core.middleware.ActorMiddleware",
    "accord.core.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "accord.urls"
WSGI_APPLICATION = "accord.wsgi.application"
AUTH_USER_MODEL = "users.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accord.core.context_processors.accord",
            ],
        },
    }
]

# --- Database -----------------------------------------------------------------
_default_db = f"sqlite:///{DATA_DIR / 'accord.sqlite3'}"
_db_url = env.str("ACCORD_DATABASE_URL", default=_default_db)
if TESTING and env.str("ACCORD_TEST_DATABASE_URL", default=""):
    _db_url = env.str("ACCORD_TEST_DATABASE_URL")
_db = environ.Env.db_url_config(_db_url)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        # IMMEDIATE takes the write lock at BEGIN, so two writers queue on the busy
        # timeout instead of failing with "database is locked" on lock upgrade.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
            "PRAGMA foreign_keys=ON; PRAGMA cache_size=-20000;"
        ),
    }
    # Tests use a file database too: concurrency tests need real connections.
    # One file per test process, so two test runs on one machine never share it.
    _db["TEST"] = {"NAME": str(DATA_DIR / f"test-accord-{os.getpid()}.sqlite3")}
else:
    _db["CONN_MAX_AGE"] = env.int("ACCORD_CONN_MAX_AGE", default=600)
    _db["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = _db["ENGINE"].startswith("django.db.backends.postgresql")

# --- Background jobs --------------------------------------------------------
REDIS_URL = env.str("ACCORD_REDIS_URL", default="")
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "accord",
        "url": REDIS_URL,
        "immediate": TESTING,
        "consumer": {
            "workers": env.int("ACCORD_WORKER_THREADS", default=4),
            "worker_type": "thread",
        },
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "accord",
        "filename": str(DATA_DIR / "jobs.sqlite3"),
        "immediate": TESTING,
        "consumer": {
            "workers": env.int("ACCORD_WORKER_THREADS", default=2),
            "worker_type": "thread",
        },
    }

# --- Cache -----------------------------------------------------------------
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth ------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("ACCORD_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- Internationalisation ---------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English")]
TIME_ZONE = env.str("ACCORD_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ---------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
ATTACHMENT_MAX_BYTES = env.int("ACCORD_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = ATTACHMENT_MAX_BYTES + 1024 * 1024
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Email -------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "ACCORD_EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if not env.str("ACCORD_EMAIL_HOST", default="")
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("ACCORD_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("ACCORD_EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("ACCORD_EMAIL_USER", default="")
EMAIL_HOST_PASSWORD = env.str("ACCORD_EMAIL_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("ACCORD_EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("ACCORD_EMAIL_FROM", default="accord@localhost")
# Where users reach Accord: links in emails are made absolute with it.
BASE_URL = env.str("ACCORD_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
if TESTING:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accord.users.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accord.core.permissions.RecordPermission"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "accord.core.permissions.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "accord.core.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Accord API",
    "DESCRIPTION": "REST API of Accord, IT service management for ISO/IEC 20000.",
    "VERSION": "0.1.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/",
    "ENUM_NAME_OVERRIDES": {
        "RecordStatusEnum": "accord.incidents.choices.Status",
        "ServiceStatusEnum": "accord.catalogue.choices.ServiceStatus",
        "RatingEnum": "accord.incidents.choices.Impact",
        "ImportRunKindEnum": "accord.cmdb.models.ImportRun.KINDS",
        "CIStatusEnum": "accord.cmdb.choices.CIStatus",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("ACCORD_LOG_LEVEL", default="WARNING")},
}

os.environ.setdefault("ACCORD_DATA_DIR", str(DATA_DIR))
