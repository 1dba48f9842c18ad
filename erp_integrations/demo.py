"""Demo data: two companies, one on each ERP, with records in every export state.

``seed_demo(password=...)`` is idempotent: every row is found by its natural key
(a company's slug, a project's number, a commitment's number in its project, ...) and
written only when it differs from the demo, so running it twice leaves the same data.
Synced records really exist in the sandbox ERP: they are exported with the company's
connector, which finds the record a previous run made instead of making a second one.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import models
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
from erp_integrations.connectors import ValidationProblem, get_connector
from erp_integrations.models import (
    Commitment,
    CommitmentLineItem,
    ErpConnection,
    ErpSystem,
    ExportState,
    SubcontractorInvoice,
    Vendor,
)

DEMO_PASSWORD = "demo"

Level = PermissionLevel
State = ExportState
Kind = Commitment.Kind
InvoiceStatus = SubcontractorInvoice.Status


# --- what the demo holds ------------------------------------------------------------
@dataclass(frozen=True)
class DemoCompany:
    slug: str
    name: str
    erp_system: str
    projects: tuple[tuple[str, str], ...]
    #: (name, ERP vendor id or None when the vendor is not in the ERP yet)
    vendors: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class DemoInvoice:
    number: str
    month: int
    amount: str
    state: str
    status: str = InvoiceStatus.APPROVED
    reason: str = ""


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
    ),
)

REJECTED_COMMITMENT = "Retainage terms are missing; attach the signed exhibit B and send it again."
REJECTED_INVOICE = "Billed quantities exceed the schedule of values for line 3; please revise."

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
    ),
    DemoCommitment(
        "SC-003",
        Kind.SUBCONTRACT,
        "Structural steel",
        2,
        Commitment.Status.APPROVED,
        State.READY,
        (("05-120", "Structural steel framing", "312000.00"),),
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
        return {
            "companies": Company.objects.filter(slug__in=[c.slug for c in COMPANIES]).count(),
            "projects": Project.objects.filter(company__slug__in=[c.slug for c in COMPANIES]).count(),
            "commitments": Commitment.objects.filter(company__slug__in=[c.slug for c in COMPANIES]).count(),
            "invoices": SubcontractorInvoice.objects.filter(
                company__slug__in=[c.slug for c in COMPANIES]
            ).count(),
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
        vendors = [
            _ensure(Vendor, {"company": company, "name": name}, {"erp_vendor_id": erp_vendor_id})
            for name, erp_vendor_id in spec.vendors
        ]
        self._directory(company, projects)
        connector = get_connector(spec.erp_system)
        for project in projects:
            for commitment_spec in COMMITMENTS:
                commitment = self._commitment(connector, company, project, vendors, commitment_spec)
                for invoice_spec in commitment_spec.invoices:
                    self._invoice(connector, commitment, invoice_spec)

    def _state_values(self, record, state: str, *, reason: str = "") -> dict:
        """The export state and everything that goes with it, for a state that is not synced."""
        pm = self.users["pm"]
        sent = state != State.DRAFT
        values = {
            "export_state": state,
            "rejection_reason": reason if state == State.REJECTED else "",
            "sent_by": pm if sent else None,
            "erp_id": None,
            "linked_at": None,
            "linked_by": None,
            "erp_missing_since": None,
        }
        if state != State.FAILED:
            values["export_error"] = ""  # a failed record's error comes from the ERP's checks
        if not sent:
            values["sent_at"] = None
        elif record is None or record.sent_at is None:
            values["sent_at"] = self.now
        return values

    def _commitment(self, connector, company, project, vendors, spec: DemoCommitment) -> Commitment:
        lookup = {"project": project, "number": spec.number}
        values = {
            "company": company,
            "kind": spec.kind,
            "title": spec.title,
            "vendor": vendors[spec.vendor],
            "status": spec.status,
            "amount": sum((Decimal(amount) for _, _, amount in spec.lines), Decimal("0.00")),
        }
        existing = Commitment.objects.filter(**lookup).first()
        if spec.state == State.SYNCED and existing is not None and existing.export_state == State.SYNCED:
            state_values = {}  # keep the link; the export below confirms it
        else:
            # A synced record is first ready to export, as an approver would find it.
            first_state = State.READY if spec.state == State.SYNCED else spec.state
            state_values = self._state_values(existing, first_state, reason=spec.reason)
        commitment = _ensure(Commitment, lookup, {**values, **state_values})
        self._line_items(commitment, spec.lines)
        if spec.state == State.FAILED:
            error = _error_text(
                connector.validate_commitment(commitment),
                f"{connector.display_name} did not accept the commitment.",
            )
            _ensure(Commitment, lookup, {"export_error": error})
        elif spec.state == State.SYNCED:
            self._link(commitment, connector.export_commitment(commitment))
        return commitment

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
        lookup = {"commitment": commitment, "number": spec.number}
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
        existing = SubcontractorInvoice.objects.filter(**lookup).first()
        if spec.state == State.SYNCED and existing is not None and existing.export_state == State.SYNCED:
            state_values = {}
        else:
            first_state = State.READY if spec.state == State.SYNCED else spec.state
            state_values = self._state_values(existing, first_state, reason=spec.reason)
        invoice = _ensure(SubcontractorInvoice, lookup, {**values, **state_values})
        if spec.state == State.FAILED:
            error = _error_text(
                connector.validate_invoice(invoice),
                f"{connector.display_name} did not accept the requisition.",
            )
            _ensure(SubcontractorInvoice, lookup, {"export_error": error})
        elif spec.state == State.SYNCED:
            self._link(invoice, connector.export_invoice(invoice))
        return invoice

    def _link(self, record: Commitment | SubcontractorInvoice, erp_id: str) -> None:
        """Store the link the export made (the same ERP record on every run)."""
        values = {
            "export_state": State.SYNCED,
            "export_error": "",
            "rejection_reason": "",
            "erp_id": erp_id,
            "linked_by": self.users["approver"],
            "erp_missing_since": None,
        }
        if record.linked_at is None or record.erp_id != erp_id:
            values["linked_at"] = self.now
        _ensure(type(record), {"pk": record.pk}, values)
        for name, value in values.items():
            setattr(record, name, value)


def seed_demo(*, password: str = DEMO_PASSWORD) -> dict[str, int]:
    """Create or refresh the demo companies, users and records; counts of what exists."""
    if not password:
        raise ValueError("The demo users need a password.")
    return _Seeder(password=password).run()
