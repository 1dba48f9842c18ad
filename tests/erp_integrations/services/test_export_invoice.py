"""Export of a subcontractor invoice (a requisition in the ERP)."""

import threading

import pytest
from django.db import OperationalError, connections

from erp_integrations.kinds import INVOICE
from erp_integrations.models import AuditEntry, Commitment, ErpSystem, ExportState, SubcontractorInvoice
from erp_integrations.sandbox.services import sandbox_records, sandbox_set_mode
from erp_integrations.services.exports import record_export
from erp_integrations.services.results import Outcome
from tests import factories

SAGE_300 = ErpSystem.SAGE_300_CRE.value
SAGE_100 = ErpSystem.SAGE_100_CONTRACTOR.value


pytestmark = pytest.mark.embedded


def _ready_invoice(
    erp_system: str = SAGE_100,
    *,
    status: str = SubcontractorInvoice.Status.APPROVED,
    username: str = "approver",
):
    company = factories.company(erp_system=erp_system)
    project = factories.project(company=company)
    approver = factories.approver(company, project, username=username)
    commitment = factories.link(factories.commitment(project=project))
    invoice = factories.invoice(commitment=commitment, status=status, export_state=ExportState.READY)
    return approver, commitment, invoice


def _requisitions(erp_system: str):
    return sandbox_records(erp_system).filter(kind="invoice")


def _requisition_made(erp_system: str) -> bool:
    """Whether the ERP holds the requisition yet. On the embedded SQLite (one shared
    in-memory database) a read while the export's thread writes it is refused as
    "table is locked" rather than kept waiting: not yet, then."""
    try:
        return _requisitions(erp_system).exists()
    except OperationalError:
        return False


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(("erp_system", "prefix"), [(SAGE_100, "RQ"), (SAGE_300, "AP-REQ-")])
def test_export_links_the_invoice_to_a_requisition_under_its_commitment(erp_system, prefix):
    approver, commitment, invoice = _ready_invoice(erp_system)

    result = record_export(kind=INVOICE, user=approver, record_id=invoice.pk)

    assert result.ok, result.message
    invoice.refresh_from_db()
    assert invoice.export_state == ExportState.SYNCED and invoice.erp_id.startswith(prefix)
    assert invoice.link.linked_by == approver
    assert result.message == f"Exported to {ErpSystem(erp_system).label} as {invoice.erp_id}."
    [requisition] = _requisitions(erp_system)
    assert requisition.erp_id == invoice.erp_id
    assert requisition.data["commitment"] == commitment.erp_id
    entry = AuditEntry.objects.get(record_type="invoice", record_id=invoice.pk)
    assert (entry.user, entry.erp_id, entry.outcome) == (approver, invoice.erp_id, "success")


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    "status",
    [SubcontractorInvoice.Status.UNDER_REVIEW, SubcontractorInvoice.Status.REVISE_AND_RESUBMIT],
)
def test_sage_300_exports_only_approved_or_pending_owner_approval_invoices(status):
    approver, _, invoice = _ready_invoice(SAGE_300, status=status)

    result = record_export(kind=INVOICE, user=approver, record_id=invoice.pk)

    assert result.outcome == Outcome.INVALID
    assert "Status: an invoice must be 'Approved', 'Approved as Noted' or 'Pending Owner Approval'" in (
        result.message
    )
    invoice.refresh_from_db()
    assert invoice.export_state == ExportState.FAILED and invoice.erp_id is None
    assert not _requisitions(SAGE_300).exists()

    # Sage 100 Contractor® takes the same invoice.
    approver, _, invoice = _ready_invoice(SAGE_100, status=status, username="approver-100")
    assert record_export(kind=INVOICE, user=approver, record_id=invoice.pk).ok


@pytest.mark.django_db(databases="__all__")
def test_an_invoice_whose_commitment_is_no_longer_synced_fails_validation():
    approver, commitment, invoice = _ready_invoice(SAGE_100)
    # The commitment was unlinked after the invoice was sent (as unlink does).
    Commitment.objects.filter(pk=commitment.pk).update(
        export_state=ExportState.DRAFT, erp_id=None, linked_at=None, link=None
    )

    result = record_export(kind=INVOICE, user=approver, record_id=invoice.pk)

    assert result.outcome == Outcome.INVALID
    assert f"Commitment: subcontract {commitment.number} must be synced with Sage 100 Contractor® first." in (
        result.message
    )
    invoice.refresh_from_db()
    assert invoice.export_state == ExportState.FAILED and invoice.erp_id is None
    assert not _requisitions(SAGE_100).exists()


@pytest.mark.django_db(databases="__all__")
def test_erp_offline_leaves_the_invoice_failed_and_unlinked():
    approver, _, invoice = _ready_invoice(SAGE_100)
    sandbox_set_mode(erp_system=SAGE_100, mode="offline")

    result = record_export(kind=INVOICE, user=approver, record_id=invoice.pk)

    assert result.outcome == Outcome.ERP_FAILED
    invoice.refresh_from_db()
    assert invoice.export_state == ExportState.FAILED
    assert invoice.export_error == "Sage 100 Contractor® is not responding. Try again later."
    assert invoice.erp_id is None
    entry = AuditEntry.objects.get(record_type="invoice", record_id=invoice.pk)
    assert entry.outcome == AuditEntry.Outcome.FAILED


@pytest.mark.django_db(databases="__all__")
def test_an_invoice_export_retried_after_a_timeout_leaves_one_requisition(settings):
    settings.ERP_TIMEOUT_SECONDS = 0.2
    approver, _, invoice = _ready_invoice(SAGE_300)
    sandbox_set_mode(erp_system=SAGE_300, mode="slow", latency_ms=500)
    assert record_export(kind=INVOICE, user=approver, record_id=invoice.pk).outcome == Outcome.ERP_FAILED

    sandbox_set_mode(erp_system=SAGE_300, mode="normal")
    assert record_export(kind=INVOICE, user=approver, record_id=invoice.pk).ok

    invoice.refresh_from_db()
    [requisition] = _requisitions(SAGE_300)
    assert invoice.erp_id == requisition.erp_id and invoice.export_state == ExportState.SYNCED


@pytest.mark.postgresql  # the query count or plan is PostgreSQL's
@pytest.mark.django_db(databases="__all__")
def test_invoice_export_takes_a_handful_of_queries(django_assert_num_queries):
    approver, _, invoice = _ready_invoice(SAGE_100)
    #  1 the invoice with company, ERP connection, project, vendor and commitment
    #  2 directory entry   3 project levels   4 take the claim   5 re-read the state
    #  6 savepoint   7 SELECT ... FOR UPDATE of the invoice and its commitment (one query)
    #  8 INSERT the link   9 DELETE it from the orphans the last sync listed
    # 10 UPDATE the invoice (state, link)   11 INSERT the audit entry
    # 12 release savepoint   13 release the claim
    with django_assert_num_queries(13):
        assert record_export(kind=INVOICE, user=approver, record_id=invoice.pk).ok


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_an_unlink_of_the_commitment_during_the_erp_call_is_not_blocked_and_wins(settings):
    """The ERP call holds no lock in the platform: the commitment can change meanwhile.

    The linking transaction then sees the commitment unlinked and refuses to link the
    requisition under it; the invoice shows as failed, saying why.
    """
    settings.ERP_TIMEOUT_SECONDS = 10
    approver, commitment, invoice = _ready_invoice(SAGE_100)
    sandbox_set_mode(erp_system=SAGE_100, mode="slow", latency_ms=1500)
    results = []

    def export():
        try:
            results.append(record_export(kind=INVOICE, user=approver, record_id=invoice.pk))
        finally:
            connections.close_all()

    worker = threading.Thread(target=export)
    worker.start()
    # Wait until the requisition is in the ERP, i.e. the export is inside its ERP call.
    for _ in range(100):
        if _requisition_made(SAGE_100):
            break
        threading.Event().wait(0.02)
    assert worker.is_alive()
    unlinked = Commitment.objects.filter(pk=commitment.pk).update(
        export_state=ExportState.DRAFT, erp_id=None, linked_at=None, link=None
    )
    assert unlinked == 1 and worker.is_alive()  # the UPDATE did not wait for the export
    worker.join()

    [result] = results
    assert result.outcome == Outcome.CONFLICT
    assert f"its commitment {commitment.number} was unlinked from Sage 100 Contractor®" in result.message
    invoice.refresh_from_db()
    assert invoice.export_state == ExportState.FAILED and invoice.erp_id is None
    assert "was unlinked" in invoice.export_error
    entry = AuditEntry.objects.get(record_type="invoice", record_id=invoice.pk)
    assert entry.outcome == AuditEntry.Outcome.FAILED
    assert entry.erp_id == _requisitions(SAGE_100).get().erp_id
