"""What the fault tests share: their own Redis, Celery workers, beat and web server
(started on free ports against the test databases, always stopped), and the
invariants every fault test ends by checking.

Nothing here touches the machine's shared PostgreSQL or Redis services beyond the
test's own databases: every Redis, worker, beat and server is the test's own.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from django.db import connection, connections

from erp_integrations import locks
from erp_integrations.models import (
    AuditEntry,
    Commitment,
    Discrepancy,
    ErpLink,
    ExportState,
    SubcontractorInvoice,
    SyncRun,
)
from erp_integrations.sandbox.services import STORES
from tests.erp_integrations.processes import database_url, free_port, redis_answers, wait_for

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

__all__ = ["free_port", "wait_for"]


# --- processes -------------------------------------------------------------------------
def process_env(tmp_path: Path, redis_url: str | None, **extra: str) -> dict[str, str]:
    """The environment of a process that works on this test's databases and Redis."""
    env = {key: value for key, value in os.environ.items() if key not in ("CELERY_BROKER_URL", "REDIS_URL")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url("default"),
        "SANDBOX_SAGE300_DATABASE_URL": database_url("sandbox_sage300"),
        "SANDBOX_SAGE100_DATABASE_URL": database_url("sandbox_sage100"),
        "VAR_DIR": str(tmp_path / "var"),
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    # tests.settings falls back to the shared Redis when REDIS_URL is unset; a fault
    # test's processes always name their own.
    env["REDIS_URL"] = redis_url or "redis://127.0.0.1:1/0"
    return env | extra


@dataclass
class Started:
    proc: subprocess.Popen
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def started(args: list[str], *, log: Path, env: dict[str, str] | None = None) -> Iterator[Started]:
    """Start a process in a session of its own; stop it (and its children) on the way out."""
    out = log.open("wb")
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield Started(proc, log)
    finally:
        stop(proc)
        out.close()


def stop(proc: subprocess.Popen, *, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


@contextmanager
def redis_process(tmp_path: Path, port: int) -> Iterator[Started]:
    """A redis-server of the test's own on ``port`` (stop it early with ``stop``)."""
    assert shutil.which("redis-server"), "redis-server must be installed"
    url = f"redis://127.0.0.1:{port}/0"
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--dir", str(tmp_path)]
    with started(args, log=tmp_path / f"redis-{port}-{time.monotonic_ns()}.log") as server:
        wait_for(lambda: redis_answers(url), timeout=10, what="the test's redis-server")
        yield server


@contextmanager
def redis_server(tmp_path: Path, port: int | None = None) -> Iterator[str]:
    """A redis-server of the test's own on a free port; yields its URL."""
    port = port or free_port()
    with redis_process(tmp_path, port):
        yield f"redis://127.0.0.1:{port}/0"


def redis_is_down(url: str) -> bool:
    try:
        redis.Redis.from_url(url, socket_timeout=0.3, socket_connect_timeout=0.3).ping()
    except redis.ConnectionError:
        return True
    return False


def celery_worker(name: str, env: dict[str, str], log: Path, *, concurrency: int = 1):
    args = [str(BIN / "celery"), "-A", "erp_integrations", "worker", "--loglevel=INFO"]
    args += ["--pool=prefork", f"--concurrency={concurrency}", "-n", f"{name}@%h"]
    args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    return started(args, log=log, env=env)


def celery_beat(env: dict[str, str], tmp_path: Path):
    args = [str(BIN / "celery"), "-A", "erp_integrations", "beat", "--loglevel=INFO", "--max-interval", "1"]
    args += ["-s", str(tmp_path / "celerybeat-schedule")]
    return started(args, log=tmp_path / "beat.log", env=env)


def worker_ready(worker: Started) -> bool:
    return "ready." in worker.text()


# --- invariants --------------------------------------------------------------------------
def _sandbox_rows(erp_system: str) -> list[tuple[str, str, str, object]]:
    model = STORES[erp_system]
    return list(
        model.objects.using(model.database).values_list("kind", "erp_id", "external_reference", "deleted_at")
    )


def assert_invariants(*, unlinked: int | None = None, exported: int | None = None) -> None:
    """What must hold after any fault, whatever happened.

    - every record is synced exactly when it has a whole link (ERP id and linked_at),
      and a missing-mark always names a run that succeeded;
    - every link points at a record of its company's ERP, made for this very record;
    - no ERP record is duplicated: one live record per platform record at most (master
      data made by the ERP's own users carries no platform reference and is left out);
    - the audit trail agrees with the links: no successful unlink names a link that
      still exists, and the counts of successful unlinks and exports are what the test
      did (when it says);
    - what the reconciliation lists was found by runs that succeeded, and no orphan it
      lists is linked;
    - nothing stays claimed: no sync run is left running and no advisory lock of a
      sync is held.
    """
    if not connection.in_atomic_block:
        connections.close_all()  # read what other processes committed, afresh
    erp_by_company: dict[int, str] = {}
    from erp_integrations.models import ErpConnection

    for company_id, erp_system in ErpConnection.objects.values_list("company_id", "erp_system"):
        erp_by_company[company_id] = erp_system
    sandbox = {erp: _sandbox_rows(erp) for erp in STORES}
    live_refs: dict[str, dict[tuple[str, str], int]] = {erp: {} for erp in STORES}
    by_erp_id: dict[str, dict[str, tuple[str, str]]] = {erp: {} for erp in STORES}
    for erp, rows in sandbox.items():
        for kind, erp_id, reference, deleted_at in rows:
            if not reference:
                continue  # master data its users made in the ERP: no platform record's
            by_erp_id[erp].setdefault(erp_id, (kind, reference))
            if deleted_at is None:
                key = (kind, reference)
                live_refs[erp][key] = live_refs[erp].get(key, 0) + 1
        duplicated = {key: n for key, n in live_refs[erp].items() if n > 1}
        assert not duplicated, f"ERP records duplicated in {erp}: {duplicated}"

    succeeded_runs = set(SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED).values_list("pk", flat=True))
    for model, kind in ((Commitment, "commitment"), (SubcontractorInvoice, "invoice")):
        rows = model.objects.values_list(
            "pk", "company_id", "export_state", "erp_id", "linked_at", "link__missing_since"
        )
        for pk, company_id, state, erp_id, linked_at, missing_since in rows:
            synced = state == ExportState.SYNCED
            assert synced == (erp_id is not None) == (linked_at is not None), (kind, pk, state, erp_id)
            if missing_since is not None:
                assert synced and missing_since in succeeded_runs, (kind, pk, missing_since)
            if erp_id is not None:
                erp = erp_by_company[company_id]
                assert by_erp_id[erp].get(erp_id) == (kind, f"{kind}-{pk}"), (kind, pk, erp_id)
                still = AuditEntry.objects.filter(
                    action=AuditEntry.Action.UNLINK,
                    outcome=AuditEntry.Outcome.SUCCESS,
                    record_type=kind,
                    record_id=pk,
                    erp_id=erp_id,
                )
                assert not still.exists(), (
                    f"{kind} {pk} is linked to {erp_id} but the audit says it was unlinked"
                )

    # What the reconciliation lists comes from completed runs, and no orphan it lists is
    # linked: linking one (an export, Link again) takes it off the list at once.
    found_by = set(Discrepancy.objects.values_list("found_by_id", flat=True))
    assert found_by <= succeeded_runs | {None}, f"findings of runs that did not succeed: {found_by}"
    live_links = set(
        ErpLink.objects.filter(unlinked_at__isnull=True).values_list("company_id", "kind", "erp_id")
    )
    orphans = set(
        Discrepancy.objects.filter(category=Discrepancy.Category.ORPHAN).values_list(
            "company_id", "kind", "erp_id"
        )
    )
    assert not orphans & live_links, f"orphans listed although linked: {orphans & live_links}"

    successes = AuditEntry.objects.filter(outcome=AuditEntry.Outcome.SUCCESS)
    if unlinked is not None:
        assert successes.filter(action=AuditEntry.Action.UNLINK).count() == unlinked
    if exported is not None:
        assert successes.filter(action=AuditEntry.Action.EXPORT).count() == exported

    assert not SyncRun.objects.filter(status=SyncRun.Status.RUNNING).exists(), "a sync run is still running"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [locks.SYNC],
        )
        assert cursor.fetchone()[0] == 0, "a sync claim (advisory lock) is still held"


def wait_until(condition, *, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connections.close_all()
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Gave up after {timeout:g} s waiting for {what}.")


# --- data ----------------------------------------------------------------------------------
@dataclass
class LinkedCompany:
    company: object
    approver: object
    commitments: list
    deleted: list


def linked_company(
    *, commitments: int, deleted: int, erp_system: str = "sage300", username: str = "approver"
):
    """A company with ``commitments`` linked commitments; the first ``deleted`` of them
    deleted in the ERP (not yet seen by a sync)."""
    from tests import factories
    from tests.erp_integrations.services.sync_support import delete_in_erp

    company = factories.company(erp_system=erp_system)
    project = factories.project(company=company)
    approver = factories.approver(company, project, username=username)
    records = [factories.link(factories.commitment(project=project)) for _ in range(commitments)]
    for record in records[:deleted]:
        delete_in_erp(record)
    return LinkedCompany(company, approver, records, records[:deleted])


def send_task(redis_url: str, name: str, *args, **kwargs) -> None:
    """Send a task through the test's own broker (not the one in settings)."""
    from erp_integrations.celery import app

    with app.connection_for_write(redis_url) as conn:
        app.send_task(name, args=list(args), kwargs=kwargs, connection=conn)
