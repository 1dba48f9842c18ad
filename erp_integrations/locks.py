"""Claims that die with their holder.

On PostgreSQL: a session-level advisory lock, taken without waiting. If the process
holding it dies, its connection closes and the lock goes with it, so a dead worker can
never leave a connection claimed. On the embedded SQLite default: an flock() on a file
under var/locks, which the kernel releases when the process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connections

#: Namespaces keep different kinds of claims apart (first key of the advisory lock).
#: The sync's is 1; each record kind's export claim has its own (``RecordKind.lock_namespace``).
SYNC = 1


def _int4(value: int) -> int:
    """Map any integer onto PostgreSQL's signed int4 range, stably."""
    digest = hashlib.blake2b(str(value).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def try_claim(namespace: int, key: int, *, using: str = "default") -> Iterator[bool]:
    """Yield True if the claim was taken (and hold it for the block), else False."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        k1, k2 = namespace, _int4(key) if not -(2**31) <= key < 2**31 else key
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [k1, k2])
            taken = cursor.fetchone()[0]
        try:
            yield taken
        finally:
            if taken:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [k1, k2])
        return

    lock_dir = settings.VAR_DIR / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / f"{namespace}-{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def is_claimed(namespace: int, key: int, *, using: str = "default") -> bool:
    """Whether someone holds the claim right now (a snapshot; for display only)."""
    with try_claim(namespace, key, using=using) as taken:
        return not taken
