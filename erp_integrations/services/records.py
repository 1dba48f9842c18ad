"""Create, edit and delete the project's commitments and their subcontractor invoices.

The rules of the Commitments tool live here, not in the views:

- who may read (``Action.VIEW_COMMITMENTS``) and who may write (``Action.EDIT_COMMITMENTS``),
  decided by :mod:`accounts.permissions`; outsiders get a 404, members a 403 naming what
  is missing;
- the lock: while a record waits for export or is synced with the ERP its fields are
  read-only and it cannot be deleted. The check runs on the row locked with
  ``select_for_update()`` inside the write's transaction, so a record that was sent or
  exported while the user was typing is refused instead of silently un-synced;
- validation, raised as ``ValidationError`` keyed by field name so a form can show it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from accounts.models import Project
from accounts.permissions import Action, CompanyAccess, load_project, load_record
from erp_integrations import kinds
from erp_integrations.kinds import RecordKind
from erp_integrations.models import (
    Commitment,
    CommitmentLineItem,
    ExportState,
    LinkedRecord,
    SubcontractorInvoice,
    Vendor,
)


class ChangeRefused(Exception):
    """The record cannot be changed or deleted now; ``message`` says why and what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class RecordLocked(ChangeRefused):
    """The record waits for export or is synced with the ERP."""


class DeleteRefused(ChangeRefused):
    """The record cannot be deleted for another reason (a commitment with invoices)."""


@dataclass(frozen=True)
class LineItemData:
    cost_code: str
    amount: Decimal
    description: str = ""


# --- reading -------------------------------------------------------------------------


def record_lock_reason(record: LinkedRecord, *, erp_name: str | None = None) -> str:
    """Why the record is read-only now, in words for the user; "" when it is editable."""
    if record.export_state == ExportState.SYNCED:
        name = erp_name or record.erp_name
        return (
            f"Synced with {name} (ERP id {record.erp_id}): unlink it in the ERP Integrations tool "
            "before editing or deleting."
        )
    if record.export_state == ExportState.READY:
        return "Waiting for export: an approver must export or reject it first."
    return ""


def commitment_delete_refusal(commitment: Commitment, *, invoice_count: int) -> str:
    """Why the commitment cannot be deleted (lock first, then its invoices); "" if it can."""
    reason = record_lock_reason(commitment)
    if reason:
        return reason
    if invoice_count:
        noun = "subcontractor invoice" if invoice_count == 1 else "subcontractor invoices"
        return f"This commitment has {invoice_count} {noun}; delete them before deleting the commitment."
    return ""


def project_get_for_user(*, user, project_id: int, action: Action = Action.VIEW_COMMITMENTS):
    """The project with its company and ERP connection, and the user's access to it."""
    return load_project(user, project_id, action)


def record_get_for_user(
    *,
    kind: RecordKind,
    user,
    record_id: int,
    project_id: int | None = None,
    action: Action = Action.VIEW_COMMITMENTS,
):
    """The record (with project, company, ERP connection, related rows) if the user may ``action`` it."""
    return load_record(kind, user=user, record_id=record_id, action=action, project_id=project_id)


def commitment_get_for_user(
    *, user, commitment_id: int, project_id: int | None = None, action: Action = Action.VIEW_COMMITMENTS
) -> tuple[Commitment, CompanyAccess]:
    return record_get_for_user(
        kind=kinds.COMMITMENT, user=user, record_id=commitment_id, project_id=project_id, action=action
    )


def subcontractor_invoice_get_for_user(
    *, user, invoice_id: int, project_id: int | None = None, action: Action = Action.VIEW_COMMITMENTS
) -> tuple[SubcontractorInvoice, CompanyAccess]:
    return record_get_for_user(
        kind=kinds.INVOICE, user=user, record_id=invoice_id, project_id=project_id, action=action
    )


@dataclass(frozen=True)
class CommitmentPage:
    rows: list[Commitment]
    #: The number to continue after, or None on the last page.
    next_after: str | None


def project_commitments_page(
    *, project: Project, search: str = "", after: str = "", limit: int = 50
) -> CommitmentPage:
    """One page of the project's commitments in number order, found by number or title.

    Keyset paging on the number (unique per project): no COUNT and no OFFSET, so a
    page costs one query however many commitments the project has.
    """
    qs = Commitment.objects.filter(project=project).select_related("vendor").order_by("number")
    if search:
        qs = qs.filter(Q(number__icontains=search) | Q(title__icontains=search))
    if after:
        qs = qs.filter(number__gt=after)
    rows = list(qs[: limit + 1])
    if len(rows) > limit:
        return CommitmentPage(rows=rows[:limit], next_after=rows[limit - 1].number)
    return CommitmentPage(rows=rows, next_after=None)


def _lock_row(model, *, pk: int, user):
    """The row locked for this transaction, after the permission check on fresh data."""
    kind = kinds.BY_MODEL[model]
    locking = model.objects.select_for_update(of=("self",)).select_related(
        "project", "company", "company__erp_connection"
    )
    record, _ = load_record(kind, user=user, record_id=pk, action=Action.EDIT_COMMITMENTS, queryset=locking)
    return record


def _refuse_if_locked(record: LinkedRecord) -> None:
    reason = record_lock_reason(record)
    if reason:
        raise RecordLocked(reason)


# --- validation ----------------------------------------------------------------------


class _Errors:
    """Collects field errors and raises them together."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def merge(self, error: ValidationError) -> None:
        for field, messages in error.message_dict.items():
            for message in messages:
                self.add(field, message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def _clean_fields(instance, errors: _Errors, *, exclude: Sequence[str] = ()) -> None:
    """Model field checks (lengths, choices, digits), without the unique/constraint queries."""
    try:
        instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        errors.merge(error)


def _vendor_of_company(vendor_id: int | None, company_id: int, errors: _Errors) -> Vendor | None:
    vendor = Vendor.objects.filter(pk=vendor_id, company_id=company_id).first() if vendor_id else None
    if vendor is None:
        errors.add("vendor", "Choose a vendor from this company's directory.")
    return vendor


def _clean_line_items(line_items: Sequence[LineItemData], errors: _Errors) -> list[CommitmentLineItem]:
    items: list[CommitmentLineItem] = []
    for position, data in enumerate(line_items, start=1):
        cost_code = (data.cost_code or "").strip()
        amount = data.amount
        checked = ["commitment"]  # fields already judged here are not judged twice
        if not cost_code:
            errors.add("line_items", f"Line {position}: a cost code is required.")
            checked.append("cost_code")
        if amount is None:
            errors.add("line_items", f"Line {position}: an amount is required.")
            checked.append("amount")
        elif amount < 0:
            errors.add("line_items", f"Line {position}: the amount cannot be negative.")
            checked.append("amount")
        item = CommitmentLineItem(cost_code=cost_code, description=data.description or "", amount=amount)
        try:
            item.full_clean(exclude=checked, validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                for message in messages:
                    errors.add("line_items", f"Line {position}, {field.replace('_', ' ')}: {message}")
        items.append(item)
    return items


def _number_taken(model, *, number: str, scope: dict, exclude_pk: int | None) -> bool:
    qs = model.objects.filter(number=number, **scope)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def _save_unique(instance, *, number_message: str, **save_kwargs) -> None:
    """Save; a concurrent insert of the same number becomes the same field error."""
    try:
        with transaction.atomic():
            instance.save(**save_kwargs)
    except IntegrityError as error:
        if "number_unique" in str(error):
            raise ValidationError({"number": [number_message]}) from None
        raise


# --- commitments ---------------------------------------------------------------------


def _commitment_number_message(number: str) -> str:
    return f"A commitment numbered {number} already exists in this project."


def commitment_create(
    *,
    user,
    project_id: int,
    kind: str,
    number: str,
    title: str,
    vendor_id: int | None,
    status: str,
    line_items: Sequence[LineItemData] = (),
) -> Commitment:
    """A new draft commitment of the project; its amount is the sum of its line items."""
    project, _ = project_get_for_user(user=user, project_id=project_id, action=Action.EDIT_COMMITMENTS)
    errors = _Errors()
    number = (number or "").strip()
    vendor = _vendor_of_company(vendor_id, project.company_id, errors)
    items = _clean_line_items(line_items, errors)
    commitment = Commitment(
        company_id=project.company_id,
        project=project,
        vendor=vendor,
        kind=kind,
        number=number,
        title=(title or "").strip(),
        status=status,
        export_state=ExportState.DRAFT,
        amount=sum((item.amount or Decimal(0) for item in items), Decimal(0)),
    )
    _clean_fields(commitment, errors, exclude=["vendor", "company", "project"])
    if number and _number_taken(Commitment, number=number, scope={"project": project}, exclude_pk=None):
        errors.add("number", _commitment_number_message(number))
    errors.raise_if_any()
    with transaction.atomic():
        _save_unique(commitment, number_message=_commitment_number_message(number))
        for item in items:
            item.commitment = commitment
        CommitmentLineItem.objects.bulk_create(items)
    return commitment


def commitment_update(
    *,
    user,
    commitment_id: int,
    kind: str,
    number: str,
    title: str,
    vendor_id: int | None,
    status: str,
    line_items: Sequence[LineItemData],
) -> Commitment:
    """Replace the commitment's fields and line items, unless it is locked.

    The line items given are the whole new set; the amount becomes their sum.
    """
    with transaction.atomic():
        commitment = _lock_row(Commitment, pk=commitment_id, user=user)
        # Checked on the locked row: a record sent or exported since the form was
        # loaded is refused here rather than overwritten.
        _refuse_if_locked(commitment)

        errors = _Errors()
        number = (number or "").strip()
        vendor = _vendor_of_company(vendor_id, commitment.company_id, errors)
        items = _clean_line_items(line_items, errors)
        has_invoices = commitment.subcontractor_invoices.exists()
        if has_invoices and kind != Commitment.Kind.SUBCONTRACT:
            errors.add("kind", "This subcontract has subcontractor invoices, so it must stay a subcontract.")
        if has_invoices and vendor is not None and vendor.pk != commitment.vendor_id:
            errors.add("vendor", "This subcontract has subcontractor invoices, so its vendor cannot change.")

        commitment.kind = kind
        commitment.number = number
        commitment.title = (title or "").strip()
        commitment.status = status
        if vendor is not None:
            commitment.vendor = vendor
        commitment.amount = sum((item.amount or Decimal(0) for item in items), Decimal(0))
        _clean_fields(commitment, errors, exclude=["vendor", "company", "project"])
        if number and _number_taken(
            Commitment, number=number, scope={"project_id": commitment.project_id}, exclude_pk=commitment.pk
        ):
            errors.add("number", _commitment_number_message(number))
        errors.raise_if_any()

        # Only the edited fields are written, never the export state or the link.
        _save_unique(
            commitment,
            number_message=_commitment_number_message(number),
            update_fields=[*kinds.COMMITMENT.editable_fields, "amount", "updated_at"],
        )
        commitment.line_items.all().delete()
        for item in items:
            item.commitment = commitment
        CommitmentLineItem.objects.bulk_create(items)
    return commitment


def commitment_delete(*, user, commitment_id: int) -> None:
    """Delete a commitment that is neither locked nor billed against."""
    with transaction.atomic():
        commitment = _lock_row(Commitment, pk=commitment_id, user=user)
        _refuse_if_locked(commitment)
        invoice_count = commitment.subcontractor_invoices.count()
        if invoice_count:
            raise DeleteRefused(commitment_delete_refusal(commitment, invoice_count=invoice_count))
        commitment.delete()


# --- subcontractor invoices ----------------------------------------------------------


def _invoice_number_message(number: str) -> str:
    return f"An invoice numbered {number} already exists on this subcontract."


def _check_invoice_amounts(
    *,
    amount: Decimal | None,
    retainage: Decimal | None,
    start: date | None,
    end: date | None,
    errors: _Errors,
) -> None:
    if amount is not None and amount < 0:
        errors.add("amount", "The amount cannot be negative.")
    if retainage is not None and retainage < 0:
        errors.add("retainage", "The retainage cannot be negative.")
    if amount is not None and retainage is not None and retainage > amount >= 0:
        errors.add("retainage", "The retainage cannot be more than the amount.")
    if start and end and end < start:
        errors.add("billing_period_end", "The billing period cannot end before it starts.")


def subcontractor_invoice_create(
    *,
    user,
    commitment_id: int,
    number: str,
    billing_period_start: date,
    billing_period_end: date,
    amount: Decimal,
    retainage: Decimal = Decimal(0),
    status: str = SubcontractorInvoice.Status.DRAFT,
) -> SubcontractorInvoice:
    """A new draft invoice under a subcontract; company, project and vendor come from it."""
    commitment, _ = commitment_get_for_user(
        user=user, commitment_id=commitment_id, action=Action.EDIT_COMMITMENTS
    )
    errors = _Errors()
    if commitment.kind != Commitment.Kind.SUBCONTRACT:
        errors.add(
            "commitment",
            "Subcontractor invoices can only be created under a subcontract, not a purchase order.",
        )
    number = (number or "").strip()
    invoice = SubcontractorInvoice(
        company_id=commitment.company_id,
        project_id=commitment.project_id,
        vendor_id=commitment.vendor_id,
        commitment=commitment,
        number=number,
        billing_period_start=billing_period_start,
        billing_period_end=billing_period_end,
        amount=amount,
        retainage=retainage,
        status=status,
        export_state=ExportState.DRAFT,
    )
    _check_invoice_amounts(
        amount=amount, retainage=retainage, start=billing_period_start, end=billing_period_end, errors=errors
    )
    _clean_fields(invoice, errors, exclude=["company", "project", "vendor", "commitment"])
    if number and _number_taken(
        SubcontractorInvoice, number=number, scope={"commitment": commitment}, exclude_pk=None
    ):
        errors.add("number", _invoice_number_message(number))
    errors.raise_if_any()
    _save_unique(invoice, number_message=_invoice_number_message(number))
    return invoice


def subcontractor_invoice_update(
    *,
    user,
    invoice_id: int,
    number: str,
    billing_period_start: date,
    billing_period_end: date,
    amount: Decimal,
    retainage: Decimal,
    status: str,
) -> SubcontractorInvoice:
    """Replace the invoice's fields, unless it is locked."""
    with transaction.atomic():
        invoice = _lock_row(SubcontractorInvoice, pk=invoice_id, user=user)
        _refuse_if_locked(invoice)
        errors = _Errors()
        number = (number or "").strip()
        invoice.number = number
        invoice.billing_period_start = billing_period_start
        invoice.billing_period_end = billing_period_end
        invoice.amount = amount
        invoice.retainage = retainage
        invoice.status = status
        _check_invoice_amounts(
            amount=amount,
            retainage=retainage,
            start=billing_period_start,
            end=billing_period_end,
            errors=errors,
        )
        _clean_fields(invoice, errors, exclude=["company", "project", "vendor", "commitment"])
        if number and _number_taken(
            SubcontractorInvoice,
            number=number,
            scope={"commitment_id": invoice.commitment_id},
            exclude_pk=invoice.pk,
        ):
            errors.add("number", _invoice_number_message(number))
        errors.raise_if_any()
        _save_unique(
            invoice,
            number_message=_invoice_number_message(number),
            update_fields=[*kinds.INVOICE.editable_fields, "updated_at"],
        )
    return invoice


def subcontractor_invoice_delete(*, user, invoice_id: int) -> int:
    """Delete an invoice that is not locked; returns its commitment's id."""
    with transaction.atomic():
        invoice = _lock_row(SubcontractorInvoice, pk=invoice_id, user=user)
        _refuse_if_locked(invoice)
        commitment_id = invoice.commitment_id
        invoice.delete()
    return commitment_id
