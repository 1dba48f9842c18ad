"""What a user does in the ERP itself: delete or restore a record, keep its master data
(jobs, vendors, cost codes, sub jobs), and the fault switch."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from erp_integrations.sandbox.formats import FORMATS, cost_code_erp_id
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


# --- master data, as the ERP's users keep it ----------------------------------------------
#: The master kinds a store holds, and the fields ``erp_sandbox add`` / ``edit`` take.
MASTER_FIELDS: dict[str, tuple[str, ...]] = {
    "job": ("id", "name"),
    "vendor": ("id", "name", "type"),
    "cost_code": ("code", "class", "description"),
    "sub_job": ("job", "id", "name"),
}


def sandbox_job_mask(erp_system: str) -> str:
    return sandbox_switch(erp_system).job_mask


def sandbox_set_job_mask(*, erp_system: str, mask: str) -> SandboxSwitch:
    """Set up the ERP's job-id mask ('##-####'), as its administrator would."""
    if not mask or "#" not in mask or len(mask) > 30:
        raise SandboxError("A job mask needs at least one '#' (a digit) and at most 30 characters.")
    alias = sandbox_model(erp_system).database
    with transaction.atomic(using=alias):
        switch = SandboxSwitch.objects.using(alias).select_for_update().order_by("id").first()
        if switch is None:
            switch = SandboxSwitch(id=1)
        switch.job_mask = mask
        switch.save(using=alias)
    return switch


def _master_shape(erp_system: str, kind: str, values: dict) -> tuple[str, dict]:
    """The ERP id and data of a master record from what its user typed; SandboxError if
    the ERP would refuse it (the message names the field)."""
    rules = FORMATS[erp_system]
    values = {key: (value or "").strip() for key, value in values.items()}
    if kind == "job":
        problems = rules.job_id_problems(values.get("id", ""), mask=sandbox_job_mask(erp_system))
        problems += rules.name_problems(values.get("name", ""))
        erp_id, data = values.get("id", ""), {"name": values.get("name", "")}
    elif kind == "vendor":
        problems = rules.vendor_problems(values.get("id", ""), values.get("type", ""))
        problems += rules.name_problems(values.get("name", ""))
        erp_id = values.get("id", "")
        data = {"name": values.get("name", ""), "vendor_type": values.get("type", "")}
    elif kind == "cost_code":
        problems = rules.cost_code_problems(values.get("code", ""), values.get("class", ""))
        problems += rules.name_problems(values.get("description", ""), field="description")
        erp_id = cost_code_erp_id(values.get("code", ""), values.get("class", ""))
        data = {
            "code": values.get("code", ""),
            "cost_class": values.get("class", ""),
            "name": values.get("description", ""),
        }
    elif kind == "sub_job":
        problems = rules.sub_job_problems(values.get("id", ""))
        problems += rules.name_problems(values.get("name", ""))
        job = sandbox_records(erp_system).filter(
            kind="job", erp_id=values.get("job", ""), deleted_at__isnull=True
        )
        if not job.exists():
            problems.append(("job", f"no job {values.get('job', '')!r} in {rules.erp_name}."))
        erp_id = f"{values.get('job', '')}:{values.get('id', '')}"
        data = {"job": values.get("job", ""), "sub_job": values.get("id", ""), "name": values.get("name", "")}
    else:
        raise SandboxError(f"Unknown master data {kind!r}; use one of: {', '.join(MASTER_FIELDS)}.")
    if problems:
        raise SandboxError(" ".join(f"{field.capitalize()}: {message}" for field, message in problems))
    return erp_id, data


def sandbox_master_add(
    *, erp_system: str, kind: str, values: dict, external_reference: str = ""
) -> SandboxRecord:
    """Make a job, vendor, cost code or sub job in the ERP, as its user would."""
    erp_id, data = _master_shape(erp_system, kind, values)
    model = sandbox_model(erp_system)
    try:
        with transaction.atomic(using=model.database):
            return model.objects.using(model.database).create(
                kind=kind, erp_id=erp_id, data=data, external_reference=external_reference
            )
    except IntegrityError:
        raise SandboxError(
            f"{FORMATS[erp_system].erp_name} already has a {kind.replace('_', ' ')} {erp_id}."
        ) from None


def sandbox_master_edit(*, erp_system: str, kind: str, erp_id: str, values: dict) -> SandboxRecord:
    """Change a master record's name (or vendor type, cost code description) in the ERP.

    Its id stays: the ERPs do not renumber a job or a vendor in place.
    """
    model = sandbox_model(erp_system)
    with transaction.atomic(using=model.database):
        record = sandbox_records(erp_system).select_for_update().filter(kind=kind, erp_id=erp_id).first()
        if record is None:
            raise SandboxError(f"No {kind.replace('_', ' ')} with id {erp_id!r} in this ERP.")
        current = _values_of(kind, record)
        new_id, data = _master_shape(erp_system, kind, {**current, **{k: v for k, v in values.items() if v}})
        if new_id != erp_id:
            raise SandboxError("The id cannot be changed; add a new record and delete this one instead.")
        record.data = {**record.data, **data}
        record.save(update_fields=["data", "updated_at"], using=model.database)
    return record


def _values_of(kind: str, record: SandboxRecord) -> dict:
    data = record.data
    if kind == "job":
        return {"id": record.erp_id, "name": data.get("name", "")}
    if kind == "vendor":
        return {"id": record.erp_id, "name": data.get("name", ""), "type": data.get("vendor_type", "")}
    if kind == "cost_code":
        return {
            "code": data.get("code", ""),
            "class": data.get("cost_class", ""),
            "description": data.get("name", ""),
        }
    return {"job": data.get("job", ""), "id": data.get("sub_job", ""), "name": data.get("name", "")}
