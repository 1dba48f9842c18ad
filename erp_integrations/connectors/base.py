"""The only way the platform talks to an ERP.

One connector per ERP. Views and services never touch an ERP's store directly; they
call these methods, outside any database transaction of the platform.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from erp_integrations.kinds import RecordKind
    from erp_integrations.models import Commitment, CommitmentChangeOrder, SubcontractorInvoice


class ErpError(Exception):
    """The ERP refused or failed; the message is shown to the user."""


class ErpUnavailable(ErpError):
    """The ERP could not be reached."""


class ErpTimeout(ErpError):
    """The ERP did not answer in time; the request may or may not have been applied."""


@dataclass(frozen=True)
class ValidationProblem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True)
class ErpMasterRecord:
    """A job, vendor or cost code as the ERP holds it.

    ``name``: a job's or vendor's name, a cost code's description. ``attrs``: what else
    the ERP keeps (a vendor's type, a cost code's code and category or cost type).
    """

    erp_id: str
    name: str
    attrs: dict


class ErpRecordValues(NamedTuple):
    """What the ERP holds of one of its records, as the reconciliation compares it.

    A value the ERP does not report is None and is not compared. A named tuple: a sync
    reads one per ERP record, millions of them.
    """

    erp_id: str
    #: The platform id the record carries ("commitment-12"), as the export sent it.
    external_reference: str
    number: str | None
    amount: Decimal | None
    #: The sum of its lines' amounts.
    lines_total: Decimal | None
    status: str | None
    vendor: str | None
    title: str | None


@dataclass(frozen=True)
class ErpCostTransaction:
    """A cost the ERP posted to a job and cost code."""

    erp_id: str
    #: The ERP's job id of the project.
    job: str
    cost_code: str
    posted_on: date
    amount: Decimal
    description: str


@dataclass(frozen=True)
class ErpPayment:
    """A payment the ERP issued against a requisition (a subcontractor invoice)."""

    erp_id: str
    #: The requisition's ERP id.
    requisition: str
    paid_on: date
    amount: Decimal


@dataclass(frozen=True)
class Page[T]:
    """One page of what the ERP lists, and where the next one starts (None: no more)."""

    rows: list[T]
    next_after: int | None


class ErpConnector(ABC):
    #: ErpSystem value, e.g. "sage300".
    erp_system: str
    #: The ERP's display name with ®, e.g. "Sage 300 CRE®".
    display_name: str

    def validate(self, kind: RecordKind, record) -> list[ValidationProblem]:
        """The ERP's own limits for a record of ``kind``, checked before anything is sent."""
        return getattr(self, kind.connector_validate)(record)

    @abstractmethod
    def validate_commitment(self, commitment: Commitment) -> list[ValidationProblem]:
        """The ERP's own limits for a commitment."""

    @abstractmethod
    def validate_invoice(self, invoice: SubcontractorInvoice) -> list[ValidationProblem]:
        """The ERP's own limits for a requisition."""

    @abstractmethod
    def validate_cco(self, change_order: CommitmentChangeOrder) -> list[ValidationProblem]:
        """The ERP's own limits for a commitment change order."""

    @abstractmethod
    def export(self, kind: RecordKind, record) -> str:
        """Create the record in the ERP (or find the one a previous try made); its ERP id."""

    # --- master data (kinds of ``erp_integrations.master_kinds``) -----------------------
    @abstractmethod
    def master_records(self, kind: str) -> list[ErpMasterRecord]:
        """Every live record of a master kind ("job", "vendor", "cost_code", "sub_job")."""

    # The ERP's format for a master record about to be exported, field by field (each
    # master kind names its operation: ``MasterKind.connector_validate``).
    @abstractmethod
    def validate_job(self, values: dict) -> list[ValidationProblem]: ...

    @abstractmethod
    def validate_vendor(self, values: dict) -> list[ValidationProblem]: ...

    @abstractmethod
    def validate_cost_code(self, values: dict) -> list[ValidationProblem]: ...

    @abstractmethod
    def master_export(self, kind: str, *, reference: str, values: dict) -> str:
        """Create a master record in the ERP (or find the one a previous try made); its ERP id.

        Raises ``ErpError`` when the ERP refuses it (an id it already holds, say).
        """

    @abstractmethod
    def existing_ids(self, kind: str, erp_ids: Iterable[str]) -> set[str]:
        """Which of these ERP ids of ``kind`` (a kind's slug: "commitment", "invoice", "cco") still exist."""

    @abstractmethod
    def records(self, kind: str, *, company_id: int, after: int, limit: int) -> Page[ErpRecordValues]:
        """The company's live ERP records of ``kind`` carrying this platform's reference, a page at a time."""

    @abstractmethod
    def cost_transactions(self, *, company_id: int, after: int, limit: int) -> Page[ErpCostTransaction]:
        """The costs the ERP posted to the company's jobs, a page at a time."""

    @abstractmethod
    def payments(self, *, company_id: int, after: int, limit: int) -> Page[ErpPayment]:
        """The payments the ERP issued against the company's requisitions, a page at a time."""


def get_connector(erp_system: str) -> ErpConnector:
    from erp_integrations.connectors.sage import CONNECTORS

    try:
        return CONNECTORS[erp_system]
    except KeyError:
        raise ErpError(f"No connector for ERP {erp_system!r}.") from None
