"""The whole story of the help articles, step by step, for each ERP.

Export → Unlink refused (the articles' red words) → delete it in the ERP → Unlink still
refused until the hourly sync completes → sync → 'Successfully Unlinked' → the record
is editable again → exported again, it is a new ERP record. A record restored in the
ERP counts as present at the next sync, and Unlink is refused again.
"""

import pytest

from erp_integrations.kinds import kind_of
from erp_integrations.models import ErpSystem, ExportState
from erp_integrations.services.sync import connection_sync
from erp_integrations.services.unlink import record_unlink
from tests import factories
from tests.erp_integrations.services.sync_support import delete_in_erp, restore_in_erp

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


def hourly_sync(company):
    run = connection_sync(connection_id=company.erp_connection.pk, trigger="schedule")
    assert run.status == "succeeded"
    return run


def unlink(user, record):
    return record_unlink(kind=kind_of(record), user=user, record_id=record.pk)


def tell_the_story(approver, record, *, red_words):
    company = record.company
    factories.link(record, by=approver)
    first_erp_id = record.erp_id

    # Unlink before anything was deleted in the ERP: red.
    assert unlink(approver, record).message == red_words
    # 1. Delete the record in the ERP.
    delete_in_erp(record)
    # Not yet seen by a completed sync: still red.
    assert unlink(approver, record).message == red_words
    # 2. The hourly sync runs and sees that the ERP record is gone.
    assert hourly_sync(company).missing_found == 1
    # 3. Only then does Unlink succeed, in green.
    result = unlink(approver, record)
    assert (result.ok, result.message) == (True, "Successfully Unlinked")

    # The record can be edited again, and exported again: a new link, a new ERP id.
    record.refresh_from_db()
    assert record.export_state == ExportState.DRAFT and not record.is_locked
    record.number = f"{record.number}R"
    record.save()
    factories.link(record, by=approver)
    assert record.erp_id != first_erp_id
    assert record.erp_missing_since_id is None
    assert unlink(approver, record).message == red_words
    return first_erp_id


def test_the_story_of_a_commitment_synced_with_sage_300_cre():
    company = factories.company(erp_system=ErpSystem.SAGE_300_CRE)
    project = factories.project(company=company)
    approver = factories.approver(company, project)
    commitment = factories.commitment(project=project)

    tell_the_story(
        approver,
        commitment,
        red_words="The commitment is still in Sage 300 CRE®. Please delete it before retrying.",
    )


def test_the_story_of_a_commitment_synced_with_sage_100_contractor():
    company = factories.company(erp_system=ErpSystem.SAGE_100_CONTRACTOR)
    project = factories.project(company=company)
    approver = factories.approver(company, project)

    tell_the_story(
        approver,
        factories.commitment(project=project),
        red_words="The commitment is still in Sage 100 Contractor®. Please delete it before retrying.",
    )


def test_the_story_of_a_subcontractor_invoice_synced_with_sage_100_contractor():
    company = factories.company(erp_system=ErpSystem.SAGE_100_CONTRACTOR)
    project = factories.project(company=company)
    approver = factories.approver(company, project)
    subcontract = factories.link(factories.commitment(project=project))

    tell_the_story(
        approver,
        factories.invoice(commitment=subcontract),
        red_words="The requisition is still in Sage 100 Contractor®. Please delete it before retrying.",
    )


@pytest.mark.parametrize(
    ("erp_system", "red_words"),
    [
        (
            ErpSystem.SAGE_300_CRE,
            "The commitment is still in Sage 300 CRE®. Please delete it before retrying.",
        ),
        (
            ErpSystem.SAGE_100_CONTRACTOR,
            "The commitment is still in Sage 100 Contractor®. Please delete it before retrying.",
        ),
    ],
)
def test_a_record_restored_in_the_erp_is_present_again_at_the_next_sync(erp_system, red_words):
    company = factories.company(erp_system=erp_system)
    project = factories.project(company=company)
    approver = factories.approver(company, project)
    commitment = factories.link(factories.commitment(project=project))
    erp_id = commitment.erp_id
    delete_in_erp(commitment)
    hourly_sync(company)

    restore_in_erp(commitment, erp_id)
    # The next sync sees it again: the link is no longer marked missing.
    run = hourly_sync(company)

    assert run.reappeared == 1
    assert unlink(approver, commitment).message == red_words
    commitment.refresh_from_db()
    assert (commitment.erp_id, commitment.export_state) == (erp_id, ExportState.SYNCED)
