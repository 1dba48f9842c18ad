"""Opening a record's link: the one way a link row and the record's copies of it are written.

Export, the demo and the tests' factories all link a record the same way: a live
``ErpLink`` row, and the record pointing at it with copies of its ERP id and time (the
composite key on PostgreSQL holds them equal). Call these inside the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from erp_integrations.kinds import RecordKind
from erp_integrations.models import Discrepancy, ErpLink, ExportState, LinkedRecord


def link_open(
    *, kind: RecordKind, record: LinkedRecord, erp_id: str, linked_by, linked_at: datetime | None = None
) -> ErpLink:
    """A new live link from ``record`` to the ERP record ``erp_id``."""
    return ErpLink.objects.create(
        kind=kind.slug,
        record_id=record.pk,
        company_id=record.company_id,
        erp_id=erp_id,
        linked_at=linked_at or timezone.now(),
        linked_by=linked_by,
    )


def record_link(*, kind: RecordKind, record: LinkedRecord, erp_id: str, linked_by) -> ErpLink:
    """Link ``record`` (synced, with the link's copies) and save it; the new link."""
    link = link_open(kind=kind, record=record, erp_id=erp_id, linked_by=linked_by)
    # The ERP record is linked now: if the last sync listed it as an orphan (an export
    # that timed out, say, exported again), it is one no longer.
    Discrepancy.objects.filter(
        company_id=record.company_id, category=Discrepancy.Category.ORPHAN, kind=kind.slug, erp_id=erp_id
    ).delete()
    record.link, record.erp_id, record.linked_at = link, link.erp_id, link.linked_at
    record.export_state = ExportState.SYNCED
    record.export_error = ""
    record.save(update_fields=["link", "erp_id", "linked_at", "export_state", "export_error", "updated_at"])
    return link
