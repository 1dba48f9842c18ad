"""The Django admin for platform staff: connections, vendors and the exported records.

Export, reject, unlink and sync are services with rules (permissions, the ERP, the
audit trail), so the admin shows a record's export state and link but does not edit
them: they change only through the product. Sync runs and the audit trail are
read-only. The record lists stay usable at a million rows: related objects are joined
(list_select_related), foreign keys are raw ids instead of <select>s of every row,
and the full, unfiltered count is not run on every page.
"""

from django.contrib import admin

from erp_integrations.models import (
    AuditEntry,
    ChangeOrderLineItem,
    Commitment,
    CommitmentChangeOrder,
    CommitmentLineItem,
    ErpConnection,
    ErpLink,
    SubcontractorInvoice,
    SyncRun,
    Vendor,
)

#: The export state and the link, changed only by the export, reject and unlink services.
LINK_FIELDS = (
    "export_state",
    "export_error",
    "rejection_reason",
    "sent_at",
    "sent_by",
    "link",
    "erp_id",
    "linked_at",
    "created_at",
    "updated_at",
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the product itself; staff may look, nobody may touch."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ErpConnection)
class ErpConnectionAdmin(admin.ModelAdmin):
    list_display = ("company", "erp_system", "is_active", "created_at")
    list_select_related = ("company",)
    list_filter = ("erp_system", "is_active")
    search_fields = ("company__name",)
    autocomplete_fields = ("company",)
    readonly_fields = ("created_at",)


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    list_display = ("name", "company", "erp_vendor_id")
    list_select_related = ("company",)
    list_filter = ("company",)
    search_fields = ("name", "erp_vendor_id")
    raw_id_fields = ("company",)
    show_full_result_count = False


class CommitmentLineItemInline(admin.TabularInline):
    model = CommitmentLineItem
    fields = ("cost_code", "description", "amount")
    extra = 0


@admin.register(Commitment)
class CommitmentAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "title",
        "kind",
        "project",
        "vendor",
        "amount",
        "status",
        "export_state",
        "erp_id",
        "updated_at",
    )
    list_select_related = ("project", "vendor")
    list_filter = ("export_state", "kind", "status")
    search_fields = ("number", "title", "erp_id")
    raw_id_fields = ("company", "project", "vendor")
    readonly_fields = LINK_FIELDS
    fieldsets = (
        (None, {"fields": ("company", "project", "kind", "number", "title", "vendor", "status")}),
        ("Amount", {"fields": ("amount",)}),
        ("Export and link", {"fields": LINK_FIELDS}),
    )
    inlines = (CommitmentLineItemInline,)
    # Newest first by primary key: an index scan, where the model's ordering (by
    # project, which orders by company name) would sort the whole table on every page.
    ordering = ("-pk",)
    show_full_result_count = False


@admin.register(SubcontractorInvoice)
class SubcontractorInvoiceAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "commitment",
        "project",
        "vendor",
        "billing_period_start",
        "billing_period_end",
        "amount",
        "status",
        "export_state",
        "erp_id",
        "updated_at",
    )
    list_select_related = ("commitment", "project", "vendor")
    list_filter = ("export_state", "status")
    search_fields = ("number", "erp_id", "commitment__number")
    raw_id_fields = ("company", "project", "vendor", "commitment")
    readonly_fields = LINK_FIELDS
    fieldsets = (
        (None, {"fields": ("company", "project", "commitment", "vendor", "number", "status")}),
        (
            "Billing",
            {"fields": ("billing_period_start", "billing_period_end", "amount", "retainage")},
        ),
        ("Export and link", {"fields": LINK_FIELDS}),
    )
    ordering = ("-pk",)
    show_full_result_count = False


class ChangeOrderLineItemInline(admin.TabularInline):
    model = ChangeOrderLineItem
    fields = ("commitment_line", "description", "amount")
    raw_id_fields = ("commitment_line",)
    extra = 0


@admin.register(CommitmentChangeOrder)
class CommitmentChangeOrderAdmin(admin.ModelAdmin):
    list_display = ("number", "title", "commitment", "project", "amount", "status", "export_state", "erp_id")
    list_select_related = ("commitment", "project")
    list_filter = ("export_state", "status")
    search_fields = ("number", "title", "erp_id", "commitment__number")
    raw_id_fields = ("company", "project", "vendor", "commitment")
    readonly_fields = LINK_FIELDS
    fieldsets = (
        (None, {"fields": ("company", "project", "commitment", "vendor", "number", "title", "status")}),
        ("Change", {"fields": ("description", "amount")}),
        ("Export and link", {"fields": LINK_FIELDS}),
    )
    inlines = (ChangeOrderLineItemInline,)
    ordering = ("-pk",)
    show_full_result_count = False


@admin.register(ErpLink)
class ErpLinkAdmin(ReadOnlyAdmin):
    list_display = ("erp_id", "kind", "record_id", "company", "linked_at", "missing_since", "unlinked_at")
    list_select_related = ("company",)
    list_filter = ("kind",)
    search_fields = ("erp_id",)
    ordering = ("-pk",)
    show_full_result_count = False


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "connection",
        "trigger",
        "status",
        "started_at",
        "finished_at",
        "links_checked",
        "missing_found",
        "reappeared",
    )
    list_select_related = ("connection__company",)
    list_filter = ("status", "trigger")
    show_full_result_count = False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "company",
        "user",
        "action",
        "record_type",
        "record_number",
        "erp_system",
        "erp_id",
        "outcome",
    )
    list_select_related = ("company", "user")
    list_filter = ("action", "outcome", "record_type", "erp_system")
    search_fields = ("record_number", "erp_id", "user__username")
    ordering = ("-pk",)
    show_full_result_count = False
