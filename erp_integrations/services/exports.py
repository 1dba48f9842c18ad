"""Send to Accounting, Export and Reject, for commitments and subcontractor invoices.

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

from dataclasses import dataclass
from http import HTTPStatus

from django.db import transaction
from django.db.models import Model, Q
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from accounts.permissions import Action, CompanyAccess
from erp_integrations import locks
from erp_integrations.connectors import ErpError, ErpTimeout, ValidationProblem, get_connector
from erp_integrations.models import (
    SENDABLE_STATES,
    AuditEntry,
    Commitment,
    ErpConnection,
    ErpSystem,
    ExportState,
    SubcontractorInvoice,
    company_erp_connection,
)
from erp_integrations.services.audit import audit_record
from erp_integrations.services.results import ActionResult

#: Longest rejection reason we keep; the reason is shown to whoever edits the record.
MAX_REJECTION_REASON = 1000

#: States from which an approver may export (failed = retry) or reject.
EXPORTABLE_STATES = (ExportState.READY, ExportState.FAILED)

Record = Commitment | SubcontractorInvoice


@dataclass(frozen=True)
class _RecordKind:
    """What differs between commitments and subcontractor invoices."""

    model: type[Commitment] | type[SubcontractorInvoice]
    noun: str
    claim_namespace: int
    related: tuple[str, ...]


COMMITMENT = _RecordKind(
    model=Commitment,
    noun="commitment",
    claim_namespace=locks.EXPORT_COMMITMENT,
    related=("company__erp_connection", "project", "vendor"),
)
INVOICE = _RecordKind(
    model=SubcontractorInvoice,
    noun="subcontractor invoice",
    claim_namespace=locks.EXPORT_INVOICE,
    related=("company__erp_connection", "project", "vendor", "commitment"),
)


# --- public services ------------------------------------------------------------------
def commitment_send_to_accounting(*, user: User, commitment_id: int) -> ActionResult:
    """Draft, rejected or failed → ready to export; its financial fields lock."""
    return _send_to_accounting(COMMITMENT, user=user, record_id=commitment_id)


def subcontractor_invoice_send_to_accounting(*, user: User, invoice_id: int) -> ActionResult:
    """As for commitments; an invoice also needs its commitment synced with the ERP."""
    return _send_to_accounting(INVOICE, user=user, record_id=invoice_id)


def commitment_export(*, user: User, commitment_id: int, access: CompanyAccess | None = None) -> ActionResult:
    """Export a ready (or failed, to retry) commitment to the company's ERP and link it.

    ``access``: the user's access to the company, when the caller has loaded it already.
    """
    return _export(COMMITMENT, user=user, record_id=commitment_id, access=access)


def subcontractor_invoice_export(
    *, user: User, invoice_id: int, access: CompanyAccess | None = None
) -> ActionResult:
    """Export a ready (or failed) subcontractor invoice as a requisition and link it."""
    return _export(INVOICE, user=user, record_id=invoice_id, access=access)


def commitment_reject(
    *, user: User, commitment_id: int, reason: str, access: CompanyAccess | None = None
) -> ActionResult:
    """Ready or failed → rejected with the reason; the commitment is editable again."""
    return _reject(COMMITMENT, user=user, record_id=commitment_id, reason=reason, access=access)


def subcontractor_invoice_reject(
    *, user: User, invoice_id: int, reason: str, access: CompanyAccess | None = None
) -> ActionResult:
    """Ready or failed → rejected with the reason; the invoice is editable again."""
    return _reject(INVOICE, user=user, record_id=invoice_id, reason=reason, access=access)


# --- loading and wording --------------------------------------------------------------
def _load(
    kind: _RecordKind, *, user: User, record_id: int, action: Action, access: CompanyAccess | None = None
) -> Record:
    """The record with what every step needs, or 404 / AccessDenied.

    Queries: 1) the record with its company, ERP connection, project and vendor (and an
    invoice's commitment), 2)-3) the user's directory entry and project levels.
    """
    record = kind.model.objects.select_related(*kind.related).filter(pk=record_id).first()
    if record is None:
        raise Http404(f"No {kind.noun} with id {record_id}.")
    access = CompanyAccess.reuse_or_load(access, user, record.company)
    if not access.is_member:
        # Outsiders learn nothing, not even that the record exists.
        raise Http404(f"No {kind.noun} with id {record_id}.")
    access.require(action, record.project)
    return record


def _connection(record: Record) -> ErpConnection | None:
    return company_erp_connection(record.company)


def _erp_system(record: Record) -> str:
    connection = _connection(record)
    return connection.erp_system if connection else ""


def _label(record: Record) -> str:
    if isinstance(record, Commitment):
        return f"Commitment {record.number}"
    return f"Subcontractor invoice {record.number} on {record.commitment.number}"


def _state_words(record: Record) -> str:
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
    record: Record, *, user: User, action: str, message: str, status: int = HTTPStatus.CONFLICT
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
    return ActionResult(False, message, status, record)


def _refresh_state(record: Record) -> None:
    """Re-read what another request may have changed since the record was loaded."""
    record.refresh_from_db(fields=["export_state", "export_error", "erp_id", "linked_at", "linked_by"])


# --- Send to Accounting ---------------------------------------------------------------
def _send_to_accounting(kind: _RecordKind, *, user: User, record_id: int) -> ActionResult:
    record = _load(kind, user=user, record_id=record_id, action=Action.SEND_TO_ACCOUNTING)
    label = _label(record)
    refusal = _send_refusal(record, label)
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
    # (or, for an invoice, unlinked its commitment) since we looked.
    condition = Q(pk=record.pk, export_state__in=SENDABLE_STATES)
    if isinstance(record, SubcontractorInvoice):
        condition &= Q(commitment__export_state=ExportState.SYNCED)
    with transaction.atomic():
        changed = kind.model.objects.filter(condition).update(**changes)
        if changed:
            for name, value in changes.items():
                setattr(record, name, value)
            audit_record(
                user=user,
                action=AuditEntry.Action.SEND,
                record=record,
                erp_system=_erp_system(record),
                outcome=AuditEntry.Outcome.SUCCESS,
            )
    if changed:
        return ActionResult.success(f"{label} was sent to accounting and is ready to export.", record)

    _refresh_state(record)
    if isinstance(record, SubcontractorInvoice):
        record.commitment.refresh_from_db(fields=["export_state", "erp_id"])
    refusal = _send_refusal(record, label) or f"{label} changed meanwhile; reload and try again."
    return _refuse(record, user=user, action=AuditEntry.Action.SEND, message=refusal)


def _send_refusal(record: Record, label: str) -> str:
    if record.export_state not in SENDABLE_STATES:
        return f"{label} cannot be sent to accounting: it is {_state_words(record)}."
    if isinstance(record, SubcontractorInvoice) and not record.commitment.is_linked:
        return (
            f"{label} cannot be sent to accounting until its commitment {record.commitment.number} "
            f"is synced with {record.erp_name}. Export the commitment first."
        )
    return ""


# --- Export -------------------------------------------------------------------------------
def _export(
    kind: _RecordKind, *, user: User, record_id: int, access: CompanyAccess | None = None
) -> ActionResult:
    record = _load(kind, user=user, record_id=record_id, action=Action.EXPORT, access=access)
    label = _label(record)
    connection = _connection(record)
    if connection is None or not connection.is_active:
        return _refuse(
            record,
            user=user,
            action=AuditEntry.Action.EXPORT,
            message=f"{label} cannot be exported: this company has no active ERP connection.",
        )

    with locks.try_claim(kind.claim_namespace, record.pk) as claimed:
        if not claimed:
            return _refuse(
                record,
                user=user,
                action=AuditEntry.Action.EXPORT,
                message=f"An export of this {kind.noun} is already in progress.",
            )
        # Another approver's export may have finished between our load and our claim.
        _refresh_state(record)
        return _export_claimed(kind, record, user=user, connection=connection, label=label)


def _export_claimed(
    kind: _RecordKind, record: Record, *, user: User, connection: ErpConnection, label: str
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

    connector = get_connector(connection.erp_system)
    if isinstance(record, Commitment):
        problems = connector.validate_commitment(record)
    else:
        problems = connector.validate_invoice(record)
    if problems:
        sentences = [_problem_sentence(p) for p in problems]
        return _export_failed(
            kind,
            record,
            user=user,
            erp_system=connection.erp_system,
            error="\n".join(sentences),
            message=f"{label} cannot be exported to {erp}. " + " ".join(sentences),
            status=HTTPStatus.UNPROCESSABLE_ENTITY,
        )

    # The ERP call: outside any transaction of ours, under the claim only.
    sent_commitment_erp_id = record.commitment.erp_id if isinstance(record, SubcontractorInvoice) else None
    try:
        if isinstance(record, Commitment):
            erp_id = connector.export_commitment(record)
        else:
            erp_id = connector.export_invoice(record)
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
            status=HTTPStatus.BAD_GATEWAY,
        )

    with transaction.atomic():
        locked = _lock_for_link(record)
        if locked is None:
            refusal = f"{label} was deleted while it was being exported; nothing was linked."
        elif locked.export_state != ExportState.READY:
            record.export_state, record.erp_id = locked.export_state, locked.erp_id
            refusal = f"{label} was not linked: it is now {_state_words(record)}."
        elif isinstance(locked, SubcontractorInvoice) and (
            locked.commitment.export_state != ExportState.SYNCED
            or locked.commitment.erp_id != sent_commitment_erp_id
        ):
            refusal = (
                f"{label} was not linked: its commitment {locked.commitment.number} was unlinked "
                f"from {erp} while the requisition was being exported."
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

        now = timezone.now()
        locked.erp_id = erp_id
        locked.linked_at = now
        locked.linked_by = user
        locked.erp_missing_since = None
        locked.export_state = ExportState.SYNCED
        locked.export_error = ""
        locked.save(
            update_fields=[
                "erp_id",
                "linked_at",
                "linked_by",
                "erp_missing_since",
                "export_state",
                "export_error",
                "updated_at",
            ]
        )
        message = f"Exported to {erp} as {erp_id}."
        audit_record(
            user=user,
            action=AuditEntry.Action.EXPORT,
            record=locked,
            erp_system=connection.erp_system,
            outcome=AuditEntry.Outcome.SUCCESS,
            message=message,
        )
    _copy_link(locked, record)
    return ActionResult.success(message, record)


def _lock_for_link(record: Record) -> Record | None:
    """Lock the record (and an invoice's commitment) for the linking transaction."""
    if isinstance(record, SubcontractorInvoice):
        # One query locks both rows: an unlink of the commitment waits for us, or we see it.
        return (
            SubcontractorInvoice.objects.select_for_update(of=("self", "commitment"))
            .select_related("commitment")
            .filter(pk=record.pk)
            .first()
        )
    return Commitment.objects.select_for_update().filter(pk=record.pk).first()


def _copy_link(source: Model, target: Record) -> None:
    for name in ("erp_id", "linked_at", "linked_by", "erp_missing_since", "export_state", "export_error"):
        setattr(target, name, getattr(source, name))
    target.updated_at = source.updated_at


def _export_failed(
    kind: _RecordKind,
    record: Record,
    *,
    user: User,
    erp_system: str | ErpSystem,
    error: str,
    message: str,
    status: int,
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
    return ActionResult(False, message, status, record)


# --- Reject -------------------------------------------------------------------------------
def _reject(
    kind: _RecordKind, *, user: User, record_id: int, reason: str, access: CompanyAccess | None = None
) -> ActionResult:
    record = _load(kind, user=user, record_id=record_id, action=Action.REJECT, access=access)
    label = _label(record)
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
    with locks.try_claim(kind.claim_namespace, record.pk) as claimed:
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
                audit_record(
                    user=user,
                    action=AuditEntry.Action.REJECT,
                    record=record,
                    erp_system=_erp_system(record),
                    outcome=AuditEntry.Outcome.SUCCESS,
                    message=reason,
                )
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
