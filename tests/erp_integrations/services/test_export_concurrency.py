"""Two approvers at once: one export reaches the ERP, one link, one audit success."""

import threading

import pytest
from django.db import connections

from erp_integrations.kinds import COMMITMENT, INVOICE
from erp_integrations.models import AuditEntry, ExportState
from erp_integrations.sandbox.services import sandbox_records, sandbox_set_mode
from erp_integrations.services.exports import record_export, record_reject
from erp_integrations.services.results import Outcome
from tests import factories


def _run_at_once(*calls):
    """Run each call in its own thread (and database sessions), released together."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list = []

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # surfaced below, with the test's own assertion
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize("latency_ms", [0, 400])
def test_two_approvers_exporting_one_commitment_make_one_erp_record_and_one_link(settings, latency_ms):
    settings.ERP_TIMEOUT_SECONDS = 10
    company = factories.company(erp_system="sage300")
    project = factories.project(company=company)
    first = factories.approver(company, project, username="approver-1")
    second = factories.approver(company, project, username="approver-2")
    commitment = factories.commitment(project=project, export_state=ExportState.READY)
    if latency_ms:
        # A slow ERP keeps the first export inside its ERP call while the second arrives.
        sandbox_set_mode(erp_system="sage300", mode="slow", latency_ms=latency_ms)

    results = _run_at_once(
        lambda: record_export(kind=COMMITMENT, user=first, record_id=commitment.pk),
        lambda: record_export(kind=COMMITMENT, user=second, record_id=commitment.pk),
    )

    assert sorted(r.ok for r in results) == [False, True]
    [loser] = [r for r in results if not r.ok]
    assert loser.outcome == Outcome.CONFLICT
    assert loser.message in (
        "An export of this commitment is already in progress.",
        f"Commitment {commitment.number} is not ready to export: "
        f"it is synced with Sage 300 CRE® as {results[0].record.erp_id or results[1].record.erp_id}.",
    )
    if latency_ms:
        assert loser.message == "An export of this commitment is already in progress."
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED
    [erp_record] = sandbox_records("sage300").all()
    assert erp_record.erp_id == commitment.erp_id
    successes = AuditEntry.objects.filter(
        record_type="commitment", record_id=commitment.pk, outcome=AuditEntry.Outcome.SUCCESS
    )
    assert successes.count() == 1
    assert successes.get().user_id == commitment.link.linked_by_id


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_many_approvers_exporting_one_invoice_at_once(settings):
    settings.ERP_TIMEOUT_SECONDS = 10
    company = factories.company(erp_system="sage100")
    project = factories.project(company=company)
    approvers = [factories.approver(company, project, username=f"approver-{i}") for i in range(8)]
    commitment = factories.link(factories.commitment(project=project))
    invoice = factories.invoice(commitment=commitment, export_state=ExportState.READY)
    sandbox_set_mode(erp_system="sage100", mode="slow", latency_ms=200)

    results = _run_at_once(
        *[
            (lambda approver=approver: record_export(kind=INVOICE, user=approver, record_id=invoice.pk))
            for approver in approvers
        ]
    )

    assert sum(r.ok for r in results) == 1
    assert all(r.outcome == Outcome.CONFLICT for r in results if not r.ok)
    invoice.refresh_from_db()
    assert invoice.export_state == ExportState.SYNCED
    assert sandbox_records("sage100").filter(kind="invoice").count() == 1
    assert (
        AuditEntry.objects.filter(
            record_type="invoice", record_id=invoice.pk, outcome=AuditEntry.Outcome.SUCCESS
        ).count()
        == 1
    )


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_reject_while_the_export_is_in_the_erp_is_refused(settings):
    """Reject waits for no one: it is told the export is in flight, and nothing is lost."""
    settings.ERP_TIMEOUT_SECONDS = 10
    company = factories.company(erp_system="sage300")
    project = factories.project(company=company)
    exporter = factories.approver(company, project, username="exporter")
    rejecter = factories.approver(company, project, username="rejecter")
    commitment = factories.commitment(project=project, export_state=ExportState.READY)
    sandbox_set_mode(erp_system="sage300", mode="slow", latency_ms=1000)
    exported = []

    def export():
        try:
            exported.append(record_export(kind=COMMITMENT, user=exporter, record_id=commitment.pk))
        finally:
            connections.close_all()

    worker = threading.Thread(target=export)
    worker.start()
    for _ in range(100):  # until the export is inside its ERP call
        if sandbox_records("sage300").exists():
            break
        threading.Event().wait(0.02)

    refused = record_reject(kind=COMMITMENT, user=rejecter, record_id=commitment.pk, reason="Hold on")
    worker.join()

    assert refused.outcome == Outcome.CONFLICT
    assert refused.message == "An export of this commitment is in progress; try again when it has finished."
    [result] = exported
    assert result.ok
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED and commitment.rejection_reason == ""
    assert list(
        AuditEntry.objects.filter(record_type="commitment", record_id=commitment.pk)
        .order_by("id")
        .values_list("action", "outcome")
    ) == [("reject", "refused"), ("export", "success")]
