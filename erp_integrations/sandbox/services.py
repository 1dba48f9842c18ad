"""What a user does in the ERP itself: delete or restore a record, and the fault switch."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from erp_integrations.sandbox.models import (
    Sage100CostTransaction,
    Sage100Payment,
    Sage100Record,
    Sage300CostTransaction,
    Sage300Payment,
    Sage300Record,
    SandboxCostTransaction,
    SandboxPayment,
    SandboxRecord,
    SandboxSwitch,
)

STORES: dict[str, type[SandboxRecord]] = {
    "sage300": Sage300Record,
    "sage100": Sage100Record,
}
COST_STORES: dict[str, type[SandboxCostTransaction]] = {
    "sage300": Sage300CostTransaction,
    "sage100": Sage100CostTransaction,
}
PAYMENT_STORES: dict[str, type[SandboxPayment]] = {
    "sage300": Sage300Payment,
    "sage100": Sage100Payment,
}
#: The ERP values a user may change in the sandbox, as in the ERP's own screens.
EDITABLE_VALUES = ("amount", "title", "status", "vendor")


class SandboxError(Exception):
    pass


def sandbox_model(erp_system: str) -> type[SandboxRecord]:
    try:
        return STORES[erp_system]
    except KeyError:
        raise SandboxError(f"Unknown ERP {erp_system!r}; use one of: {', '.join(STORES)}.") from None


def sandbox_records(erp_system: str):
    model = sandbox_model(erp_system)
    return model.objects.using(model.database)


def sandbox_find(*, erp_system: str, kind: str, erp_id: str) -> SandboxRecord:
    record = sandbox_records(erp_system).filter(kind=kind, erp_id=erp_id).first()
    if record is None:
        raise SandboxError(f"No {kind} with id {erp_id!r} in this ERP.")
    return record


def sandbox_delete(*, erp_system: str, kind: str, erp_id: str) -> SandboxRecord:
    """Delete the record in the ERP, as a user would in Sage."""
    model = sandbox_model(erp_system)
    with transaction.atomic(using=model.database):
        record = sandbox_find(erp_system=erp_system, kind=kind, erp_id=erp_id)
        if record.deleted_at is not None:
            raise SandboxError(f"{erp_id} is already deleted.")
        record.deleted_at = timezone.now()
        record.save(update_fields=["deleted_at"], using=model.database)
    return record


def sandbox_restore(*, erp_system: str, kind: str, erp_id: str) -> SandboxRecord:
    """Bring a deleted record back, as restoring it from the ERP's recycle bin would."""
    model = sandbox_model(erp_system)
    try:
        with transaction.atomic(using=model.database):
            record = sandbox_find(erp_system=erp_system, kind=kind, erp_id=erp_id)
            if record.deleted_at is None:
                raise SandboxError(f"{erp_id} is not deleted.")
            record.deleted_at = None
            record.save(update_fields=["deleted_at"], using=model.database)
    except IntegrityError:
        raise SandboxError(
            f"{erp_id} cannot be restored: the same platform record was exported again since."
        ) from None
    return record


def sandbox_edit(*, erp_system: str, kind: str, erp_id: str, changes: dict[str, str]) -> SandboxRecord:
    """Change a record's values in the ERP, as an accountant would in Sage's own screens."""
    unknown = sorted(set(changes) - set(EDITABLE_VALUES))
    if unknown:
        raise SandboxError(f"Cannot edit {', '.join(unknown)}; editable: {', '.join(EDITABLE_VALUES)}.")
    if "amount" in changes:
        try:
            changes = {**changes, "amount": str(Decimal(changes["amount"]).quantize(Decimal("0.01")))}
        except ArithmeticError:
            raise SandboxError(f"{changes['amount']!r} is not an amount.") from None
    model = sandbox_model(erp_system)
    with transaction.atomic(using=model.database):
        record = sandbox_records(erp_system).select_for_update().filter(kind=kind, erp_id=erp_id).first()
        if record is None:
            raise SandboxError(f"No {kind} with id {erp_id!r} in this ERP.")
        record.data = {**record.data, **changes}
        record.save(update_fields=["data"], using=model.database)
    return record


def sandbox_post_cost(
    *,
    erp_system: str,
    company_id: int,
    job: str,
    cost_code: str,
    amount: Decimal,
    posted_on: date,
    description: str = "",
) -> SandboxCostTransaction:
    """Post a cost to a job in the ERP (what its payroll or AP does)."""
    sandbox_model(erp_system)  # an unknown ERP is a SandboxError
    model = COST_STORES[erp_system]
    alias = model.database
    with transaction.atomic(using=alias):
        row = model.objects.using(alias).create(
            company_id=company_id,
            erp_id=f"pending-{uuid.uuid4().hex}",
            job=job,
            cost_code=cost_code,
            amount=amount,
            posted_on=posted_on,
            description=description,
        )
        row.erp_id = f"CT{row.pk:07d}"
        row.save(update_fields=["erp_id"], using=alias)
    return row


def sandbox_issue_payment(
    *, erp_system: str, company_id: int, requisition: str, amount: Decimal, paid_on: date
) -> SandboxPayment:
    """Issue a payment (a check) against a requisition in the ERP."""
    sandbox_model(erp_system)
    model = PAYMENT_STORES[erp_system]
    alias = model.database
    with transaction.atomic(using=alias):
        row = model.objects.using(alias).create(
            company_id=company_id,
            erp_id=f"pending-{uuid.uuid4().hex}",
            requisition=requisition,
            amount=amount,
            paid_on=paid_on,
        )
        row.erp_id = f"CK{row.pk:07d}"
        row.save(update_fields=["erp_id"], using=alias)
    return row


def sandbox_switch(erp_system: str) -> SandboxSwitch:
    alias = sandbox_model(erp_system).database
    switch = SandboxSwitch.objects.using(alias).order_by("id").first()
    return switch or SandboxSwitch(mode=SandboxSwitch.Mode.NORMAL, latency_ms=0)


def sandbox_set_mode(*, erp_system: str, mode: str, latency_ms: int = 0) -> SandboxSwitch:
    """Make the sandbox ERP work normally, fail (offline) or answer slowly."""
    if mode not in SandboxSwitch.Mode.values:
        raise SandboxError(f"Unknown mode {mode!r}; use one of: {', '.join(SandboxSwitch.Mode.values)}.")
    if latency_ms < 0:
        raise SandboxError("Latency cannot be negative.")
    alias = sandbox_model(erp_system).database
    with transaction.atomic(using=alias):
        switch = SandboxSwitch.objects.using(alias).select_for_update().order_by("id").first()
        if switch is None:
            switch = SandboxSwitch(id=1)
        switch.mode = mode
        switch.latency_ms = latency_ms
        switch.save(using=alias)
    return switch
