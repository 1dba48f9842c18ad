"""The record kinds the tool exports, links, syncs and unlinks: one entry per kind.

Everything that differs between commitments, subcontractor invoices and commitment
change orders is written here, once, as data: the model, the nouns (the platform's
and each ERP's), the tab and its list titles, the pages of the project's Commitments
tool, the claim namespace of an export, the parent a record belongs to and the children
that must be unlinked before it, the editable fields and form, the connector
operations, the audit label, the columns a list sorts and searches by, and how a row
reads. Tabs, list pages, row actions, the send / export / reject / unlink services,
the sync, the selectors and the audit trail are built from these entries; no other
module asks which kind a record is.

Adding a kind: its model (a ``LinkedRecord``), its form, its connector operations
(``validate_<slug>`` on each connector, and what it sends: ``erp_payload``), then one
``RecordKind`` below and its place in ``KINDS``. See the README's "Adding a record kind".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.db.models import F, OuterRef, Subquery, Sum
from django.db.models.expressions import BaseExpression
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils.module_loading import import_string

from erp_integrations.models import (
    AuditEntry,
    ChangeOrderLineItem,
    Commitment,
    CommitmentChangeOrder,
    CommitmentLineItem,
    ErpSystem,
    LinkedRecord,
    SubcontractorInvoice,
)

#: How much of a CCO's description the ERPs keep.
ERP_DESCRIPTION_LIMIT = 1000


@dataclass(frozen=True)
class SortColumn:
    """A column a list sorts by: its name in the URL, the model field and its label."""

    name: str
    field: str
    label: str
    #: The direction a click on the column header sorts first.
    descending_first: bool = False


NUMBER = SortColumn("number", "number", "Number")
TITLE = SortColumn("title", "title", "Title")
AMOUNT = SortColumn("amount", "amount", "Amount", descending_first=True)


@dataclass(frozen=True)
class ReconciledField:
    """A value the sync compares between a linked record and its ERP record.

    ``name`` is also the ERP value it is compared with (``ErpRecordValues``); ``platform``
    says where the platform keeps it, as an expression on the kind's model, so the
    comparison runs in SQL over every link at once.
    """

    name: str
    label: str
    #: Builds the expression (called when the sync compares, not at import).
    platform: Callable[[], BaseExpression]
    #: Money: compared to the cent and shown as amounts.
    money: bool = False


def _lines_total(line_model, parent_field: str) -> Callable[[], Subquery]:
    def total() -> Subquery:
        lines = line_model.objects.filter(**{parent_field: OuterRef("pk")})
        return Subquery(lines.values(parent_field).annotate(total=Sum("amount")).values("total"))

    return total


#: The ERP's values every reconciled field is compared with (ErpRecordValues' fields).
RECONCILED_VALUES = ("amount", "lines_total", "status", "vendor", "title")


@dataclass(frozen=True, eq=False)
class RecordKind:
    #: The kind's id: a link's kind, the audit trail's record type, the ERP store's kind.
    slug: str
    model: type[LinkedRecord]
    #: The platform's nouns, e.g. "subcontractor invoice" / "subcontractor invoices".
    noun: str
    nouns: str
    #: Each ERP's nouns (singular, plural) where they differ from the platform's; the
    #: articles' red words use them: "The requisition is still in Sage 100 Contractor®."
    erp_nouns: Mapping[str, tuple[str, str]]
    #: The tab: its slug in URLs and its title.
    tab_slug: str
    tab_title: str
    #: What the tab's list titles start with: "Change Orders - Ready to Export".
    list_title: str
    #: How the synced list says it: "Synced with" / "Successfully Synced with".
    synced_words: str
    #: The record's page in the project's Commitments tool (URL args: project id, record id).
    detail_url_name: str
    #: The namespace of the claim an export of one record holds (see ``locks``).
    lock_namespace: int
    #: The audit trail's word for the kind.
    audit_label: str
    #: How a record is named in a sentence: "Commitment SC-001".
    label: Callable[[Any], str]
    #: How a row's buttons name it, on a tab that already says the kind: "SC-001",
    #: "invoice 1 on SC-001" (the project follows).
    button_label: Callable[[Any], str]
    #: A row's title and the line under it in the tool's lists.
    row_title: Callable[[Any], str]
    row_sub: Callable[[Any], str]
    #: What the export sends to the ERP (the connector adds nothing of its own).
    erp_payload: Callable[[Any], dict]
    #: The connector operation that checks the ERP's own limits, per connector.
    connector_validate: str
    #: The field naming the record this one belongs to ("commitment"), or "".
    parent_field: str = ""
    #: Slugs of the kinds whose linked records block an unlink of this one.
    children: tuple[str, ...] = ()
    #: Fields a user edits; all of them lock while the record is ready or synced.
    editable_fields: tuple[str, ...] = ()
    #: Dotted path of the form of the project's Commitments tool.
    form_path: str = ""
    #: Dotted path of the kind's write rules (``services.records``): what its create and
    #: edit set and check beyond what every kind shares.
    rules_path: str = ""
    #: How the project's Commitments tool names the kind under its parent, where the
    #: parent makes the longer noun redundant: ("change order", "change orders").
    tool_nouns: tuple[str, str] = ()
    #: Related rows loaded with a record wherever it is shown or acted on.
    related: tuple[str, ...] = ("project", "vendor")
    #: Text columns the lists search (with trigram indexes on PostgreSQL), besides the
    #: number, the ERP id and the vendor.
    search_fields: tuple[str, ...] = ()
    #: The heading of the title column when it is not a sortable "Title".
    title_heading: str = "Title"
    #: Columns the lists sort by, besides when the record was synced or updated.
    sort_columns: tuple[SortColumn, ...] = (NUMBER, AMOUNT)
    #: Warnings an export gives without refusing (the ERP cuts a field, say).
    erp_warnings: Callable[[Any, str], list[str]] = field(default=lambda record, erp_name: [])
    #: What the sync compares between a linked record and its ERP record.
    reconciled_fields: tuple[ReconciledField, ...] = ()
    #: The record's statuses that mean "approved in the platform": such a record belongs
    #: in the ERP, and the Reconciliation page lists it while it is not there.
    approved_statuses: tuple[str, ...] = ()
    #: The Reconciliation page's lists show kinds in this order (CCOs first: a change
    #: approved in the platform that never reached the ERP is the costliest miss).
    reconciliation_rank: int = 0
    #: The Reconciliation page's total of the kind: (slug, label), e.g. ("committed", "Committed").
    measure: tuple[str, str] = ("", "")

    def erp_noun(self, erp_system: str, *, plural: bool = False) -> str:
        singular, many = self.erp_nouns.get(erp_system, (self.noun, self.nouns))
        return many if plural else singular

    def still_in_erp_message(self, erp_system: str, erp_name: str) -> str:
        """The articles' red words, in the ERP's own noun."""
        return f"The {self.erp_noun(erp_system)} is still in {erp_name}. Please delete it before retrying."

    def parent(self, record) -> LinkedRecord | None:
        return getattr(record, self.parent_field) if self.parent_field else None

    def external_reference(self, record) -> str:
        """The platform id an ERP record carries, so a retried export finds it."""
        return f"{self.slug}-{record.pk}"

    def record_id_of_reference(self, reference: str) -> int | None:
        """The platform record an ERP record's reference names, or None if it is not ours."""
        # Called for every ERP record a sync reads: kept to a few string operations.
        prefix = self._reference_prefix
        number = reference[len(prefix) :]
        if (
            not reference.startswith(prefix)
            or not (number.isascii() and number.isdigit())
            or len(number) > 18
        ):
            return None
        return int(number)

    @cached_property
    def _reference_prefix(self) -> str:
        return f"{self.slug}-"

    def reconciled_field(self, name: str) -> ReconciledField | None:
        return next((f for f in self.reconciled_fields if f.name == name), None)

    def detail_url(self, record) -> str:
        return reverse(self.detail_url_name, args=[record.project_id, record.pk])

    @cached_property
    def form(self):
        return import_string(self.form_path)

    @cached_property
    def rules(self):
        return import_string(self.rules_path)

    @property
    def tool_noun(self) -> str:
        return self.tool_nouns[0] if self.tool_nouns else self.noun

    @property
    def tool_plural(self) -> str:
        return self.tool_nouns[1] if self.tool_nouns else self.nouns

    @property
    def parent_kind(self) -> RecordKind | None:
        """The kind of the record this one belongs to (a CCO's commitment), or None."""
        if not self.parent_field:
            return None
        return BY_MODEL[self.model._meta.get_field(self.parent_field).related_model]

    @property
    def child_kinds(self) -> list[RecordKind]:
        return [BY_SLUG[slug] for slug in self.children]

    def objects(self):
        """The kind's records with what every page and action shows of them."""
        return self.model.objects.select_related(*self.related)


def _invoice_period(invoice: SubcontractorInvoice) -> str:
    start = date_filter(invoice.billing_period_start, "j M Y")
    return f"{start} – {date_filter(invoice.billing_period_end, 'j M Y')}"


def _commitment_payload(commitment: Commitment) -> dict:
    return {
        "number": commitment.number,
        "title": commitment.title,
        "kind": commitment.kind,
        "vendor": commitment.vendor.name,
        "amount": str(commitment.amount),
        "status": commitment.status,
        "project": commitment.project.number,
        "lines": [
            {"cost_code": line.cost_code, "description": line.description, "amount": str(line.amount)}
            for line in commitment.line_items.all()
        ],
    }


def _invoice_payload(invoice: SubcontractorInvoice) -> dict:
    return {
        "number": invoice.number,
        "commitment": invoice.commitment.erp_id,
        "vendor": invoice.vendor.name,
        "period_start": invoice.billing_period_start.isoformat(),
        "period_end": invoice.billing_period_end.isoformat(),
        "amount": str(invoice.amount),
        "status": invoice.status,
    }


def summed_change_lines(change_order: CommitmentChangeOrder) -> list[dict]:
    """The CCO's lines as the ERP receives them: one per commitment line, amounts summed.

    The ERPs take one change per commitment line, so a line changed more than once in
    one CCO goes as a single line. ``times`` says how many of the CCO's lines it sums.
    """
    summed: dict[int, dict] = {}
    for item in change_order.line_items.select_related("commitment_line").order_by("id"):
        line = item.commitment_line
        entry = summed.setdefault(
            line.pk,
            {"cost_code": line.cost_code, "description": line.description, "amount": Decimal(0), "times": 0},
        )
        entry["amount"] += item.amount
        entry["times"] += 1
    return list(summed.values())


def _cco_payload(change_order: CommitmentChangeOrder) -> dict:
    return {
        "number": change_order.number,
        "title": change_order.title,
        "description": change_order.description[:ERP_DESCRIPTION_LIMIT],
        "commitment": change_order.commitment.erp_id,
        "commitment_kind": change_order.commitment.kind,
        "vendor": change_order.vendor.name,
        "amount": str(change_order.amount),
        "status": change_order.status,
        "lines": [
            {"cost_code": line["cost_code"], "amount": str(line["amount"])}
            for line in summed_change_lines(change_order)
        ],
    }


def _cco_warnings(change_order: CommitmentChangeOrder, erp_name: str) -> list[str]:
    if len(change_order.description) > ERP_DESCRIPTION_LIMIT:
        return [
            f"{erp_name} keeps the first {ERP_DESCRIPTION_LIMIT:,} characters of the description "
            f"(it has {len(change_order.description):,}); the platform keeps it whole."
        ]
    return []


AMOUNT_FIELD = ReconciledField("amount", "Amount", lambda: F("amount"), money=True)
STATUS_FIELD = ReconciledField("status", "Status", lambda: F("status"))
VENDOR_FIELD = ReconciledField("vendor", "Vendor", lambda: F("vendor__name"))
TITLE_FIELD = ReconciledField("title", "Title", lambda: F("title"))

# Lock namespaces: 1 is the sync's (see ``locks.SYNC``).
COMMITMENT = RecordKind(
    slug="commitment",
    model=Commitment,
    noun="commitment",
    nouns="commitments",
    erp_nouns={},
    tab_slug="commitments",
    tab_title="Commitments",
    list_title="Commitments",
    synced_words="Synced with",
    detail_url_name="commitment_detail",
    lock_namespace=2,
    audit_label=AuditEntry.RecordType.COMMITMENT.label,
    label=lambda commitment: f"Commitment {commitment.number}",
    button_label=lambda commitment: commitment.number,
    row_title=lambda commitment: commitment.title,
    row_sub=lambda commitment: commitment.get_kind_display(),
    erp_payload=_commitment_payload,
    connector_validate="validate_commitment",
    children=("invoice", "cco"),
    editable_fields=("kind", "number", "title", "vendor", "status"),
    form_path="erp_integrations.forms.CommitmentForm",
    rules_path="erp_integrations.services.records.COMMITMENT_RULES",
    search_fields=("title",),
    sort_columns=(NUMBER, TITLE, AMOUNT),
    reconciled_fields=(
        AMOUNT_FIELD,
        ReconciledField(
            "lines_total", "Line items total", _lines_total(CommitmentLineItem, "commitment"), money=True
        ),
        STATUS_FIELD,
        VENDOR_FIELD,
        TITLE_FIELD,
    ),
    approved_statuses=(Commitment.Status.APPROVED, Commitment.Status.COMPLETE),
    reconciliation_rank=1,
    measure=("committed", "Committed"),
)

INVOICE = RecordKind(
    slug="invoice",
    model=SubcontractorInvoice,
    noun="subcontractor invoice",
    nouns="subcontractor invoices",
    # Both ERPs book a subcontractor's invoice as a requisition (AP-REQ-…, RQ…).
    erp_nouns={
        ErpSystem.SAGE_100_CONTRACTOR.value: ("requisition", "requisitions"),
        ErpSystem.SAGE_300_CRE.value: ("requisition", "requisitions"),
    },
    tab_slug="subcontractor-invoices",
    tab_title="Subcontractor Invoices",
    list_title="Subcontractor Invoices",
    synced_words="Synced with",
    detail_url_name="invoice_detail",
    lock_namespace=3,
    audit_label=AuditEntry.RecordType.INVOICE.label,
    label=lambda invoice: f"Subcontractor invoice {invoice.number} on {invoice.commitment.number}",
    button_label=lambda invoice: f"invoice {invoice.number} on {invoice.commitment.number}",
    row_title=_invoice_period,
    row_sub=lambda invoice: f"on {invoice.commitment.number} · {invoice.commitment.title}",
    erp_payload=_invoice_payload,
    connector_validate="validate_invoice",
    parent_field="commitment",
    editable_fields=("number", "billing_period_start", "billing_period_end", "amount", "retainage", "status"),
    form_path="erp_integrations.forms.SubcontractorInvoiceForm",
    rules_path="erp_integrations.services.records.INVOICE_RULES",
    related=("project", "vendor", "commitment"),
    title_heading="Billing period",
    reconciled_fields=(AMOUNT_FIELD, STATUS_FIELD, VENDOR_FIELD),
    approved_statuses=(SubcontractorInvoice.Status.APPROVED, SubcontractorInvoice.Status.APPROVED_AS_NOTED),
    reconciliation_rank=2,
    measure=("invoiced", "Invoiced"),
)

CCO = RecordKind(
    slug="cco",
    model=CommitmentChangeOrder,
    noun="commitment change order",
    nouns="commitment change orders",
    erp_nouns={
        ErpSystem.SAGE_300_CRE.value: ("CCO", "CCOs"),
        ErpSystem.SAGE_100_CONTRACTOR.value: ("CCO", "CCOs"),
    },
    tab_slug="change-orders",
    tab_title="Commitment Change Orders",
    list_title="Change Orders",
    synced_words="Successfully Synced with",
    detail_url_name="cco_detail",
    lock_namespace=4,
    audit_label=AuditEntry.RecordType.CCO.label,
    label=lambda change_order: f"CCO {change_order.number} on {change_order.commitment.number}",
    button_label=lambda change_order: f"{change_order.number} on {change_order.commitment.number}",
    row_title=lambda change_order: change_order.title,
    row_sub=lambda change_order: f"on {change_order.commitment.number} · {change_order.commitment.title}",
    erp_payload=_cco_payload,
    connector_validate="validate_cco",
    parent_field="commitment",
    editable_fields=("number", "title", "description", "status"),
    form_path="erp_integrations.forms.ChangeOrderForm",
    rules_path="erp_integrations.services.records.CHANGE_ORDER_RULES",
    tool_nouns=("change order", "change orders"),
    related=("project", "vendor", "commitment"),
    search_fields=("title",),
    sort_columns=(NUMBER, TITLE, AMOUNT),
    erp_warnings=_cco_warnings,
    reconciled_fields=(
        AMOUNT_FIELD,
        ReconciledField(
            "lines_total", "Line items total", _lines_total(ChangeOrderLineItem, "change_order"), money=True
        ),
        STATUS_FIELD,
        VENDOR_FIELD,
        TITLE_FIELD,
    ),
    approved_statuses=(CommitmentChangeOrder.Status.APPROVED,),
    reconciliation_rank=0,
    measure=("change_orders", "Change orders"),
)

#: Every kind, in tab order.
KINDS: tuple[RecordKind, ...] = (COMMITMENT, INVOICE, CCO)
BY_SLUG: dict[str, RecordKind] = {kind.slug: kind for kind in KINDS}
BY_TAB: dict[str, RecordKind] = {kind.tab_slug: kind for kind in KINDS}
BY_MODEL: dict[type, RecordKind] = {kind.model: kind for kind in KINDS}
#: The kinds in the order the Reconciliation page lists them (CCOs first).
RECONCILIATION_ORDER: tuple[RecordKind, ...] = tuple(sorted(KINDS, key=lambda k: k.reconciliation_rank))


def kind_of(record) -> RecordKind:
    """The kind of a record (by its model)."""
    return BY_MODEL[type(record)]
