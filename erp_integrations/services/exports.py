"""Send to Accounting, Export and Reject, for a record of any kind (see ``kinds``).

The life of a record: ``draft`` → Send to Accounting → ``ready`` (fields lock) →
Export by an approver → ``synced`` (a link to the ERP record). An ERP failure leaves
it ``failed`` with the ERP's error and no link; an approver may retry, or Reject with
a reason (→ ``rejected``, editable again), after which it can be sent again.

How an export stays right under concurrency and faults:

* A claim per record (a PostgreSQL advisory lock, see ``locks``) lets one export of a
  record talk to the ERP at a time, so two approvers clicking at once don't both call
  it. Reject takes the same claim, so a record is never rejected while its export is
  in flight (which would leave an ERP record nobody links).
* The ERP call happens outside any database transaction: no row lock is held while we
  wait on a slow ERP.
* The link, the state change and the audit entry then commit together, in one short
  transaction that locks the record (and an invoice's commitment) and re-checks them.
* The connector is idempotent (the platform id travels as the ERP record's external
  reference), so a retry after a timeout finds the ERP record the first try made.
"""

from __future__ import annotations

from dataclasses import replace

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from accounts.permissions import Action, CompanyAccess, load_record
from erp_integrations import locks
from erp_integrations.connectors import ErpError, ErpTimeout, ValidationProblem, get_connector
from erp_integrations.kinds import RecordKind
from erp_integrations.master_kinds import prerequisite_problem, unlinked_prerequisites
from erp_integrations.models import (
    SENDABLE_STATES,
    AuditEntry,
    DirectExportSetting,
    ErpConnection,
    ErpSystem,
    ExportState,
    LinkedRecord,
    SentNotice,
    company_erp_connection,
)
from erp_integrations.services import notices
from erp_integrations.services.audit import audit_record, refusals_audited
from erp_integrations.services.links import record_link
from erp_integrations.services.results import ActionResult, Outcome

#: What the audit trail says of an export made by Direct Export, with no approver.
DIRECT_EXPORT_NOTE = "Direct Export (company setting, no approver):"

#: Longest rejection reason we keep; the reason is shown to whoever edits the record.
MAX_REJECTION_REASON = 1000

#: States from which an approver may export (failed = retry) or reject.
EXPORTABLE_STATES = (ExportState.READY, ExportState.FAILED)


# --- public services ------------------------------------------------------------------
def record_send_to_accounting(*, kind: RecordKind, user: User, record_id: int) -> ActionResult:
    """Draft, rejected or failed → ready to export; the record's fields lock.

    A record that belongs to another (an invoice or a CCO to its commitment) also needs
    that one synced with the ERP.
    """
    with refusals_audited(user=user, action=AuditEntry.Action.SEND):
        record, _ = load_record(kind, user=user, record_id=record_id, action=Action.SEND_TO_ACCOUNTING)
    result = _send_to_accounting(kind, record, user=user)
    if result.ok and direct_export_enabled(company_id=record.company_id, kind=kind):
        # The company lets this kind export at once: no approver in between.
        exported = _export(kind, record, user=user, direct=True)
        message = f"{kind.label(record)} was sent to accounting. Direct Export: {exported.message}"
        return ActionResult(exported.ok, message, exported.outcome, record)
    return result


def record_retrieve(*, kind: RecordKind, user: User, record_id: int) -> ActionResult:
    """Ready to export (or failed) → draft again: the sender pulls it back before an
    approver accepts it, and the approvers' lists no longer show it.

    Takes the export's claim, so a record is never retrieved while its export is in
    flight; an export that already linked it wins, and Retrieve says so.
    """
    with refusals_audited(user=user, action=AuditEntry.Action.RETRIEVE):
        record, _ = load_record(kind, user=user, record_id=record_id, action=Action.RETRIEVE)
    label = kind.label(record)
    with locks.try_claim(kind.lock_namespace, record.pk) as claimed:
        if not claimed:
            return _refuse(
                record,
                user=user,
                action=AuditEntry.Action.RETRIEVE,
                message=f"An export of this {kind.noun} is in progress; it cannot be retrieved now.",
            )
        now = timezone.now()
        changes = {
            "export_state": ExportState.DRAFT,
            "retrieved_at": now,
            "export_error": "",
            "updated_at": now,
        }
        with transaction.atomic():
            changed = kind.model.objects.filter(pk=record.pk, export_state__in=EXPORTABLE_STATES).update(
                **changes
            )
            if changed:
                for name, value in changes.items():
                    setattr(record, name, value)
                audit_record(
                    user=user,
                    action=AuditEntry.Action.RETRIEVE,
                    record=record,
                    erp_system=_erp_system(record),
                    outcome=AuditEntry.Outcome.SUCCESS,
                    message=f"{label} was retrieved from accounting and is a draft again.",
                )
    if changed:
        return ActionResult.success(
            f"{label} was retrieved and is a draft again; edit it and send it again.", record
        )
    _refresh_state(record)
    return _refuse(
        record,
        user=user,
        action=AuditEntry.Action.RETRIEVE,
        message=f"{label} cannot be retrieved: it is {_state_words(record)}.",
    )


def direct_export_enabled(*, company_id: int, kind: RecordKind) -> bool:
    """Whether the company exports records of ``kind`` as soon as they are sent."""
    return DirectExportSetting.objects.filter(company_id=company_id, kind=kind.slug, enabled=True).exists()


def record_export(
    *,
    kind: RecordKind,
    user: User,
    record_id: int,
    company_id: int | None = None,
    access: CompanyAccess | None = None,
) -> ActionResult:
    """Export a ready (or failed, to retry) record to the company's ERP and link it.

    ``company_id``: only a record of that company (else ``NotFound``). ``access``: the
    user's access to the company, when the caller has loaded it already.
    """
    with refusals_audited(user=user, action=AuditEntry.Action.EXPORT):
        record, _ = load_record(
            kind, user=user, record_id=record_id, action=Action.EXPORT, access=access, company_id=company_id
        )
    was = record.export_state
    return replace(_export(kind, record, user=user), was=was)


def record_reject(
    *,
    kind: RecordKind,
    user: User,
    record_id: int,
    reason: str,
    company_id: int | None = None,
    access: CompanyAccess | None = None,
) -> ActionResult:
    """Ready or failed → rejected with the reason; the record is editable again."""
    with refusals_audited(user=user, action=AuditEntry.Action.REJECT):
        record, _ = load_record(
            kind, user=user, record_id=record_id, action=Action.REJECT, access=access, company_id=company_id
        )
    was = record.export_state
    return replace(_reject(kind, record, user=user, reason=reason), was=was)


# --- wording --------------------------------------------------------------------------
def _erp_system(record: LinkedRecord) -> str:
    connection = company_erp_connection(record.company)
    return connection.erp_system if connection else ""


def _state_words(record: LinkedRecord) -> str:
    """How a record's state reads in a sentence: 'ready to export', 'synced with ...'."""
    state = record.export_state
    if state == ExportState.SYNCED:
        return f"synced with {record.erp_name} as {record.erp_id}"
    return {
        ExportState.DRAFT: "a draft",
        ExportState.READY: "ready to export",
        ExportState.FAILED: "failed to export",
        ExportState.REJECTED: "rejected",
    }[state]


def _problem_sentence(problem: ValidationProblem) -> str:
    return f"{problem.field.replace('_', ' ').capitalize()}: {problem.message}"


def _refuse(
    record: LinkedRecord, *, user: User, action: str, message: str, outcome: Outcome = Outcome.CONFLICT
) -> ActionResult:
    """Keep the refused attempt in the audit trail and say why."""
    audit_record(
        user=user,
        action=action,
        record=record,
        erp_system=_erp_system(record),
        outcome=AuditEntry.Outcome.REFUSED,
        message=message,
    )
    return ActionResult(False, message, outcome, record)


def _refresh_state(record: LinkedRecord) -> None:
    """Re-read what another request may have changed since the record was loaded."""
    record.refresh_from_db(fields=["export_state", "export_error", "erp_id", "linked_at", "link"])


# --- Send to Accounting ---------------------------------------------------------------
def _send_to_accounting(kind: RecordKind, record: LinkedRecord, *, user: User) -> ActionResult:
    label = kind.label(record)
    refusal = _send_refusal(kind, record, label)
    if refusal:
        return _refuse(record, user=user, action=AuditEntry.Action.SEND, message=refusal)

    now = timezone.now()
    changes = {
        "export_state": ExportState.READY,
        "sent_at": now,
        "sent_by": user,
        "rejection_reason": "",
        "export_error": "",
        "updated_at": now,
    }
    # A sort of optimistic lock: the UPDATE only applies if nobody moved the record
    # (or unlinked the record it belongs to) since we looked.
    # The state it is sent from is part of the condition: a rejected record sent again
    # is a resend, and the approvers hear of it.
    was = record.export_state
    condition = Q(pk=record.pk, export_state=was)
    if kind.parent_field:
        condition &= Q(**{f"{kind.parent_field}__export_state": ExportState.SYNCED})
    changes["retrieved_at"] = None
    with transaction.atomic():
        changed = kind.model.objects.filter(condition).update(**changes)
        if changed:
            for name, value in changes.items():
                setattr(record, name, value)
            entry = audit_record(
                user=user,
                action=AuditEntry.Action.SEND,
                record=record,
                erp_system=_erp_system(record),
                outcome=AuditEntry.Outcome.SUCCESS,
                message="Sent again after a rejection." if was == ExportState.REJECTED else "",
            )
            if was == ExportState.REJECTED:
                notices.notice_queue(kind=SentNotice.Kind.RESENT, entry=entry)
    if changed:
        return ActionResult.success(f"{label} was sent to accounting and is ready to export.", record)

    _refresh_state(record)
    parent = kind.parent(record)
    if parent is not None:
        parent.refresh_from_db(fields=["export_state", "erp_id", "linked_at", "link"])
    refusal = _send_refusal(kind, record, label) or f"{label} changed meanwhile; reload and try again."
    return _refuse(record, user=user, action=AuditEntry.Action.SEND, message=refusal)


def _send_refusal(kind: RecordKind, record: LinkedRecord, label: str) -> str:
    if record.export_state not in SENDABLE_STATES:
        return f"{label} cannot be sent to accounting: it is {_state_words(record)}."
    parent = kind.parent(record)
    if parent is not None and not parent.is_linked:
        return (
            f"{label} cannot be sent to accounting until its {kind.parent_field} {parent.number} "
            f"is synced with {record.erp_name}. Export the {kind.parent_field} first."
        )
    return ""


# --- Export -------------------------------------------------------------------------------
def _export(kind: RecordKind, record: LinkedRecord, *, user: User, direct: bool = False) -> ActionResult:
    label = kind.label(record)
    connection = company_erp_connection(record.company)
    if connection is None or not connection.is_active:
        return _refuse(
            record,
            user=user,
            action=AuditEntry.Action.EXPORT,
            message=f"{label} cannot be exported: this company has no active ERP connection.",
        )

    with locks.try_claim(kind.lock_namespace, record.pk) as claimed:
        if not claimed:
            return _refuse(
                record,
                user=user,
                action=AuditEntry.Action.EXPORT,
                message=f"An export of this {kind.noun} is already in progress.",
            )
        # Another approver's export may have finished between our load and our claim.
        _refresh_state(record)
        return _export_claimed(kind, record, user=user, connection=connection, label=label, direct=direct)


def _export_claimed(
    kind: RecordKind,
    record: LinkedRecord,
    *,
    user: User,
    connection: ErpConnection,
    label: str,
    direct: bool = False,
) -> ActionResult:
    erp = connection.erp_name
    if record.export_state not in EXPORTABLE_STATES:
        return _refuse(
            record,
            user=user,
            action=AuditEntry.Action.EXPORT,
            message=f"{label} is not ready to export: it is {_state_words(record)}.",
        )
    if record.export_state == ExportState.FAILED:
        # A retry: lock the fields again for as long as the export runs, so nobody edits
        # what is on its way to the ERP.
        moved = kind.model.objects.filter(pk=record.pk, export_state=ExportState.FAILED).update(
            export_state=ExportState.READY, updated_at=timezone.now()
        )
        if not moved:
            _refresh_state(record)
            return _refuse(
                record,
                user=user,
                action=AuditEntry.Action.EXPORT,
                message=f"{label} is not ready to export: it is {_state_words(record)}.",
            )
        record.export_state = ExportState.READY

    # The vendor and the project's job must be in the ERP first: said before it is called,
    # with the rows that fix it.
    unlinked = unlinked_prerequisites(record)
    if unlinked:
        sentences = [prerequisite_problem(master, target, erp) for master, target in unlinked]
        result = _export_failed(
            kind,
            record,
            user=user,
            erp_system=connection.erp_system,
            error="\n".join(sentences),
            message=f"{label} cannot be exported to {erp}. " + " ".join(sentences),
            outcome=Outcome.INVALID,
        )
        return replace(result, blocking=tuple(unlinked))

    connector = get_connector(connection.erp_system)
    problems = connector.validate(kind, record)
    if problems:
        sentences = [_problem_sentence(p) for p in problems]
        return _export_failed(
            kind,
            record,
            user=user,
            erp_system=connection.erp_system,
            error="\n".join(sentences),
            message=f"{label} cannot be exported to {erp}. " + " ".join(sentences),
            outcome=Outcome.INVALID,
        )

    # The ERP call: outside any transaction of ours, under the claim only.
    parent = kind.parent(record)
    sent_parent_erp_id = parent.erp_id if parent is not None else None
    try:
        erp_id = connector.export(kind, record)
    except ErpError as exc:
        message = f"Export to {erp} failed: {exc}"
        if isinstance(exc, ErpTimeout):
            message += (
                f" {erp} may have received it; exporting again is safe and will not make a second record."
            )
        return _export_failed(
            kind,
            record,
            user=user,
            erp_system=connection.erp_system,
            error=str(exc),
            message=message,
            outcome=Outcome.ERP_FAILED,
        )

    with transaction.atomic():
        locked = _lock_for_link(kind, record)
        locked_parent = kind.parent(locked) if locked is not None else None
        if locked is None:
            refusal = f"{label} was deleted while it was being exported; nothing was linked."
        elif locked.export_state != ExportState.READY:
            record.export_state, record.erp_id = locked.export_state, locked.erp_id
            refusal = f"{label} was not linked: it is now {_state_words(record)}."
        elif locked_parent is not None and (
            locked_parent.export_state != ExportState.SYNCED or locked_parent.erp_id != sent_parent_erp_id
        ):
            refusal = (
                f"{label} was not linked: its {kind.parent_field} {locked_parent.number} was unlinked "
                f"from {erp} while the {kind.erp_noun(connection.erp_system)} was being exported."
            )
            # Show it among the failed exports, with why, rather than leave it ready.
            locked.export_state = ExportState.FAILED
            locked.export_error = refusal
            locked.save(update_fields=["export_state", "export_error", "updated_at"])
            _copy_link(locked, record)
        else:
            refusal = ""
        if refusal:
            # Nothing is linked; the ERP record stays findable by its external reference,
            # so the next export of this record links it instead of making another.
            audit_record(
                user=user,
                action=AuditEntry.Action.EXPORT,
                record=record,
                erp_system=connection.erp_system,
                erp_id=erp_id,
                outcome=AuditEntry.Outcome.FAILED,
                message=refusal,
            )
            return ActionResult.conflict(refusal, record)

        record_link(kind=kind, record=locked, erp_id=erp_id, linked_by=user)
        message = " ".join([f"Exported to {erp} as {erp_id}.", *kind.erp_warnings(locked, erp)])
        audit_record(
            user=user,
            action=AuditEntry.Action.EXPORT,
            record=locked,
            erp_system=connection.erp_system,
            outcome=AuditEntry.Outcome.SUCCESS,
            # The trail says when no approver was involved.
            message=f"{DIRECT_EXPORT_NOTE} {message}" if direct else message,
        )
    _copy_link(locked, record)
    return ActionResult.success(message, record)


def _lock_for_link(kind: RecordKind, record: LinkedRecord) -> LinkedRecord | None:
    """Lock the record (and the record it belongs to) for the linking transaction."""
    records = kind.model.objects.filter(pk=record.pk)
    if kind.parent_field:
        # One query locks both rows: an unlink of the parent waits for us, or we see it.
        records = records.select_related(kind.parent_field).select_for_update(of=("self", kind.parent_field))
    else:
        records = records.select_for_update()
    return records.first()


def _copy_link(source: LinkedRecord, target: LinkedRecord) -> None:
    for name in ("link", "erp_id", "linked_at", "export_state", "export_error"):
        setattr(target, name, getattr(source, name))
    target.updated_at = source.updated_at


def _export_failed(
    kind: RecordKind,
    record: LinkedRecord,
    *,
    user: User,
    erp_system: str | ErpSystem,
    error: str,
    message: str,
    outcome: Outcome,
) -> ActionResult:
    """Record → failed with the ERP's words, no link, and a failed audit entry."""
    now = timezone.now()
    with transaction.atomic():
        changed = kind.model.objects.filter(pk=record.pk, export_state=ExportState.READY).update(
            export_state=ExportState.FAILED, export_error=error, updated_at=now
        )
        if changed:
            record.export_state = ExportState.FAILED
            record.export_error = error
            record.updated_at = now
        audit_record(
            user=user,
            action=AuditEntry.Action.EXPORT,
            record=record,
            erp_system=erp_system,
            outcome=AuditEntry.Outcome.FAILED,
            message=message,
        )
    return ActionResult(False, message, outcome, record)


# --- Reject -------------------------------------------------------------------------------
def _reject(kind: RecordKind, record: LinkedRecord, *, user: User, reason: str) -> ActionResult:
    label = kind.label(record)
    reason = (reason or "").strip()
    if not reason:
        return ActionResult.invalid(f"Please give a reason for rejecting {label}.", record)
    if len(reason) > MAX_REJECTION_REASON:
        return ActionResult.invalid(
            f"The reason for rejecting {label} must be at most {MAX_REJECTION_REASON} characters "
            f"(it has {len(reason)}).",
            record,
        )

    # Same claim as Export: a record is never rejected while its export is in flight.
    with locks.try_claim(kind.lock_namespace, record.pk) as claimed:
        if not claimed:
            return _refuse(
                record,
                user=user,
                action=AuditEntry.Action.REJECT,
                message=f"An export of this {kind.noun} is in progress; try again when it has finished.",
            )
        now = timezone.now()
        changes = {
            "export_state": ExportState.REJECTED,
            "rejection_reason": reason,
            "export_error": "",
            "updated_at": now,
        }
        with transaction.atomic():
            changed = kind.model.objects.filter(pk=record.pk, export_state__in=EXPORTABLE_STATES).update(
                **changes
            )
            if changed:
                for name, value in changes.items():
                    setattr(record, name, value)
                entry = audit_record(
                    user=user,
                    action=AuditEntry.Action.REJECT,
                    record=record,
                    erp_system=_erp_system(record),
                    outcome=AuditEntry.Outcome.SUCCESS,
                    message=reason,
                )
                # The sender hears of it, with the reason and a link (after commit).
                notices.notice_queue(kind=SentNotice.Kind.REJECTED, entry=entry)
    if changed:
        return ActionResult.success(
            f"{label} was rejected. It can be edited and sent to accounting again.", record
        )
    _refresh_state(record)
    return _refuse(
        record,
        user=user,
        action=AuditEntry.Action.REJECT,
        message=f"{label} cannot be rejected: it is {_state_words(record)}.",
    )
