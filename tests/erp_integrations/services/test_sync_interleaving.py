"""A run judges the links that existed when it started; what changes meanwhile waits.

The test steps in between the sync's questions to the ERP (after it read a batch of
links, before the ERP answers) and links, unlinks or re-exports a record there.
"""

import pytest
from django.utils import timezone

from erp_integrations.kinds import COMMITMENT
from erp_integrations.models import Commitment, ErpLink, ExportState
from erp_integrations.services.sync import connection_sync
from erp_integrations.services.unlink import record_unlink
from tests import factories
from tests.erp_integrations.services.sync_support import SteppingConnector, delete_in_erp, restore_in_erp

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


@pytest.fixture
def company():
    return factories.company()


@pytest.fixture
def project(company):
    return factories.project(company=company)


@pytest.fixture
def approver(company, project):
    return factories.approver(company, project)


def sync(company, before=None):
    connector = SteppingConnector(company.erp_connection.erp_system, before=before)
    return connection_sync(connection_id=company.erp_connection.pk, trigger="schedule", connector=connector)


def at_first_question(action):
    def before(call, kind):
        if call == 1:
            action()

    return before


def fresh(record):
    return Commitment.objects.get(pk=record.pk)


def test_a_link_made_while_a_run_is_under_way_is_left_to_the_next_run(settings, company, project):
    settings.SYNC_BATCH_SIZE = 1
    existing = [factories.link(factories.commitment(project=project)) for _ in range(2)]
    late = factories.commitment(project=project)

    def export_and_delete_in_erp():
        factories.link(late)
        delete_in_erp(late)

    run = sync(company, before=at_first_question(export_and_delete_in_erp))

    assert (run.links_total, run.links_checked, run.missing_found) == (2, 2, 0)
    assert fresh(late).erp_missing_since_id is None
    assert fresh(existing[0]).erp_missing_since_id is None

    next_run = sync(company)
    assert (next_run.links_checked, next_run.missing_found) == (3, 1)
    assert fresh(late).erp_missing_since_id == next_run.pk


def test_a_link_removed_while_the_run_asks_the_erp_is_never_marked(company, project):
    commitment = factories.link(factories.commitment(project=project))
    delete_in_erp(commitment)

    def link_removed():
        # However the link goes away meanwhile, the run must not mark what is no longer there.
        link_id = Commitment.objects.get(pk=commitment.pk).link_id
        Commitment.objects.filter(pk=commitment.pk).update(
            erp_id=None, linked_at=None, link=None, export_state=ExportState.DRAFT
        )
        ErpLink.objects.filter(pk=link_id).update(unlinked_at=timezone.now())

    run = sync(company, before=at_first_question(link_removed))

    assert run.status == "succeeded"
    assert run.missing_found == 0
    record = fresh(commitment)
    assert (record.erp_id, record.erp_missing_since_id, record.export_state) == (None, None, "draft")


def test_a_record_unlinked_while_a_run_sees_it_back_in_the_erp_stays_unlinked(company, project, approver):
    commitment = factories.link(factories.commitment(project=project))
    erp_id = commitment.erp_id
    delete_in_erp(commitment)
    sync(company)
    restore_in_erp(commitment, erp_id)
    outcome = []

    def user_unlinks():
        # The platform still goes by the last completed run: missing, so unlink succeeds.
        outcome.append(record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk).message)

    run = sync(company, before=at_first_question(user_unlinks))

    assert outcome == ["Successfully Unlinked"]
    assert (run.status, run.reappeared) == ("succeeded", 0)
    record = fresh(commitment)
    assert (record.erp_id, record.erp_missing_since_id, record.export_state) == (None, None, "draft")


def test_a_record_unlinked_and_exported_again_during_a_run_keeps_its_new_link_unmarked(
    company, project, approver
):
    commitment = factories.link(factories.commitment(project=project))
    old_erp_id = commitment.erp_id
    delete_in_erp(commitment)
    first = sync(company)
    assert fresh(commitment).erp_missing_since_id == first.pk

    def unlink_and_export_again():
        assert record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk).ok
        factories.link(fresh(commitment), by=approver)

    run = sync(company, before=at_first_question(unlink_and_export_again))

    assert (run.status, run.missing_found, run.reappeared) == ("succeeded", 0, 0)
    record = fresh(commitment)
    assert record.erp_id not in (None, old_erp_id)
    assert record.erp_missing_since_id is None
    assert record.export_state == ExportState.SYNCED
