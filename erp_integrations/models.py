"""Records exported to an ERP, their links, the connection, sync runs and the audit trail.

A *link* is the tie between a platform record and the ERP record that its export
made. Links of every kind live in one narrow table, ``ErpLink``, keyed by kind and
record: the ERP id, who linked it and when, and what the last completed sync saw
(``missing_since``). The hourly sync reads and marks that table only, so a sync never
rewrites a record's wide, heavily indexed row.

A record points at its live link (``link``) and keeps a copy of the two values its
lists search and sort by (``erp_id``, ``linked_at``), written in the same transaction
as the link by export and unlink only. Constraints hold the two together: a record is
``synced`` exactly when it has a whole link, and on PostgreSQL a composite foreign key
makes the copies equal the link's own values.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import Company, Project


class ErpSystem(models.TextChoices):
    SAGE_300_CRE = "sage300", "Sage 300 CRE®"
    SAGE_100_CONTRACTOR = "sage100", "Sage 100 Contractor®"


class ErpConnection(models.Model):
    """A company's integration with its ERP. One per company."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="erp_connection")
    erp_system = models.CharField(max_length=20, choices=ErpSystem.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["company__name"]

    def __str__(self) -> str:
        return f"{self.company} ↔ {self.get_erp_system_display()}"

    @property
    def erp_name(self) -> str:
        return self.get_erp_system_display()


class Vendor(models.Model):
    """A company in the directory that can be paid."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="vendors")
    name = models.CharField(max_length=200)
    # The ERP vendor this company is linked to: a copy of its live link's ERP id (an
    # ``ErpLink`` of kind "vendor"), written with the link by the master-data services.
    # No commitment, invoice or CCO of this vendor is exported while it is empty.
    erp_vendor_id = models.CharField(max_length=40, null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="vendor_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class CostCode(models.Model):
    """One of the company's standard cost codes, with its category (Sage 300 CRE®) or
    cost type (Sage 100 Contractor®): ``cost_class`` holds either."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="cost_codes")
    code = models.CharField(max_length=20)
    cost_class = models.CharField("category or cost type", max_length=5)
    description = models.CharField(max_length=200)
    # A copy of the live link's ERP id ("03-300:L"), as a vendor's ``erp_vendor_id``.
    erp_cost_code_id = models.CharField(max_length=40, null=True, blank=True)

    class Meta:
        ordering = ["code", "cost_class"]
        constraints = [
            models.UniqueConstraint(fields=["company", "code", "cost_class"], name="cost_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.cost_class} {self.description}"


class ErpMasterEntry(models.Model):
    """A job, vendor or cost code as the ERP holds it, brought in by the sync.

    The platform's copy of the ERP's master data: what the master-data tabs list as
    Ready to Import (no live link has its ERP id) and Ready to Update (linked, and the
    ERP's name differs from the platform's). Written set-based by the sync (and by an
    export, which makes the ERP record); a record deleted in the ERP leaves the table.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+", db_index=False)
    #: A master kind's slug (``erp_integrations.master_kinds``): "job", "vendor", "cost_code".
    kind = models.CharField(max_length=20)
    erp_id = models.CharField("ERP id", max_length=40)
    name = models.CharField(max_length=200)
    #: What else the ERP keeps: a vendor's type, a cost code's code and category.
    attrs = models.JSONField(default=dict)
    seen_at = models.DateTimeField()
    #: Hidden from Ready to Import: an ERP record that should never come in.
    archived_at = models.DateTimeField(null=True, blank=True)
    archived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "ERP master entries"
        constraints = [
            models.UniqueConstraint(fields=["company", "kind", "erp_id"], name="erp_master_entry_unique"),
        ]
        indexes = [
            models.Index(fields=["company", "kind", "name", "id"], name="erp_master_entry_by_name"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.erp_id} {self.name}"


class MasterExportState(models.Model):
    """A platform job, vendor or cost code whose export failed, or that was rejected.

    One row per record at most; none while it is simply ready to export or linked.
    """

    class State(models.TextChoices):
        FAILED = "failed", "Failed to Export"
        REJECTED = "rejected", "Rejected"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=20)
    record_id = models.BigIntegerField()
    state = models.CharField(max_length=10, choices=State.choices)
    #: The ERP's words (failed) or the approver's reason (rejected).
    message = models.TextField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "record_id"], name="master_export_state_one_per_record"),
        ]
        indexes = [models.Index(fields=["company", "kind", "state"], name="master_export_state_list")]

    def __str__(self) -> str:
        return f"{self.kind} {self.record_id}: {self.state}"


class ExportState(models.TextChoices):
    DRAFT = "draft", "Draft"
    READY = "ready", "Ready to Export"
    FAILED = "failed", "Failed to Export"
    SYNCED = "synced", "Synced"
    REJECTED = "rejected", "Rejected"


#: States in which the financial fields are locked in the platform.
LOCKED_STATES = frozenset({ExportState.READY, ExportState.SYNCED})
#: States from which a record can be sent to accounting (again).
SENDABLE_STATES = frozenset({ExportState.DRAFT, ExportState.REJECTED, ExportState.FAILED})
#: What the pages call the ERP of a company that has no connection.
NO_ERP_NAME = "the ERP"


def company_erp_connection(company: Company) -> ErpConnection | None:
    """The company's connection, or None; no query when loaded with select_related."""
    try:
        return company.erp_connection
    except ErpConnection.DoesNotExist:
        return None


def company_erp_name(company: Company) -> str:
    """The display name of the company's ERP ("Sage 300 CRE®"), or a neutral word."""
    connection = company_erp_connection(company)
    return connection.erp_name if connection else NO_ERP_NAME


class SyncRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Hourly schedule"
        MANUAL = "manual", "Sync now"
        COMMAND = "command", "Command line"

    connection = models.ForeignKey(ErpConnection, on_delete=models.CASCADE, related_name="sync_runs")
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULE)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    links_total = models.PositiveIntegerField(default=0)
    links_checked = models.PositiveIntegerField(default=0)
    missing_found = models.PositiveIntegerField(default=0)
    reappeared = models.PositiveIntegerField(default=0)
    # What the run's reconciliation found (see services.reconciliation): linked records
    # whose ERP values differ, and ERP records this platform made that nothing links.
    drift_found = models.PositiveIntegerField(default=0)
    orphans_found = models.PositiveIntegerField(default=0)
    erp_records_read = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["connection", "status", "-finished_at"]),
            # The sync history, newest first.
            models.Index(fields=["connection", "-started_at", "-id"], name="sync_run_history"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="running", finished_at__isnull=True)
                | (~Q(status="running") & Q(finished_at__isnull=False)),
                name="sync_run_finished_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return f"Sync {self.pk} of {self.connection} ({self.status})"


class ErpLink(models.Model):
    """The tie between one platform record and the ERP record its export made.

    Kept after an unlink (``unlinked_at``), so a record's link history stays readable;
    at most one live link per record and per ERP id. Narrow on purpose: the sync marks
    ``missing_since`` here, on a row with no index over that column, so its updates can
    stay HOT however many records a company has.
    """

    #: The record kind (a slug of ``erp_integrations.kinds``): "commitment", "invoice", "cco";
    #: or a master kind (``erp_integrations.master_kinds``): "job" (a project), "vendor"
    #: (a directory company), "cost_code".
    kind = models.CharField(max_length=20)
    record_id = models.BigIntegerField()
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="+", db_index=False)
    erp_id = models.CharField("ERP id", max_length=40)
    linked_at = models.DateTimeField()
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # What the last completed sync saw: NULL while the ERP record is present, else the
    # run that first found it missing. Deliberately not indexed (see above).
    missing_since = models.ForeignKey(
        SyncRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    unlinked_at = models.DateTimeField(null=True, blank=True)
    unlinked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["-linked_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "record_id"],
                condition=Q(unlinked_at__isnull=True),
                name="erp_link_one_live_link_per_record",
            ),
            models.UniqueConstraint(
                fields=["company", "kind", "erp_id"],
                condition=Q(unlinked_at__isnull=True),
                name="erp_link_erp_id_unique",
            ),
            # The target of the records' composite foreign key (link, erp_id, linked_at).
            models.UniqueConstraint(fields=["id", "erp_id", "linked_at"], name="erp_link_copy_target"),
            models.CheckConstraint(condition=~Q(erp_id=""), name="erp_link_erp_id_not_blank"),
        ]
        indexes = [
            # The sync walks a company's live links of one kind in id order.
            # linked_at comes along so that counting a run's links reads the index alone.
            models.Index(
                fields=["company", "kind", "id"],
                include=["linked_at"],
                condition=Q(unlinked_at__isnull=True),
                name="erp_link_live",
            ),
            # A record's link history, newest first.
            models.Index(fields=["kind", "record_id", "-linked_at"], name="erp_link_history"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.record_id} ↔ {self.erp_id}"


class LinkedRecord(models.Model):
    """Fields shared by every record that can be exported to an ERP and linked."""

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="+")
    number = models.CharField(max_length=50)
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    export_state = models.CharField(max_length=10, choices=ExportState.choices, default=ExportState.DRAFT)
    export_error = models.TextField(blank=True)
    rejection_reason = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # When its sender last pulled it back from Ready to Export (Retrieve); cleared when it
    # is sent again. The project tool's "Retrieved" badge reads it.
    retrieved_at = models.DateTimeField(null=True, blank=True)
    # The live link, and copies of the two of its values the lists search and sort by.
    # Set together by a successful export, cleared together by unlink; never by the sync.
    link = models.OneToOneField(ErpLink, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    erp_id = models.CharField("ERP id", max_length=40, null=True, blank=True)
    linked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    @property
    def is_locked(self) -> bool:
        return self.export_state in LOCKED_STATES

    @property
    def is_linked(self) -> bool:
        return self.link_id is not None

    @property
    def badge(self) -> str:
        """The project tool's colour badge: sent, synced, rejected, retrieved, failed or draft."""
        if self.export_state == ExportState.READY:
            return "sent"
        if self.export_state == ExportState.DRAFT and self.retrieved_at is not None:
            return "retrieved"
        return self.export_state

    @property
    def erp_missing_since_id(self) -> int | None:
        """The run that found the linked ERP record gone, or None (also when not linked)."""
        return self.link.missing_since_id if self.link_id is not None else None

    @property
    def erp_missing(self) -> bool:
        """Whether the last completed sync found the linked ERP record gone.

        Reads the link: load records with ``select_related("link")`` where many are shown.
        """
        return self.erp_missing_since_id is not None

    @property
    def erp_name(self) -> str:
        """The display name of the ERP this record is exported to."""
        return company_erp_name(self.company)


def _link_constraints(prefix: str) -> list[models.BaseConstraint]:
    return [
        # A record is synced exactly when it has a whole link.
        models.CheckConstraint(
            condition=(
                Q(export_state="synced", link__isnull=False, erp_id__isnull=False, linked_at__isnull=False)
                | (
                    ~Q(export_state="synced")
                    & Q(link__isnull=True, erp_id__isnull=True, linked_at__isnull=True)
                )
            ),
            name=f"{prefix}_state_matches_link",
        ),
        models.CheckConstraint(
            condition=Q(export_state__in=[s.value for s in ExportState]),
            name=f"{prefix}_export_state_valid",
        ),
        models.UniqueConstraint(fields=["company", "erp_id"], name=f"{prefix}_erp_id_unique"),
    ]


def _amount_constraints(prefix: str) -> list[models.BaseConstraint]:
    return [models.CheckConstraint(condition=Q(amount__gte=0), name=f"{prefix}_amount_not_negative")]


def _list_indexes(prefix: str) -> list[models.Index]:
    # One index per sort key of the tool's lists, so a page is an index range scan
    # whatever the table's size (keyset pagination on (key, id)).
    return [
        models.Index(fields=["company", "export_state", "-linked_at", "-id"], name=f"{prefix}_by_linked"),
        models.Index(fields=["company", "export_state", "number", "id"], name=f"{prefix}_by_number"),
        models.Index(fields=["company", "export_state", "amount", "id"], name=f"{prefix}_by_amount"),
        models.Index(fields=["company", "export_state", "-updated_at", "-id"], name=f"{prefix}_by_updated"),
    ]


class Commitment(LinkedRecord):
    class Kind(models.TextChoices):
        SUBCONTRACT = "subcontract", "Subcontract"
        PURCHASE_ORDER = "purchase_order", "Purchase Order"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OUT_FOR_BID = "out_for_bid", "Out for Bid"
        OUT_FOR_SIGNATURE = "out_for_signature", "Out for Signature"
        APPROVED = "approved", "Approved"
        COMPLETE = "complete", "Complete"
        TERMINATED = "terminated", "Terminated"
        VOID = "void", "Void"

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SUBCONTRACT)
    title = models.CharField(max_length=255)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)

    class Meta:
        ordering = ["project", "number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="commitment_number_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=["subcontract", "purchase_order"]),
                name="commitment_kind_valid",
            ),
            *_link_constraints("commitment"),
            *_amount_constraints("commitment"),
        ]
        indexes = [
            *_list_indexes("commitment"),
            models.Index(fields=["company", "export_state", "title", "id"], name="commitment_by_title"),
            models.Index(fields=["project", "-updated_at"], name="commitment_project_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class CommitmentLineItem(models.Model):
    commitment = models.ForeignKey(Commitment, on_delete=models.CASCADE, related_name="line_items")
    cost_code = models.CharField(max_length=30)
    description = models.CharField(max_length=255, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="line_item_amount_not_negative"),
            models.CheckConstraint(condition=~Q(cost_code=""), name="line_item_cost_code_required"),
        ]

    def __str__(self) -> str:
        return f"{self.cost_code} {self.amount}"


class SubcontractorInvoice(LinkedRecord):
    """A subcontractor's invoice against a subcontract; the ERP calls it a requisition."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        UNDER_REVIEW = "under_review", "Under Review"
        REVISE_AND_RESUBMIT = "revise_and_resubmit", "Revise and Resubmit"
        PENDING_OWNER_APPROVAL = "pending_owner_approval", "Pending Owner Approval"
        APPROVED = "approved", "Approved"
        APPROVED_AS_NOTED = "approved_as_noted", "Approved as Noted"

    commitment = models.ForeignKey(
        Commitment, on_delete=models.PROTECT, related_name="subcontractor_invoices"
    )
    billing_period_start = models.DateField()
    billing_period_end = models.DateField()
    retainage = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.DRAFT)

    class Meta:
        ordering = ["commitment", "number"]
        constraints = [
            models.UniqueConstraint(fields=["commitment", "number"], name="invoice_number_unique"),
            models.CheckConstraint(condition=Q(retainage__gte=0), name="invoice_retainage_not_negative"),
            models.CheckConstraint(
                condition=Q(billing_period_end__gte=F("billing_period_start")),
                name="invoice_billing_period_ordered",
            ),
            *_link_constraints("invoice"),
            *_amount_constraints("invoice"),
        ]
        indexes = [
            *_list_indexes("invoice"),
            models.Index(fields=["commitment", "erp_id"], name="invoice_commitment_links"),
        ]

    def __str__(self) -> str:
        return f"Invoice {self.number} on {self.commitment.number}"

    @property
    def title(self) -> str:
        return f"{self.billing_period_start:%b %d} – {self.billing_period_end:%b %d, %Y}"


class CommitmentChangeOrder(LinkedRecord):
    """A change to a commitment's lines (both ERPs call it a CCO).

    Its amount is the sum of its lines and may be negative (a deductive change). It can
    be sent to accounting only once its commitment is synced with the ERP.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        VOID = "void", "Void"

    commitment = models.ForeignKey(Commitment, on_delete=models.PROTECT, related_name="change_orders")
    title = models.CharField(max_length=255)
    # Kept whole in the platform; the ERP keeps the first 1,000 characters.
    description = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)

    class Meta:
        ordering = ["commitment", "number"]
        verbose_name = "commitment change order"
        constraints = [
            models.UniqueConstraint(fields=["commitment", "number"], name="cco_number_unique"),
            *_link_constraints("cco"),
        ]
        indexes = [
            *_list_indexes("cco"),
            models.Index(fields=["company", "export_state", "title", "id"], name="cco_by_title"),
            models.Index(fields=["commitment", "erp_id"], name="cco_commitment_links"),
        ]

    def __str__(self) -> str:
        return f"CCO {self.number} on {self.commitment.number}"


class ChangeOrderLineItem(models.Model):
    """How much one line of the commitment changes; a line may be changed more than once."""

    change_order = models.ForeignKey(
        CommitmentChangeOrder, on_delete=models.CASCADE, related_name="line_items"
    )
    commitment_line = models.ForeignKey(
        CommitmentLineItem, on_delete=models.PROTECT, related_name="change_order_lines"
    )
    description = models.CharField(max_length=255, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.commitment_line.cost_code} {self.amount:+}"


class AuditEntry(models.Model):
    """Every send, export, reject, retrieve and unlink attempt, successful or not; every
    attempt refused for want of a permission, whatever it tried; every grant and revoke
    of 'Can Push to Accounting'; every change of a company's Direct Export setting."""

    class Action(models.TextChoices):
        SEND = "send", "Send to Accounting"
        EXPORT = "export", "Export"
        REJECT = "reject", "Reject"
        UNLINK = "unlink", "Unlink"
        IMPORT = "import", "Add to the platform"
        LINK = "link", "Link"
        ARCHIVE = "archive", "Archive"
        UPDATE = "update", "Update"
        RETRIEVE = "retrieve", "Retrieve"
        EDIT = "edit", "Create, edit or delete"
        SYNC = "sync", "Sync now"
        VIEW = "view", "Open the tool"
        SETTINGS = "settings", "Change settings"
        GRANT = "grant", "Grant 'Can Push to Accounting'"
        REVOKE = "revoke", "Revoke 'Can Push to Accounting'"

    class RecordType(models.TextChoices):
        COMMITMENT = "commitment", "Commitment"
        INVOICE = "invoice", "Subcontractor Invoice"
        CCO = "cco", "Commitment Change Order"
        JOB = "job", "Job"
        VENDOR = "vendor", "Vendor"
        COST_CODE = "cost_code", "Cost Code"
        #: A grant or revoke: the record is the user who got or lost the privilege.
        USER = "user", "User"
        #: What is about the company as a whole (Sync now, a setting, the tool itself).
        COMPANY = "company", "Company"

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    record_type = models.CharField(max_length=12, choices=RecordType.choices)
    # The record's project: the same number can stand in several projects of a company.
    project = models.ForeignKey(Project, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    record_id = models.BigIntegerField()
    record_number = models.CharField(max_length=50)
    erp_system = models.CharField(max_length=20, choices=ErpSystem.choices, blank=True)
    erp_id = models.CharField(max_length=40, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["company", "-created_at", "-id"], name="audit_company_recent"),
            # The audit trail's filters, each walked newest first without a sort step.
            models.Index(fields=["company", "outcome", "-created_at", "-id"], name="audit_by_outcome"),
            models.Index(fields=["company", "user", "-created_at", "-id"], name="audit_by_user"),
            models.Index(fields=["company", "record_type", "-created_at", "-id"], name="audit_by_type"),
            models.Index(fields=["company", "action", "-created_at", "-id"], name="audit_by_action"),
            models.Index(fields=["record_type", "record_id"], name="audit_record"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.record_type} {self.record_number}: {self.outcome}"


# --- reconciliation: what the last completed sync found, for the Reconciliation page ----------


class Discrepancy(models.Model):
    """One disagreement between the platform and the ERP, as the last completed sync saw it.

    Written only by the sync, all of a company's at once when a run completes (a failed
    run leaves them as they were), so the Reconciliation page reads them and computes
    nothing. One row per differing field of a drifted record.
    """

    class Category(models.TextChoices):
        DRIFT = "drift", "Differs in the ERP"
        ORPHAN = "orphan", "Orphan in the ERP"
        ABSENT = "absent", "Approved, not in the ERP"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+", db_index=False)
    #: The record's project; NULL for an orphan whose platform record is gone.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    category = models.CharField(max_length=10, choices=Category.choices)
    #: The record kind's slug.
    kind = models.CharField(max_length=20)
    #: Where the kind comes in the page's lists: CCOs first (``RecordKind.reconciliation_rank``).
    rank = models.PositiveSmallIntegerField(default=0)
    #: The platform record (NULL for an orphan whose platform record was deleted).
    record_id = models.BigIntegerField(null=True, blank=True)
    number = models.CharField(max_length=50, blank=True)
    erp_id = models.CharField("ERP id", max_length=40, blank=True)
    #: The field that differs (drift): a name of ``RecordKind.reconciled_fields``.
    field = models.CharField(max_length=20, blank=True)
    platform_value = models.TextField(blank=True)
    erp_value = models.TextField(blank=True)
    #: Amounts: the platform's and the ERP's (drift of a money field; an orphan's or an
    #: absent record's amount).
    platform_amount = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    erp_amount = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    #: An orphan's platform record still exists and has no link: it can be linked again.
    relinkable = models.BooleanField(default=False)
    #: An orphan: the reference the ERP record carries ("commitment-12").
    external_reference = models.CharField(max_length=80, blank=True)
    found_by = models.ForeignKey(
        SyncRun, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False
    )

    class Meta:
        ordering = ["category", "rank", "id"]
        indexes = [
            # The page's lists, each a keyset walk: per company or per project, per category.
            models.Index(fields=["company", "category", "rank", "id"], name="discrepancy_company"),
            models.Index(fields=["project", "category", "rank", "id"], name="discrepancy_project"),
        ]

    def __str__(self) -> str:
        return f"{self.category} {self.kind} {self.number or self.erp_id} {self.field}".strip()


class ReconciliationTotal(models.Model):
    """A total of one measure (committed, invoiced, paid...) per project, platform and ERP side.

    Written by the sync with the discrepancies. ``project`` NULL: ERP records whose
    platform record is gone.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+", db_index=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    measure = models.CharField(max_length=20)
    platform_count = models.PositiveIntegerField(null=True, blank=True)
    platform_total = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    erp_count = models.PositiveIntegerField(default=0)
    erp_total = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    #: Approved in the platform, absent from the ERP: how many, and their amount.
    absent_count = models.PositiveIntegerField(default=0)
    absent_total = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    #: The Reconciliation page's counts, so that it counts nothing itself: orphans, and
    #: rows of drift in all and per field ({"amount": 3, "title": 1}).
    orphan_count = models.PositiveIntegerField(default=0)
    drift_count = models.PositiveIntegerField(default=0)
    drift_fields = models.JSONField(default=dict, blank=True)
    run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False)

    class Meta:
        indexes = [models.Index(fields=["company", "measure"], name="recon_total_company")]

    def __str__(self) -> str:
        return f"{self.measure}: {self.platform_total} / {self.erp_total}"


class JobCostTransaction(models.Model):
    """A cost the ERP posted to a project's job (import only), as the last completed sync read it."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+", db_index=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    erp_id = models.CharField("ERP id", max_length=40)
    cost_code = models.CharField(max_length=30)
    posted_on = models.DateField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-posted_on", "-id"]
        indexes = [
            models.Index(fields=["project", "cost_code"], name="job_cost_by_code"),
            models.Index(fields=["company"], name="job_cost_company"),
        ]

    def __str__(self) -> str:
        return f"{self.erp_id} {self.cost_code} {self.amount}"


class InvoicePayment(models.Model):
    """A payment the ERP issued against a subcontractor invoice (import only)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+", db_index=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    invoice = models.ForeignKey(SubcontractorInvoice, on_delete=models.CASCADE, related_name="payments")
    erp_id = models.CharField("ERP id", max_length=40)
    paid_on = models.DateField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["-paid_on", "-id"]
        indexes = [models.Index(fields=["company"], name="invoice_payment_company")]

    def __str__(self) -> str:
        return f"{self.erp_id} {self.amount}"


class SentNotice(models.Model):
    """An e-mail the product sent (or is sending): one row per event, never two.

    ``event_key`` names the event ("rejected:invoice:42:<audit id>", "digest:7:3:2026-12-01"),
    so a task that is retried, or runs twice, finds the row and does not send again.
    The staff console (the admin) lists the latest.
    """

    class Kind(models.TextChoices):
        DIGEST = "digest", "Daily summary"
        REJECTED = "rejected", "Rejection notice"
        RESENT = "resent", "Sent again after a rejection"

    event_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    recipient = models.EmailField()
    subject = models.CharField(max_length=255)
    text_body = models.TextField()
    html_body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    #: Set once the mail server took the message; empty while it is on its way (or failed).
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at", "-id"], name="sent_notice_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient}: {self.subject}"


class DirectExportSetting(models.Model):
    """A company's Direct Export for one record kind: sending a record exports it at once."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    #: A slug of ``erp_integrations.kinds``.
    kind = models.CharField(max_length=20)
    enabled = models.BooleanField(default=False)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "kind"], name="direct_export_one_per_kind"),
        ]

    def __str__(self) -> str:
        return f"Direct Export of {self.kind} in {self.company}: {'on' if self.enabled else 'off'}"


class BulkRun(models.Model):
    """A bulk Export / Reject / Unlink of many rows, run by a worker with its progress shown."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    #: A slug of ``erp_integrations.kinds``.
    kind = models.CharField(max_length=20)
    action = models.CharField(max_length=10)
    reason = models.TextField(blank=True)
    record_ids = models.JSONField(default=list)
    #: One entry per row done: [record id, ok, message], in the order they ran.
    results = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Bulk {self.action} of {len(self.record_ids)} {self.kind} ({self.status})"

    @property
    def total(self) -> int:
        return len(self.record_ids)

    @property
    def done(self) -> int:
        return len(self.results)

    @property
    def percent(self) -> int:
        return 100 if not self.total else round(100 * self.done / self.total)


class DataChange(models.Model):
    """A mark that something a tool's lists show changed in a company.

    Written by the database itself (PostgreSQL statement triggers on the records, their
    links, projects and vendors: migration 0010), so that no write path (a service, the
    sync's set-based UPDATEs, the admin, a shell) can forget it, and made visible by the
    same commit as the change it marks. A company's data version is how many marks it
    has ever had (``DataVersion.base`` plus the marks not yet folded into it), so it
    grows with every committed change, in whatever order transactions commit. A list
    rendered at version N shows nothing older than N and can be served again while the
    version is N (``views.tool``). Other databases have no triggers and no version:
    their lists are always rendered afresh.

    On PostgreSQL a mark also names the table that changed, its rows (up to 1,000 a
    statement) and the writing transaction (migration 0012: the database's columns
    ``changed_table``, ``changed_ids`` and ``xact``, not the model's, since only the
    triggers write them), so a search's sorted matches can follow a change by reading
    only those rows (``selectors._kept_matches``), and a kept list can be served again
    after changes that did not reach its page (``views.tool._kept_since``).
    """

    company_id = models.BigIntegerField()
    changed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["company_id", "id"], name="datachange_company")]

    def __str__(self) -> str:
        return f"Company {self.company_id} changed at {self.changed_at:%Y-%m-%d %H:%M:%S}"


class DataVersion(models.Model):
    """A company's marks folded into a count (``services.data_version.fold``), so the
    marks stay few and counting them stays cheap."""

    company_id = models.BigIntegerField(primary_key=True)
    base = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"Company {self.company_id}: {self.base} changes folded"
