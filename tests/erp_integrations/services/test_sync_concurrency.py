"""Runs and unlinks at the same time, on real connections: no overlap, no half state."""

import threading
from collections import Counter

import pytest
from django.db import connections

from erp_integrations.kinds import COMMITMENT
from erp_integrations.models import AuditEntry, Commitment, ExportState, SyncRun
from erp_integrations.services.sync import connection_sync
from erp_integrations.services.unlink import record_unlink
from tests import factories
from tests.erp_integrations.services.sync_support import (
    PausedSync,
    SteppingConnector,
    delete_in_erp,
    restore_in_erp,
)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

RED = "The commitment is still in Sage 300 CRE®. Please delete it before retrying."
ROUNDS = 4
RECORDS = 8


def sync(company, connector=None):
    return connection_sync(connection_id=company.erp_connection.pk, trigger="schedule", connector=connector)


def test_two_runs_of_one_connection_at_once_one_runs_and_the_other_stops_cleanly():
    company = factories.company()
    factories.link(factories.commitment(project=factories.project(company=company)))

    with PausedSync(company) as paused:
        assert sync(company) is None

    assert paused.run.status == SyncRun.Status.SUCCEEDED
    assert SyncRun.objects.filter(connection=company.erp_connection).count() == 1
    # The claim went with the run: the next one goes ahead.
    assert sync(company).status == SyncRun.Status.SUCCEEDED


def test_runs_of_different_connections_do_not_wait_for_each_other():
    company, other = factories.company(), factories.company()

    with PausedSync(company) as paused:
        assert sync(other).status == SyncRun.Status.SUCCEEDED

    assert paused.run.status == SyncRun.Status.SUCCEEDED


def race(company, approver, commitments):
    """Run a sync and one unlink per commitment at once; (run, unlink messages).

    The unlinks are released when the sync asks the ERP its last question, so they
    meet the sync's final transaction (marks and completion) head on.
    """
    barrier = threading.Barrier(len(commitments) + 1)
    outcome: dict = {"messages": [], "errors": []}

    def release_unlinks(call, kind):
        barrier.wait(timeout=30)

    def run_sync():
        try:
            outcome["run"] = sync(company, SteppingConnector("sage300", before=release_unlinks))
        except Exception as exc:
            outcome["errors"].append(exc)
        finally:
            connections.close_all()

    def unlink(commitment):
        try:
            barrier.wait(timeout=30)
            outcome["messages"].append(
                record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk).message
            )
        except Exception as exc:
            outcome["errors"].append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run_sync)]
    threads += [threading.Thread(target=unlink, args=(c,)) for c in commitments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcome["errors"] == []
    return outcome["run"], outcome["messages"]


def assert_whole(commitments, run):
    """Every record is either fully linked or fully unlinked, and the audit agrees."""
    unlinked = 0
    for commitment in Commitment.objects.filter(pk__in=[c.pk for c in commitments]):
        if commitment.erp_id is None:
            unlinked += 1
            assert commitment.export_state == ExportState.DRAFT
            assert commitment.erp_missing_since_id is None
            assert commitment.linked_at is None
        else:
            assert commitment.export_state == ExportState.SYNCED
    successes = AuditEntry.objects.filter(
        record_id__in=[c.pk for c in commitments], action="unlink", outcome="success"
    )
    assert successes.count() == unlinked
    assert run.status == SyncRun.Status.SUCCEEDED
    return unlinked


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_unlinks_racing_a_run_that_finds_the_records_back_in_the_erp(round_):
    company = factories.company()
    project = factories.project(company=company)
    approver = factories.approver(company, project)
    commitments = [factories.link(factories.commitment(project=project)) for _ in range(RECORDS)]
    erp_ids = [c.erp_id for c in commitments]
    for commitment in commitments:
        delete_in_erp(commitment)
    assert sync(company).missing_found == RECORDS
    for commitment, erp_id in zip(commitments, erp_ids, strict=True):
        restore_in_erp(commitment, erp_id)

    run, messages = race(company, approver, commitments)

    unlinked = assert_whole(commitments, run)
    # An unlink that came first wins; the run then leaves that record alone. An unlink
    # that came after the run's commit sees the record present again and is refused.
    assert Counter(messages) == +Counter({"Successfully Unlinked": unlinked, RED: RECORDS - unlinked})
    assert run.reappeared == RECORDS - unlinked
    still_linked = Commitment.objects.filter(pk__in=[c.pk for c in commitments], erp_id__isnull=False)
    assert all(c.erp_missing_since_id is None for c in still_linked)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_unlinks_racing_a_run_that_finds_the_records_gone_from_the_erp(round_):
    company = factories.company()
    project = factories.project(company=company)
    approver = factories.approver(company, project)
    commitments = [factories.link(factories.commitment(project=project)) for _ in range(RECORDS)]
    assert sync(company).missing_found == 0
    for commitment in commitments:
        delete_in_erp(commitment)

    run, messages = race(company, approver, commitments)

    unlinked = assert_whole(commitments, run)
    # Before the run's commit an unlink is refused in red; after it, it succeeds.
    assert Counter(messages) == +Counter({"Successfully Unlinked": unlinked, RED: RECORDS - unlinked})
    assert run.missing_found == RECORDS
    still_linked = Commitment.objects.filter(pk__in=[c.pk for c in commitments], erp_id__isnull=False)
    assert all(c.erp_missing_since_id == run.pk for c in still_linked)
