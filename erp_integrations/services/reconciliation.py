"""Reconciliation: where the ERP and the platform disagree, found by the hourly sync.

A sync run, after it has asked the ERP about every link, reads the ERP's side a page
at a time (outside any transaction of ours): every live ERP record of the company that
carries this platform's external reference, with its values (amount, line items total,
status, vendor, title), the costs posted to the company's jobs and the payments issued
against its requisitions. Each page goes straight into staging tables of the run's own
database session (temporary tables), so the process holds one page however large the
company is.

When the run completes, in the same transaction as its missing-marks, SQL compares the
staging tables with the links and records and replaces the company's findings at once:

* **drift**: a linked record whose ERP value differs, one row per field;
* **orphans**: an ERP record this platform made that no live link points at (its link
  was unlinked, or its export timed out and never linked it, or its record was deleted);
* **absent**: a record approved in the platform that is not in the ERP (never exported,
  or its ERP record was deleted);
* totals per project and measure (committed, change orders, invoiced, paid, job-to-date
  cost), platform and ERP side;
* the job costs and payments, imported as the ERP has them.

The Reconciliation page reads these rows and computes nothing. A run that fails while
reading the ERP never reaches that transaction, so every finding stays as the last
completed run left it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection as db_connection
from django.db.models import Q

from accounts.models import Project
from erp_integrations.connectors import ErpConnector, Page
from erp_integrations.kinds import BY_MODEL, KINDS, RecordKind
from erp_integrations.models import (
    Discrepancy,
    ErpLink,
    ExportState,
    InvoicePayment,
    JobCostTransaction,
    ReconciliationTotal,
    SyncRun,
)

logger = logging.getLogger(__name__)

#: The staging tables of a run (temporary: they live in the run's database session).
RECORDS_TABLE = "recon_erp_records"
COSTS_TABLE = "recon_erp_costs"
PAYMENTS_TABLE = "recon_erp_payments"

RECORD_COLUMNS = (
    "kind",
    "erp_id",
    "record_id",
    "reference",
    "number",
    "amount",
    "lines_total",
    "status",
    "vendor",
    "title",
)
COST_COLUMNS = ("erp_id", "job", "cost_code", "posted_on", "amount", "description")
PAYMENT_COLUMNS = ("erp_id", "requisition", "paid_on", "amount")

#: The totals that are not a record kind's: imported from the ERP only.
PAID = ("paid", "Paid")
JOB_COST = ("job_cost", "Job-to-date cost")


def project_job_id(project: Project) -> str:
    """The ERP's job id of a project: the job it is linked to (the Projects tab's Link,
    Export or Add to the platform), else its number, which is what the ERP knows it by
    until then."""
    return project.erp_job_id or project.number


def measures() -> list[tuple[str, str]]:
    """Every total the Reconciliation page shows, in its order."""
    return [*(kind.measure for kind in KINDS), PAID, JOB_COST]


@dataclass
class Staging:
    """What a run read of the ERP's side, held in the database session's temporary tables."""

    records_read: int = 0
    costs_read: int = 0
    payments_read: int = 0

    # --- the tables -------------------------------------------------------------------
    def create(self) -> None:
        self.drop()
        money = "numeric(16, 2)"
        text = "varchar(255)"
        with db_connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {RECORDS_TABLE} (kind varchar(20), erp_id varchar(40), "
                f"record_id bigint, reference varchar(80), number {text}, amount {money}, "
                f"lines_total {money}, status {text}, vendor {text}, title {text})"
            )
            cursor.execute(
                f"CREATE TEMPORARY TABLE {COSTS_TABLE} (erp_id varchar(40), job varchar(40), "
                f"cost_code varchar(30), posted_on date, amount {money}, description {text})"
            )
            cursor.execute(
                f"CREATE TEMPORARY TABLE {PAYMENTS_TABLE} (erp_id varchar(40), requisition varchar(40), "
                f"paid_on date, amount {money})"
            )

    def drop(self) -> None:
        with db_connection.cursor() as cursor:
            for table in (RECORDS_TABLE, COSTS_TABLE, PAYMENTS_TABLE):
                cursor.execute(f"DROP TABLE IF EXISTS {table}")

    def index(self) -> None:
        """Once everything is read: the index the comparisons join on, and fresh statistics."""
        with db_connection.cursor() as cursor:
            cursor.execute(f"CREATE INDEX recon_erp_records_key ON {RECORDS_TABLE} (kind, erp_id)")
            cursor.execute(f"CREATE INDEX recon_erp_records_record ON {RECORDS_TABLE} (kind, record_id)")
            cursor.execute(f"CREATE INDEX recon_erp_costs_job ON {COSTS_TABLE} (job)")
            if db_connection.vendor == "postgresql":
                # Autovacuum never analyzes a temporary table; the planner needs its size.
                cursor.execute(f"ANALYZE {RECORDS_TABLE}")
                cursor.execute(f"ANALYZE {COSTS_TABLE}")
                cursor.execute(f"ANALYZE {PAYMENTS_TABLE}")

    def _write(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        with db_connection.cursor() as cursor:
            if db_connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)  # noqa: S608

    # --- reading the ERP ----------------------------------------------------------------
    def read(self, run: SyncRun, connector: ErpConnector) -> None:
        """Read the company's side of the ERP into the staging tables, a page at a time.

        Raises what the connector raises (``ErpError``): the caller's run then fails
        before anything it found is written.
        """
        company_id = run.connection.company_id
        size = settings.SYNC_BATCH_SIZE
        for kind in KINDS:

            def fetch(after: int, kind: RecordKind = kind) -> Page:
                return connector.records(kind.slug, company_id=company_id, after=after, limit=size)

            for page in _pages(fetch):
                if not page.rows:
                    continue
                record_id = kind.record_id_of_reference
                self._write(
                    RECORDS_TABLE,
                    RECORD_COLUMNS,
                    [
                        (
                            kind.slug,
                            erp_id,
                            record_id(reference),
                            reference,
                            _text(number),
                            amount,
                            lines_total,
                            _text(status),
                            _text(vendor),
                            _text(title),
                        )
                        for erp_id, reference, number, amount, lines_total, status, vendor, title in page.rows
                    ],
                )
                self.records_read += len(page.rows)
                SyncRun.objects.filter(pk=run.pk).update(erp_records_read=self.records_read)
        for page in _pages(
            lambda after: connector.cost_transactions(company_id=company_id, after=after, limit=size)
        ):
            self._write(
                COSTS_TABLE,
                COST_COLUMNS,
                [
                    (c.erp_id, c.job, c.cost_code, c.posted_on, c.amount, _text(c.description))
                    for c in page.rows
                ],
            )
            self.costs_read += len(page.rows)
        for page in _pages(lambda after: connector.payments(company_id=company_id, after=after, limit=size)):
            self._write(
                PAYMENTS_TABLE,
                PAYMENT_COLUMNS,
                [(p.erp_id, p.requisition, p.paid_on, p.amount) for p in page.rows],
            )
            self.payments_read += len(page.rows)
        self.index()


def _pages(fetch) -> Iterator[Page]:
    after = 0
    while True:
        page = fetch(after)
        yield page
        if page.next_after is None:
            return
        after = page.next_after


def _text(value) -> str | None:
    """A value as the staging table keeps it (text columns are 255 characters)."""
    if value is None or (value.__class__ is str and len(value) <= 255):
        return value
    return str(value)[:255]


# --- recording what the run found --------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    drift: int
    orphans: int
    absent: int


def reconciliation_record(*, run: SyncRun) -> Found:
    """Replace the company's findings with this run's; inside the run's final transaction.

    The staging tables hold the ERP's side (``Staging.read``); the links hold the marks
    this run has just written, so a record found missing counts as absent now.
    """
    company_id = run.connection.company_id
    Discrepancy.objects.filter(company_id=company_id).delete()
    ReconciliationTotal.objects.filter(company_id=company_id).delete()
    with db_connection.cursor() as cursor:
        for kind in KINDS:
            _insert_drift(cursor, run, kind)
            _insert_orphans(cursor, run, kind)
            _insert_absent(cursor, run, kind)
        _import_job_costs(cursor, company_id)
        _import_payments(cursor, company_id)
    _record_totals(run)
    if db_connection.vendor == "postgresql":
        # The table was just rewritten; the page's plans should know its new size now
        # rather than when autovacuum next comes by.
        with db_connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {_table(Discrepancy)}")
    found = Discrepancy.objects.filter(company_id=company_id)
    return Found(
        drift=found.filter(category=Discrepancy.Category.DRIFT)
        .values("kind", "record_id")
        .distinct()
        .count(),
        orphans=found.filter(category=Discrepancy.Category.ORPHAN).count(),
        absent=found.filter(category=Discrepancy.Category.ABSENT).count(),
    )


DISCREPANCY_COLUMNS = (
    "company_id",
    "project_id",
    "category",
    "kind",
    "rank",
    "record_id",
    "number",
    "erp_id",
    "field",
    "platform_value",
    "erp_value",
    "platform_amount",
    "erp_amount",
    "relinkable",
    "external_reference",
    "found_by_id",
)


def _table(model) -> str:
    return db_connection.ops.quote_name(model._meta.db_table)


def _insert(cursor, select: str, params: Iterable) -> None:
    sql = f"INSERT INTO {_table(Discrepancy)} ({', '.join(DISCREPANCY_COLUMNS)}) {select}"
    cursor.execute(sql, list(params))


def _linked_records(kind: RecordKind, run: SyncRun):
    """The company's records linked when the run started (the links the run judged)."""
    # No ORDER BY: the models' default ordering would join and sort every record.
    return kind.model.objects.filter(
        company_id=run.connection.company_id,
        link__isnull=False,
        link__unlinked_at__isnull=True,
        link__linked_at__lte=run.started_at,
    ).order_by()


DRIFT_TABLE = "recon_drift"


def _differs(reconciled, platform: str, erp: str) -> str:
    """SQL: the ERP reports a value for this field, and it is not the platform's."""
    if reconciled.money:
        return f"({erp} IS NOT NULL AND ABS(COALESCE({platform}, 0) - {erp}) >= 0.005)"
    return f"({erp} IS NOT NULL AND COALESCE({platform}, '') <> {erp})"


def _insert_drift(cursor, run: SyncRun, kind: RecordKind) -> None:
    """One row per field of a linked record whose ERP value differs from the platform's.

    The records are joined with the ERP's values once per kind, keeping only those where
    some field differs (a few, usually); each field's rows are then taken from those.
    """
    fields = kind.reconciled_fields
    if not fields:
        return
    platform = (
        _linked_records(kind, run)
        .annotate(**{f"p_{f.name}": f.platform() for f in fields})
        .values_list("id", "project_id", "number", "erp_id", *(f"p_{f.name}" for f in fields))
    )
    inner, inner_params = platform.query.sql_with_params()
    columns = ", ".join(f"e.{f.name} AS e_{f.name}" for f in fields)
    any_differs = " OR ".join(_differs(f, f"p.p_{f.name}", f"e.{f.name}") for f in fields)
    cursor.execute(f"DROP TABLE IF EXISTS {DRIFT_TABLE}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {DRIFT_TABLE} AS SELECT p.*, {columns} "  # noqa: S608
        f"FROM ({inner}) AS p JOIN {RECORDS_TABLE} AS e ON e.kind = %s AND e.erp_id = p.erp_id "
        f"WHERE {any_differs}",
        [*inner_params, kind.slug],
    )
    for reconciled in fields:
        platform_value, erp_value = f"d.p_{reconciled.name}", f"d.e_{reconciled.name}"
        if reconciled.money:
            values = f"'', '', COALESCE({platform_value}, 0), {erp_value}"
        else:
            values = f"COALESCE({platform_value}, ''), {erp_value}, NULL, NULL"
        select = (
            f"SELECT %s, d.project_id, %s, %s, %s, d.id, d.number, d.erp_id, %s, {values}, %s, '', %s "  # noqa: S608
            f"FROM {DRIFT_TABLE} AS d WHERE {_differs(reconciled, platform_value, erp_value)}"
        )
        params = [
            run.connection.company_id,
            Discrepancy.Category.DRIFT.value,
            kind.slug,
            kind.reconciliation_rank,
            reconciled.name,
            False,
            run.pk,
        ]
        _insert(cursor, select, params)
    cursor.execute(f"DROP TABLE {DRIFT_TABLE}")


def _insert_orphans(cursor, run: SyncRun, kind: RecordKind) -> None:
    """ERP records carrying this platform's reference that no live link points at.

    Left out: a record whose export is under way or waiting (ready: its export links the
    ERP record it finds by reference), and an ERP record whose link was unlinked while
    the run read the ERP (the unlink saw it deleted; the run may have read it earlier).
    """
    company_id = run.connection.company_id
    records = _table(kind.model)
    links = _table(ErpLink)
    select = (
        "SELECT %s, r.project_id, %s, %s, %s, r.id, COALESCE(r.number, e.number, ''), e.erp_id, '', '', '', "  # noqa: S608
        "NULL, e.amount, (r.id IS NOT NULL AND r.link_id IS NULL), e.reference, %s "
        f"FROM {RECORDS_TABLE} AS e LEFT JOIN {records} AS r ON r.id = e.record_id AND r.company_id = %s "
        "WHERE e.kind = %s AND (r.id IS NULL OR r.export_state <> %s) "
        f"AND NOT EXISTS (SELECT 1 FROM {links} AS l WHERE l.company_id = %s AND l.kind = %s "
        "AND l.erp_id = e.erp_id AND l.unlinked_at IS NULL) "
        f"AND NOT EXISTS (SELECT 1 FROM {links} AS u WHERE u.kind = %s AND u.record_id = e.record_id "
        "AND u.erp_id = e.erp_id AND u.unlinked_at >= %s)"
    )
    params = [
        company_id,
        Discrepancy.Category.ORPHAN.value,
        kind.slug,
        kind.reconciliation_rank,
        run.pk,
        company_id,
        kind.slug,
        ExportState.READY.value,
        company_id,
        kind.slug,
        kind.slug,
        run.started_at,
    ]
    _insert(cursor, select, params)


def _insert_absent(cursor, run: SyncRun, kind: RecordKind) -> None:
    """Records approved in the platform that the ERP does not hold: never exported, or
    exported and deleted there (the run's own missing-marks are already written)."""
    approved = (
        kind.model.objects.filter(company_id=run.connection.company_id, status__in=kind.approved_statuses)
        .filter(Q(link__isnull=True) | Q(link__missing_since__isnull=False))
        .order_by()
        .values_list("id", "project_id", "number", "erp_id", "amount")
    )
    inner, inner_params = approved.query.sql_with_params()
    # An ERP record made for it that nothing links is listed among the orphans instead.
    select = (
        "SELECT %s, p.project_id, %s, %s, %s, p.id, p.number, COALESCE(p.erp_id, ''), '', '', '', "  # noqa: S608
        f"p.amount, NULL, %s, '', %s FROM ({inner}) AS p "
        f"WHERE NOT EXISTS (SELECT 1 FROM {RECORDS_TABLE} AS e WHERE e.kind = %s AND e.record_id = p.id)"
    )
    params = [
        run.connection.company_id,
        Discrepancy.Category.ABSENT.value,
        kind.slug,
        kind.reconciliation_rank,
        False,
        run.pk,
        *inner_params,
        kind.slug,
    ]
    _insert(cursor, select, params)


def _import_job_costs(cursor, company_id: int) -> None:
    """The ERP's costs of the company's jobs, replacing what the last run imported."""
    JobCostTransaction.objects.filter(company_id=company_id).delete()
    costs = _table(JobCostTransaction)
    projects = _table(Project)
    cursor.execute(
        f"INSERT INTO {costs} (company_id, project_id, erp_id, cost_code, posted_on, amount, description) "  # noqa: S608
        f"SELECT %s, p.id, s.erp_id, s.cost_code, s.posted_on, s.amount, COALESCE(s.description, '') "
        f"FROM {COSTS_TABLE} AS s JOIN {projects} AS p "
        # A project's job: the ERP job it is linked to, else its number (project_job_id).
        "ON p.company_id = %s AND COALESCE(p.erp_job_id, p.number) = s.job",
        [company_id, company_id],
    )


def _import_payments(cursor, company_id: int) -> None:
    """The payments the ERP issued against the company's linked invoices."""
    InvoicePayment.objects.filter(company_id=company_id).delete()
    invoice_kind = _payments_kind()
    payments = _table(InvoicePayment)
    invoices = _table(invoice_kind.model)
    cursor.execute(
        f"INSERT INTO {payments} (company_id, project_id, invoice_id, erp_id, paid_on, amount) "  # noqa: S608
        f"SELECT %s, i.project_id, i.id, s.erp_id, s.paid_on, s.amount "
        f"FROM {PAYMENTS_TABLE} AS s JOIN {invoices} AS i ON i.company_id = %s AND i.erp_id = s.requisition",
        [company_id, company_id],
    )


def _payments_kind() -> RecordKind:
    """The kind the ERP pays (its requisitions): the model payments belong to."""
    return BY_MODEL[InvoicePayment._meta.get_field("invoice").related_model]


def _record_totals(run: SyncRun) -> None:
    """Totals per project and measure: a few rows per project, however many records."""
    company_id = run.connection.company_id
    totals: dict[tuple[int | None, str], ReconciliationTotal] = {}

    def total(project_id: int | None, measure: str) -> ReconciliationTotal:
        key = (project_id, measure)
        if key not in totals:
            totals[key] = ReconciliationTotal(
                company_id=company_id, project_id=project_id, measure=measure, run=run
            )
        return totals[key]

    with db_connection.cursor() as cursor:
        for kind in KINDS:
            measure = kind.measure[0]
            records = _table(kind.model)
            cursor.execute(
                f"SELECT project_id, COUNT(*), SUM(amount) FROM {records} "  # noqa: S608
                "WHERE company_id = %s AND export_state = %s GROUP BY project_id",
                [company_id, ExportState.SYNCED.value],
            )
            for project_id, count, amount in cursor.fetchall():
                row = total(project_id, measure)
                row.platform_count, row.platform_total = count, _money(amount)
            cursor.execute(
                f"SELECT r.project_id, COUNT(*), SUM(e.amount) FROM {RECORDS_TABLE} AS e "  # noqa: S608
                f"LEFT JOIN {records} AS r ON r.id = e.record_id AND r.company_id = %s "
                "WHERE e.kind = %s GROUP BY r.project_id",
                [company_id, kind.slug],
            )
            for project_id, count, amount in cursor.fetchall():
                row = total(project_id, measure)
                row.erp_count, row.erp_total = count, _money(amount)
            # What the page's lists count, per project, list and field.
            cursor.execute(
                f"SELECT project_id, category, field, COUNT(*), SUM(platform_amount) "  # noqa: S608
                f"FROM {_table(Discrepancy)} WHERE company_id = %s AND kind = %s "
                "GROUP BY project_id, category, field",
                [company_id, kind.slug],
            )
            for project_id, category, field_name, count, amount in cursor.fetchall():
                row = total(project_id, measure)
                if category == Discrepancy.Category.ABSENT:
                    row.absent_count, row.absent_total = count, _money(amount)
                elif category == Discrepancy.Category.ORPHAN:
                    row.orphan_count = count
                else:
                    row.drift_count += count
                    row.drift_fields = {**row.drift_fields, field_name: count}
        for model, measure in ((InvoicePayment, PAID[0]), (JobCostTransaction, JOB_COST[0])):
            cursor.execute(
                f"SELECT project_id, COUNT(*), SUM(amount) FROM {_table(model)} "  # noqa: S608
                "WHERE company_id = %s GROUP BY project_id",
                [company_id],
            )
            for project_id, count, amount in cursor.fetchall():
                row = total(project_id, measure)
                row.erp_count, row.erp_total = count, _money(amount)
    ReconciliationTotal.objects.bulk_create(totals.values())


def _money(value) -> Decimal:
    if value is None:
        return Decimal("0.00")
    return Decimal(str(value)).quantize(Decimal("0.01"))
