"""Settings for the test suite: the real PostgreSQL and Redis of this machine by default.

The suite needs both services (races, advisory locks and the broker are the point of
many tests); set DATABASE_URL and REDIS_URL to point elsewhere. Redis is its own
database 15 by default, never the db 0 the README runs the product on; under
pytest-xdist (``-n 2``) worker gwN takes the database N below it.
"""

import os
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/erp_integrations")
# A Redis database of the tests' own: the README runs the product on db 0, and a worker
# listening there would take the tests' messages.
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_url_of_this_worker(url: str, worker: str) -> str:
    """Under pytest-xdist, worker gwN's own Redis database: the one given, less N. Each
    worker empties its cache and takes its broker's messages between tests; in one
    database they would take each other's."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    index = int(worker.removeprefix("gw")) if worker.startswith("gw") and worker[2:].isdigit() else 0
    if index == 0:
        return url
    if base - index <= 0:
        raise ValueError(f"{url}: too few Redis databases below it for pytest-xdist worker {worker}")
    return urlunsplit(parts._replace(path=f"/{base - index}"))


os.environ["REDIS_URL"] = _redis_url_of_this_worker(
    os.environ["REDIS_URL"], os.environ.get("PYTEST_XDIST_WORKER", "")
)
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
