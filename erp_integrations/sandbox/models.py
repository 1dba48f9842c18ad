"""Stand-ins for the ERPs' own databases.

Each sandbox ERP has a store of its own (a separate database alias, see the router),
with that ERP's id formats and words. A record is never removed: deleting it in the
ERP sets ``deleted_at``, and restoring clears it, as a user would in Sage.
"""

from django.db import models
from django.db.models import Q


class SandboxRecord(models.Model):
    class Kind(models.TextChoices):
        COMMITMENT = "commitment", "Commitment"
        INVOICE = "invoice", "Requisition"
        CCO = "cco", "CCO"
        JOB = "job", "Job"
        VENDOR = "vendor", "Vendor"
        COST_CODE = "cost_code", "Cost code"
        SUB_JOB = "sub_job", "Sub job"

    #: The database alias this ERP's store lives in.
    database: str = ""

    kind = models.CharField(max_length=12, choices=Kind.choices)
    # Unique per kind (see the constraints): a job and a vendor may share an id.
    erp_id = models.CharField(max_length=40)
    # The platform record's id travels as the external reference, so an export
    # retried after a timeout finds the record it already made.
    external_reference = models.CharField(max_length=80)
    # Which company's ERP the record lives in. A real installation has one ERP database
    # per company; the sandbox keeps every company's records of one ERP in one store, so
    # reading "every record of this company's ERP" needs the company. NULL for records
    # made before the column existed (the reconciliation does not read those).
    company_id = models.BigIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    # When a user of the ERP last changed the record (master data is edited there).
    updated_at = models.DateTimeField(auto_now=True, null=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.erp_id


def _record_constraints(prefix: str) -> list[models.BaseConstraint]:
    return [
        models.UniqueConstraint(
            fields=["kind", "external_reference"],
            condition=Q(deleted_at__isnull=True) & ~Q(external_reference=""),
            name=f"{prefix}_one_live_record_per_reference",
        ),
        models.UniqueConstraint(fields=["kind", "erp_id"], name=f"{prefix}_erp_id_unique_per_kind"),
    ]


class Sage300Record(SandboxRecord):
    database = "sandbox_sage300"

    class Meta:
        verbose_name = "Sage 300 CRE® record"
        ordering = ["id"]
        constraints = _record_constraints("sage300")
        indexes = [
            models.Index(fields=["company_id", "kind", "id"], name="sage300_company_kind"),
        ]


class Sage100Record(SandboxRecord):
    database = "sandbox_sage100"

    class Meta:
        verbose_name = "Sage 100 Contractor® record"
        ordering = ["id"]
        constraints = _record_constraints("sage100")
        indexes = [
            models.Index(fields=["company_id", "kind", "id"], name="sage100_company_kind"),
        ]


class SandboxCostTransaction(models.Model):
    """A cost posted in the ERP against a job and cost code (payroll, AP, equipment).

    The ERP's own data: the platform imports it and never writes it. The job is the ERP's
    job id of a project (see ``erp_integrations.services.reconciliation.project_job_id``).
    """

    database: str = ""

    company_id = models.BigIntegerField()
    erp_id = models.CharField(max_length=40, unique=True)
    job = models.CharField(max_length=40)
    cost_code = models.CharField(max_length=30)
    posted_on = models.DateField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.erp_id} {self.job} {self.cost_code} {self.amount}"


class Sage300CostTransaction(SandboxCostTransaction):
    database = "sandbox_sage300"

    class Meta:
        verbose_name = "Sage 300 CRE® cost transaction"
        ordering = ["id"]
        indexes = [models.Index(fields=["company_id", "id"], name="sage300_cost_company")]


class Sage100CostTransaction(SandboxCostTransaction):
    database = "sandbox_sage100"

    class Meta:
        verbose_name = "Sage 100 Contractor® cost transaction"
        ordering = ["id"]
        indexes = [models.Index(fields=["company_id", "id"], name="sage100_cost_company")]


class SandboxPayment(models.Model):
    """A payment (a check) the ERP issued against a requisition."""

    database: str = ""

    company_id = models.BigIntegerField()
    erp_id = models.CharField(max_length=40, unique=True)
    #: The ERP id of the requisition it pays.
    requisition = models.CharField(max_length=40)
    paid_on = models.DateField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.erp_id} {self.requisition} {self.amount}"


class Sage300Payment(SandboxPayment):
    database = "sandbox_sage300"

    class Meta:
        verbose_name = "Sage 300 CRE® payment"
        ordering = ["id"]
        indexes = [models.Index(fields=["company_id", "id"], name="sage300_payment_company")]


class Sage100Payment(SandboxPayment):
    database = "sandbox_sage100"

    class Meta:
        verbose_name = "Sage 100 Contractor® payment"
        ordering = ["id"]
        indexes = [models.Index(fields=["company_id", "id"], name="sage100_payment_company")]


class SandboxSwitch(models.Model):
    """Fault switch of one sandbox ERP, kept in that ERP's own store (one row)."""

    class Mode(models.TextChoices):
        NORMAL = "normal", "Normal"
        OFFLINE = "offline", "Offline"
        SLOW = "slow", "Slow"

    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.NORMAL)
    latency_ms = models.PositiveIntegerField(default=0)
    # Sage 300 CRE®'s job-id mask, set up per company in the ERP: '#' is a digit, any
    # other character stands for itself. Sage 100 Contractor® ignores it (numeric jobs).
    job_mask = models.CharField(max_length=30, default="##-####")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "sandbox fault switch"
        # The console's own permission (accounts.permissions.may_use_sandbox_console);
        # it rides on this model because every sandbox ERP has one switch.
        permissions = [("use_sandbox_console", "Can use the sandbox ERP console")]

    def __str__(self) -> str:
        return f"{self.mode} ({self.latency_ms} ms)"
