"""The test suite's second pass: the embedded default (SQLite files, no Redis).

`runall` on a fresh machine runs on SQLite, with a file-system broker and no Redis, and
takes code paths PostgreSQL never does (the portable sync marks, file locks instead of
advisory locks, plain LIKE searches, the sandbox's id look-ups). The tests marked
``embedded`` run here too, so CI runs those paths: see the README's test command.
"""

import os
import tempfile

# Whatever the environment says (CI points DATABASE_URL at PostgreSQL): this pass is
# the embedded default's.
_var = tempfile.mkdtemp(prefix="erp-integrations-embedded-")
os.environ["VAR_DIR"] = _var
os.environ["DATABASE_URL"] = f"sqlite:///{_var}/erp_integrations.sqlite3"
# No Redis: the cache is in memory and Celery's broker is on the file system.
os.environ["REDIS_URL"] = ""
for _name in ("SANDBOX_SAGE300_DATABASE_URL", "SANDBOX_SAGE100_DATABASE_URL", "CELERY_BROKER_URL"):
    os.environ.pop(_name, None)

from tests.settings import *  # noqa: E402,F403

assert {db["ENGINE"] for db in DATABASES.values()} == {"django.db.backends.sqlite3"}  # noqa: F405
assert CACHES["default"]["BACKEND"].endswith("LocMemCache")  # noqa: F405
