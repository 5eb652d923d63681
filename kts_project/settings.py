"""Settings, all read from the environment.

Fails closed: without DJANGO_DEBUG=1 this is a production configuration (HTTPS-only
cookies, HSTS, no development secret key). Development (``make run``) and the test suite
(``kts_project.settings_test``) set DJANGO_DEBUG=1, which brings the development defaults:
SQLite, django-q2's ORM broker, console e-mail, a development secret key.
Production: set DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS, DATABASE_URL (postgres://...) and
REDIS_URL (the django-q2 broker). Each environment variable is read once, here.
"""

import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
_DEV_SECRET = "dev-only-insecure-key-change-me-in-production-0123456789abcdef"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", _DEV_SECRET if DEBUG else "")
# Commands that only read the models (never sign, hash or serve anything) run without a key;
# Django itself still refuses any use of an empty SECRET_KEY.
_MODELS_ONLY_COMMANDS = {"makemigrations", "showmigrations", "sqlmigrate"}
_command = sys.argv[1] if len(sys.argv) > 1 and sys.argv[0].endswith("manage.py") else ""
if not SECRET_KEY and _command not in _MODELS_ONLY_COMMANDS:
    raise ImproperlyConfigured(
        "Set DJANGO_SECRET_KEY when DJANGO_DEBUG is off (the default); "
        "in development set DJANGO_DEBUG=1 (make run does)."
    )
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "schools",
    "grading",
    "attendance",
    "exchange",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "schools.middleware.SecurityHeadersMiddleware",  # CSP, Permissions-Policy, 413 (R36)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "kts_project.urls"
WSGI_APPLICATION = "kts_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "schools.context_processors.nav",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web server and the q cluster share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # SQLite cannot hold "nulls not distinct" uniqueness (state rows have district NULL);
    # full_clean() still checks it on every write, and PostgreSQL holds it in the database.
    SILENCED_SYSTEM_CHECKS = ["models.W047"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- E-mail (R15 reminders) -------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("DJANGO_EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "kts-exchange@localhost")

# --- REST framework ---------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "schools.access.tokens.TokenAuthentication",  # DRF's, token and roles in one query
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["schools.access.IsScopedUser"],
    "DEFAULT_PAGINATION_CLASS": "schools.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
        "schools.feeds.ChangedSinceFilter",  # R40 ?changed_since=
    ],
    "DEFAULT_PARSER_CLASSES": [
        "schools.parsers.DepthLimitedJSONParser",  # R44: too deep is 400, not 500
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "schools.api_common.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "60/min"),
        "user": os.environ.get("API_THROTTLE_USER", "5000/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "KTS Data Exchange API",
    "DESCRIPTION": "Enrollments, grades and attendance between home high schools and "
    "Kentucky Tech System technical schools.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "schools.openapi.add_error_responses",  # 400/401/403/404 on every operation
    ],
    # The docs pages load Swagger UI and ReDoc from this site's static files (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DJANGO_MAX_UPLOAD", str(5 * 1024 * 1024)))

# Redis: the cache and django-q2's broker when set; otherwise local memory and the ORM.
REDIS_URL = os.environ.get("REDIS_URL", "")

# --- Cache (API throttling, sign-in attempt limiting) ------------------------------------
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "kts"}
    )
}

# --- django-q2 --------------------------------------------------------------------------
Q_CLUSTER = {
    "name": os.environ.get("Q_CLUSTER_NAME", "kts"),
    # The queue the tasks go to and the cluster serves: the name's own unless set (the
    # benchmarks give the cluster they start a private one).
    "cluster_name": os.environ.get("Q_QUEUE_NAME") or os.environ.get("Q_CLUSTER_NAME", "kts"),
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    # A full Kentucky-scale exchange takes minutes; never hand the same task out twice.
    "timeout": int(os.environ.get("Q_TIMEOUT", "3600")),
    "retry": int(os.environ.get("Q_RETRY", "4000")),
    "max_attempts": 1,
    "catch_up": False,
    "sync": env_bool("Q_SYNC", False),
    "label": "Django Q2",
    "save_limit": 500,
    "ack_failures": True,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Security (production) --------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # WeasyPrint logs every page it lays out at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# Exchange tuning
EXCHANGE_BATCH_SIZE = int(os.environ.get("EXCHANGE_BATCH_SIZE", "2000"))
# R46: a part blocked on a row lock or a runaway statement fails with a clear reason.
EXCHANGE_LOCK_TIMEOUT = os.environ.get("EXCHANGE_LOCK_TIMEOUT", "60s")
EXCHANGE_STATEMENT_TIMEOUT = os.environ.get("EXCHANGE_STATEMENT_TIMEOUT", "30min")
# R46: a part failing on a database error (lost connection, lock timeout) is tried again
# up to this many times in all, after EXCHANGE_RETRY_BACKOFF seconds, doubling each time.
EXCHANGE_PART_ATTEMPTS = int(os.environ.get("EXCHANGE_PART_ATTEMPTS", "3"))
EXCHANGE_RETRY_BACKOFF = float(os.environ.get("EXCHANGE_RETRY_BACKOFF", "30"))
# A cluster run still queued this many seconds after it was asked for has lost its start
# task: the watchdog sends it again (R46).
EXCHANGE_START_GRACE = float(os.environ.get("EXCHANGE_START_GRACE", "120"))
# R22: on PostgreSQL a flow whose inputs did not change since the last run replays what it
# found then (an exact fingerprint of the rows it reads); "0" makes every run decide afresh.
EXCHANGE_WATERMARK = os.environ.get("EXCHANGE_WATERMARK", "1") not in ("0", "false", "off", "")
# PostgreSQL: the reads an exchange part makes once per tech school are planned once per
# database session (prepared statements); "0" behind a pooler that hands each transaction a
# different session (e.g. PgBouncer in transaction mode).
EXCHANGE_PREPARED_STATEMENTS = env_bool("EXCHANGE_PREPARED_STATEMENTS", True)
# A finished run refreshes the planner statistics (ANALYZE) of a table it wrote at least this
# share of (of the rows PostgreSQL last counted there); smaller changes are autovacuum's, whose
# own analyze threshold is 10% by default. 0: every table the run wrote to.
EXCHANGE_ANALYZE_SHARE = float(os.environ.get("EXCHANGE_ANALYZE_SHARE", "0.1"))
# R47: the nightly schedule runs the exchange only inside this local-time window
# ("HH:MM-HH:MM"); a cluster started after a missed night does not catch up at noon.
EXCHANGE_NIGHT_WINDOW = os.environ.get("EXCHANGE_NIGHT_WINDOW", "00:00-06:00")
# SQLite only: where the exchange's process locks (flock files) live; default: the temp dir.
EXCHANGE_LOCK_DIR = os.environ.get("EXCHANGE_LOCK_DIR", "")
# R49: how long an Idempotency-Key's answer is replayed.
IDEMPOTENCY_KEY_HOURS = int(os.environ.get("IDEMPOTENCY_KEY_HOURS", "24"))
# R32: a batch of report cards is rendered in parts of this many cards, one django-q2 task
# each; a part whose worker died is tried up to REPORT_CARD_PART_ATTEMPTS times in all; a
# task still queued after REPORT_CARD_RESEND_AFTER seconds is sent again by the watchdog.
REPORT_CARD_PART_SIZE = int(os.environ.get("REPORT_CARD_PART_SIZE", "100"))
REPORT_CARD_PART_ATTEMPTS = int(os.environ.get("REPORT_CARD_PART_ATTEMPTS", "3"))
REPORT_CARD_RESEND_AFTER = int(os.environ.get("REPORT_CARD_RESEND_AFTER", "600"))
