"""The Django admin for platform staff: connections, vendors and the exported records.

Export, reject, unlink and sync are services with rules (permissions, the ERP, the
audit trail), so the admin shows a record's export state and link but does not edit
them: they change only through the product. A record's company and project (an
invoice's commitment and vendor too) are fixed once it exists, and a record that is
ready to export or synced is read-only here as it is in the product; so are a
connection's company and ERP, and a vendor's company. Sync runs and the audit trail are
read-only. The record lists stay usable at a million rows: related objects are joined
(list_select_related), foreign keys are raw ids instead of <select>s of every row,
and the full, unfiltered count is not run on every page.
"""

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets

from erp_integrations.models import (
    AuditEntry,
    ChangeOrderLineItem,
    Commitment,
    CommitmentChangeOrder,
    CommitmentLineItem,
    ErpConnection,
    ErpLink,
    SentNotice,
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


class FixedOnceCreatedAdmin(admin.ModelAdmin):
    """``fixed_fields`` may be set when a row is added, never changed afterwards."""

    fixed_fields: tuple[str, ...] = ()

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly += [name for name in self.fixed_fields if name not in readonly]
        return readonly


class LinkedRecordAdmin(FixedOnceCreatedAdmin):
    """A record exported to an ERP: its link is the services', its locked fields the product's."""

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if obj is not None and obj.is_locked:
            # Ready to export or synced: locked in the platform, so locked here too.
            readonly += [name for name in flatten_fieldsets(self.fieldsets) if name not in readonly]
        return readonly


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the product itself; staff may look, nobody may touch."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ErpConnection)
class ErpConnectionAdmin(FixedOnceCreatedAdmin):
    # Another company or ERP would leave every link pointing at records of the old one.
    fixed_fields = ("company", "erp_system")
    list_display = ("company", "erp_system", "is_active", "created_at")
    list_select_related = ("company",)
    list_filter = ("erp_system", "is_active")
    search_fields = ("company__name",)
    autocomplete_fields = ("company",)
    readonly_fields = ("created_at",)


@admin.register(Vendor)
class VendorAdmin(FixedOnceCreatedAdmin):
    fixed_fields = ("company",)
    list_display = ("name", "company", "erp_vendor_id")
    list_select_related = ("company",)
    list_filter = ("company",)
    search_fields = ("name", "erp_vendor_id")
    raw_id_fields = ("company",)
    show_full_result_count = False


class LockedWithRecordInline(admin.TabularInline):
    """Lines of a record: locked with it while it is ready to export or synced."""

    extra = 0

    # ``obj`` is the record the lines belong to.
    def has_add_permission(self, request, obj=None):
        return (obj is None or not obj.is_locked) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return (obj is None or not obj.is_locked) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return (obj is None or not obj.is_locked) and super().has_delete_permission(request, obj)


class CommitmentLineItemInline(LockedWithRecordInline):
    model = CommitmentLineItem
    fields = ("cost_code", "description", "amount")


@admin.register(Commitment)
class CommitmentAdmin(LinkedRecordAdmin):
    fixed_fields = ("company", "project")
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
class SubcontractorInvoiceAdmin(LinkedRecordAdmin):
    fixed_fields = ("company", "project", "commitment", "vendor")
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


class ChangeOrderLineItemInline(LockedWithRecordInline):
    model = ChangeOrderLineItem
    fields = ("commitment_line", "description", "amount")
    raw_id_fields = ("commitment_line",)


@admin.register(CommitmentChangeOrder)
class CommitmentChangeOrderAdmin(LinkedRecordAdmin):
    fixed_fields = ("company", "project", "commitment", "vendor")
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


@admin.register(SentNotice)
class SentNoticeAdmin(ReadOnlyAdmin):
    """The staff console's mail: the latest 50 messages the product sent, newest first."""

    list_display = ("created_at", "kind", "recipient", "subject", "company", "sent_at")
    list_filter = ("kind",)
    search_fields = ("recipient", "subject", "event_key")
    list_select_related = ("company",)
    list_per_page = 50
    show_full_result_count = False
    fields = (
        "event_key",
        "kind",
        "company",
        "recipient",
        "subject",
        "text_body",
        "html_body",
        "created_at",
        "sent_at",
    )
