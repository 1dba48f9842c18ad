"""A picture of everything an attack could change, to compare before and after."""

from accounts.models import DirectoryMembership, PrivilegeChange
from erp_integrations.models import (
    AuditEntry,
    BulkRun,
    Commitment,
    DirectExportSetting,
    SentNotice,
    SubcontractorInvoice,
    SyncRun,
)


def snapshot() -> dict:
    record_fields = ("pk", "export_state", "erp_id", "link__missing_since_id", "title", "number", "amount")
    return {
        "commitments": list(Commitment.objects.order_by("pk").values_list(*record_fields)),
        "invoices": list(
            SubcontractorInvoice.objects.order_by("pk").values_list(
                "pk", "export_state", "erp_id", "link__missing_since_id", "number", "amount"
            )
        ),
        "audit": AuditEntry.objects.count(),
        "sync_runs": SyncRun.objects.count(),
        "privileges": list(
            DirectoryMembership.objects.order_by("pk").values_list(
                "pk", "can_push_to_accounting", "erp_integrations_level"
            )
        ),
        "privilege_changes": PrivilegeChange.objects.count(),
        "bulk_runs": BulkRun.objects.count(),
        "direct_export": list(DirectExportSetting.objects.order_by("pk").values_list("pk", "enabled")),
        "sent_notices": SentNotice.objects.count(),
    }
