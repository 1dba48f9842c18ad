"""Helpers for the sync and unlink tests: a connector that lets a test step in between
the sync's questions to the ERP, and a shortcut for 'delete it in the ERP'."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from erp_integrations.connectors import get_connector
from erp_integrations.models import Commitment, SubcontractorInvoice
from erp_integrations.sandbox.services import sandbox_delete, sandbox_restore


class SteppingConnector:
    """The company's real sandbox connector, with a hook run before each answer.

    ``before(call_number, kind)`` runs inside ``existing_ids``: after the sync has read
    the batch of links it asks about, before the ERP answers. Tests use it to unlink,
    link or fail the ERP while a run is under way.
    """

    def __init__(self, erp_system: str, before: Callable[[int, str], None] | None = None):
        self.inner = get_connector(erp_system)
        self.before = before
        self.calls: list[tuple[str, int]] = []

    def existing_ids(self, kind: str, erp_ids: Iterable[str]) -> set[str]:
        ids = list(erp_ids)
        self.calls.append((kind, len(ids)))
        if self.before is not None:
            self.before(len(self.calls), kind)
        return self.inner.existing_ids(kind, ids)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _erp_of(record: Commitment | SubcontractorInvoice) -> tuple[str, str]:
    kind = "commitment" if isinstance(record, Commitment) else "invoice"
    return record.company.erp_connection.erp_system, kind


def delete_in_erp(record: Commitment | SubcontractorInvoice) -> None:
    """What a user does in Sage before unlinking: delete the record there."""
    erp_system, kind = _erp_of(record)
    sandbox_delete(erp_system=erp_system, kind=kind, erp_id=record.erp_id)


def restore_in_erp(record: Commitment | SubcontractorInvoice, erp_id: str) -> None:
    erp_system, kind = _erp_of(record)
    sandbox_restore(erp_system=erp_system, kind=kind, erp_id=erp_id)
