"""Demo data: two companies, one on each ERP, with records of every kind in every export state.

``seed_demo(password=...)`` is idempotent: every row is found by its natural key
(a company's slug, a project's number, a commitment's number in its project, ...) and
written only when it differs from the demo, so running it twice leaves the same data.
Synced records really exist in the sandbox ERP: they are exported with the company's
connector, which finds the record a previous run made instead of making a second one,
and linked as Export links them (an ``ErpLink`` row, and its copies on the record).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import models, transaction
from django.utils import timezone

from accounts.models import (
    Company,
    DirectoryMembership,
    PermissionLevel,
    Project,
    ProjectPermission,
    User,
)
from accounts.services import membership_set_privilege
from erp_integrations.connectors import ErpConnector, ValidationProblem, get_connector
from erp_integrations.kinds import CCO, COMMITMENT, INVOICE, RecordKind
from erp_integrations.master_kinds import (
    COST_CODE,
    JOB,
    MASTER_KINDS,
    VENDOR,
    prerequisite_problem,
    unlinked_prerequisites,
)
from erp_integrations.models import (
    ChangeOrderLineItem,
    Commitment,
    CommitmentChangeOrder,
    CommitmentLineItem,
    CostCode,
    ErpConnection,
    ErpLink,
    ErpSystem,
    ExportState,
    LinkedRecord,
    MasterExportState,
    SubcontractorInvoice,
    Vendor,
)
from erp_integrations.sandbox.formats import cost_code_erp_id
from erp_integrations.sandbox.services import (
    COST_STORES,
    PAYMENT_STORES,
    sandbox_issue_payment,
    sandbox_master_add,
    sandbox_post_cost,
    sandbox_records,
    sandbox_restore,
)
from erp_integrations.services.links import link_open
from erp_integrations.services.master_sync import master_entries_replace
from erp_integrations.services.reconciliation import project_job_id

DEMO_PASSWORD = "demo"

Level = PermissionLevel
State = ExportState
Kind = Commitment.Kind
InvoiceStatus = SubcontractorInvoice.Status
ChangeStatus = CommitmentChangeOrder.Status


# --- what the demo holds ------------------------------------------------------------
@dataclass(frozen=True)
class DemoCompany:
    slug: str
    name: str
    erp_system: str
    projects: tuple[tuple[str, str], ...]
    #: (name, ERP vendor id or None when the vendor is not in the ERP yet)
    vendors: tuple[tuple[str, str | None], ...]
    #: The ERP's master data, made there by its users: (job id, name) of each job (the
    #: projects' own, by their number, and others); (vendor id, name, type); (code,
    #: category or cost type, description). Some match the platform's, some nearly,
    #: some not at all, so every list of the master-data tabs has rows.
    erp_jobs: tuple[tuple[str, str], ...] = ()
    erp_vendors: tuple[tuple[str, str, str], ...] = ()
    erp_cost_codes: tuple[tuple[str, str, str], ...] = ()
    #: Project number -> ERP job id, for the projects linked to their job.
    project_jobs: tuple[tuple[str, str], ...] = ()
    #: Platform records not in the ERP: projects (number, name) with no records yet,
    #: and the company's standard cost codes (code, class, description, ERP id or None).
    new_projects: tuple[tuple[str, str], ...] = ()
    cost_codes: tuple[tuple[str, str, str, str | None], ...] = ()
    #: A vendor whose export failed, and the ERP's words.
    failed_vendor: tuple[str, str] | None = None


@dataclass(frozen=True)
class DemoInvoice:
    number: str
    month: int
    amount: str
    state: str
    status: str = InvoiceStatus.APPROVED
    reason: str = ""


@dataclass(frozen=True)
class DemoChangeOrder:
    number: str
    title: str
    state: str
    #: (cost code of the commitment's line it changes, description, amount); a line may
    #: be changed more than once.
    lines: tuple[tuple[str, str, str], ...]
    status: str = ChangeStatus.APPROVED
    description: str = ""
    reason: str = ""
    #: Only in the companies on this ERP; empty: in every company.
    erp_system: str = ""


@dataclass(frozen=True)
class DemoCommitment:
    number: str
    kind: str
    title: str
    vendor: int  # index into the company's vendors
    status: str
    state: str
    lines: tuple[tuple[str, str, str], ...]  # (cost code, description, amount)
    reason: str = ""
    invoices: tuple[DemoInvoice, ...] = field(default_factory=tuple)
    change_orders: tuple[DemoChangeOrder, ...] = field(default_factory=tuple)


COMPANIES = (
    DemoCompany(
        slug="northwind-builders",
        name="Northwind Builders",
        erp_system=ErpSystem.SAGE_300_CRE,
        projects=(("P-1001", "Harbor Tower"), ("P-1002", "Riverside Clinic"), ("P-1003", "Elm Street Lofts")),
        vendors=(
            ("Granite Ridge Concrete", "GRANITE"),
            ("Bright Spark Electric", "BRIGHTSP"),
            ("Ironside Steel Erectors", "IRONSIDE"),
            ("Cascade Plumbing", None),
            ("Pacific Northwest Mechanical Contractors", None),
        ),
        erp_jobs=(
            ("26-1001", "Harbor Tower"),
            ("26-1002", "Riverside Clinic"),
            ("26-1003", "Elm Street Lofts"),
            ("26-1004", "Bayview Offices Phase 2"),  # nearly the platform's Bayview Offices
            ("26-1005", "Granary Row Townhomes"),  # nothing like it in the platform
        ),
        erp_vendors=(
            ("GRANITE", "Granite Ridge Concrete", "Subcontractor"),
            ("BRIGHTSP", "Bright Spark Electric", "Subcontractor"),
            ("IRONSIDE", "Ironside Steel Erectors Inc", "Subcontractor"),  # renamed in the ERP
            ("CASCADE", "Cascade Plumbing Co", "Subcontractor"),  # nearly Cascade Plumbing
            ("NORTHSTA", "Northstar Crane Rental", "Service"),  # not in the platform
        ),
        erp_cost_codes=(
            ("03-300", "L", "Cast-in-place concrete"),
            ("05-120", "S", "Structural steel"),
            ("26-050", "L", "Electrical labor"),
            ("22-100", "M", "Plumbing fixtures"),
        ),
        project_jobs=(("P-1001", "26-1001"), ("P-1002", "26-1002"), ("P-1003", "26-1003")),
        new_projects=(("P-1004", "Bayview Offices"),),
        cost_codes=(
            ("03-300", "L", "Cast-in-place concrete", "03-300:L"),
            ("05-120", "S", "Structural steel", None),
            ("09-200", "L", "Drywall and framing", None),
        ),
        failed_vendor=(
            "Pacific Northwest Mechanical Contractors",
            "Sage 300 CRE® is not responding. Try again later.",
        ),
    ),
    DemoCompany(
        slug="lakeshore-contracting",
        name="Lakeshore Contracting",
        erp_system=ErpSystem.SAGE_100_CONTRACTOR,
        projects=(
            ("P-2001", "Airport Terminal B"),
            ("P-2002", "Lakeside School"),
            ("P-2003", "Cedar Park Apartments"),
        ),
        vendors=(
            ("Northgate Drywall", "1042"),
            ("Apex Roofing", "1057"),
            ("Blue Line Glazing", "1063"),
            ("Meadow Creek Paving", None),
            ("Evergreen Landscaping and Site Services", None),
        ),
        erp_jobs=(
            ("2001", "Airport Terminal B"),
            ("2002", "Lakeside School"),
            ("2003", "Cedar Park Apartments"),
            ("2004", "Marina Boathouse Renovation"),  # nearly the platform's Marina Boathouse
            ("2005", "Hillcrest Library"),  # nothing like it in the platform
        ),
        erp_vendors=(
            ("1042", "Northgate Drywall", "Subcontractor"),
            ("1057", "Apex Roofing", "Subcontractor"),
            ("1063", "Blue Line Glazing Inc", "Subcontractor"),  # renamed in the ERP
            ("1071", "Meadow Creek Paving LLC", "Subcontractor"),  # nearly Meadow Creek Paving
            ("1088", "Summit Scaffolding", "Service"),  # not in the platform
        ),
        erp_cost_codes=(
            ("3300", "2", "Concrete labor"),
            ("9200", "4", "Drywall subcontract"),
            ("7500", "1", "Roofing material"),
        ),
        project_jobs=(("P-2001", "2001"), ("P-2002", "2002"), ("P-2003", "2003")),
        new_projects=(("P-2004", "Marina Boathouse"),),
        cost_codes=(
            ("3300", "2", "Concrete labor", "3300:2"),
            ("9200", "4", "Drywall subcontract", None),
            ("3100", "1", "Concrete material", None),
        ),
        failed_vendor=(
            "Evergreen Landscaping and Site Services",
            "Sage 100 Contractor® is not responding. Try again later.",
        ),
    ),
)

REJECTED_COMMITMENT = "Retainage terms are missing; attach the signed exhibit B and send it again."
REJECTED_INVOICE = "Billed quantities exceed the schedule of values for line 3; please revise."
REJECTED_CCO = "The pump truck standby is covered by the base contract (exhibit A, item 14)."

#: Longer than the 1,000 characters the ERPs keep: the platform keeps it whole and an
#: export says the ERP cut it.
WINTER_PROTECTION = " ".join(
    [
        "Cold-weather protection of cast-in-place concrete placed between November 15 and March 15,",
        "as directed by the structural engineer of record in RFI 112 and the owner's letter of October 3.",
        "Scope: insulated blankets on every elevated deck and wall placement for a minimum of 72 hours;",
        "enclosures of reinforced polyethylene on scaffold framing around the level 2 and level 3 decks;",
        "indirect-fired propane heaters sized to hold 50 °F inside the enclosures, with fuel and a",
        "heater tender on site around the clock while the heaters run; maturity sensors in each placement,",
        "read twice daily and reported to the engineer; accelerating admixture (non-chloride) in every",
        "placement below 40 °F ambient; hot water at the batch plant; removal of snow and ice from forms",
        "and reinforcing before each placement. Excludes winter conditions for masonry, which is covered",
        "by the masonry subcontract, and any delay claim, which the parties will settle separately.",
        "Unit rates: blankets per square foot per week, heaters per day, tender per shift, as listed in",
        "the attached pricing sheet; the total is a not-to-exceed figure reconciled monthly against the",
        "daily logs signed by the superintendent.",
    ]
)

#: The same records in every project; the ERP's own limits decide which fail.
COMMITMENTS = (
    DemoCommitment(
        "SC-001",
        Kind.SUBCONTRACT,
        "Concrete and foundations",
        0,
        Commitment.Status.APPROVED,
        State.SYNCED,
        (("03-300", "Cast-in-place concrete", "185000.00"), ("03-200", "Reinforcing steel", "42500.00")),
        invoices=(
            DemoInvoice("1", 7, "38250.00", State.SYNCED),
            DemoInvoice("2", 8, "41800.00", State.READY),
            DemoInvoice("3", 9, "22400.00", State.DRAFT, InvoiceStatus.UNDER_REVIEW),
            DemoInvoice("4", 10, "19900.00", State.REJECTED, reason=REJECTED_INVOICE),
            # Longer than the ERP's 12-character limit for a requisition number.
            DemoInvoice("PAY-APP-2026-11", 11, "16750.00", State.FAILED),
        ),
        change_orders=(
            DemoChangeOrder(
                "CO-01",
                "Added footing at grid C-4",
                State.SYNCED,
                (("03-300", "Spread footing F-7 at grid C-4", "12500.00"),),
            ),
            # The same line changed twice: the ERP receives one summed line.
            DemoChangeOrder(
                "CO-02",
                "Rebar upsizing, level 2 deck",
                State.SYNCED,
                (
                    ("03-200", "Upsize #5 bars to #6", "4800.00"),
                    ("03-200", "Credit: dowels not installed", "-1200.00"),
                ),
            ),
            DemoChangeOrder(
                "CO-03",
                "Winter concrete protection",
                State.READY,
                (("03-300", "Heated enclosures and blankets", "8750.00"),),
                description=WINTER_PROTECTION,
            ),
            DemoChangeOrder(
                "CO-04",
                "Thicker slab at loading dock",
                State.DRAFT,
                (("03-300", "Slab at dock from 6 in. to 8 in.", "6300.00"),),
                status=ChangeStatus.DRAFT,
            ),
            DemoChangeOrder(
                "CO-05",
                "Pump truck standby",
                State.REJECTED,
                (("03-300", "Pump truck standby, 6 hours", "2100.00"),),
                reason=REJECTED_CCO,
            ),
            # A title longer than the ERPs' 30 characters.
            DemoChangeOrder(
                "CO-06",
                "Architectural finish on exposed lobby columns",
                State.FAILED,
                (("03-300", "Board-formed finish, 8 columns", "15400.00"),),
            ),
        ),
    ),
    DemoCommitment(
        "SC-002",
        Kind.SUBCONTRACT,
        "Electrical rough-in",
        1,
        Commitment.Status.APPROVED,
        State.SYNCED,
        (("26-050", "Conduit and boxes", "64000.00"), ("26-100", "Wire and terminations", "51250.00")),
        invoices=(DemoInvoice("1", 9, "12800.00", State.DRAFT, InvoiceStatus.UNDER_REVIEW),),
        # A deductive change; nothing of SC-002 is linked but itself, so it can be unlinked.
        change_orders=(
            DemoChangeOrder(
                "CO-01",
                "Site lighting by owner",
                State.READY,
                (("26-100", "Credit: site lighting wiring", "-6400.00"),),
            ),
        ),
    ),
    DemoCommitment(
        "SC-003",
        Kind.SUBCONTRACT,
        "Structural steel",
        2,
        Commitment.Status.APPROVED,
        State.READY,
        (("05-120", "Structural steel framing", "312000.00"),),
        # Cannot be sent to accounting until SC-003 is synced.
        change_orders=(
            DemoChangeOrder(
                "CO-01",
                "Moment connections at roof",
                State.DRAFT,
                (("05-120", "Field-welded moment connections", "18600.00"),),
                status=ChangeStatus.PENDING,
            ),
        ),
    ),
    DemoCommitment(
        "SC-004",
        Kind.SUBCONTRACT,
        "HVAC and controls",
        4,  # a vendor name longer than the ERP allows (and not in Sage 300 CRE® yet)
        Commitment.Status.APPROVED,
        State.FAILED,
        (("23-300", "Ductwork", "98000.00"), ("23-090", "Controls", "27500.00")),
    ),
    DemoCommitment(
        "SC-005",
        Kind.SUBCONTRACT,
        "Plumbing",
        3,
        Commitment.Status.APPROVED,
        State.REJECTED,
        (("22-100", "Domestic water piping", "73400.00"),),
        reason=REJECTED_COMMITMENT,
    ),
    DemoCommitment(
        "SC-006",
        Kind.SUBCONTRACT,
        "Interior finishes",
        0,
        Commitment.Status.DRAFT,
        State.DRAFT,
        (("09-250", "Gypsum board", "56000.00"), ("09-900", "Painting", "21000.00")),
    ),
    DemoCommitment(
        "PO-001",
        Kind.PURCHASE_ORDER,
        "Tower crane rental",
        2,
        Commitment.Status.APPROVED,
        State.SYNCED,
        (("01-540", "Crane rental, 6 months", "144000.00"),),
        # Sage 100 Contractor® appends a purchase order's change order to the PO. (In
        # Sage 300 CRE® PO-001 keeps nothing linked under it, so it can be unlinked.)
        change_orders=(
            DemoChangeOrder(
                "CO-01",
                "Crane rental, 2 more months",
                State.SYNCED,
                (("01-540", "Crane rental, months 7 and 8", "48000.00"),),
                erp_system=ErpSystem.SAGE_100_CONTRACTOR,
            ),
        ),
    ),
    DemoCommitment(
        "PO-002",
        Kind.PURCHASE_ORDER,
        "Temporary power",
        1,
        Commitment.Status.APPROVED,
        State.READY,
        (("01-510", "Temporary electrical service", "8600.00"),),
    ),
    DemoCommitment(
        "PO-003",
        Kind.PURCHASE_ORDER,
        "Site fencing",
        3,
        Commitment.Status.DRAFT,
        State.DRAFT,
        (("01-560", "Temporary fencing", "4200.00"),),
    ),
)


#: Costs the ERP posted to each demo project's job: (cost code, description, amount, day
#: of November 2026). Imported by the sync; the Reconciliation page shows them.
JOB_COSTS = (
    ("03-300", "Concrete placement, level 1", "61250.00", 3),
    ("03-300", "Concrete placement, level 2", "58900.00", 17),
    ("03-200", "Reinforcing steel delivery", "21400.00", 5),
    ("26-050", "Conduit rough-in, levels 1-2", "18750.00", 12),
    ("01-540", "Crane rental, months 1-3", "72000.00", 1),
)
#: The payment the ERP issued against invoice 1 of SC-001 (its amount less 10 % retainage).
PAYMENT = ("SC-001", "1", "34425.00", date(2026, 11, 20))


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    commitments: int
    erp_integrations: int
    privilege: bool
    staff: bool = False


USERS = (
    DemoUser("approver", "Avery", "Chen", Level.ADMIN, Level.ADMIN, privilege=True),
    DemoUser("pm", "Paula", "Martinez", Level.ADMIN, Level.STANDARD, privilege=False),
    DemoUser("viewer", "Victor", "Okafor", Level.READ_ONLY, Level.READ_ONLY, privilege=False),
)
STAFF = DemoUser("staff", "Sam", "Staff", Level.NONE, Level.NONE, privilege=False, staff=True)


# --- writing, only what differs -----------------------------------------------------------
def _ensure[M: models.Model](model: type[M], lookup: dict, values: dict, on_create: dict | None = None) -> M:
    """Find the row by its natural key; create it, or save only the fields that differ."""
    obj = model._default_manager.filter(**lookup).first()
    if obj is None:
        return model._default_manager.create(**lookup, **values, **(on_create or {}))
    changed = [name for name, value in values.items() if _stored(obj, name) != _raw(value)]
    if changed:
        for name in changed:
            setattr(obj, name, values[name])
        fields = [model._meta.get_field(name).attname for name in changed]
        if any(f.name == "updated_at" for f in model._meta.concrete_fields):
            fields.append("updated_at")
        obj.save(update_fields=fields)
    return obj


def _stored(obj: models.Model, name: str):
    """A field's stored value; a foreign key's id, so comparing loads nothing."""
    return getattr(obj, obj._meta.get_field(name).attname)


def _raw(value):
    return value.pk if isinstance(value, models.Model) else value


def _error_text(problems: Iterable[ValidationProblem], fallback: str) -> str:
    """As the export service words it: one 'Field: message' line per problem."""
    lines = [f"{p.field.replace('_', ' ').capitalize()}: {p.message}" for p in problems]
    return "\n".join(lines) or fallback


@dataclass
class _Seeder:
    password: str
    staff: User | None = None
    users: dict[str, User] = field(default_factory=dict)
    now: object = field(default_factory=timezone.now)

    def run(self) -> dict[str, int]:
        self.staff = self._user(STAFF)
        for spec in USERS:
            self.users[spec.username] = self._user(spec)
        for spec in COMPANIES:
            self._company(spec)
        demo = {"company__slug__in": [c.slug for c in COMPANIES]}
        return {
            "companies": Company.objects.filter(slug__in=[c.slug for c in COMPANIES]).count(),
            "projects": Project.objects.filter(**demo).count(),
            "commitments": Commitment.objects.filter(**demo).count(),
            "invoices": SubcontractorInvoice.objects.filter(**demo).count(),
            "change orders": CommitmentChangeOrder.objects.filter(**demo).count(),
        }

    # --- people ---------------------------------------------------------------------
    def _user(self, spec: DemoUser) -> User:
        user = _ensure(
            User,
            {"username": spec.username},
            {
                "first_name": spec.first_name,
                "last_name": spec.last_name,
                "email": f"{spec.username}@example.com",
                "is_staff": spec.staff,
                "is_superuser": spec.staff,
                "is_active": True,
            },
        )
        if not user.check_password(self.password):
            user.set_password(self.password)
            user.save(update_fields=["password"])
        return user

    def _directory(self, company: Company, projects: list[Project]) -> None:
        for spec in USERS:
            user = self.users[spec.username]
            entry = _ensure(
                DirectoryMembership,
                {"company": company, "user": user},
                {"erp_integrations_level": spec.erp_integrations},
            )
            # Through the one service that records grants, as staff would in the admin.
            membership_set_privilege(membership=entry, granted=spec.privilege, changed_by=self.staff)
            for project in projects:
                _ensure(
                    ProjectPermission,
                    {"project": project, "user": user},
                    {"commitments_level": spec.commitments},
                )

    # --- a company and its records -------------------------------------------------------
    def _company(self, spec: DemoCompany) -> None:
        company = _ensure(Company, {"slug": spec.slug}, {"name": spec.name})
        _ensure(ErpConnection, {"company": company}, {"erp_system": spec.erp_system, "is_active": True})
        projects = [
            _ensure(Project, {"company": company, "number": number}, {"name": name})
            for number, name in spec.projects
        ]
        # A vendor's ERP id is its link's copy: written when it is linked (``_master_data``).
        vendors = [_ensure(Vendor, {"company": company, "name": name}, {}) for name, _erp_id in spec.vendors]
        self._directory(company, projects)
        connector = get_connector(spec.erp_system)
        self._master_data(connector, company, spec, projects, vendors)
        for project in projects:
            for commitment_spec in COMMITMENTS:
                commitment = self._commitment(connector, company, project, vendors, commitment_spec)
                for invoice_spec in commitment_spec.invoices:
                    self._invoice(connector, commitment, invoice_spec)
                for change_spec in commitment_spec.change_orders:
                    if change_spec.erp_system in ("", spec.erp_system):
                        self._change_order(connector, commitment, change_spec)
            self._erp_costs_and_payment(spec.erp_system, company, project)

    def _erp_costs_and_payment(self, erp_system: str, company: Company, project: Project) -> None:
        """What the ERP itself holds of the project's job: its costs, and a payment issued."""
        # The project's job in the ERP: the job the master data linked it to.
        job = project_job_id(project)
        costs = COST_STORES[erp_system]
        if not costs.objects.using(costs.database).filter(company_id=company.pk, job=job).exists():
            for cost_code, description, amount, day in JOB_COSTS:
                sandbox_post_cost(
                    erp_system=erp_system,
                    company_id=company.pk,
                    job=job,
                    cost_code=cost_code,
                    amount=Decimal(amount),
                    posted_on=date(2026, 11, day),
                    description=description,
                )
        commitment_number, invoice_number, amount, paid_on = PAYMENT
        invoice = SubcontractorInvoice.objects.filter(
            commitment__project=project, commitment__number=commitment_number, number=invoice_number
        ).first()
        payments = PAYMENT_STORES[erp_system]
        if (
            invoice is not None
            and invoice.erp_id
            and not payments.objects.using(payments.database).filter(requisition=invoice.erp_id).exists()
        ):
            sandbox_issue_payment(
                erp_system=erp_system,
                company_id=company.pk,
                requisition=invoice.erp_id,
                amount=Decimal(amount),
                paid_on=paid_on,
            )

    # --- master data: jobs, vendors, cost codes ----------------------------------------------
    def _master_data(self, connector, company: Company, spec: DemoCompany, projects, vendors) -> None:
        """The ERP's master data, the platform's links to it, and what the ERP lacks."""
        erp = spec.erp_system
        rows = (
            [("job", job_id, {"id": job_id, "name": name}) for job_id, name in spec.erp_jobs]
            + [
                ("vendor", v_id, {"id": v_id, "name": name, "type": kind})
                for v_id, name, kind in spec.erp_vendors
            ]
            + [
                (
                    "cost_code",
                    cost_code_erp_id(code, cost_class),
                    {"code": code, "class": cost_class, "description": text},
                )
                for code, cost_class, text in spec.erp_cost_codes
            ]
        )
        for kind, erp_id, values in rows:
            found = sandbox_records(erp).filter(kind=kind, erp_id=erp_id).first()
            if found is None:
                sandbox_master_add(erp_system=erp, kind=kind, values=values)
            elif found.deleted_at is not None:
                sandbox_restore(erp_system=erp, kind=kind, erp_id=erp_id)
        # What the ERP holds, as a sync brings it in (set-based; unchanged rows stay as they are).
        for kind in MASTER_KINDS:
            master_entries_replace(
                company_id=company.pk,
                kind=kind.slug,
                records=connector.master_records(kind.slug),
                seen_at=self.now,
            )
        for number, name in spec.new_projects:
            _ensure(Project, {"company": company, "number": number}, {"name": name})
        jobs = dict(spec.project_jobs)
        for project in projects:
            if project.number in jobs:
                self._master_link(JOB, project, jobs[project.number])
        for vendor, (_name, erp_vendor_id) in zip(vendors, spec.vendors, strict=True):
            if erp_vendor_id:
                self._master_link(VENDOR, vendor, erp_vendor_id)
        for code, cost_class, description, erp_id in spec.cost_codes:
            cost_code = _ensure(
                CostCode,
                {"company": company, "code": code, "cost_class": cost_class},
                {"description": description},
            )
            if erp_id:
                self._master_link(COST_CODE, cost_code, erp_id)
        if spec.failed_vendor:
            name, error = spec.failed_vendor
            vendor = Vendor.objects.get(company=company, name=name)
            _ensure(
                MasterExportState,
                {"kind": VENDOR.slug, "record_id": vendor.pk},
                {"company": company, "state": MasterExportState.State.FAILED, "message": error},
                on_create={"changed_by": self.users["approver"], "changed_at": self.now},
            )

    def _master_link(self, kind, record, erp_id: str) -> None:
        """Link a project, vendor or cost code to its ERP record, as Link does (once)."""
        live = ErpLink.objects.filter(kind=kind.slug, record_id=record.pk, unlinked_at__isnull=True).first()
        if live is None:
            live = link_open(
                kind=kind, record=record, erp_id=erp_id, linked_by=self.users["approver"], linked_at=self.now
            )
        _ensure(kind.model, {"pk": record.pk}, {kind.erp_id_field: live.erp_id})
        setattr(record, kind.erp_id_field, live.erp_id)

    def _state_values(self, record: LinkedRecord | None, state: str, *, reason: str = "") -> dict:
        """The export state and everything that goes with it, for a state that is not synced."""
        pm = self.users["pm"]
        sent = state != State.DRAFT
        values = {
            "export_state": state,
            "rejection_reason": reason if state == State.REJECTED else "",
            "sent_by": pm if sent else None,
            "link": None,
            "erp_id": None,
            "linked_at": None,
        }
        if state != State.FAILED:
            values["export_error"] = ""  # a failed record's error comes from the ERP's checks
        if not sent:
            values["sent_at"] = None
        elif record is None or record.sent_at is None:
            values["sent_at"] = self.now
        return values

    def _record(
        self,
        kind: RecordKind,
        connector: ErpConnector,
        lookup: dict,
        values: dict,
        spec_state: str,
        *,
        reason: str = "",
        after_write: Callable[[LinkedRecord], None] | None = None,
    ):
        """Write a record in the state of its spec; a synced one is exported and linked.

        ``after_write`` writes what belongs to the record (its lines) before the ERP's
        limits are checked or the record is exported.
        """
        existing = kind.model.objects.filter(**lookup).first()
        if spec_state == State.SYNCED and existing is not None and existing.export_state == State.SYNCED:
            state_values = {}  # keep the link; the export below confirms it
        else:
            # A synced record is first ready to export, as an approver would find it.
            first_state = State.READY if spec_state == State.SYNCED else spec_state
            state_values = self._state_values(existing, first_state, reason=reason)
        with transaction.atomic():
            if state_values and existing is not None and existing.link_id is not None:
                self._close_link(existing.link_id)
            record = _ensure(kind.model, lookup, {**values, **state_values})
        if after_write is not None:
            after_write(record)
        if spec_state == State.FAILED:
            # As Export words it: an unlinked vendor or job first, else the ERP's own limits.
            unlinked = unlinked_prerequisites(record)
            error = "\n".join(
                prerequisite_problem(master, target, connector.display_name) for master, target in unlinked
            ) or _error_text(
                connector.validate(kind, record),
                f"{connector.display_name} did not accept the {kind.erp_noun(connector.erp_system)}.",
            )
            _ensure(kind.model, lookup, {"export_error": error})
            record.export_error = error
        elif spec_state == State.SYNCED:
            self._link(kind, record, connector.export(kind, record))
        return record

    def _commitment(self, connector, company, project, vendors, spec: DemoCommitment) -> Commitment:
        values = {
            "company": company,
            "kind": spec.kind,
            "title": spec.title,
            "vendor": vendors[spec.vendor],
            "status": spec.status,
            "amount": sum((Decimal(amount) for _, _, amount in spec.lines), Decimal("0.00")),
        }
        return self._record(
            COMMITMENT,
            connector,
            {"project": project, "number": spec.number},
            values,
            spec.state,
            reason=spec.reason,
            after_write=lambda commitment: self._line_items(commitment, spec.lines),
        )

    def _line_items(self, commitment: Commitment, lines) -> None:
        codes = [code for code, _, _ in lines]
        CommitmentLineItem.objects.filter(commitment=commitment).exclude(cost_code__in=codes).delete()
        for code, description, amount in lines:
            _ensure(
                CommitmentLineItem,
                {"commitment": commitment, "cost_code": code},
                {"description": description, "amount": Decimal(amount)},
            )

    def _invoice(self, connector, commitment: Commitment, spec: DemoInvoice) -> SubcontractorInvoice:
        start = date(2026, spec.month, 1)
        end = start.replace(day=calendar.monthrange(start.year, start.month)[1])
        amount = Decimal(spec.amount)
        values = {
            "company_id": commitment.company_id,
            "project_id": commitment.project_id,
            "vendor_id": commitment.vendor_id,
            "billing_period_start": start,
            "billing_period_end": end,
            "amount": amount,
            "retainage": (amount / 10).quantize(Decimal("0.01")),
            "status": spec.status,
        }
        return self._record(
            INVOICE,
            connector,
            {"commitment": commitment, "number": spec.number},
            values,
            spec.state,
            reason=spec.reason,
        )

    def _change_order(
        self, connector, commitment: Commitment, spec: DemoChangeOrder
    ) -> CommitmentChangeOrder:
        values = {
            "company_id": commitment.company_id,
            "project_id": commitment.project_id,
            "vendor_id": commitment.vendor_id,
            "title": spec.title,
            "description": spec.description,
            "status": spec.status,
            "amount": sum((Decimal(amount) for _, _, amount in spec.lines), Decimal("0.00")),
        }
        return self._record(
            CCO,
            connector,
            {"commitment": commitment, "number": spec.number},
            values,
            spec.state,
            reason=spec.reason,
            after_write=lambda change_order: self._change_lines(commitment, change_order, spec.lines),
        )

    def _change_lines(self, commitment: Commitment, change_order: CommitmentChangeOrder, lines) -> None:
        """The CCO's lines, in the spec's order; rewritten only when they differ."""
        commitment_lines = {line.cost_code: line for line in commitment.line_items.all()}
        wanted = [
            (commitment_lines[code].pk, description, Decimal(amount)) for code, description, amount in lines
        ]
        stored = list(
            change_order.line_items.order_by("id").values_list("commitment_line_id", "description", "amount")
        )
        if stored != wanted:
            change_order.line_items.all().delete()
            ChangeOrderLineItem.objects.bulk_create(
                ChangeOrderLineItem(
                    change_order=change_order,
                    commitment_line_id=line_id,
                    description=description,
                    amount=amount,
                )
                for line_id, description, amount in wanted
            )
        # What the ERP receives reads the commitment as it is now (its ERP id).
        change_order.commitment = commitment

    def _close_link(self, link_id: int) -> None:
        """A link the demo no longer wants ends as an unlink would end it (kept as history)."""
        ErpLink.objects.filter(pk=link_id, unlinked_at__isnull=True).update(unlinked_at=self.now)

    def _link(self, kind: RecordKind, record: LinkedRecord, erp_id: str) -> None:
        """Store the link the export made (the same ERP record on every run), as Export does."""
        link = ErpLink.objects.filter(pk=record.link_id).first() if record.link_id else None
        with transaction.atomic():
            if link is not None and link.unlinked_at is None and link.erp_id == erp_id:
                # The ERP record the link names exists: whatever a sync saw before is past.
                if link.missing_since_id is not None:
                    ErpLink.objects.filter(pk=link.pk).update(missing_since=None)
            else:
                if link is not None:
                    self._close_link(link.pk)
                link = link_open(
                    kind=kind,
                    record=record,
                    erp_id=erp_id,
                    linked_by=self.users["approver"],
                    linked_at=self.now,
                )
            values = {
                "export_state": State.SYNCED,
                "export_error": "",
                "rejection_reason": "",
                "link": link,
                "erp_id": link.erp_id,
                "linked_at": link.linked_at,
            }
            _ensure(kind.model, {"pk": record.pk}, values)
        for name, value in values.items():
            setattr(record, name, value)


def seed_demo(*, password: str = DEMO_PASSWORD) -> dict[str, int]:
    """Create or refresh the demo companies, users and records; counts of what exists."""
    if not password:
        raise ValueError("The demo users need a password.")
    return _Seeder(password=password).run()
