"""Settings for ERP Integrations. Every value comes from the environment.

Without any variable set, the product runs on an embedded default: SQLite files and a
file-system Celery broker under ``var/``. Set DATABASE_URL and REDIS_URL to run on
PostgreSQL and Redis. See the README for every variable.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from erp_integrations.env import env_bool, env_float, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production-0123456789"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "axes",
    "accounts",
    "erp_integrations",
    "erp_integrations.sandbox",
]

MIDDLEWARE = [
    "erp_integrations.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Compresses what the middleware below return (Django's, at a cheaper level). Its
    # output is padded with a random gzip filename (Django's BREACH mitigation), and CSRF
    # tokens are masked per response, so a reflected search term cannot be used to guess
    # a secret by size.
    "erp_integrations.middleware.GZipMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "erp_integrations.middleware.CleanInputMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "erp_integrations.middleware.DatabaseBusyMiddleware",
    "erp_integrations.middleware.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "erp_integrations.views.errors.DomainErrorMiddleware",
    "erp_integrations.middleware.ResponseHeadersMiddleware",
    # Last, as django-axes asks: it turns a refused sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "erp_integrations.urls"
WSGI_APPLICATION = "erp_integrations.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "erp_integrations.context_processors.sandbox_console",
                "erp_integrations.context_processors.master_tabs",
            ],
        },
    },
]

# --- Databases --------------------------------------------------------------------
# The platform's own data lives in "default". Each sandbox ERP keeps its records in a
# store of its own, on a separate connection, so no query can join across them.
DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{VAR_DIR / 'erp_integrations.sqlite3'}",
    schemes={"sqlite", "postgres", "postgresql", "pgsql"},
)
DATABASE_POOL = env_bool("DATABASE_POOL", True)


def _database(url: str) -> dict:
    config = dj_database_url.parse(url)
    if config["ENGINE"] == "django.db.backends.postgresql":
        config["CONN_HEALTH_CHECKS"] = True
        if DATABASE_POOL:
            # psycopg's pool keeps connections open between requests; Django then
            # wants CONN_MAX_AGE left at 0.
            config["OPTIONS"] = {"pool": {"min_size": 1, "max_size": 20, "timeout": 10}}
        else:
            config["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60, minimum=0)
    else:
        # SQLite: wait for the writer instead of failing at once.
        config["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    return config


def _sandbox_url(alias: str) -> str:
    if DATABASE_URL.startswith("sqlite"):
        return f"sqlite:///{VAR_DIR / (alias + '.sqlite3')}"
    base, _, name = DATABASE_URL.rpartition("/")
    name, _, query = name.partition("?")
    return f"{base}/{name}_{alias}" + (f"?{query}" if query else "")


SANDBOX_DATABASES = ("sandbox_sage300", "sandbox_sage100")

DATABASES = {"default": _database(DATABASE_URL)}
for _alias in SANDBOX_DATABASES:
    _url = env_url(
        f"{_alias.upper()}_DATABASE_URL",
        _sandbox_url(_alias),
        schemes={"sqlite", "postgres", "postgresql", "pgsql"},
    )
    DATABASES[_alias] = _database(_url)

DATABASE_ROUTERS = ["erp_integrations.sandbox.router.SandboxRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# --- Sign-in throttling (django-axes) -----------------------------------------------------
# After SIGNIN_FAILURE_LIMIT failed sign-ins for one username from one client (its IP
# address), that username is refused from that client for SIGNIN_COOLOFF_MINUTES, on
# /accounts/login/ and /admin/login/ alike, before any password is checked. Locking
# the pair rather than the username means nobody can lock a user out from elsewhere,
# and the cool-off means no lock lasts. Each failure is logged (logger "axes").
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, the signed-in user read without the ORM's compilation.
    "accounts.backends.ModelBackend",
]
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env_int("SIGNIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIGNIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "erp_integrations.views.common.signin_locked_out"
AXES_CLIENT_IP_CALLABLE = "erp_integrations.views.common.client_ip_address"
# Usernames and addresses appear in the log lines of failures (who was guessed at, from where).
AXES_SENSITIVE_PARAMETERS = []

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Redis, cache and Celery -----------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# How long to wait for Redis (to connect, and for each answer) before giving up, so a
# Redis that stops answering (a black-holed host) cannot hang a request or Sync now.
REDIS_SOCKET_TIMEOUT = env_float("REDIS_SOCKET_TIMEOUT", 3.0, minimum=0.1)
if REDIS_URL:
    env_url("REDIS_URL", REDIS_URL, schemes={"redis", "rediss", "unix"})
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Without REDIS_URL, Celery uses a broker on the file system under var/, so web,
# worker and beat work on one machine with no server to install.
_CELERY_QUEUE_DIR = VAR_DIR / "celery-broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _CELERY_QUEUE_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_CELERY_QUEUE_DIR),
        "data_folder_out": str(_CELERY_QUEUE_DIR),
        # Exchange tables too, or kombu writes them to ./control in the working directory.
        "control_folder": str(_CELERY_QUEUE_DIR / "control"),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
        "socket_timeout": REDIS_SOCKET_TIMEOUT,
    }
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_SOCKET_TIMEOUT
# A publish that fails is retried once, not three times: Sync now answers within
# about two socket timeouts when the broker does not.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
SYNC_BATCH_SIZE = env_int("SYNC_BATCH_SIZE", 5000, minimum=1)
# The hourly sync, on the hour in UTC. "expires" drops runs that were missed while
# no worker was up, so they do not pile up and run back to back when one returns.
# SYNC_SCHEDULE_SECONDS (tests of the beat-to-worker path only) replaces the hour by a
# short interval; production leaves it unset.
SYNC_SCHEDULE_SECONDS = env_int("SYNC_SCHEDULE_SECONDS", 0, minimum=0)
CELERY_BEAT_SCHEDULE = {
    "hourly-erp-sync": {
        "task": "erp_integrations.tasks.sync_all_connections",
        "schedule": SYNC_SCHEDULE_SECONDS or crontab(minute="0"),
        "options": {"expires": 55 * 60},
    },
}

# --- E-mail -------------------------------------------------------------------------------
# Rejection notices, resend notices and the approvers' daily summary, sent by Celery
# tasks (never inside a request). With EMAIL_HOST set, through that SMTP server; without
# it, each message is written to a file under $VAR_DIR/sent-mail (EMAIL_BACKEND chooses
# another backend, e.g. django.core.mail.backends.console.EmailBackend).
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 587 if env_bool("EMAIL_USE_TLS", bool(EMAIL_HOST)) else 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", bool(EMAIL_HOST))
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ERP Integrations <erp-integrations@localhost>")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = str(VAR_DIR / "sent-mail")
# Where the links in e-mails point: the address users open the product at.
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000", schemes={"http", "https"}).rstrip("/")
# The hour (0-23, in each company's own time zone) at which approvers get the daily summary.
DIGEST_HOUR = env_int("DIGEST_HOUR", 7, minimum=0)
if DIGEST_HOUR > 23:
    raise ImproperlyConfigured(f"DIGEST_HOUR must be an hour from 0 to 23, not {DIGEST_HOUR}.")
# Beat asks every hour, a few minutes past; each company's summary goes out in the hour
# that is DIGEST_HOUR in its time zone (so zones 30 minutes off UTC get theirs too).
CELERY_BEAT_SCHEDULE["daily-erp-digest"] = {
    "task": "erp_integrations.tasks.send_digests",
    "schedule": crontab(minute="5,35"),
    "options": {"expires": 25 * 60},
}
#: More rows than this in one bulk action run as a Celery task with a progress bar.
BULK_INLINE_LIMIT = env_int("BULK_INLINE_LIMIT", 100, minimum=1)
#: The most rows "all N matching this search" takes at once.
BULK_MAX_ROWS = env_int("BULK_MAX_ROWS", 1000, minimum=1)

# --- Security ----------------------------------------------------------------------
# Django's database sessions, read without the ORM's compilation (accounts/sessions.py).
SESSION_ENGINE = "accounts.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# CSRF refusals in words a user can act on (and, for HTMX, in the page's message area).
CSRF_FAILURE_VIEW = "erp_integrations.views.common.csrf_failure"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers ask for /healthz over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# A policy strict enough to stop injected script, loose enough for htmx served from
# our own static files (htmx's inline indicator styles are switched off in base.html).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

# Every line says when, how bad, which request (X-Request-ID) and whose.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "erp_integrations.logging.RequestContextFilter"}},
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s [%(request_id)s %(user)s] %(name)s: %(message)s"}
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_context"], "formatter": "line"}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- The sandbox ERP console --------------------------------------------------------------
# Staff's stand-in for Sage itself (delete and restore ERP records, the fault switch).
# Off unless DEBUG is on or SANDBOX_CONSOLE_ENABLED says so; where on, it also needs the
# permission sandbox.use_sandbox_console.
SANDBOX_CONSOLE_ENABLED = env_bool("SANDBOX_CONSOLE_ENABLED", DEBUG)

# --- ERP connectors ------------------------------------------------------------------
# How long the platform waits for an ERP before giving up on a request.
ERP_TIMEOUT_SECONDS = env_float("ERP_TIMEOUT_SECONDS", 10.0, minimum=0.1)
