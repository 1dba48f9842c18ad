"""What the benchmark and load scripts share: scratch databases, timing, tables.

Nothing here imports Django at module level, so a script can set the environment
(DATABASE_URL of its scratch database, settings) before Django reads it.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
SANDBOX_SUFFIXES = ("_sandbox_sage300", "_sandbox_sage100")


def scratch_database_url(name: str) -> str:
    """DATABASE_URL for database ``name`` on the server of $DATABASE_URL (or the local one)."""
    base = os.environ.get("DATABASE_URL") or f"{DEFAULT_SERVER}/erp_integrations"
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def _admin_dsn(database_url: str) -> str:
    parts = urlsplit(database_url)
    return urlunsplit((parts.scheme.replace("postgres", "postgresql"), parts.netloc, "/postgres", "", ""))


def database_names(database_url: str) -> list[str]:
    """The platform's database and its two sandbox stores (see settings._sandbox_url)."""
    name = urlsplit(database_url).path.lstrip("/")
    return [name] + [name + suffix for suffix in SANDBOX_SUFFIXES]


def databases_exist(database_url: str) -> bool:
    import psycopg

    with psycopg.connect(_admin_dsn(database_url), autocommit=True) as conn:
        names = database_names(database_url)
        found = conn.execute("SELECT count(*) FROM pg_database WHERE datname = ANY(%s)", [names]).fetchone()
        return found[0] == len(names)


def databases_create(database_url: str, *, fresh: bool) -> None:
    """Create the three databases (dropping them first when ``fresh``)."""
    import psycopg

    with psycopg.connect(_admin_dsn(database_url), autocommit=True) as conn:
        for name in database_names(database_url):
            if fresh:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')


def databases_drop(database_url: str) -> None:
    import psycopg

    with psycopg.connect(_admin_dsn(database_url), autocommit=True) as conn:
        for name in database_names(database_url):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def django_environment(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a process that serves or measures the product on ``database_url``."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE=env.get("BENCH_SETTINGS_MODULE", "tests.settings"),
        DEBUG="false",
        SECRET_KEY=env.get("SECRET_KEY") or "benchmark-secret-key-not-for-production-0123456789abcdef",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
        LOG_LEVEL="ERROR",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def run_manage(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True, cwd=ROOT)


def migrate_all(env: dict[str, str]) -> None:
    for alias in ("default", "sandbox_sage300", "sandbox_sage100"):
        run_manage(["migrate", "--database", alias, "-v", "0"], env)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(len(ordered), rank) - 1]


@dataclass
class Timing:
    """Server time of one kind of request, in milliseconds, and its queries."""

    name: str
    samples_ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        return percentile(self.samples_ms, 95)

    @property
    def query_text(self) -> str:
        low, high = min(self.queries), max(self.queries)
        return str(low) if low == high else f"{low}-{high}"

    def summary(self) -> dict:
        return {
            "name": self.name,
            "n": len(self.samples_ms),
            "median_ms": round(self.median, 2),
            "p95_ms": round(self.p95, 2),
            "max_ms": round(max(self.samples_ms), 2),
            "queries": self.query_text,
        }


class QueryCounter:
    """Counts the queries of every database alias while installed."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def time_calls(name: str, call: Callable[[], object], times: int, *, warmup: int = 3) -> Timing:
    """Call ``call`` ``warmup`` + ``times`` times; time and count the queries of the last ``times``."""
    from contextlib import ExitStack

    from django.db import connections

    timing = Timing(name)
    for index in range(warmup + times):
        counter = QueryCounter()
        with ExitStack() as stack:
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(counter))
            start = time.perf_counter()
            call()
            elapsed = (time.perf_counter() - start) * 1000
        if index >= warmup:
            timing.samples_ms.append(elapsed)
            timing.queries.append(counter.count)
    return timing


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    system = f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    return f"{os.cpu_count()} cores ({cpu}){memory}, {system}"


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [
        "| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "| " + " | ".join("-" * w for w in widths) + " |",
    ]
    lines += [
        "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in rows
    ]
    return "\n".join(lines)


def as_dict(obj) -> dict:
    return asdict(obj)
