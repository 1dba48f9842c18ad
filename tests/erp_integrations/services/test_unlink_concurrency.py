"""Many users unlinking one record at once: exactly one wins, the others are told."""

import threading
from collections import Counter

import pytest
from django.db import connections

from erp_integrations.kinds import COMMITMENT, INVOICE
from erp_integrations.models import AuditEntry, Commitment, ErpSystem, ExportState, SubcontractorInvoice
from erp_integrations.services.sync import connection_sync
from erp_integrations.services.unlink import record_unlink
from tests import factories
from tests.erp_integrations.services.sync_support import delete_in_erp

USERS = 20


def run_at_once(count, attempt):
    """Run ``attempt(i)`` in ``count`` threads released together; (results, errors)."""
    barrier = threading.Barrier(count)
    results, errors = [], []

    def worker(i):
        try:
            barrier.wait(timeout=30)
            results.append(attempt(i))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results, errors


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize(
    ("erp_system", "record_type", "already_unlinked"),
    [
        (
            ErpSystem.SAGE_300_CRE,
            "commitment",
            "This commitment is not linked to Sage 300 CRE® any more: it was already unlinked.",
        ),
        (
            ErpSystem.SAGE_100_CONTRACTOR,
            "invoice",
            "This subcontractor invoice is not linked to Sage 100 Contractor® any more: "
            "it was already unlinked.",
        ),
    ],
)
def test_twenty_users_unlinking_one_record_at_once_give_exactly_one_success(
    erp_system, record_type, already_unlinked
):
    company = factories.company(erp_system=erp_system)
    project = factories.project(company=company)
    approvers = [factories.approver(company, project, username=f"approver{i}") for i in range(USERS)]
    commitment = factories.link(factories.commitment(project=project))
    record = (
        commitment
        if record_type == "commitment"
        else factories.link(factories.invoice(commitment=commitment))
    )
    erp_id = record.erp_id
    delete_in_erp(record)
    assert connection_sync(connection_id=company.erp_connection.pk, trigger="command").missing_found == 1

    def unlink(i):
        if record_type == "commitment":
            return record_unlink(kind=COMMITMENT, user=approvers[i], record_id=record.pk)
        return record_unlink(kind=INVOICE, user=approvers[i], record_id=record.pk)

    results, errors = run_at_once(USERS, unlink)

    assert errors == []
    assert Counter(result.message for result in results) == {
        "Successfully Unlinked": 1,
        already_unlinked: USERS - 1,
    }
    model = Commitment if record_type == "commitment" else SubcontractorInvoice
    record = model.objects.get(pk=record.pk)
    assert (record.erp_id, record.erp_missing_since_id, record.export_state) == (
        None,
        None,
        ExportState.DRAFT,
    )
    trail = AuditEntry.objects.filter(record_type=record_type, record_id=record.pk, action="unlink")
    assert Counter(trail.values_list("outcome", flat=True)) == {"success": 1, "refused": USERS - 1}
    assert trail.get(outcome="success").erp_id == erp_id
