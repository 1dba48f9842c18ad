"""The audit trail: every send, export, reject and unlink attempt, with its outcome."""

from erp_integrations.kinds import kind_of
from erp_integrations.models import AuditEntry, ErpSystem, LinkedRecord


def audit_record(
    *,
    user,
    action: str,
    record: LinkedRecord,
    erp_system: str | ErpSystem,
    outcome: str,
    message: str = "",
    erp_id: str | None = None,
) -> AuditEntry:
    """Keep one attempt in the audit trail: who, when, which record, which ERP id, outcome."""
    return AuditEntry.objects.create(
        company_id=record.company_id,
        project_id=record.project_id,
        user=user,
        action=action,
        record_type=kind_of(record).slug,
        record_id=record.pk,
        record_number=record.number,
        erp_system=erp_system,
        erp_id=erp_id if erp_id is not None else (record.erp_id or ""),
        outcome=outcome,
        message=message,
    )
