# SQL here is built only from model table names and constants, never from input.
# ruff: noqa: S608
"""Fill PostgreSQL with a large, realistic company: the data behind the benchmarks.

One company with its ERP connection, projects, vendors, commitments (subcontracts and
purchase orders, most of them exported and linked), one line item each, subcontractor
invoices under the subcontracts, commitment change orders (one line each, against their
commitment's line), the links of every synced record (``ErpLink`` rows, and their copies
on the record), the export and reject entries of the audit trail, and the matching
records in the sandbox ERP's own store, a fraction of them deleted there (as a user
deletes a record in Sage) so that a sync has something to find.

Rows are written with COPY in PostgreSQL's text format, inside one transaction per
store. When the load is larger than what the table already holds, the table's
secondary (non-unique) indexes and its foreign keys (the records' composite key onto
their link among them) are dropped first and rebuilt afterwards in the same
transaction, from their own definitions; re-adding a foreign key checks every row, and
unique indexes (the links' partial ones too) and check constraints stay in force the
whole time, so the database still refuses anything the product would refuse. Links are
written before the records that point at them. Ids are reserved from each table's
identity sequence while the table is locked, so the generator can run beside a live
product.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import connections, transaction

from accounts.models import Company, DirectoryMembership, PermissionLevel, Project, ProjectPermission, User
from erp_integrations.connectors import get_connector
from erp_integrations.kinds import CCO, COMMITMENT, INVOICE
from erp_integrations.models import (
    AuditEntry,
    ChangeOrderLineItem,
    Commitment,
    CommitmentChangeOrder,
    CommitmentLineItem,
    Discrepancy,
    ErpConnection,
    ErpLink,
    ErpSystem,
    ExportState,
    InvoicePayment,
    JobCostTransaction,
    ReconciliationTotal,
    SubcontractorInvoice,
    Vendor,
)
from erp_integrations.sandbox.services import sandbox_model

#: The columns every linked record has (LinkedRecord), in the order the row builders
#: yield them after the record's own keys.
LINKED_RECORD_COLUMNS = (
    "number",
    "amount",
    "export_state",
    "export_error",
    "rejection_reason",
    "sent_at",
    "sent_by_id",
    "link_id",
    "erp_id",
    "linked_at",
    "created_at",
    "updated_at",
)
#: The columns of a link row, in the order ``_link_row`` yields them.
LINK_COLUMNS = (
    "id",
    "kind",
    "record_id",
    "company_id",
    "erp_id",
    "linked_at",
    "linked_by_id",
    "missing_since_id",
    "unlinked_at",
    "unlinked_by_id",
)

#: Rows per write to the COPY stream.
CHUNK = 20_000
#: Below this many rows, a load keeps the indexes and lets PostgreSQL maintain them.
REBUILD_INDEXES_FROM = 50_000

ROLES = ("approver", "pm", "viewer", "staff")

TRADES = [
    ("Concrete", "03-300", "Concrete foundations"),
    ("Masonry", "04-200", "Masonry walls"),
    ("Steel", "05-120", "Structural steel"),
    ("Carpentry", "06-100", "Rough carpentry"),
    ("Millwork", "06-400", "Architectural millwork"),
    ("Waterproofing", "07-100", "Below-grade waterproofing"),
    ("Roofing", "07-500", "Membrane roofing"),
    ("Doors", "08-100", "Doors and hardware"),
    ("Glazing", "08-400", "Glazing and curtain wall"),
    ("Drywall", "09-200", "Drywall and framing"),
    ("Flooring", "09-600", "Flooring"),
    ("Painting", "09-900", "Painting and coatings"),
    ("Elevator", "14-200", "Elevators"),
    ("Sprinkler", "21-100", "Fire sprinklers"),
    ("Plumbing", "22-100", "Plumbing"),
    ("Mechanical", "23-300", "HVAC ductwork"),
    ("Electric", "26-100", "Electrical rough-in"),
    ("Low Voltage", "27-100", "Data and low voltage"),
    ("Excavation", "31-200", "Earthwork and grading"),
    ("Paving", "32-100", "Asphalt paving"),
    ("Landscape", "32-900", "Landscaping"),
    ("Utility", "33-100", "Site utilities"),
]
PHASES = ["", " - Phase 1", " - Phase 2", " - Level 3", " - Building B", " - Podium", " - Tower"]
SURNAMES = [
    "Harper", "Okafor", "Lindqvist", "Ramirez", "Nakamura", "Brennan", "Castillo", "Dubois",
    "Fischer", "Gallagher", "Hughes", "Ivanova", "Jensen", "Kowalski", "Larsen", "Moreau",
    "Nguyen", "O'Neill", "Patel", "Quinn", "Rossi", "Schmidt", "Tanaka", "Underwood",
    "Vasquez", "Whitaker", "Young", "Zimmer", "Abbott", "Blackwood", "Carver", "Delgado",
    "Ellison", "Fontaine", "Garrison", "Holloway", "Iverson", "Kessler", "Mercer", "Sullivan",
]  # fmt: skip
VENDOR_SUFFIXES = ["Inc.", "LLC", "& Sons", "Co.", "Group", "Builders", "Services"]
PLACES = [
    "Riverside", "Harbor Point", "Cedar Ridge", "Maple Grove", "Union Square", "Westfield",
    "Lakeview", "Stonebridge", "Northgate", "Summit Park", "Bayfront", "Oak Hollow",
]  # fmt: skip
BUILDINGS = [
    "Medical Center", "Elementary School", "Office Tower", "Apartments", "Parking Structure",
    "Distribution Center", "Library", "Hotel", "Lab Building", "Fire Station", "Transit Hub",
]  # fmt: skip
EXPORT_ERRORS = [
    "title: must be at most 30 characters in {erp} (it has 34).",
    "vendor: {vendor} must be synced with {erp} first.",
    "{erp} did not answer within 10 s.",
]
#: Phases that keep a title within Sage's 30 characters, per trade.
FITTING_PHASES = [[p for p in PHASES if len(title + p) <= 30] for _name, _code, title in TRADES]
REJECTION_REASONS = ["Wrong cost code", "Duplicate of an earlier commitment", "Amount does not match the bid"]
#: Why a commitment changes; a CCO's title is the reason and, where it fits Sage's 30
#: characters, the trade.
CHANGE_REASONS = [
    "Added scope", "Owner change", "Design revision", "Unforeseen conditions", "Credit for deleted scope",
    "Schedule acceleration", "Allowance adjustment", "Field change", "Code upgrade", "Value engineering",
]  # fmt: skip
#: The most CCOs one commitment gets: their numbers (CO001 ...) keep to Sage 300 CRE®'s 5 characters.
MAX_CHANGE_ORDERS_PER_COMMITMENT = 999


@dataclass(frozen=True)
class LoadSpec:
    commitments: int
    invoices: int
    projects: int
    #: Commitment change orders, one line each; synced ones only on synced commitments.
    ccos: int = 0
    company_slug: str = "load-test"
    company_name: str = ""
    erp_system: str = ErpSystem.SAGE_300_CRE.value
    #: Share of the synced records deleted in the sandbox ERP (the sync will find them).
    missing_fraction: float = 0.01
    #: Vendors; 0 picks one per 250 commitments, between 50 and 5000.
    vendors: int = 0
    #: Usernames are prefix + role (approver, pm, viewer, staff).
    user_prefix: str = ""
    password: str = "load-test-password"
    audit: bool = True
    seed: int = 1

    def vendor_count(self) -> int:
        return self.vendors or max(50, min(5000, self.commitments // 250))

    def name(self) -> str:
        return self.company_name or f"Load Test Contractors ({self.company_slug})"


@dataclass
class LoadResult:
    company_id: int
    connection_id: int
    usernames: dict[str, str]
    commitments: int = 0
    invoices: int = 0
    change_orders: int = 0
    synced_commitments: int = 0
    synced_invoices: int = 0
    synced_change_orders: int = 0
    #: Synced records whose ERP record was deleted in the sandbox.
    missing_commitments: int = 0
    missing_invoices: int = 0
    missing_change_orders: int = 0

    @property
    def links(self) -> int:
        return self.synced_commitments + self.synced_invoices + self.synced_change_orders

    @property
    def missing(self) -> int:
        return self.missing_commitments + self.missing_invoices + self.missing_change_orders

    seconds: dict[str, float] = field(default_factory=dict)


class LoadDataError(Exception):
    pass


# --- COPY helpers -------------------------------------------------------------------------
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return r"\N"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def _copy_rows(alias: str, table: str, columns: Iterable[str], rows: Iterator[tuple]) -> int:
    cols = ", ".join(columns)
    count = 0
    with (
        connections[alias].cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy,
    ):
        buffer: list[str] = []
        for row in rows:
            buffer.append("\t".join(map(_text, row)))
            if len(buffer) >= CHUNK:
                copy.write("\n".join(buffer) + "\n")
                count += len(buffer)
                buffer.clear()
        if buffer:
            copy.write("\n".join(buffer) + "\n")
            count += len(buffer)
    return count


def _reserve_ids(alias: str, table: str, count: int) -> int:
    """Lock the table against inserts and take ``count`` ids from its sequence; the first."""
    with connections[alias].cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        if count == 0:
            return 0
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = cursor.fetchone()[0]
        cursor.execute("SELECT nextval(%s)", [sequence])
        first = cursor.fetchone()[0]
        cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
    return first


def _secondary_indexes(alias: str, table: str) -> list[tuple[str, str]]:
    """Non-unique indexes that back no constraint: safe to drop and rebuild from their definition."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, pg_get_indexdef(c.oid)
            FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
            WHERE x.indrelid = %s::regclass AND NOT x.indisunique AND NOT x.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
            ORDER BY c.relname
            """,
            [table],
        )
        return cursor.fetchall()


def _row_count(alias: str, table: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


def _foreign_keys(alias: str, table: str) -> list[tuple[str, str]]:
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [table],
        )
        return cursor.fetchall()


def _run_deferred_checks(cursor) -> None:
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


class _BulkLoad:
    """Within the caller's transaction: set a table up for a large COPY, then restore it.

    For a load larger than the table, its secondary indexes and its foreign keys are
    dropped, and rebuilt from their own definitions afterwards. Re-adding a foreign key
    checks every row in one join instead of one lookup per row, and a failed check
    rolls the whole load back. Unique and check constraints stay in force throughout.
    """

    def __init__(self, alias: str, table: str, rows: int, log: Callable[[str], None]):
        self.alias, self.table, self.log = alias, table, log
        bulk = rows >= REBUILD_INDEXES_FROM and rows > _row_count(alias, table)
        self.indexes = _secondary_indexes(alias, table) if bulk else []
        self.foreign_keys = _foreign_keys(alias, table) if bulk else []

    def __enter__(self):
        with connections[self.alias].cursor() as cursor:
            # A table cannot be altered while deferred foreign-key checks of rows written
            # earlier in this transaction are pending: run them now.
            _run_deferred_checks(cursor)
            for name, _definition in self.foreign_keys:
                cursor.execute(f'ALTER TABLE {self.table} DROP CONSTRAINT "{name}"')
            for name, _definition in self.indexes:
                cursor.execute(f'DROP INDEX "{name}"')
        self.started = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None or not (self.indexes or self.foreign_keys):
            return False
        self.log(f"    {self.table}: rows copied in {time.perf_counter() - self.started:.1f} s")
        with connections[self.alias].cursor() as cursor:
            started = time.perf_counter()
            for name, definition in self.foreign_keys:
                cursor.execute(f'ALTER TABLE {self.table} ADD CONSTRAINT "{name}" {definition}')
            self.log(
                f"    {len(self.foreign_keys)} foreign keys checked in {time.perf_counter() - started:.1f} s"
            )
            started = time.perf_counter()
            for name, definition in self.indexes:
                one = time.perf_counter()
                cursor.execute(definition)
                self.log(f"      index {name}: {time.perf_counter() - one:.1f} s")
            self.log(f"    {len(self.indexes)} indexes built in {time.perf_counter() - started:.1f} s")
        return False


def _session_for_bulk(alias: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute("SET LOCAL synchronous_commit = off")


# --- plan -----------------------------------------------------------------------------------
@dataclass
class _Plan:
    """The records to write, in compact parallel lists (one entry per record)."""

    c_project: list[int] = field(default_factory=list)
    c_vendor: list[int] = field(default_factory=list)
    c_number: list[str] = field(default_factory=list)
    c_kind: list[str] = field(default_factory=list)
    c_state: list[str] = field(default_factory=list)
    c_amount: list[int] = field(default_factory=list)  # cents
    c_trade: list[int] = field(default_factory=list)
    c_title: list[str] = field(default_factory=list)
    c_created: list[datetime] = field(default_factory=list)
    c_missing: list[bool] = field(default_factory=list)
    # invoices
    i_commitment: list[int] = field(default_factory=list)  # index into the commitment lists
    i_number: list[int] = field(default_factory=list)
    i_period: list[date] = field(default_factory=list)  # billing period start
    i_state: list[str] = field(default_factory=list)
    i_amount: list[int] = field(default_factory=list)
    i_missing: list[bool] = field(default_factory=list)
    # commitment change orders
    o_commitment: list[int] = field(default_factory=list)  # index into the commitment lists
    o_number: list[int] = field(default_factory=list)  # 1, 2, ... per commitment
    o_state: list[str] = field(default_factory=list)
    o_amount: list[int] = field(default_factory=list)  # cents; a credit is negative
    o_reason: list[int] = field(default_factory=list)  # index into CHANGE_REASONS
    o_created: list[datetime] = field(default_factory=list)
    o_missing: list[bool] = field(default_factory=list)


def _pick_state(rng: random.Random, table: tuple[tuple[float, str], ...]) -> str:
    r = rng.random()
    for upper, state in table:
        if r < upper:
            return state
    return table[-1][1]


COMMITMENT_STATES = (
    (0.95, ExportState.SYNCED),
    (0.97, ExportState.READY),
    (0.98, ExportState.FAILED),
    (0.995, ExportState.DRAFT),
    (1.0, ExportState.REJECTED),
)
INVOICE_STATES = (
    (0.95, ExportState.SYNCED),
    (0.97, ExportState.READY),
    (0.98, ExportState.FAILED),
    (1.0, ExportState.DRAFT),
)
#: A CCO of a synced commitment; one of a commitment that is not synced stays a draft.
CCO_STATES = (
    (0.90, ExportState.SYNCED),
    (0.94, ExportState.READY),
    (0.96, ExportState.FAILED),
    (0.99, ExportState.DRAFT),
    (1.0, ExportState.REJECTED),
)


def _plan(spec: LoadSpec, project_ids: list[int], vendor_ids: list[int], now: datetime) -> _Plan:
    rng = random.Random(spec.seed)
    plan = _Plan()
    per_project_seq: dict[tuple[int, str], int] = {}
    span = timedelta(days=730).total_seconds()
    start = now - timedelta(days=740)
    subcontracts: list[int] = []
    for i in range(spec.commitments):
        project_id = project_ids[rng.randrange(len(project_ids))]
        is_sub = rng.random() < 0.7
        prefix = "SC" if is_sub else "PO"
        seq = per_project_seq.get((project_id, prefix), 0) + 1
        per_project_seq[(project_id, prefix)] = seq
        trade = rng.randrange(len(TRADES))
        plan.c_project.append(project_id)
        plan.c_vendor.append(vendor_ids[rng.randrange(len(vendor_ids))])
        plan.c_number.append(f"{prefix}-{seq:05d}")
        plan.c_kind.append(Commitment.Kind.SUBCONTRACT if is_sub else Commitment.Kind.PURCHASE_ORDER)
        state = _pick_state(rng, COMMITMENT_STATES)
        plan.c_state.append(state)
        plan.c_amount.append(rng.randrange(5_000_00, 2_500_000_00))
        plan.c_trade.append(trade)
        phases = FITTING_PHASES[trade]
        plan.c_title.append(TRADES[trade][2] + phases[rng.randrange(len(phases))])
        # Records are created over two years, roughly in id order.
        plan.c_created.append(start + timedelta(seconds=span * i / max(spec.commitments, 1)))
        plan.c_missing.append(state == ExportState.SYNCED and rng.random() < spec.missing_fraction)
        if is_sub:
            subcontracts.append(i)

    if spec.invoices and not subcontracts:
        raise LoadDataError("Invoices need subcontracts; load more commitments.")
    # A subcontract bills once a month, from the month after it was created, and only for
    # periods that have ended (with time to export them) before today.
    last_period = _month_start(now - timedelta(days=40), 0)

    def months_of(c: int) -> int:
        created = plan.c_created[c]
        return (last_period.year * 12 + last_period.month) - (created.year * 12 + created.month)

    capacity = sum(max(0, months_of(c)) for c in subcontracts)
    if spec.invoices > capacity:
        raise LoadDataError(f"At most {capacity} invoices fit these subcontracts; load more commitments.")
    per_commitment = [0] * spec.commitments
    placed = 0
    while placed < spec.invoices:
        c = subcontracts[rng.randrange(len(subcontracts))]
        if per_commitment[c] < months_of(c):
            per_commitment[c] += 1
            placed += 1
    for c, count in enumerate(per_commitment):
        parent_synced = plan.c_state[c] == ExportState.SYNCED
        for n in range(1, count + 1):
            state = _pick_state(rng, INVOICE_STATES) if parent_synced else ExportState.DRAFT
            plan.i_commitment.append(c)
            plan.i_number.append(n)
            plan.i_period.append(_month_start(plan.c_created[c], n))
            plan.i_state.append(state)
            plan.i_amount.append(plan.c_amount[c] // (count + 2))
            plan.i_missing.append(state == ExportState.SYNCED and rng.random() < spec.missing_fraction)
    _plan_change_orders(spec, plan, rng, now)
    return plan


def _plan_change_orders(spec: LoadSpec, plan: _Plan, rng: random.Random, now: datetime) -> None:
    """CCOs spread over the commitments, numbered per commitment, in commitment order."""
    if not spec.ccos:
        return
    if not spec.commitments or spec.ccos > spec.commitments * MAX_CHANGE_ORDERS_PER_COMMITMENT:
        raise LoadDataError(
            f"At most {MAX_CHANGE_ORDERS_PER_COMMITMENT} CCOs per commitment; load more commitments."
        )
    per_commitment = [0] * spec.commitments
    placed = 0
    while placed < spec.ccos:
        c = rng.randrange(spec.commitments)
        if per_commitment[c] < MAX_CHANGE_ORDERS_PER_COMMITMENT:
            per_commitment[c] += 1
            placed += 1
    latest = now - timedelta(days=3)
    for c, count in enumerate(per_commitment):
        parent_synced = plan.c_state[c] == ExportState.SYNCED
        for n in range(1, count + 1):
            state = _pick_state(rng, CCO_STATES) if parent_synced else ExportState.DRAFT
            plan.o_commitment.append(c)
            plan.o_number.append(n)
            plan.o_state.append(state)
            # Mostly added work (up to 15 % of the commitment), sometimes a credit (up to 5 %).
            share = rng.uniform(-0.05, 0.15)
            plan.o_amount.append(int(plan.c_amount[c] * share) or 100_00)
            plan.o_reason.append(rng.randrange(len(CHANGE_REASONS)))
            plan.o_created.append(min(latest, plan.c_created[c] + timedelta(days=4 + 9 * n)))
            plan.o_missing.append(state == ExportState.SYNCED and rng.random() < spec.missing_fraction)


def _change_title(plan: _Plan, j: int) -> str:
    reason = CHANGE_REASONS[plan.o_reason[j]]
    title = f"{reason} - {TRADES[plan.c_trade[plan.o_commitment[j]]][0]}"
    return title if len(title) <= 30 else reason


def _change_description(plan: _Plan, j: int) -> str:
    trade = TRADES[plan.c_trade[plan.o_commitment[j]]][2].lower()
    return (
        f"{CHANGE_REASONS[plan.o_reason[j]]}: {trade}, as priced in change order request {plan.o_number[j]}."
    )


def _ts(value: datetime) -> str:
    return value.isoformat()


def _month_start(d: datetime, months: int) -> date:
    total = d.year * 12 + d.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def _month_end(start: date) -> date:
    nxt = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


# --- the load -------------------------------------------------------------------------------
def _users(spec: LoadSpec, company: Company, project_ids: list[int]) -> dict[str, User]:
    users: dict[str, User] = {}
    for role in ROLES:
        username = f"{spec.user_prefix}{role}"
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(
                username=username,
                password=spec.password,
                first_name=role.title(),
                is_staff=role == "staff",
                is_superuser=role == "staff",
            )
        users[role] = user
    levels = {
        # role: (ERP Integrations level, Commitments level on every project, privilege)
        "approver": (PermissionLevel.ADMIN, PermissionLevel.ADMIN, True),
        "pm": (PermissionLevel.STANDARD, PermissionLevel.ADMIN, False),
        "viewer": (PermissionLevel.READ_ONLY, PermissionLevel.READ_ONLY, False),
    }
    for role, (erp_level, commitments_level, privilege) in levels.items():
        membership = DirectoryMembership.objects.create(
            company=company, user=users[role], erp_integrations_level=erp_level
        )
        if privilege:
            _grant_privilege(membership, users["staff"])
        ProjectPermission.objects.bulk_create(
            ProjectPermission(project_id=pid, user=users[role], commitments_level=commitments_level)
            for pid in project_ids
        )
    return users


def _grant_privilege(membership: DirectoryMembership, staff: User) -> None:
    """Grant 'Can Push to Accounting' the way staff do, so the grant is recorded."""
    from accounts.services import membership_set_privilege

    membership_set_privilege(membership=membership, granted=True, changed_by=staff)


def load_data_generate(spec: LoadSpec, *, log: Callable[[str], None] = lambda _m: None) -> LoadResult:
    """Create the company described by ``spec`` and all its records. The company must not exist."""
    if connections["default"].vendor != "postgresql":
        raise LoadDataError("The load generator writes with PostgreSQL's COPY; set DATABASE_URL.")
    if spec.commitments < 0 or spec.invoices < 0 or spec.ccos < 0 or spec.projects < 1:
        raise LoadDataError("Counts must be positive, with at least one project.")
    if not 0 <= spec.missing_fraction <= 1:
        raise LoadDataError("--missing-fraction must be between 0 and 1.")
    if Company.objects.filter(slug=spec.company_slug).exists():
        raise LoadDataError(f"Company {spec.company_slug!r} exists; pass --reset to replace it.")

    connector = get_connector(spec.erp_system)
    erp_name = ErpSystem(spec.erp_system).label
    # Sage 100 Contractor® keeps a purchase order's change orders on the PO itself.
    appends_po_changes = spec.erp_system == ErpSystem.SAGE_100_CONTRACTOR
    store = sandbox_model(spec.erp_system)
    sandbox_alias = store.database
    sandbox_table = store._meta.db_table
    now = datetime.now(UTC).replace(microsecond=0)
    clock = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        t = time.perf_counter()
        seconds[name] = round(t - clock, 2)
        clock = t
        log(f"  {name}: {seconds[name]:.1f} s")

    t_commitment = Commitment._meta.db_table
    t_line = CommitmentLineItem._meta.db_table
    t_invoice = SubcontractorInvoice._meta.db_table
    t_cco = CommitmentChangeOrder._meta.db_table
    t_cco_line = ChangeOrderLineItem._meta.db_table
    t_link = ErpLink._meta.db_table
    t_audit = AuditEntry._meta.db_table

    # The sandbox ERP's transaction is the outer one: it commits only after the platform's
    # has, so a failed load never leaves ERP records behind that no record points to.
    with transaction.atomic(using=sandbox_alias), transaction.atomic(using="default"):
        _session_for_bulk("default")
        company = Company.objects.create(name=spec.name(), slug=spec.company_slug)
        erp_connection = ErpConnection.objects.create(company=company, erp_system=spec.erp_system)
        rng = random.Random(spec.seed)
        projects = Project.objects.bulk_create(
            Project(
                company=company,
                number=f"P-{n:04d}",
                name=f"{rng.choice(PLACES)} {rng.choice(BUILDINGS)}",
                # Exports need the project's job in the ERP (a copy, as the vendors' ids).
                erp_job_id=f"{n % 100:02d}-{n:04d}",
            )
            for n in range(1, spec.projects + 1)
        )
        project_ids = [p.pk for p in projects]
        users = _users(spec, company, project_ids)
        vendor_names = _vendor_names(rng, spec.vendor_count())
        vendors = Vendor.objects.bulk_create(
            Vendor(company=company, name=name, erp_vendor_id=f"V{n:05d}")
            for n, name in enumerate(vendor_names, 1)
        )
        vendor_ids = [v.pk for v in vendors]
        vendor_name_by_id = dict(zip(vendor_ids, vendor_names, strict=True))
        project_number_by_id = {p.pk: p.number for p in projects}
        lap("company, projects, vendors, users")

        plan = _plan(spec, project_ids, vendor_ids, now)
        lap("plan")

        n_c, n_i, n_o = len(plan.c_state), len(plan.i_state), len(plan.o_state)
        c_first = _reserve_ids("default", t_commitment, n_c)
        i_first = _reserve_ids("default", t_invoice, n_i)
        o_first = _reserve_ids("default", t_cco, n_o)
        line_first = _reserve_ids("default", t_line, n_c)
        o_line_first = _reserve_ids("default", t_cco_line, n_o)
        synced_c = [i for i in range(n_c) if plan.c_state[i] == ExportState.SYNCED]
        synced_i = [i for i in range(n_i) if plan.i_state[i] == ExportState.SYNCED]
        synced_o = [j for j in range(n_o) if plan.o_state[j] == ExportState.SYNCED]
        n_links = len(synced_c) + len(synced_i) + len(synced_o)

        # Each synced record has a rank among the synced ones of its kind; it numbers the
        # record's ERP record (from the sandbox's ids) and its link (from the links' ids),
        # commitments first, then invoices, then CCOs.
        c_rank = {i: k for k, i in enumerate(synced_c)}
        i_rank = {i: k for k, i in enumerate(synced_i)}
        o_rank = {j: k for k, j in enumerate(synced_o)}
        i_base, o_base = len(synced_c), len(synced_c) + len(synced_i)
        _session_for_bulk(sandbox_alias)
        s_first = _reserve_ids(sandbox_alias, sandbox_table, n_links)
        l_first = _reserve_ids("default", t_link, n_links)
        fmt_c = connector.id_formats[COMMITMENT.slug]
        fmt_i = connector.id_formats[INVOICE.slug]
        fmt_o = connector.id_formats[CCO.slug]

        def c_erp(i: int) -> str:
            return fmt_c.format(n=s_first + c_rank[i])

        def i_erp(i: int) -> str:
            return fmt_i.format(n=s_first + i_base + i_rank[i])

        def o_erp(j: int) -> str:
            return fmt_o.format(n=s_first + o_base + o_rank[j])

        def o_linked(j: int) -> datetime:
            return plan.o_created[j] + timedelta(days=2)

        deleted_at = _ts(now - timedelta(days=2))

        def change_lines_json(j: int) -> str:
            code = TRADES[plan.c_trade[plan.o_commitment[j]]][1]
            return f'[{{"cost_code": "{code}", "amount": "{_money(plan.o_amount[j])}"}}]'

        # Sage 100 Contractor®: the synced change orders of each purchase order, in order.
        po_changes: dict[int, list[int]] = {}
        if appends_po_changes:
            for j in synced_o:
                c = plan.o_commitment[j]
                if plan.c_kind[c] == Commitment.Kind.PURCHASE_ORDER:
                    po_changes.setdefault(c, []).append(j)

        def sandbox_rows():
            for i in synced_c:
                linked = plan.c_created[i] + timedelta(days=3)
                appended = ""
                if i in po_changes:
                    entries = ", ".join(
                        f'{{"change_order": "{o_erp(j)}", "number": "CO{plan.o_number[j]:03d}", '
                        f'"lines": {change_lines_json(j)}}}'
                        for j in po_changes[i]
                    )
                    appended = f', "change_orders": [{entries}]'
                data = (
                    f'{{"number": "{plan.c_number[i]}", "title": "{plan.c_title[i]}", '
                    f'"kind": "{plan.c_kind[i]}", "vendor": "{_json(vendor_name_by_id[plan.c_vendor[i]])}", '
                    f'"amount": "{_money(plan.c_amount[i])}", '
                    f'"project": "{project_number_by_id[plan.c_project[i]]}"{appended}}}'
                )
                yield (
                    s_first + c_rank[i],
                    COMMITMENT.slug,
                    c_erp(i),
                    f"{COMMITMENT.slug}-{c_first + i}",
                    data,
                    _ts(linked),
                    deleted_at if plan.c_missing[i] else None,
                    company.pk,
                )
            for i in synced_i:
                c = plan.i_commitment[i]
                period = plan.i_period[i]
                data = (
                    f'{{"number": "{plan.i_number[i]}", "commitment": "{c_erp(c)}", '
                    f'"vendor": "{_json(vendor_name_by_id[plan.c_vendor[c]])}", '
                    f'"period_start": "{period.isoformat()}", '
                    f'"period_end": "{_month_end(period).isoformat()}", '
                    f'"amount": "{_money(plan.i_amount[i])}"}}'
                )
                yield (
                    s_first + i_base + i_rank[i],
                    INVOICE.slug,
                    i_erp(i),
                    f"{INVOICE.slug}-{i_first + i}",
                    data,
                    _ts(_invoice_linked(plan, i)),
                    deleted_at if plan.i_missing[i] else None,
                    company.pk,
                )
            for j in synced_o:
                c = plan.o_commitment[j]
                data = (
                    f'{{"number": "CO{plan.o_number[j]:03d}", "title": "{_change_title(plan, j)}", '
                    f'"description": "{_json(_change_description(plan, j))}", "commitment": "{c_erp(c)}", '
                    f'"commitment_kind": "{plan.c_kind[c]}", '
                    f'"vendor": "{_json(vendor_name_by_id[plan.c_vendor[c]])}", '
                    f'"amount": "{_money(plan.o_amount[j])}", "lines": {change_lines_json(j)}}}'
                )
                yield (
                    s_first + o_base + o_rank[j],
                    CCO.slug,
                    o_erp(j),
                    f"{CCO.slug}-{o_first + j}",
                    data,
                    _ts(o_linked(j)),
                    deleted_at if plan.o_missing[j] else None,
                    company.pk,
                )

        with _BulkLoad(sandbox_alias, sandbox_table, n_links, log):
            _copy_rows(
                sandbox_alias,
                sandbox_table,
                [
                    "id",
                    "kind",
                    "erp_id",
                    "external_reference",
                    "data",
                    "created_at",
                    "deleted_at",
                    "company_id",
                ],
                sandbox_rows(),
            )
        lap(f"sandbox {erp_name} records")

        approver_id, pm_id = users["approver"].pk, users["pm"].pk

        # The links come before the records: each record's composite foreign key
        # (link_id, erp_id, linked_at) must find its link's very values.
        def link_rows():
            for i in synced_c:
                linked = _ts(plan.c_created[i] + timedelta(days=3))
                yield (l_first + c_rank[i], COMMITMENT.slug, c_first + i, company.pk, c_erp(i), linked,
                       approver_id, None, None, None)  # fmt: skip
            for i in synced_i:
                linked = _ts(_invoice_linked(plan, i))
                yield (l_first + i_base + i_rank[i], INVOICE.slug, i_first + i, company.pk, i_erp(i), linked,
                       approver_id, None, None, None)  # fmt: skip
            for j in synced_o:
                yield (l_first + o_base + o_rank[j], CCO.slug, o_first + j, company.pk, o_erp(j),
                       _ts(o_linked(j)), approver_id, None, None, None)  # fmt: skip

        with _BulkLoad("default", t_link, n_links, log):
            _copy_rows("default", t_link, LINK_COLUMNS, link_rows())
        lap("links")

        def commitment_rows():
            for i in range(n_c):
                state = plan.c_state[i]
                created = plan.c_created[i]
                sent = created + timedelta(days=1) if state != ExportState.DRAFT else None
                linked = created + timedelta(days=3) if state == ExportState.SYNCED else None
                if state == ExportState.SYNCED:
                    status = Commitment.Status.COMPLETE if i % 5 == 0 else Commitment.Status.APPROVED
                    if plan.c_kind[i] == Commitment.Kind.PURCHASE_ORDER:
                        status = Commitment.Status.APPROVED
                elif state == ExportState.DRAFT:
                    status = (Commitment.Status.DRAFT, Commitment.Status.OUT_FOR_BID)[i % 2]
                else:
                    status = Commitment.Status.APPROVED
                error = (
                    EXPORT_ERRORS[i % len(EXPORT_ERRORS)].format(
                        erp=erp_name, vendor=vendor_name_by_id[plan.c_vendor[i]]
                    )
                    if state == ExportState.FAILED
                    else ""
                )
                reason = (
                    REJECTION_REASONS[i % len(REJECTION_REASONS)] if state == ExportState.REJECTED else ""
                )
                yield (
                    c_first + i,
                    company.pk,
                    plan.c_project[i],
                    plan.c_vendor[i],
                    plan.c_number[i],
                    _money(plan.c_amount[i]),
                    state,
                    error,
                    reason,
                    _ts(sent) if sent else None,
                    pm_id if sent else None,
                    l_first + c_rank[i] if linked else None,
                    c_erp(i) if linked else None,
                    _ts(linked) if linked else None,
                    _ts(created),
                    _ts(linked or sent or created),
                    plan.c_kind[i],
                    plan.c_title[i],
                    status,
                )

        with _BulkLoad("default", t_commitment, n_c, log):
            _copy_rows(
                "default",
                t_commitment,
                [
                    "id",
                    "company_id",
                    "project_id",
                    "vendor_id",
                    *LINKED_RECORD_COLUMNS,
                    "kind",
                    "title",
                    "status",
                ],  # fmt: skip
                commitment_rows(),
            )
        lap("commitments")

        def line_rows():
            for i in range(n_c):
                trade = TRADES[plan.c_trade[i]]
                yield (line_first + i, c_first + i, trade[1], trade[2], _money(plan.c_amount[i]))

        with _BulkLoad("default", t_line, n_c, log):
            _copy_rows(
                "default", t_line, ["id", "commitment_id", "cost_code", "description", "amount"], line_rows()
            )
        lap("line items")

        def invoice_rows():
            for i in range(n_i):
                c = plan.i_commitment[i]
                state = plan.i_state[i]
                period = plan.i_period[i]
                created = datetime(period.year, period.month, 1, 12, tzinfo=UTC) + timedelta(days=31)
                sent = created + timedelta(days=1) if state != ExportState.DRAFT else None
                linked = _invoice_linked(plan, i) if state == ExportState.SYNCED else None
                amount = _money(plan.i_amount[i])
                if state == ExportState.DRAFT:
                    status = SubcontractorInvoice.Status.UNDER_REVIEW
                else:
                    status = (
                        SubcontractorInvoice.Status.APPROVED,
                        SubcontractorInvoice.Status.APPROVED_AS_NOTED,
                    )[i % 2]
                yield (
                    i_first + i,
                    company.pk,
                    plan.c_project[c],
                    plan.c_vendor[c],
                    c_first + c,
                    str(plan.i_number[i]),
                    amount,
                    state,
                    f"{erp_name} did not answer within 10 s." if state == ExportState.FAILED else "",
                    "",
                    _ts(sent) if sent else None,
                    pm_id if sent else None,
                    l_first + i_base + i_rank[i] if linked else None,
                    i_erp(i) if linked else None,
                    _ts(linked) if linked else None,
                    _ts(created),
                    _ts(linked or sent or created),
                    period.isoformat(),
                    _month_end(period).isoformat(),
                    _money(plan.i_amount[i] // 10),
                    status,
                )

        with _BulkLoad("default", t_invoice, n_i, log):
            _copy_rows(
                "default",
                t_invoice,
                [
                    "id",
                    "company_id",
                    "project_id",
                    "vendor_id",
                    "commitment_id",
                    *LINKED_RECORD_COLUMNS,
                    "billing_period_start",
                    "billing_period_end",
                    "retainage",
                    "status",
                ],  # fmt: skip
                invoice_rows(),
            )
        lap("subcontractor invoices")

        def change_order_rows():
            Status = CommitmentChangeOrder.Status
            for j in range(n_o):
                c = plan.o_commitment[j]
                state = plan.o_state[j]
                created = plan.o_created[j]
                sent = created + timedelta(days=1) if state != ExportState.DRAFT else None
                linked = o_linked(j) if state == ExportState.SYNCED else None
                status = (
                    (Status.DRAFT, Status.PENDING)[j % 2] if state == ExportState.DRAFT else Status.APPROVED
                )
                yield (
                    o_first + j,
                    company.pk,
                    plan.c_project[c],
                    plan.c_vendor[c],
                    c_first + c,
                    f"CO{plan.o_number[j]:03d}",
                    _money(plan.o_amount[j]),
                    state,
                    EXPORT_ERRORS[j % len(EXPORT_ERRORS)].format(
                        erp=erp_name, vendor=vendor_name_by_id[plan.c_vendor[c]]
                    )
                    if state == ExportState.FAILED
                    else "",
                    REJECTION_REASONS[j % len(REJECTION_REASONS)] if state == ExportState.REJECTED else "",
                    _ts(sent) if sent else None,
                    pm_id if sent else None,
                    l_first + o_base + o_rank[j] if linked else None,
                    o_erp(j) if linked else None,
                    _ts(linked) if linked else None,
                    _ts(created),
                    _ts(linked or sent or created),
                    _change_title(plan, j),
                    _change_description(plan, j),
                    status,
                )

        if n_o:
            with _BulkLoad("default", t_cco, n_o, log):
                _copy_rows(
                    "default",
                    t_cco,
                    [
                        "id",
                        "company_id",
                        "project_id",
                        "vendor_id",
                        "commitment_id",
                        *LINKED_RECORD_COLUMNS,
                        "title",
                        "description",
                        "status",
                    ],  # fmt: skip
                    change_order_rows(),
                )
            lap("commitment change orders")

            def change_line_rows():
                for j in range(n_o):
                    c = plan.o_commitment[j]
                    yield (
                        o_line_first + j,
                        o_first + j,
                        line_first + c,
                        _change_description(plan, j)[:255],
                        _money(plan.o_amount[j]),
                    )

            with _BulkLoad("default", t_cco_line, n_o, log):
                _copy_rows(
                    "default",
                    t_cco_line,
                    ["id", "change_order_id", "commitment_line_id", "description", "amount"],
                    change_line_rows(),
                )
            lap("change order lines")

        if spec.audit:

            def audit_rows():
                for i in range(n_c):
                    state = plan.c_state[i]
                    created = plan.c_created[i]
                    if state == ExportState.SYNCED:
                        row = (
                            "export",
                            "success",
                            c_erp(i),
                            f"Exported to {erp_name}.",
                            created + timedelta(days=3),
                        )
                    elif state == ExportState.FAILED:
                        row = ("export", "failed", "", "Export failed.", created + timedelta(days=2))
                    elif state == ExportState.REJECTED:
                        row = ("reject", "success", "", REJECTION_REASONS[i % 3], created + timedelta(days=2))
                    else:
                        continue
                    action, outcome, erp_id, message, at = row
                    yield (
                        company.pk, approver_id, action, AuditEntry.RecordType.COMMITMENT, c_first + i,
                        plan.c_number[i], spec.erp_system, erp_id, outcome, message, _ts(at),
                    )  # fmt: skip
                for i in synced_i:
                    yield (
                        company.pk, approver_id, "export", AuditEntry.RecordType.INVOICE, i_first + i,
                        str(plan.i_number[i]), spec.erp_system, i_erp(i), "success",
                        f"Exported to {erp_name}.", _ts(_invoice_linked(plan, i)),
                    )  # fmt: skip
                for j in range(n_o):
                    state = plan.o_state[j]
                    if state == ExportState.SYNCED:
                        row = ("export", "success", o_erp(j), f"Exported to {erp_name}.", o_linked(j))
                    elif state == ExportState.FAILED:
                        row = ("export", "failed", "", "Export failed.", o_linked(j))
                    elif state == ExportState.REJECTED:
                        row = ("reject", "success", "", REJECTION_REASONS[j % 3], o_linked(j))
                    else:
                        continue
                    action, outcome, erp_id, message, at = row
                    yield (
                        company.pk, approver_id, action, AuditEntry.RecordType.CCO, o_first + j,
                        f"CO{plan.o_number[j]:03d}", spec.erp_system, erp_id, outcome, message, _ts(at),
                    )  # fmt: skip

            audit_count = (
                n_links
                + sum(1 for s in plan.c_state if s in (ExportState.FAILED, ExportState.REJECTED))
                + sum(1 for s in plan.o_state if s in (ExportState.FAILED, ExportState.REJECTED))
            )
            with _BulkLoad("default", t_audit, audit_count, log):
                _copy_rows(
                    "default",
                    t_audit,
                    [
                        "company_id",
                        "user_id",
                        "action",
                        "record_type",
                        "record_id",
                        "record_number",
                        "erp_system",
                        "erp_id",
                        "outcome",
                        "message",
                        "created_at",
                    ],  # fmt: skip
                    audit_rows(),
                )
            lap("audit trail")

        # Deferred foreign keys are checked here, at commit.
    lap("commit (foreign keys checked)")

    _analyze(
        "default",
        [t_link, t_commitment, t_line, t_invoice, t_cco, t_cco_line, t_audit]
        + [Vendor._meta.db_table, "accounts_project"],
    )
    _analyze(sandbox_alias, [sandbox_table])
    lap("analyze")

    return LoadResult(
        company_id=company.pk,
        connection_id=erp_connection.pk,
        usernames={role: user.username for role, user in users.items()},
        commitments=n_c,
        invoices=n_i,
        change_orders=n_o,
        synced_commitments=len(synced_c),
        synced_invoices=len(synced_i),
        synced_change_orders=len(synced_o),
        missing_commitments=sum(plan.c_missing),
        missing_invoices=sum(plan.i_missing),
        missing_change_orders=sum(plan.o_missing),
        seconds=seconds,
    )


def _invoice_linked(plan: _Plan, i: int) -> datetime:
    period = plan.i_period[i]
    return datetime(period.year, period.month, 1, 12, tzinfo=UTC) + timedelta(days=34)


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _json(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _vendor_names(rng: random.Random, count: int) -> list[str]:
    names = [
        f"{surname} {trade} {suffix}"
        for surname in SURNAMES
        for trade, _code, _title in TRADES
        for suffix in VENDOR_SUFFIXES
        if len(f"{surname} {trade} {suffix}") <= 30
    ]
    rng.shuffle(names)
    if count > len(names):
        names += [f"Vendor {n:05d}" for n in range(count - len(names))]
    return sorted(names[:count])


def _analyze(alias: str, tables: list[str]) -> None:
    with connections[alias].cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


# --- reset ------------------------------------------------------------------------------------
def load_data_delete(*, company_slug: str, log: Callable[[str], None] = lambda _m: None) -> bool:
    """Delete a company and everything it owns, here and in both sandbox ERPs. False if absent.

    Tables that hold only this company's rows are truncated, which takes a moment
    where deleting a million rows one by one takes minutes.
    """
    company = Company.objects.filter(slug=company_slug).first()
    if company is None:
        return False
    cid = company.pk
    t_commitment = Commitment._meta.db_table
    t_line = CommitmentLineItem._meta.db_table
    t_invoice = SubcontractorInvoice._meta.db_table
    t_cco = CommitmentChangeOrder._meta.db_table
    t_cco_line = ChangeOrderLineItem._meta.db_table
    t_link = ErpLink._meta.db_table
    t_audit = AuditEntry._meta.db_table
    refs: list[str] = []
    with connections["default"].cursor() as cursor:
        # The external reference every ERP record of this company's records carries.
        for slug, table in ((COMMITMENT.slug, t_commitment), (INVOICE.slug, t_invoice), (CCO.slug, t_cco)):
            cursor.execute(f"SELECT %s || '-' || id FROM {table} WHERE company_id = %s", [slug, cid])
            refs += [r[0] for r in cursor.fetchall()]
    for erp_system in (ErpSystem.SAGE_300_CRE, ErpSystem.SAGE_100_CONTRACTOR):
        store = sandbox_model(erp_system)
        alias, table = store.database, store._meta.db_table
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE loadgen_refs (ref varchar(80) PRIMARY KEY) ON COMMIT DROP")
            with cursor.cursor.copy("COPY loadgen_refs (ref) FROM STDIN") as copy:
                for start in range(0, len(refs), CHUNK):
                    copy.write("\n".join(refs[start : start + CHUNK]) + "\n")
            cursor.execute(
                f"SELECT EXISTS (SELECT 1 FROM {table} s WHERE NOT EXISTS"
                " (SELECT 1 FROM loadgen_refs r WHERE r.ref = s.external_reference))"
            )
            if cursor.fetchone()[0]:
                cursor.execute(
                    f"DELETE FROM {table} s USING loadgen_refs r WHERE s.external_reference = r.ref"
                )
                log(f"  deleted {cursor.rowcount} records from the {ErpSystem(erp_system).label} sandbox")
            else:
                cursor.execute(f"TRUNCATE {table}")
                log(f"  emptied the {ErpSystem(erp_system).label} sandbox (only this company's records)")
        _vacuum(alias, [table])

    def only_this_company(cursor, table: str) -> bool:
        cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table} WHERE company_id <> %s)", [cid])
        return cursor.fetchone()[0]

    t_payment = InvoicePayment._meta.db_table
    with transaction.atomic(using="default"), connections["default"].cursor() as cursor:
        # What the sync's reconciliation found and imported for the company.
        for model in (Discrepancy, ReconciliationTotal, JobCostTransaction, InvoicePayment):
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE company_id = %s", [cid])
        truncated: set[str] = set()
        if only_this_company(cursor, t_audit):
            cursor.execute(f"TRUNCATE {t_audit}")
            truncated.add(t_audit)
        # The records and their links reference each other's tables: truncated together or not at all.
        record_tables = [t_payment, t_cco_line, t_cco, t_invoice, t_line, t_commitment, t_link]
        if all(only_this_company(cursor, table) for table in (t_commitment, t_invoice, t_cco, t_link)):
            cursor.execute(f"TRUNCATE {', '.join(record_tables)}")
            truncated |= set(record_tables)
        if truncated:
            log(f"  emptied {', '.join(sorted(truncated))} (only this company's rows)")
        statements = [
            (t_audit, "company_id = %s"),
            (t_cco_line, f"change_order_id IN (SELECT id FROM {t_cco} WHERE company_id = %s)"),
            (t_cco, "company_id = %s"),
            (t_invoice, "company_id = %s"),
            (t_line, f"commitment_id IN (SELECT id FROM {t_commitment} WHERE company_id = %s)"),
            (t_commitment, "company_id = %s"),
            # After the records, which point at their links.
            (t_link, "company_id = %s"),
            (
                "erp_integrations_syncrun",
                "connection_id IN (SELECT id FROM erp_integrations_erpconnection WHERE company_id = %s)",
            ),
            ("erp_integrations_erpconnection", "company_id = %s"),
            (Vendor._meta.db_table, "company_id = %s"),
            (
                ProjectPermission._meta.db_table,
                "project_id IN (SELECT id FROM accounts_project WHERE company_id = %s)",
            ),
            ("accounts_project", "company_id = %s"),
            (DirectoryMembership._meta.db_table, "company_id = %s"),
            ("accounts_privilegechange", "company_id = %s"),
            ("accounts_company", "id = %s"),
        ]
        for table, where in statements:
            if table in truncated:
                continue
            cursor.execute(f"DELETE FROM {table} WHERE {where}", [cid])
            if cursor.rowcount:
                log(f"  deleted {cursor.rowcount} rows from {table}")
    _vacuum("default", [table for table, _where in statements])
    return True


def _vacuum(alias: str, tables: list[str]) -> None:
    """Give the space of deleted rows back before the next load (not possible inside a transaction)."""
    connection = connections[alias]
    if connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")
