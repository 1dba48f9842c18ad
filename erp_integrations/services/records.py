"""Create, edit and delete the records of the project's Commitments tool, of every kind.

The rules every kind shares are written once, here:

- who may read (``Action.VIEW_COMMITMENTS``) and who may write (``Action.EDIT_COMMITMENTS``),
  decided by :mod:`accounts.permissions`; outsiders get ``NotFound``, members
  ``AccessDenied`` naming what is missing;
- the lock: while a record waits for export or is synced with the ERP its fields are
  read-only and it cannot be deleted. The check runs on the row locked with
  ``select_for_update()`` inside the write's transaction, so a record that was sent or
  exported while the user was typing is refused instead of silently un-synced;
- a record's number is unique within its parent (a commitment's within its project);
  a concurrent insert of the same number becomes the same field error;
- a record with children (a commitment's invoices and change orders) cannot be deleted;
- validation is raised as ``ValidationError`` keyed by field name so a form can show it.

What differs between kinds (the fields a create or an edit sets and checks, the lines
they write, what a record's page shows besides its fields) is each kind's ``RecordRules``
below, named by the kind's ``rules_path`` in :mod:`erp_integrations.kinds`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.text import capfirst

from accounts.models import Project
from accounts.permissions import Action, CompanyAccess, load_project, load_record
from erp_integrations import kinds
from erp_integrations.kinds import RecordKind
from erp_integrations.models import (
    ChangeOrderLineItem,
    Commitment,
    CommitmentChangeOrder,
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
    """One line of a commitment's form. ``removed``: the user removed the line at this position."""

    cost_code: str
    amount: Decimal | None
    description: str = ""
    removed: bool = False


@dataclass(frozen=True)
class ChangeLineData:
    """One line of a change order: how much one line of its commitment changes (may be negative)."""

    commitment_line_id: int | None
    amount: Decimal | None
    description: str = ""
    removed: bool = False


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


def _counted(count: int, kind: RecordKind) -> str:
    return f"{count} {kind.tool_noun if count == 1 else kind.tool_plural}"


def _joined(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def record_children(kind: RecordKind, record: LinkedRecord) -> list[tuple[RecordKind, list]]:
    """The record's children of each child kind (a commitment's invoices, its change orders)."""
    return [
        (child, list(child.model.objects.filter(**{child.parent_field: record}).order_by("number", "id")))
        for child in kind.child_kinds
    ]


def _child_counts(kind: RecordKind, record: LinkedRecord) -> dict[str, int]:
    return {
        child.slug: child.model.objects.filter(**{child.parent_field: record}).count()
        for child in kind.child_kinds
    }


def record_delete_refusal(
    kind: RecordKind, record: LinkedRecord, *, child_counts: Mapping[str, int] | None = None
) -> str:
    """Why the record cannot be deleted (its lock first, then its children); "" if it can.

    ``child_counts``: how many children of each child kind (by slug), when the caller
    has them already; else counted here (a query per child kind).
    """
    reason = record_lock_reason(record)
    if reason:
        return reason
    counts = _child_counts(kind, record) if child_counts is None else child_counts
    present = [_counted(counts[child.slug], child) for child in kind.child_kinds if counts.get(child.slug)]
    if present:
        return (
            f"This {kind.tool_noun} has {_joined(present)}; delete them before deleting the {kind.tool_noun}."
        )
    return ""


def record_create_refusal(kind: RecordKind, parent: LinkedRecord | None) -> str:
    """Why no record of ``kind`` can be made under ``parent`` (invoices under a PO); "" if one can."""
    return kind.rules.create_refusal(parent) if parent is not None else ""


def record_page(kind: RecordKind, record: LinkedRecord) -> dict:
    """What the record's page shows besides its fields (its lines, say)."""
    return kind.rules.page(record)


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


def record_parent_for_user(
    *,
    kind: RecordKind,
    user,
    project_id: int | None = None,
    parent_id: int | None = None,
    action: Action = Action.EDIT_COMMITMENTS,
    queryset=None,
) -> tuple[Project, LinkedRecord | None, CompanyAccess]:
    """Where a new record of ``kind`` goes: its project and its parent (a CCO's commitment),
    if the user may ``action`` there. A kind without a parent goes straight in the project."""
    parent_kind = kind.parent_kind
    if parent_kind is None:
        project, access = load_project(user, project_id, action)
        return project, None, access
    parent, access = load_record(
        parent_kind, user=user, record_id=parent_id, action=action, project_id=project_id, queryset=queryset
    )
    return parent.project, parent, access


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


# --- validation ----------------------------------------------------------------------


class _Errors:
    """Collects field errors and raises them together."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def merge(self, error: ValidationError, *, prefix: str = "", into: str = "") -> None:
        for field, messages in error.message_dict.items():
            for message in messages:
                if into:
                    self.add(into, f"{prefix}, {field.replace('_', ' ')}: {message}")
                else:
                    self.add(field, message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def _clean_fields(instance, errors: _Errors, *, exclude: Sequence[str] = (), **merge) -> None:
    """Model field checks (lengths, choices, digits), without the unique/constraint queries."""
    try:
        instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        errors.merge(error, **merge)


def _vendor_of_company(vendor_id: int | None, company_id: int, errors: _Errors) -> Vendor | None:
    vendor = Vendor.objects.filter(pk=vendor_id, company_id=company_id).first() if vendor_id else None
    if vendor is None:
        errors.add("vendor", "Choose a vendor from this company's directory.")
    return vendor


def _assign(record, fields: Mapping, names: Sequence[str]) -> None:
    for name in names:
        setattr(record, name, fields.get(name))


def _line_amount_errors(position: int, amount: Decimal | None, errors: _Errors, *, negative_ok: bool) -> bool:
    """Checks a line's amount; True when it was judged (so the model check skips it)."""
    if amount is None:
        errors.add("line_items", f"Line {position}: an amount is required.")
        return True
    if amount < 0 and not negative_ok:
        errors.add("line_items", f"Line {position}: the amount cannot be negative.")
        return True
    return False


def _total(items) -> Decimal:
    return sum((item.amount or Decimal(0) for item in items), Decimal(0))


# --- what every kind shares: lock, refuse, unique number, save --------------------------


def _lock_row(kind: RecordKind, *, pk: int, user) -> LinkedRecord:
    """The row (and its parent's) locked for this transaction, after the permission check
    on fresh data. Locking the parent serialises a change order's lines with an edit of
    its commitment's lines, and a new child with its parent's delete."""
    lock_of = ("self", kind.parent_field) if kind.parent_field else ("self",)
    related = ("project", "company", "company__erp_connection", *lock_of[1:])
    locking = kind.model.objects.select_for_update(of=lock_of).select_related(*related)
    record, _ = load_record(kind, user=user, record_id=pk, action=Action.EDIT_COMMITMENTS, queryset=locking)
    return record


def _refuse_if_locked(record: LinkedRecord) -> None:
    reason = record_lock_reason(record)
    if reason:
        raise RecordLocked(reason)


def _number_scope(kind: RecordKind, record: LinkedRecord) -> dict:
    """Where a number must be unique: under the parent, or in the project."""
    if kind.parent_field:
        return {f"{kind.parent_field}_id": getattr(record, f"{kind.parent_field}_id")}
    return {"project_id": record.project_id}


def _check_and_save(kind: RecordKind, record: LinkedRecord, errors: _Errors, *, update_fields=None) -> None:
    """The model's own checks and the unique number, then the save; raises the field errors."""
    record.number = (record.number or "").strip()
    exclude = ["company", "project", "vendor", "link", *([kind.parent_field] if kind.parent_field else [])]
    _clean_fields(record, errors, exclude=exclude)
    message = kind.rules.number_taken.format(number=record.number)
    if record.number:
        taken = kind.model.objects.filter(number=record.number, **_number_scope(kind, record))
        if record.pk is not None:
            taken = taken.exclude(pk=record.pk)
        if taken.exists():
            errors.add("number", message)
    errors.raise_if_any()
    try:
        with transaction.atomic():
            record.save(update_fields=update_fields)
    except IntegrityError as error:
        if "number_unique" in str(error):
            raise ValidationError({"number": [message]}) from None
        raise


def record_create(
    *,
    kind: RecordKind,
    user,
    fields: Mapping,
    project_id: int | None = None,
    parent_id: int | None = None,
) -> LinkedRecord:
    """A new draft record of ``kind`` in the project, or under its parent (``parent_id``).

    Company, project and vendor of a child come from its parent.
    """
    rules = kind.rules
    with transaction.atomic():
        parent_lock = (
            kind.parent_kind.model.objects.select_for_update(of=("self",)) if kind.parent_field else None
        )
        project, parent, _ = record_parent_for_user(
            kind=kind, user=user, project_id=project_id, parent_id=parent_id, queryset=parent_lock
        )
        errors = _Errors()
        refusal = record_create_refusal(kind, parent)
        if refusal:
            errors.add(kind.parent_field, refusal)
        record = rules.new(project=project, parent=parent)
        write_lines = rules.apply(record, fields, errors, existing=False)
        _check_and_save(kind, record, errors)
        write_lines()
    return record


def record_update(*, kind: RecordKind, user, record_id: int, fields: Mapping) -> LinkedRecord:
    """Replace the record's editable fields (and lines), unless it is locked."""
    with transaction.atomic():
        record = _lock_row(kind, pk=record_id, user=user)
        # Checked on the locked row: a record sent or exported since the form was
        # loaded is refused here rather than overwritten.
        _refuse_if_locked(record)
        errors = _Errors()
        write_lines = kind.rules.apply(record, fields, errors, existing=True)
        # Only the edited fields are written, never the export state or the link.
        _check_and_save(kind, record, errors, update_fields=[*kind.editable_fields, "amount", "updated_at"])
        write_lines()
    return record


def record_delete(*, kind: RecordKind, user, record_id: int) -> LinkedRecord:
    """Delete a record that is neither locked nor has children; returns it (without its id)."""
    with transaction.atomic():
        record = _lock_row(kind, pk=record_id, user=user)
        _refuse_if_locked(record)
        refusal = record_delete_refusal(kind, record)
        if refusal:
            raise DeleteRefused(refusal)
        record.delete()
    return record


def _nothing() -> None:
    """No lines to write."""


class RecordRules:
    """What one kind's create and edit set and check; ``record_create`` / ``record_update``
    do the rest. ``apply`` sets the fields on the record and collects their errors; it
    returns what to write once the record's row is saved (its lines)."""

    #: The field error for a number taken under the same parent ("{number}" is filled in).
    number_taken = "{number} is already taken."

    def create_refusal(self, parent: LinkedRecord) -> str:
        return ""

    def new(self, *, project: Project, parent: LinkedRecord | None) -> LinkedRecord:
        raise NotImplementedError

    def apply(
        self, record: LinkedRecord, fields: Mapping, errors: _Errors, *, existing: bool
    ) -> Callable[[], None]:
        raise NotImplementedError

    def page(self, record: LinkedRecord) -> dict:
        return {}


def _child_of(model, parent: LinkedRecord, **fields) -> LinkedRecord:
    """A new draft under ``parent``, in its company and project, with its vendor."""
    return model(
        company_id=parent.company_id,
        project_id=parent.project_id,
        vendor_id=parent.vendor_id,
        commitment=parent,
        export_state=ExportState.DRAFT,
        **fields,
    )


# --- commitments ---------------------------------------------------------------------


class CommitmentRules(RecordRules):
    number_taken = "A commitment numbered {number} already exists in this project."

    def new(self, *, project, parent):
        return Commitment(company_id=project.company_id, project=project, export_state=ExportState.DRAFT)

    def apply(self, commitment, fields, errors, *, existing):
        vendor = _vendor_of_company(fields.get("vendor_id"), commitment.company_id, errors)
        if existing:
            self._check_children(commitment, fields, vendor, errors)
        _assign(commitment, fields, ("kind", "number", "status"))
        commitment.title = (fields.get("title") or "").strip()
        if vendor is not None:
            commitment.vendor = vendor
        return self._lines(commitment, list(fields.get("line_items", ())), errors, existing=existing)

    def _check_children(self, commitment, fields, vendor, errors) -> None:
        """Invoices bill a subcontract; invoices and change orders carry its vendor."""
        counts = _child_counts(kinds.COMMITMENT, commitment)
        if counts[kinds.INVOICE.slug] and fields.get("kind") != Commitment.Kind.SUBCONTRACT:
            errors.add("kind", "This subcontract has subcontractor invoices, so it must stay a subcontract.")
        children = [child.tool_plural for child in kinds.COMMITMENT.child_kinds if counts[child.slug]]
        if children and vendor is not None and vendor.pk != commitment.vendor_id:
            word = commitment.get_kind_display().lower()
            errors.add("vendor", f"This {word} has {_joined(children)}, so its vendor cannot change.")

    def _lines(self, commitment, entries: list[LineItemData], errors, *, existing: bool):
        """Lines by position: the n-th entry is the n-th line the form showed. An existing
        line is updated in place (it keeps its id, which change orders refer to), extra
        entries are new lines, and only removed ones are deleted."""
        current = list(commitment.line_items.order_by("id")) if existing else []
        kept, removed = [], []
        for index, data in enumerate(entries):
            line = current[index] if index < len(current) else CommitmentLineItem()
            if data.removed:
                if line.pk is not None:
                    removed.append((index + 1, line))
                continue
            line.cost_code = (data.cost_code or "").strip()
            line.description = data.description or ""
            line.amount = data.amount
            self._check_line(index + 1, line, errors)
            kept.append(line)
        removed += [(index + 1, line) for index, line in enumerate(current) if index >= len(entries)]
        self._refuse_removing_changed_lines(removed, errors)
        commitment.amount = _total(kept)

        def write() -> None:
            if removed:
                CommitmentLineItem.objects.filter(pk__in=[line.pk for _, line in removed]).delete()
            CommitmentLineItem.objects.bulk_update(
                [line for line in kept if line.pk is not None], ["cost_code", "description", "amount"]
            )
            new = [line for line in kept if line.pk is None]
            for line in new:
                line.commitment = commitment
            CommitmentLineItem.objects.bulk_create(new)

        return write

    def _check_line(self, position: int, line: CommitmentLineItem, errors: _Errors) -> None:
        checked = ["commitment"]  # fields already judged here are not judged twice
        if not line.cost_code:
            errors.add("line_items", f"Line {position}: a cost code is required.")
            checked.append("cost_code")
        if _line_amount_errors(position, line.amount, errors, negative_ok=False):
            checked.append("amount")
        _clean_fields(line, errors, exclude=checked, prefix=f"Line {position}", into="line_items")

    def _refuse_removing_changed_lines(self, removed, errors: _Errors) -> None:
        """A line a change order changes stays: the change order would lose its line."""
        if not removed:
            return
        changed_by: dict[int, list[str]] = {}
        references = (
            ChangeOrderLineItem.objects.filter(commitment_line__in=[line.pk for _, line in removed])
            .order_by("change_order__number")
            .values_list("commitment_line_id", "change_order__number")
            .distinct()
        )
        for line_id, number in references:
            changed_by.setdefault(line_id, []).append(number)
        for position, line in removed:
            numbers = changed_by.get(line.pk)
            if numbers:
                noun = kinds.CCO.tool_noun if len(numbers) == 1 else kinds.CCO.tool_plural
                verb = "changes" if len(numbers) == 1 else "change"
                errors.add(
                    "line_items",
                    f"Line {position} ({line.cost_code}) cannot be removed: {noun} "
                    f"{_joined(numbers)} {verb} it.",
                )

    def page(self, commitment):
        return {"line_items": list(commitment.line_items.all())}


# --- subcontractor invoices ----------------------------------------------------------


class InvoiceRules(RecordRules):
    number_taken = "An invoice numbered {number} already exists on this subcontract."
    FIELDS = ("number", "billing_period_start", "billing_period_end", "amount", "retainage", "status")

    def page(self, invoice):
        # The payments the ERP issued against it, as the last completed sync imported them.
        payments = list(invoice.payments.order_by("-paid_on", "-id"))
        return {"payments": payments, "paid_total": _total(payments)}

    def create_refusal(self, commitment):
        if commitment.kind != Commitment.Kind.SUBCONTRACT:
            return "Subcontractor invoices can only be created under a subcontract, not a purchase order."
        return ""

    def new(self, *, project, parent):
        return _child_of(SubcontractorInvoice, parent, retainage=Decimal(0))

    def apply(self, invoice, fields, errors, *, existing):
        _assign(invoice, fields, self.FIELDS)
        amount, retainage = invoice.amount, invoice.retainage
        start, end = invoice.billing_period_start, invoice.billing_period_end
        if amount is not None and amount < 0:
            errors.add("amount", "The amount cannot be negative.")
        if retainage is not None and retainage < 0:
            errors.add("retainage", "The retainage cannot be negative.")
        if amount is not None and retainage is not None and retainage > amount >= 0:
            errors.add("retainage", "The retainage cannot be more than the amount.")
        if start and end and end < start:
            errors.add("billing_period_end", "The billing period cannot end before it starts.")
        return _nothing


# --- commitment change orders ----------------------------------------------------------


class ChangeOrderRules(RecordRules):
    number_taken = "A change order numbered {number} already exists on this commitment."

    def new(self, *, project, parent):
        return _child_of(CommitmentChangeOrder, parent)

    def apply(self, change_order, fields, errors, *, existing):
        _assign(change_order, fields, ("number", "status"))
        change_order.title = (fields.get("title") or "").strip()
        # Kept whole: the ERP cuts it, the platform does not.
        change_order.description = fields.get("description") or ""
        commitment = change_order.commitment
        lines_of_commitment = {line.pk for line in commitment.line_items.all()}
        items = []
        entries = [data for data in fields.get("line_items", ()) if not data.removed]
        for position, data in enumerate(entries, start=1):
            checked = ["change_order", "commitment_line"]
            if data.commitment_line_id not in lines_of_commitment:
                errors.add("line_items", f"Line {position}: choose a line of commitment {commitment.number}.")
            if _line_amount_errors(position, data.amount, errors, negative_ok=True):
                checked.append("amount")
            item = ChangeOrderLineItem(
                commitment_line_id=data.commitment_line_id,
                description=data.description or "",
                amount=data.amount,
            )
            _clean_fields(item, errors, exclude=checked, prefix=f"Line {position}", into="line_items")
            items.append(item)
        change_order.amount = _total(items)

        def write() -> None:
            # Nothing refers to a change order's lines: the set is replaced whole.
            if existing:
                change_order.line_items.all().delete()
            for item in items:
                item.change_order = change_order
            ChangeOrderLineItem.objects.bulk_create(items)

        return write

    def page(self, change_order):
        # A query for the lines and one for their sums, however many lines there are.
        return {
            "change_lines": list(change_order.line_items.select_related("commitment_line").order_by("id")),
            "summed_lines": [line for line in kinds.summed_change_lines(change_order) if line["times"] > 1],
        }


COMMITMENT_RULES = CommitmentRules()
INVOICE_RULES = InvoiceRules()
CHANGE_ORDER_RULES = ChangeOrderRules()


# --- the services by kind, as the rest of the product names them ------------------------


def commitment_create(
    *, user, project_id: int, line_items: Sequence[LineItemData] = (), **fields
) -> Commitment:
    """A new draft commitment of the project (fields: kind, number, title, vendor_id,
    status); its amount is the sum of its line items."""
    fields["line_items"] = line_items
    return record_create(kind=kinds.COMMITMENT, user=user, project_id=project_id, fields=fields)


def commitment_update(*, user, commitment_id: int, **fields) -> Commitment:
    """Replace the commitment's fields and update its lines by position, unless it is locked."""
    return record_update(kind=kinds.COMMITMENT, user=user, record_id=commitment_id, fields=fields)


def commitment_delete(*, user, commitment_id: int) -> None:
    """Delete a commitment that is neither locked nor has invoices or change orders."""
    record_delete(kind=kinds.COMMITMENT, user=user, record_id=commitment_id)


def subcontractor_invoice_create(*, user, commitment_id: int, **fields) -> SubcontractorInvoice:
    """A new draft invoice under a subcontract; company, project and vendor come from it."""
    fields.setdefault("status", SubcontractorInvoice.Status.DRAFT)
    fields.setdefault("retainage", Decimal(0))
    return record_create(kind=kinds.INVOICE, user=user, parent_id=commitment_id, fields=fields)


def subcontractor_invoice_update(*, user, invoice_id: int, **fields) -> SubcontractorInvoice:
    return record_update(kind=kinds.INVOICE, user=user, record_id=invoice_id, fields=fields)


def subcontractor_invoice_delete(*, user, invoice_id: int) -> int:
    """Delete an invoice that is not locked; returns its commitment's id."""
    return record_delete(kind=kinds.INVOICE, user=user, record_id=invoice_id).commitment_id


def change_order_create(*, user, commitment_id: int, **fields) -> CommitmentChangeOrder:
    """A new draft change order of a commitment (fields: number, title, description,
    status, line_items as ``ChangeLineData``); its amount is the sum of its lines."""
    fields.setdefault("status", CommitmentChangeOrder.Status.DRAFT)
    return record_create(kind=kinds.CCO, user=user, parent_id=commitment_id, fields=fields)


def change_order_update(*, user, change_order_id: int, **fields) -> CommitmentChangeOrder:
    return record_update(kind=kinds.CCO, user=user, record_id=change_order_id, fields=fields)


def change_order_delete(*, user, change_order_id: int) -> int:
    """Delete a change order that is not locked; returns its commitment's id."""
    return record_delete(kind=kinds.CCO, user=user, record_id=change_order_id).commitment_id


def record_title(kind: RecordKind, record: LinkedRecord) -> str:
    """How a message names the record: "Change order 3", "Commitment SC-1"."""
    return f"{capfirst(kind.tool_noun)} {record.number}"
