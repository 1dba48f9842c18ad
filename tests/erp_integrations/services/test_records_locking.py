"""A record sent or exported while someone edits it is refused, not overwritten.

The lock check runs on the row taken with SELECT ... FOR UPDATE inside the write's
transaction; these tests make another session hold that row while it exports the
record, and show the edit waits for it and then sees the new state.
"""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import PermissionLevel
from erp_integrations.kinds import kind_of
from erp_integrations.models import Commitment, ErpLink, ExportState, SubcontractorInvoice
from erp_integrations.services.records import (
    LineItemData,
    RecordLocked,
    commitment_delete,
    commitment_update,
    subcontractor_invoice_update,
)
from tests import factories


def _export_meanwhile(model, pk: int, erp_id: str, locked: threading.Event) -> threading.Thread:
    """Another session locks the row, exports it (synced, linked) and commits a bit later."""

    def run():
        try:
            with transaction.atomic():
                model.objects.select_for_update().get(pk=pk)
                locked.set()
                # Long enough for the edit to reach its own SELECT ... FOR UPDATE and wait.
                time.sleep(0.5)
                record = model.objects.get(pk=pk)
                now = timezone.now()
                link = ErpLink.objects.create(
                    kind=kind_of(record).slug,
                    record_id=pk,
                    company_id=record.company_id,
                    erp_id=erp_id,
                    linked_at=now,
                )
                model.objects.filter(pk=pk).update(
                    export_state=ExportState.SYNCED, link=link, erp_id=erp_id, linked_at=now
                )
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.fixture
def draft(transactional_db):
    company = factories.company()
    project = factories.project(company=company)
    pm = factories.user("pm", company=company, projects={project: PermissionLevel.STANDARD})
    commitment = factories.commitment(project=project, title="Original")
    return pm, commitment


@pytest.mark.django_db(transaction=True)
def test_an_edit_waiting_on_an_export_is_refused_once_the_record_is_synced(draft):
    pm, commitment = draft
    locked = threading.Event()
    exporter = _export_meanwhile(Commitment, commitment.pk, "JC-0000012", locked)
    assert locked.wait(5)

    started = time.monotonic()
    with pytest.raises(RecordLocked) as excinfo:
        commitment_update(
            user=pm,
            commitment_id=commitment.pk,
            kind=Commitment.Kind.SUBCONTRACT,
            number=commitment.number,
            title="Typed while it was exported",
            vendor_id=commitment.vendor_id,
            status=Commitment.Status.APPROVED,
            line_items=[LineItemData(cost_code="03-300", amount=Decimal("5"))],
        )
    waited = time.monotonic() - started
    exporter.join()

    assert waited > 0.2, "the edit should have waited for the exporter's row lock"
    assert excinfo.value.message == (
        "Synced with Sage 300 CRE® (ERP id JC-0000012): unlink it in the ERP Integrations tool "
        "before editing or deleting."
    )
    commitment.refresh_from_db()
    # The link survived and nothing the user typed was written.
    assert (commitment.export_state, commitment.erp_id, commitment.title) == (
        ExportState.SYNCED,
        "JC-0000012",
        "Original",
    )
    assert commitment.amount == Decimal("1000.00")


@pytest.mark.django_db(transaction=True)
def test_a_delete_waiting_on_an_export_is_refused_once_the_record_is_synced(draft):
    pm, commitment = draft
    locked = threading.Event()
    exporter = _export_meanwhile(Commitment, commitment.pk, "JC-0000013", locked)
    assert locked.wait(5)

    with pytest.raises(RecordLocked, match="ERP id JC-0000013"):
        commitment_delete(user=pm, commitment_id=commitment.pk)
    exporter.join()

    assert Commitment.objects.filter(pk=commitment.pk, export_state=ExportState.SYNCED).exists()


@pytest.mark.django_db(transaction=True)
def test_an_invoice_edit_waiting_on_an_export_is_refused_once_it_is_synced(draft):
    pm, commitment = draft
    invoice = factories.invoice(commitment=commitment, amount=Decimal("250.00"))
    locked = threading.Event()
    exporter = _export_meanwhile(SubcontractorInvoice, invoice.pk, "AP-REQ-0000001", locked)
    assert locked.wait(5)

    with pytest.raises(RecordLocked, match="ERP id AP-REQ-0000001"):
        subcontractor_invoice_update(
            user=pm,
            invoice_id=invoice.pk,
            number=invoice.number,
            billing_period_start=invoice.billing_period_start,
            billing_period_end=invoice.billing_period_end,
            amount=Decimal("999.00"),
            retainage=Decimal("0"),
            status=invoice.status,
        )
    exporter.join()

    invoice.refresh_from_db()
    assert (invoice.export_state, invoice.amount) == (ExportState.SYNCED, Decimal("250.00"))
