"""Bulk Export, Reject and Unlink: many rows of one list, each with its own result.

Each row goes through the same service as a click on its own button (``ROW_SERVICES``),
so the permission and race rules are those of one by one, and every row is audited by
that service: a refused permission, a refusal, a success. Up to BULK_INLINE_LIMIT rows
run in the request; more are a ``BulkRun`` that a Celery task works through, saving
each row's result as it goes, so the page shows a progress bar and a worker that dies
half-way is followed by one that carries on where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Company
from accounts.permissions import AccessDenied, CompanyAccess, NotFound
from erp_integrations.kinds import BY_SLUG, RecordKind
from erp_integrations.models import BulkRun
from erp_integrations.services import exports, unlink
from erp_integrations.services.results import ActionResult

#: Bulk action -> the one-row service it runs for each row.
ROW_SERVICES: dict[str, Callable[..., ActionResult]] = {
    "export": exports.record_export,
    "reject": exports.record_reject,
    "unlink": unlink.record_unlink,
}
#: Results saved together while a bulk run works (one write per this many rows).
SAVE_EVERY = 10


@dataclass(frozen=True)
class RowResult:
    record_id: int
    ok: bool
    message: str


class BulkRefused(Exception):  # noqa: N818 - the domain's word
    """The bulk action as a whole cannot run (no rows, no reason for a reject)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def bulk_row(
    *, kind: RecordKind, action: str, user, record_id: int, reason: str, access: CompanyAccess | None
) -> RowResult:
    """One row, through its own service; a refused permission is that row's red result."""
    extra = {"reason": reason} if action == "reject" else {}
    try:
        result = ROW_SERVICES[action](kind=kind, user=user, record_id=record_id, access=access, **extra)
    except AccessDenied as denied:
        return RowResult(record_id, False, denied.decision.reason)
    except NotFound:
        return RowResult(record_id, False, f"No {kind.noun} with id {record_id} in this company.")
    return RowResult(record_id, result.ok, result.message)


def _checked(action: str, record_ids: list[int], reason: str) -> list[int]:
    if action not in ROW_SERVICES:
        raise BulkRefused(f"There is no bulk {action}.")
    ids = list(dict.fromkeys(record_ids))
    if not ids:
        raise BulkRefused("Select at least one row first.")
    if len(ids) > settings.BULK_MAX_ROWS:
        raise BulkRefused(
            f"At most {settings.BULK_MAX_ROWS:,} rows at once; narrow the search and run it in parts."
        )
    if action == "reject" and not (reason or "").strip():
        raise BulkRefused("Please give a reason for rejecting these rows.")
    return ids


def bulk_start(
    *,
    kind: RecordKind,
    action: str,
    user,
    company: Company,
    record_ids: list[int],
    reason: str = "",
    access: CompanyAccess | None = None,
) -> list[RowResult] | BulkRun:
    """Run a bulk action: the rows' results when it ran here, or the queued ``BulkRun``.

    Raises ``BulkRefused`` when it cannot run at all.
    """
    ids = _checked(action, record_ids, reason)
    if len(ids) <= settings.BULK_INLINE_LIMIT:
        return [
            bulk_row(kind=kind, action=action, user=user, record_id=pk, reason=reason, access=access)
            for pk in ids
        ]
    from erp_integrations import tasks

    with transaction.atomic():
        run = BulkRun.objects.create(
            company=company, user=user, kind=kind.slug, action=action, reason=reason, record_ids=ids
        )
        tasks.run_bulk.delay_on_commit(run.pk)
    return run


def bulk_run_execute(*, bulk_run_id: int) -> BulkRun | None:
    """Work through a queued (or interrupted) bulk run, saving results as it goes.

    The run is claimed with a conditional update; a duplicate task finds it claimed by
    a live run and stops. A run left ``running`` by a dead worker is carried on by the
    redelivered task (acks late), from the first row without a result.
    """
    claimed = BulkRun.objects.filter(
        pk=bulk_run_id, status__in=(BulkRun.Status.QUEUED, BulkRun.Status.RUNNING)
    ).update(status=BulkRun.Status.RUNNING)
    if not claimed:
        return None
    run = BulkRun.objects.select_related("company", "user").get(pk=bulk_run_id)
    kind = BY_SLUG[run.kind]
    access = CompanyAccess.load(run.user, run.company)
    done = {row[0] for row in run.results}
    pending: list[list] = []
    for record_id in run.record_ids:
        if record_id in done:
            continue
        row = bulk_row(
            kind=kind, action=run.action, user=run.user, record_id=record_id, reason=run.reason, access=access
        )
        pending.append([row.record_id, row.ok, row.message])
        if len(pending) >= SAVE_EVERY:
            _save(run, pending)
            pending = []
    _save(run, pending, finished=True)
    return run


def _save(run: BulkRun, rows: list[list], *, finished: bool = False) -> None:
    run.results = [*run.results, *rows]
    fields = ["results"]
    if finished:
        run.status, run.finished_at = BulkRun.Status.DONE, timezone.now()
        fields += ["status", "finished_at"]
    run.save(update_fields=fields)


def bulk_run_for_user(*, company_id: int, user, bulk_run_id: int) -> BulkRun:
    """The user's own bulk run in the company (else ``NotFound``)."""
    run = BulkRun.objects.filter(pk=bulk_run_id, company_id=company_id, user=user).first()
    if run is None:
        raise NotFound("No such bulk action.")
    return run
