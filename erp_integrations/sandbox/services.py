"""What a user does in the ERP itself: delete or restore a record, and the fault switch."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from erp_integrations.sandbox.models import Sage100Record, Sage300Record, SandboxRecord, SandboxSwitch

STORES: dict[str, type[SandboxRecord]] = {
    "sage300": Sage300Record,
    "sage100": Sage100Record,
}


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
