"""The hourly sync: what the ERP still holds of the links, recorded run by run.

A run compares every link of a company with the ERP, batch by batch, and keeps only
what changed: links whose ERP record went missing and links whose record came back.
Nothing is written to a link until the very end, where the marks and the run's
completion commit in one transaction. So a run that fails (ERP offline, a timeout,
a crash) changes no link, and the unlink rule ("only after a *completed* sync saw the
ERP record gone") reads the marks of the last run that succeeded.

A run also brings in the ERP's master data (jobs, vendors, cost codes), set-based, in
that same last transaction (see ``master_sync``): what changed there shows in the
master-data tabs as Ready to Import or Ready to Update.

A run claims its connection with a lock that dies with its holder (see ``locks``): a
duplicate or late task finds the claim taken and stops at once, and a worker that
dies mid-run cannot keep the connection claimed.
"""

from __future__ import annotations

import functools
import logging
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from operator import or_

from celery.schedules import crontab, maybe_schedule
from django.conf import settings
from django.core.cache import cache
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from kombu.exceptions import KombuError

from accounts.models import Company
from accounts.permissions import Action, CompanyAccess, NotFound
from erp_integrations import locks
from erp_integrations.connectors import ErpConnector, ErpError, get_connector
from erp_integrations.kinds import KINDS, RecordKind
from erp_integrations.master_kinds import MASTER_KINDS, MasterKind
from erp_integrations.models import AuditEntry, ErpConnection, ErpLink, SyncRun
from erp_integrations.services import data_version
from erp_integrations.services.audit import refusals_audited
from erp_integrations.services.master_sync import master_entries_replace
from erp_integrations.services.reconciliation import Staging, reconciliation_record
from erp_integrations.services.results import ActionResult

logger = logging.getLogger(__name__)

#: Marks applied per statement at the end of a run (PostgreSQL: two arrays per statement);
#: about a batch, so the statement being built never holds more than a batch does.
APPLY_CHUNK_POSTGRESQL = 5_000
#: SQLite has no arrays; the portable path matches (id, erp_id) pairs with OR, so
#: fewer per statement keeps the expression tree small.
APPLY_CHUNK_PORTABLE = 200

#: How long a Sync now request counts as queued if no run starts (a worker may be down).
SYNC_NOW_WAIT_SECONDS = 10 * 60

DEAD_WORKER_ERROR = "The worker stopped before the run finished."


class _Marks:
    """Links whose mark a run changes: record ids, and the ERP ids the run observed.

    Kept as an int64 array and a list rather than a list of tuples: a run holds every
    change until its end, and this halves what each one costs.
    """

    def __init__(self) -> None:
        self.ids = array("q")
        self.erp_ids: list[str] = []

    def add(self, pk: int, erp_id: str) -> None:
        self.ids.append(pk)
        self.erp_ids.append(erp_id)

    def __len__(self) -> int:
        return len(self.ids)

    def chunks(self, size: int) -> Iterator[tuple[list[int], list[str]]]:
        for start in range(0, len(self.ids), size):
            yield self.ids[start : start + size].tolist(), self.erp_ids[start : start + size]


@dataclass
class _Changes:
    newly_missing: _Marks = field(default_factory=_Marks)
    reappeared: _Marks = field(default_factory=_Marks)


# --- the run ---------------------------------------------------------------------------


def connection_sync(
    *,
    connection_id: int,
    trigger: str,
    requested_by_id: int | None = None,
    connector: ErpConnector | None = None,
) -> SyncRun | None:
    """Sync one connection now; the finished run, or None if it was not this call's to run.

    None means another run holds the connection (a duplicate or late task) or the
    connection is gone or inactive. ``connector`` replaces the connection's own
    connector (tests use it to step between batches).
    """
    with locks.try_claim(locks.SYNC, connection_id) as taken:
        if not taken:
            logger.info("Sync of connection %s skipped: another run holds it.", connection_id)
            return None
        connection = (
            ErpConnection.objects.select_related("company").filter(pk=connection_id, is_active=True).first()
        )
        if connection is None:
            logger.info("Sync of connection %s skipped: no such active connection.", connection_id)
            return None
        return _run(connection, trigger, requested_by_id, connector or get_connector(connection.erp_system))


def _run(
    connection: ErpConnection, trigger: str, requested_by_id: int | None, connector: ErpConnector
) -> SyncRun:
    now = timezone.now()
    # The company's change marks since the last run folded into its count, hourly
    # whether runs succeed or not, so that counting them stays cheap.
    data_version.fold(connection.company_id)
    # We hold the claim, so a run still marked running was left by a worker that died.
    dead = SyncRun.objects.filter(connection=connection, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.FAILED, finished_at=now, error=DEAD_WORKER_ERROR
    )
    if dead:
        logger.warning("Sync of %s: %s run(s) left by a dead worker marked failed.", connection, dead)
    run = SyncRun.objects.create(
        connection=connection,
        trigger=trigger,
        requested_by_id=requested_by_id,
        status=SyncRun.Status.RUNNING,
        started_at=now,
        links_total=_links_total(connection.company_id, now),
    )
    logger.info("Sync %s of %s started (%s links).", run.pk, connection, run.links_total)
    staging = Staging()
    started = time.monotonic()
    try:
        # Every kind's links live in one table, so the changes of all kinds are kept
        # together and applied by the same statements.
        changes = _Changes()
        checked = 0
        # Master data's links (jobs, vendors, cost codes) follow the same rule.
        for kind in (*KINDS, *MASTER_KINDS):
            checked = _compare(run, kind, connector, changes, checked)
        # The ERP's master data, asked for before anything is written.
        master = {kind.slug: connector.master_records(kind.slug) for kind in MASTER_KINDS}
        compared = time.monotonic()
        # The ERP's side of the reconciliation, read into the session's staging tables.
        staging.create()
        staging.read(run, connector)
        read = time.monotonic()
        with transaction.atomic():
            missing_found, reappeared = _apply(run, changes)
            for slug, records in master.items():
                master_entries_replace(
                    company_id=connection.company_id, kind=slug, records=records, seen_at=run.started_at
                )
            found = reconciliation_record(run=run)
            logger.info(
                "Sync %s: links compared in %.1f s, %s ERP records read in %.1f s, "
                "findings written in %.1f s.",
                run.pk,
                compared - started,
                staging.records_read,
                read - compared,
                time.monotonic() - read,
            )
            run.status = SyncRun.Status.SUCCEEDED
            run.finished_at = timezone.now()
            run.links_checked = checked
            run.missing_found = missing_found
            run.reappeared = reappeared
            run.drift_found = found.drift
            run.orphans_found = found.orphans
            run.erp_records_read = staging.records_read
            run.save(
                update_fields=[
                    "status",
                    "finished_at",
                    "links_checked",
                    "missing_found",
                    "reappeared",
                    "drift_found",
                    "orphans_found",
                    "erp_records_read",
                ]
            )
    except Exception as exc:
        if isinstance(exc, ErpError):
            logger.warning("Sync %s of %s failed: %s", run.pk, connection, exc)
            error = str(exc)
        else:
            logger.exception("Sync %s of %s failed unexpectedly.", run.pk, connection)
            error = f"Unexpected error: {exc.__class__.__name__}: {exc}"
        run.status = SyncRun.Status.FAILED
        run.finished_at = timezone.now()
        run.error = error
        # A conditional UPDATE, so a run that somehow finished is never overwritten.
        SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
            status=run.status, finished_at=run.finished_at, error=error
        )
        return run
    finally:
        _drop_staging(staging)
    logger.info(
        "Sync %s of %s succeeded: %s checked, %s missing, %s reappeared, %s drifted, %s orphans.",
        run.pk,
        connection,
        run.links_checked,
        run.missing_found,
        run.reappeared,
        run.drift_found,
        run.orphans_found,
    )
    return run


def _drop_staging(staging: Staging) -> None:
    try:
        staging.drop()
    except Exception:  # noqa: BLE001 - a session that is gone took its temporary tables along
        logger.warning("The sync's staging tables could not be dropped.", exc_info=True)


def _live_links(company_id: int, started_at: datetime):
    # Served by the partial index (company, kind, id) WHERE unlinked_at IS NULL. A run
    # judges the links that existed when it started; one made meanwhile waits for the
    # next run. (Should clocks differ a little between machines, a link judged early is
    # still judged right: its ERP record was made before the link was stored.)
    return ErpLink.objects.filter(company_id=company_id, unlinked_at__isnull=True, linked_at__lte=started_at)


def _linked(kind: RecordKind | MasterKind, company_id: int, started_at: datetime):
    return _live_links(company_id, started_at).filter(kind=kind.slug)


def _links_total(company_id: int, started_at: datetime) -> int:
    """Every kind's links at once: they share one table."""
    return _live_links(company_id, started_at).count()


def _batches(
    kind: RecordKind | MasterKind, run: SyncRun, size: int
) -> Iterator[list[tuple[int, str, int | None]]]:
    """The company's live links of one kind in id order, a batch at a time (keyset pagination)."""
    last_id = 0
    while True:
        batch = list(
            _linked(kind, run.connection.company_id, run.started_at)
            .filter(id__gt=last_id)
            .order_by("id")
            .values_list("id", "erp_id", "missing_since_id")[:size]
        )
        if not batch:
            return
        yield batch
        if len(batch) < size:
            return
        last_id = batch[-1][0]


def _compare(
    run: SyncRun, kind: RecordKind | MasterKind, connector: ErpConnector, changes: _Changes, checked: int
) -> int:
    """Ask the ERP about every link of this kind; keep only what changed."""
    for batch in _batches(kind, run, settings.SYNC_BATCH_SIZE):
        # The ERP is asked outside any transaction of ours; nothing is held meanwhile.
        present = connector.existing_ids(kind.slug, [erp_id for _pk, erp_id, _missing in batch])
        for pk, erp_id, missing_since in batch:
            if missing_since is None and erp_id not in present:
                changes.newly_missing.add(pk, erp_id)
            elif missing_since is not None and erp_id in present:
                changes.reappeared.add(pk, erp_id)
        checked += len(batch)
        # Progress for the status page; one cheap UPDATE per batch.
        SyncRun.objects.filter(pk=run.pk).update(links_checked=checked)
    return checked


def _apply(run: SyncRun, changes: _Changes) -> tuple[int, int]:
    """Write the run's marks on the links; how many went missing and how many came back.

    Each mark is guarded by the ERP id the run observed, by the mark it saw and by the
    link still being live, so a link unlinked (or made again) while the run was asking
    the ERP is left alone. Only the link table is written, never a record's row.
    """
    if db_connection.vendor == "postgresql":
        return (
            _apply_postgresql(changes.newly_missing, run.pk),
            _apply_postgresql(changes.reappeared, None),
        )
    return (
        _apply_portable(changes.newly_missing, run.pk),
        _apply_portable(changes.reappeared, None),
    )


def _apply_postgresql(marks: _Marks, run_id: int | None) -> int:
    if not marks:
        return 0
    table = db_connection.ops.quote_name(ErpLink._meta.db_table)
    # Newly missing: only links still unmarked; reappeared: only links still marked.
    guard = "l.missing_since_id IS NULL" if run_id is not None else "l.missing_since_id IS NOT NULL"
    sql = (
        f"UPDATE {table} AS l SET missing_since_id = %s "  # noqa: S608 - table name from the model
        "FROM unnest(%s::bigint[], %s::text[]) AS c(id, erp_id) "
        f"WHERE l.id = c.id AND l.erp_id = c.erp_id AND l.unlinked_at IS NULL AND {guard}"
    )
    changed = 0
    with db_connection.cursor() as cursor:
        for ids, erp_ids in marks.chunks(APPLY_CHUNK_POSTGRESQL):
            cursor.execute(sql, [run_id, ids, erp_ids])
            changed += cursor.rowcount
    return changed


def _apply_portable(marks: _Marks, run_id: int | None) -> int:
    changed = 0
    for ids, erp_ids in marks.chunks(APPLY_CHUNK_PORTABLE):
        observed = reduce(or_, (Q(pk=pk, erp_id=erp_id) for pk, erp_id in zip(ids, erp_ids, strict=True)))
        changed += (
            ErpLink.objects.filter(observed, unlinked_at__isnull=True)
            .filter(missing_since__isnull=run_id is not None)
            .update(missing_since_id=run_id)
        )
    return changed


# --- Sync now --------------------------------------------------------------------------


def sync_now_request(*, user, company: Company, access: CompanyAccess | None = None) -> ActionResult:
    """Queue a sync of the company's connection now, the same task the hourly run uses.

    ``access``: the user's access to the company, when the caller has loaded it already.
    """
    access = CompanyAccess.reuse_or_load(access, user, company)
    if not access.is_member:
        raise NotFound("No such company.")
    with refusals_audited(user=user, action=AuditEntry.Action.SYNC):
        access.require(Action.SYNC_NOW)

    connection = ErpConnection.objects.filter(company=company).first()
    if connection is None or not connection.is_active:
        return ActionResult.conflict("This company has no active ERP connection to sync.")
    running = _running_run(connection)
    if running is not None:
        return ActionResult.conflict(
            f"A sync with {connection.erp_name} is already running "
            f"({running.links_checked:,} of {running.links_total:,} links checked). "
            "Wait for it to finish before starting another."
        )

    if _sync_now_waiting(connection):
        return ActionResult.conflict(
            f"A sync with {connection.erp_name} was already requested and is waiting for a worker; "
            "it starts as soon as one is free."
        )

    from erp_integrations.tasks import sync_connection

    _remember_sync_now(connection)
    args, kwargs = (connection.pk,), {"trigger": SyncRun.Trigger.MANUAL, "requested_by_id": user.pk}
    if db_connection.in_atomic_block:
        # Inside a transaction, the task goes to the broker once it commits.
        sync_connection.delay_on_commit(*args, **kwargs)
    else:
        try:
            sync_connection.apply_async(args=args, kwargs=kwargs)
        except (KombuError, OSError):
            logger.exception("Sync now for %s could not be queued.", connection)
            _forget_sync_now(connection)
            return ActionResult.unavailable(
                "The sync could not be queued: the task queue is not reachable right now. "
                "Try Sync now again in a few minutes; the hourly sync resumes once the queue is back."
            )
    return ActionResult.success(
        f"Sync started. It checks every link with {connection.erp_name}; "
        "this page shows its progress and when it completes."
    )


def _sync_now_key(connection: ErpConnection) -> str:
    return f"erp-sync-now-requested:{connection.pk}"


def _sync_now_waiting(connection: ErpConnection) -> bool:
    """Whether an earlier Sync now is still queued: asked for, and no run started since.

    The request time is kept in the shared cache; a run that started after it means the
    queued task was taken (or found the claim and made way), so the request is spent.
    """
    try:
        requested_at = cache.get(_sync_now_key(connection))
    except Exception:  # noqa: BLE001 - a cache that is down must not stop Sync now
        logger.warning("Cache unreachable; Sync now cannot tell whether one is queued.")
        return False
    if requested_at is None:
        return False
    return not SyncRun.objects.filter(connection=connection, started_at__gte=requested_at).exists()


def _remember_sync_now(connection: ErpConnection) -> None:
    try:
        cache.set(_sync_now_key(connection), timezone.now(), timeout=SYNC_NOW_WAIT_SECONDS)
    except Exception:  # noqa: BLE001
        logger.warning("Cache unreachable; Sync now is not remembered.")


def _forget_sync_now(connection: ErpConnection) -> None:
    try:
        cache.delete(_sync_now_key(connection))
    except Exception:  # noqa: BLE001
        logger.warning("Cache unreachable; Sync now is not forgotten.")


def _newest_running(connection: ErpConnection) -> QuerySet:
    return SyncRun.objects.filter(connection=connection, status=SyncRun.Status.RUNNING).order_by(
        "-started_at", "-id"
    )[:1]


def _live(run: SyncRun | None, connection: ErpConnection) -> SyncRun | None:
    # A running row whose claim is free was left by a dead worker; the next run marks
    # it failed. Only ask about the claim when there is such a row.
    if run is not None and not locks.is_claimed(locks.SYNC, connection.pk):
        return None
    return run


def _running_run(connection: ErpConnection) -> SyncRun | None:
    """The run in progress, if a live worker holds the connection."""
    return _live(next(iter(_newest_running(connection)), None), connection)


# --- status ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncStatus:
    connection: ErpConnection
    #: The last run that finished, whether it succeeded or failed.
    last_completed: SyncRun | None
    #: When the last successful run finished: the marks unlink reads are from then.
    last_succeeded_at: datetime | None
    #: The next hourly run (UTC), from the beat schedule.
    next_run_at: datetime
    #: The run in progress, if any.
    running: SyncRun | None

    @property
    def last_completed_ok(self) -> bool:
        return self.last_completed is not None and self.last_completed.status == SyncRun.Status.SUCCEEDED

    @property
    def progress_percent(self) -> int | None:
        if self.running is None:
            return None
        if not self.running.links_total:
            return 0
        return min(100, self.running.links_checked * 100 // self.running.links_total)


def next_scheduled_run(now: datetime | None = None) -> datetime:
    """When beat next sends the hourly sync after ``now`` (UTC)."""
    now = now or timezone.now()
    schedule = maybe_schedule(settings.CELERY_BEAT_SCHEDULE["hourly-erp-sync"]["schedule"])
    if isinstance(schedule, crontab):
        start, delta, _now = schedule.remaining_delta(now)
        return (start + delta).astimezone(UTC)
    # An interval (SYNC_SCHEDULE_SECONDS, tests only): beat's own start is not known here.
    return now + schedule.run_every


@functools.cache
def _newest_runs_sql() -> str:
    """The last completed run and the newest running one, as one statement that SQLite
    runs too (each part limited inside a subquery, which a bare UNION part may not be).
    Written once rather than compiled by the ORM on every page: the sync panel is on all
    of the tool's pages, and compiling its UNION cost more than running it."""
    table = SyncRun._meta.db_table
    columns = ", ".join(f'"{field.column}"' for field in SyncRun._meta.concrete_fields)

    def newest(status: str, order: str) -> str:
        return (
            f'SELECT * FROM (SELECT {columns} FROM "{table}" WHERE "connection_id" = %s'  # noqa: S608 - names from the model
            f' AND "status" {status} ORDER BY "{order}" DESC, "id" DESC LIMIT 1)'
        )

    completed, running = newest("IN (%s, %s)", "finished_at"), newest("= %s", "started_at")
    return f"{completed} AS completed UNION ALL {running} AS running"


def sync_status(*, connection: ErpConnection) -> SyncStatus:
    """What the sync panel shows. Queries: one for the last completed run and the run in
    progress together; one more when the last completed run failed (the last success's
    time), and one when a run is in progress (whether a live worker holds it)."""
    Status = SyncRun.Status
    newest = SyncRun.objects.raw(
        _newest_runs_sql(), [connection.pk, Status.SUCCEEDED, Status.FAILED, connection.pk, Status.RUNNING]
    )
    last_completed = running = None
    for run in newest:
        if run.status == Status.RUNNING:
            running = run
        else:
            last_completed = run
    if last_completed is not None and last_completed.status == Status.SUCCEEDED:
        last_succeeded_at = last_completed.finished_at
    else:
        last_succeeded_at = (
            SyncRun.objects.filter(connection=connection, status=Status.SUCCEEDED)
            .order_by("-finished_at")
            .values_list("finished_at", flat=True)
            .first()
        )
    return SyncStatus(
        connection=connection,
        last_completed=last_completed,
        last_succeeded_at=last_succeeded_at,
        next_run_at=next_scheduled_run(),
        running=_live(running, connection),
    )
