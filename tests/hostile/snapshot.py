"""A picture of everything an attack could change, to compare before and after."""

from accounts.models import DirectoryMembership, PrivilegeChange, Project
from erp_integrations.models import (
    AuditEntry,
    BulkRun,
    Commitment,
    CostCode,
    DirectExportSetting,
    ErpLink,
    ErpMasterEntry,
    MasterExportState,
    SentNotice,
    SubcontractorInvoice,
    SyncRun,
    Vendor,
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
        # Master data: the directory's vendors, projects, cost codes and their links.
        "vendors": list(Vendor.objects.order_by("pk").values_list("pk", "name", "erp_vendor_id")),
        "projects": list(Project.objects.order_by("pk").values_list("pk", "name", "erp_job_id")),
        "cost_codes": CostCode.objects.count(),
        "links": ErpLink.objects.filter(unlinked_at__isnull=True).count(),
        "erp_entries": list(ErpMasterEntry.objects.order_by("pk").values_list("pk", "archived_at")),
        "master_states": MasterExportState.objects.count(),
        "bulk_runs": BulkRun.objects.count(),
        "direct_export": list(DirectExportSetting.objects.order_by("pk").values_list("pk", "enabled")),
        "sent_notices": SentNotice.objects.count(),
    }
