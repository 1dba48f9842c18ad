"""Unlink: sever a record from its ERP record, once the ERP no longer has it.

The rule of the help articles: delete the record in the ERP, let the hourly sync see
that it is gone, then unlink. So unlink succeeds only when the last *completed* sync
marked the link missing (``erp_missing_since``); the ERP itself is not asked here. A
record deleted in the ERP but not yet seen by a sync is still refused, in the
articles' red words.

Everything happens in one transaction with the record's row locked, so two users (or
a user and the sync) racing on one record never leave a half state: exactly one
unlink wins and the others are told it was already unlinked. Every attempt, refused
or not, is kept in the audit trail in that same transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.http import Http404
from django.utils import timezone

from accounts.permissions import AccessDenied, Action, CompanyAccess
from erp_integrations.models import (
    AuditEntry,
    Commitment,
    ExportState,
    SubcontractorInvoice,
    company_erp_connection,
)
from erp_integrations.services.audit import audit_record
from erp_integrations.services.results import ActionResult

SUCCESS_MESSAGE = "Successfully Unlinked"


def commitment_unlink(*, user, commitment_id: int, access: CompanyAccess | None = None) -> ActionResult:
    """``access``: the user's access to the company, when the caller has loaded it already."""
    return _unlink(user=user, model=Commitment, record_id=commitment_id, access=access)


def subcontractor_invoice_unlink(
    *, user, invoice_id: int, access: CompanyAccess | None = None
) -> ActionResult:
    """``access``: the user's access to the company, when the caller has loaded it already."""
    return _unlink(user=user, model=SubcontractorInvoice, record_id=invoice_id, access=access)


def still_in_erp_message(record: Commitment | SubcontractorInvoice, erp_name: str) -> str:
    """The articles' red words; the ERP calls a subcontractor invoice a requisition."""
    word = "commitment" if isinstance(record, Commitment) else "requisition"
    return f"The {word} is still in {erp_name}. Please delete it before retrying."


def _noun(record: Commitment | SubcontractorInvoice) -> str:
    return "commitment" if isinstance(record, Commitment) else "subcontractor invoice"


def _erp_of(record: Commitment | SubcontractorInvoice) -> tuple[str, str]:
    """(ErpSystem value, display name) of the record's company connection."""
    connection = company_erp_connection(record.company)
    return (connection.erp_system if connection else ""), record.erp_name


def _unlink(
    *,
    user,
    model: type[Commitment] | type[SubcontractorInvoice],
    record_id: int,
    access: CompanyAccess | None = None,
) -> ActionResult:
    not_found = Http404(f"No {model._meta.verbose_name} with id {record_id}.")
    with transaction.atomic():
        # 1) The record, its row locked, with company, connection and project. Reading
        # it under the lock means the link is judged as it is now, not as it was a
        # moment ago: another unlink, an export or the sync's marks may just have
        # committed. One load, so an unlink costs one round trip fewer; a refused
        # permission rolls back and has held the row for a moment only.
        record = (
            model.objects.select_related("company__erp_connection", "project")
            .select_for_update(of=("self",))
            .filter(pk=record_id)
            .order_by("pk")
            .first()
        )
        if record is None:
            raise not_found
        # 2-3) The user's directory entry and project levels, unless the caller passed
        # them for this user and the record's own company.
        access = CompanyAccess.reuse_or_load(access, user, record.company)
        decision = access.check(Action.UNLINK, record.project)
        if not decision.is_member:
            # Outsiders learn nothing, not even that the record exists.
            raise not_found
        if not decision:
            raise AccessDenied(decision)

        erp_system, erp_name = _erp_of(record)
        noun = _noun(record)

        def refuse(message: str, erp_id: str) -> ActionResult:
            audit_record(
                user=user,
                action=AuditEntry.Action.UNLINK,
                record=record,
                erp_system=erp_system,
                outcome=AuditEntry.Outcome.REFUSED,
                message=message,
                erp_id=erp_id,
            )
            return ActionResult.conflict(message, record)

        erp_id = record.erp_id

        if erp_id is None:
            return refuse(f"This {noun} is not linked to {erp_name} any more: it was already unlinked.", "")
        if isinstance(record, Commitment):
            # 4) Invoices still linked to this commitment (index on (commitment, erp_id)).
            linked_invoices = SubcontractorInvoice.objects.filter(
                commitment_id=record.pk, erp_id__isnull=False
            ).count()
            if linked_invoices:
                invoices = f"{linked_invoices} subcontractor invoice" + ("s" if linked_invoices > 1 else "")
                them = "it" if linked_invoices == 1 else "them"
                return refuse(
                    f"This commitment has {invoices} synced with {erp_name}. "
                    f"Unlink {them} first, then unlink the commitment.",
                    erp_id,
                )
        if record.erp_missing_since_id is None:
            # The last completed sync saw the ERP record, or none has run since export.
            return refuse(still_in_erp_message(record, erp_name), erp_id)

        # 5) Clear the link; the record is a draft again, editable and deletable.
        now = timezone.now()
        cleared = {
            "erp_id": None,
            "linked_at": None,
            "linked_by_id": None,
            "erp_missing_since_id": None,
            "export_state": ExportState.DRAFT,
            "export_error": "",
            "updated_at": now,
        }
        model.objects.filter(pk=record.pk).update(**cleared)
        for field, value in cleared.items():
            setattr(record, field, value)
        # 6) The audit entry, with the ERP id the link had.
        audit_record(
            user=user,
            action=AuditEntry.Action.UNLINK,
            record=record,
            erp_system=erp_system,
            outcome=AuditEntry.Outcome.SUCCESS,
            message=SUCCESS_MESSAGE,
            erp_id=erp_id,
        )
    return ActionResult.success(SUCCESS_MESSAGE, record)
