"""Settings for the test suite: the real PostgreSQL and Redis of this machine by default.

The suite needs both services (races, advisory locks and the broker are the point of
many tests); set DATABASE_URL and REDIS_URL to point elsewhere. Redis is its own
database 15 by default, never the db 0 the README runs the product on.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/erp_integrations")
# A Redis database of the tests' own: the README runs the product on db 0, and a worker
# listening there would take the tests' messages.
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdefghijklmnop")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# The browser tests and the console's own tests use it; tests/erp_integrations/views/
# test_sandbox_console.py checks it is off (404) when switched off.
os.environ.setdefault("SANDBOX_CONSOLE_ENABLED", "true")

from erp_integrations.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
# WhiteNoise looks for STATIC_ROOT at start-up; tests serve from the finders instead.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
