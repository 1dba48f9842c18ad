"""Connectors for Sage 300 CRE® and Sage 100 Contractor®, backed by the sandbox stores.

The sandbox behaves like the ERP it stands for: its own id formats and words, its own
field limits, and a fault switch (offline, slow) read on every call.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, connections, transaction

from erp_integrations.connectors.base import (
    ErpConnector,
    ErpCostTransaction,
    ErpError,
    ErpMasterRecord,
    ErpPayment,
    ErpRecordValues,
    ErpTimeout,
    ErpUnavailable,
    Page,
    ValidationProblem,
)
from erp_integrations.models import Commitment, CommitmentChangeOrder, ErpSystem, SubcontractorInvoice
from erp_integrations.sandbox.formats import FORMATS
from erp_integrations.sandbox.models import SandboxRecord, SandboxSwitch
from erp_integrations.sandbox.services import (
    COST_STORES,
    PAYMENT_STORES,
    SandboxError,
    sandbox_job_mask,
    sandbox_master_add,
    sandbox_model,
    sandbox_switch,
)

MAX_NUMBER = 12
MAX_TITLE = 30
MAX_VENDOR_NAME = 30
MAX_CCO_TITLE = 30


def _too_long(field: str, value: str, limit: int, erp: str) -> list[ValidationProblem]:
    if len(value) > limit:
        return [
            ValidationProblem(field, f"must be at most {limit} characters in {erp} (it has {len(value)}).")
        ]
    return []


def _problems(pairs: list[tuple[str, str]]) -> list[ValidationProblem]:
    return [ValidationProblem(field, message) for field, message in pairs]


class SandboxConnector(ErpConnector):
    #: ERP id formats per record kind, filled with the sandbox row's own sequence number.
    id_formats: dict[str, str]
    #: The longest CCO number the ERP takes.
    max_cco_number: int
    #: Keys of a record's data the ERP keeps when the platform exports the record again.
    kept_on_update: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.model: type[SandboxRecord] = sandbox_model(self.erp_system)
        self.alias = self.model.database

    # --- faults ------------------------------------------------------------------
    def _answer_delay(self) -> float:
        """Raise if the ERP is offline; else how long it takes to answer, in seconds."""
        switch = sandbox_switch(self.erp_system)
        if switch.mode == SandboxSwitch.Mode.OFFLINE:
            raise ErpUnavailable(f"{self.display_name} is not responding. Try again later.")
        if switch.mode == SandboxSwitch.Mode.SLOW:
            return switch.latency_ms / 1000
        return 0.0

    def _wait(self, delay: float) -> None:
        """Answer after ``delay``; past the timeout the caller gives up waiting."""
        timeout = settings.ERP_TIMEOUT_SECONDS
        if delay > timeout:
            time.sleep(timeout)
            raise ErpTimeout(f"{self.display_name} did not answer within {timeout:g} s.")
        if delay:
            time.sleep(delay)

    # --- validation --------------------------------------------------------------
    def validate_commitment(self, commitment: Commitment) -> list[ValidationProblem]:
        erp = self.display_name
        return [
            *_too_long("number", commitment.number, MAX_NUMBER, erp),
            *_too_long("title", commitment.title, MAX_TITLE, erp),
            *_too_long("vendor", commitment.vendor.name, MAX_VENDOR_NAME, erp),
        ]

    def validate_invoice(self, invoice: SubcontractorInvoice) -> list[ValidationProblem]:
        erp = self.display_name
        problems = [
            *_too_long("number", invoice.number, MAX_NUMBER, erp),
            *_too_long("vendor", invoice.vendor.name, MAX_VENDOR_NAME, erp),
        ]
        if invoice.commitment.erp_id is None:
            problems.append(
                ValidationProblem(
                    "commitment",
                    f"subcontract {invoice.commitment.number} must be synced with {erp} first.",
                )
            )
        return problems

    def validate_cco(self, change_order: CommitmentChangeOrder) -> list[ValidationProblem]:
        erp = self.display_name
        problems = [
            *_too_long("number", change_order.number, self.max_cco_number, erp),
            *_too_long("title", change_order.title, MAX_CCO_TITLE, erp),
        ]
        if change_order.commitment.erp_id is None:
            problems.append(
                ValidationProblem(
                    "commitment", f"{change_order.commitment.number} must be synced with {erp} first."
                )
            )
        if not change_order.line_items.exists():
            problems.append(ValidationProblem("line_items", f"{erp} needs at least one changed line."))
        return problems

    # --- export ------------------------------------------------------------------
    def export(self, kind, record) -> str:
        return self._export(
            kind.slug, kind.external_reference(record), kind.erp_payload(record), record.company_id
        )

    def _export(self, kind: str, reference: str, data: dict, company_id: int) -> str:
        delay = self._answer_delay()
        records = self.model.objects.using(self.alias)
        live = records.filter(kind=kind, external_reference=reference, deleted_at__isnull=True)
        try:
            with transaction.atomic(using=self.alias):
                existing = live.select_for_update().first()
                if existing is not None:
                    # What the ERP added to the record itself stays (a PO's change orders).
                    kept = {key: existing.data[key] for key in self.kept_on_update if key in existing.data}
                    data = {**data, **kept}
                    # A previous try made it (and perhaps timed out before we heard the id):
                    # bring it up to date with what is exported now, as an upsert by
                    # external reference does, instead of making a second record.
                    if existing.data != data or existing.company_id != company_id:
                        live.filter(pk=existing.pk).update(data=data, company_id=company_id)
                    erp_id = existing.erp_id
                else:
                    record = records.create(
                        kind=kind,
                        erp_id=f"pending-{reference}",
                        external_reference=reference,
                        data=data,
                        company_id=company_id,
                    )
                    record.erp_id = self.id_formats[kind].format(n=record.pk)
                    record.save(update_fields=["erp_id"], using=self.alias)
                    erp_id = record.erp_id
        except IntegrityError:
            # Another attempt for the same record won the race; it made the ERP record.
            winner = live.first()
            if winner is None:
                raise ErpError(f"{self.display_name} refused the record; try again.") from None
            erp_id = winner.erp_id
        self._wait(delay)
        return erp_id

    # --- master data ---------------------------------------------------------------
    def master_records(self, kind: str) -> list[ErpMasterRecord]:
        delay = self._answer_delay()
        rows = (
            self.model.objects.using(self.alias)
            .filter(kind=kind, deleted_at__isnull=True)
            .order_by("id")
            .values_list("erp_id", "data")
        )
        found = [
            ErpMasterRecord(erp_id, data.get("name", ""), {k: v for k, v in data.items() if k != "name"})
            for erp_id, data in rows.iterator(chunk_size=5000)
        ]
        self._wait(delay)
        return found

    # The ERP's own format, checked before it is called to create anything. ``values``:
    # a job's ``id``; a vendor's ``id`` and ``type``; a cost code's ``code`` and
    # ``class``; and the ``name`` (a cost code's description) of each.
    def validate_job(self, values: dict) -> list[ValidationProblem]:
        rules = FORMATS[self.erp_system]
        self._answer_delay()  # the job mask is the ERP's own setting
        problems = rules.job_id_problems(values.get("id", ""), mask=sandbox_job_mask(self.erp_system))
        return _problems(problems + rules.name_problems(values.get("name", "")))

    def validate_vendor(self, values: dict) -> list[ValidationProblem]:
        rules = FORMATS[self.erp_system]
        problems = rules.vendor_problems(values.get("id", ""), values.get("type", ""))
        return _problems(problems + rules.name_problems(values.get("name", "")))

    def validate_cost_code(self, values: dict) -> list[ValidationProblem]:
        rules = FORMATS[self.erp_system]
        problems = rules.cost_code_problems(values.get("code", ""), values.get("class", ""))
        return _problems(problems + rules.name_problems(values.get("name", ""), field="description"))

    def master_export(self, kind: str, *, reference: str, values: dict) -> str:
        delay = self._answer_delay()
        live = self.model.objects.using(self.alias).filter(
            kind=kind, external_reference=reference, deleted_at__isnull=True
        )
        existing = live.values_list("erp_id", flat=True).first()
        if existing is None:
            try:
                existing = sandbox_master_add(
                    erp_system=self.erp_system, kind=kind, values=values, external_reference=reference
                ).erp_id
            except SandboxError as exc:
                # Another try for the same platform record may have won the race.
                existing = live.values_list("erp_id", flat=True).first()
                if existing is None:
                    raise ErpError(str(exc)) from None
        self._wait(delay)
        return existing

    # --- sync --------------------------------------------------------------------
    def existing_ids(self, kind: str, erp_ids: Iterable[str]) -> set[str]:
        delay = self._answer_delay()
        ids = list(erp_ids)
        found = self._live_ids(kind, ids) if ids else set()
        self._wait(delay)
        return found

    def _live_ids(self, kind: str, ids: list[str]) -> set[str]:
        connection = connections[self.alias]
        if connection.vendor == "postgresql":
            # Joined from an array, PostgreSQL probes the erp_id index once per id. Given
            # a long IN list instead, it scans the whole store once per sync batch, which
            # makes a sync of a million links quadratic.
            table = connection.ops.quote_name(self.model._meta.db_table)
            sql = (
                f"SELECT r.erp_id FROM unnest(string_to_array(%s, E'\\n')) AS q(erp_id) JOIN {table} AS r "  # noqa: S608
                "ON r.erp_id = q.erp_id WHERE r.kind = %s AND r.deleted_at IS NULL"
            )
            # One text parameter rather than an array of thousands: quoting each id as an
            # array element took about a quarter of a batch. ERP ids hold no newline.
            with connection.cursor() as cursor:
                cursor.execute(sql, ["\n".join(ids), kind])
                return {erp_id for (erp_id,) in cursor.fetchall()}
        return set(
            self.model.objects.using(self.alias)
            .filter(kind=kind, erp_id__in=ids, deleted_at__isnull=True)
            .values_list("erp_id", flat=True)
        )

    # --- reconciliation -------------------------------------------------------------
    def records(self, kind: str, *, company_id: int, after: int, limit: int) -> Page[ErpRecordValues]:
        delay = self._answer_delay()
        connection = connections[self.alias]
        if connection.vendor == "postgresql":
            rows = self._records_postgresql(connection, kind, company_id, after, limit)
        else:
            rows = [
                (pk, erp_id, reference, *_values(data))
                for pk, erp_id, reference, data in self.model.objects.using(self.alias)
                .filter(company_id=company_id, kind=kind, deleted_at__isnull=True, id__gt=after)
                .exclude(external_reference="")
                .order_by("id")
                .values_list("id", "erp_id", "external_reference", "data")[:limit]
            ]
        self._wait(delay)
        values = [ErpRecordValues(*row[1:]) for row in rows]
        return Page(values, rows[-1][0] if len(rows) == limit else None)

    def _records_postgresql(self, connection, kind: str, company_id: int, after: int, limit: int) -> list:
        # The values are taken out of the JSON by PostgreSQL: decoding every document in
        # Python cost more than the rest of a page.
        table = connection.ops.quote_name(self.model._meta.db_table)
        sql = (
            "SELECT id, erp_id, external_reference, data->>'number', "  # noqa: S608 - table from the model
            "CASE WHEN data->>'amount' ~ '^-?[0-9]+(\\.[0-9]+)?$' THEN (data->>'amount')::numeric END, "
            "CASE WHEN jsonb_typeof(data->'lines') = 'array' THEN "
            "(SELECT sum((l->>'amount')::numeric) FROM jsonb_array_elements(data->'lines') AS l) END, "
            "data->>'status', data->>'vendor', data->>'title' "
            f"FROM {table} WHERE company_id = %s AND kind = %s AND deleted_at IS NULL "
            "AND external_reference <> '' AND id > %s ORDER BY id LIMIT %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [company_id, kind, after, limit])
            return cursor.fetchall()

    def cost_transactions(self, *, company_id: int, after: int, limit: int) -> Page[ErpCostTransaction]:
        delay = self._answer_delay()
        model = COST_STORES[self.erp_system]
        rows = list(
            model.objects.using(model.database)
            .filter(company_id=company_id, id__gt=after)
            .order_by("id")
            .values_list("id", "erp_id", "job", "cost_code", "posted_on", "amount", "description")[:limit]
        )
        self._wait(delay)
        next_after = rows[-1][0] if len(rows) == limit else None
        return Page([ErpCostTransaction(*row[1:]) for row in rows], next_after)

    def payments(self, *, company_id: int, after: int, limit: int) -> Page[ErpPayment]:
        delay = self._answer_delay()
        model = PAYMENT_STORES[self.erp_system]
        rows = list(
            model.objects.using(model.database)
            .filter(company_id=company_id, id__gt=after)
            .order_by("id")
            .values_list("id", "erp_id", "requisition", "paid_on", "amount")[:limit]
        )
        self._wait(delay)
        return Page([ErpPayment(*row[1:]) for row in rows], rows[-1][0] if len(rows) == limit else None)


def _decimal(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _values(data: dict) -> tuple:
    """(number, amount, lines total, status, vendor, title) of a record's data, as PostgreSQL reads them."""
    lines = data.get("lines")
    lines_total = None
    if isinstance(lines, list):
        amounts = [_decimal(line.get("amount")) for line in lines if isinstance(line, dict)]
        lines_total = sum((a for a in amounts if a is not None), Decimal(0)) if amounts else None
    return (
        data.get("number"),
        _decimal(data.get("amount")),
        lines_total,
        data.get("status"),
        data.get("vendor"),
        data.get("title"),
    )


class Sage300CreConnector(SandboxConnector):
    erp_system = ErpSystem.SAGE_300_CRE.value
    display_name = ErpSystem.SAGE_300_CRE.label
    id_formats = {"commitment": "JC-{n:07d}", "invoice": "AP-REQ-{n:07d}", "cco": "CCO-{n:07d}"}
    max_cco_number = 5

    def validate_commitment(self, commitment: Commitment) -> list[ValidationProblem]:
        erp = self.display_name
        problems = super().validate_commitment(commitment)
        Status = Commitment.Status
        if commitment.kind == Commitment.Kind.PURCHASE_ORDER and commitment.status != Status.APPROVED:
            problems.append(
                ValidationProblem("status", f"a purchase order must be 'Approved' to export to {erp}.")
            )
        if commitment.kind == Commitment.Kind.SUBCONTRACT and commitment.status not in (
            Status.APPROVED,
            Status.COMPLETE,
        ):
            problems.append(
                ValidationProblem(
                    "status", f"a subcontract must be 'Approved' or 'Complete' to export to {erp}."
                )
            )
        if not any(item.cost_code for item in commitment.line_items.all()):
            problems.append(
                ValidationProblem("line_items", f"{erp} needs at least one line item with a cost code.")
            )
        return problems

    def validate_invoice(self, invoice: SubcontractorInvoice) -> list[ValidationProblem]:
        problems = super().validate_invoice(invoice)
        Status = SubcontractorInvoice.Status
        if invoice.status not in (Status.APPROVED, Status.APPROVED_AS_NOTED, Status.PENDING_OWNER_APPROVAL):
            problems.append(
                ValidationProblem(
                    "status",
                    "an invoice must be 'Approved', 'Approved as Noted' or 'Pending Owner Approval' "
                    f"to export to {self.display_name}.",
                )
            )
        return problems


class Sage100ContractorConnector(SandboxConnector):
    erp_system = ErpSystem.SAGE_100_CONTRACTOR.value
    display_name = ErpSystem.SAGE_100_CONTRACTOR.label
    id_formats = {"commitment": "SC{n:06d}", "invoice": "RQ{n:06d}", "cco": "CO{n:06d}"}
    max_cco_number = 12
    kept_on_update = ("change_orders",)

    def _export(self, kind: str, reference: str, data: dict, company_id: int) -> str:
        """As every ERP does; and a change to a purchase order is appended to that PO.

        In Sage 100 Contractor® a purchase order's change order is kept on the PO
        itself: its lines are added to the PO's, marked with the change order's id.
        """
        erp_id = super()._export(kind, reference, data, company_id)
        if data.get("commitment_kind") == Commitment.Kind.PURCHASE_ORDER and data.get("commitment"):
            self._append_to_purchase_order(data["commitment"], erp_id, data)
        return erp_id

    def _append_to_purchase_order(self, po_erp_id: str, change_erp_id: str, data: dict) -> None:
        records = self.model.objects.using(self.alias)
        with transaction.atomic(using=self.alias):
            po = records.select_for_update().filter(erp_id=po_erp_id).first()
            if po is None:
                return
            appended = [
                line for line in po.data.get("change_orders", []) if line.get("change_order") != change_erp_id
            ]
            appended.append(
                {"change_order": change_erp_id, "number": data["number"], "lines": data.get("lines", [])}
            )
            records.filter(pk=po.pk).update(data={**po.data, "change_orders": appended})


CONNECTORS: dict[str, ErpConnector] = {
    ErpSystem.SAGE_300_CRE.value: Sage300CreConnector(),
    ErpSystem.SAGE_100_CONTRACTOR.value: Sage100ContractorConnector(),
}
