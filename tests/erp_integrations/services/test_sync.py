"""The hourly sync: what a completed run records, and what a failed run leaves alone."""

from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from erp_integrations.connectors import ErpUnavailable
from erp_integrations.models import Commitment, ErpSystem, ExportState, SubcontractorInvoice, SyncRun
from erp_integrations.sandbox.services import sandbox_set_mode
from erp_integrations.services.sync import DEAD_WORKER_ERROR, connection_sync
from tests import factories
from tests.erp_integrations.services.sync_support import SteppingConnector, delete_in_erp, restore_in_erp

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


def linked_commitments(company, count):
    project = factories.project(company=company)
    return [factories.link(factories.commitment(project=project)) for _ in range(count)]


def sync(company, **kwargs):
    return connection_sync(connection_id=company.erp_connection.pk, trigger="command", **kwargs)


def marks(records):
    """{record id: erp_missing_since_id} as the database has it now."""
    model = type(records[0])
    return dict(
        model.objects.filter(pk__in=[r.pk for r in records]).values_list("pk", "link__missing_since_id")
    )


def test_sync_marks_the_links_whose_erp_record_was_deleted():
    company = factories.company()
    commitments = linked_commitments(company, 4)
    invoice = factories.link(factories.invoice(commitment=commitments[0]))
    delete_in_erp(commitments[1])
    delete_in_erp(invoice)

    run = sync(company)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.links_total, run.links_checked, run.missing_found, run.reappeared) == (5, 5, 2, 0)
    assert run.finished_at is not None and run.error == ""
    assert marks(commitments) == {
        commitments[0].pk: None,
        commitments[1].pk: run.pk,
        commitments[2].pk: None,
        commitments[3].pk: None,
    }
    assert marks([invoice]) == {invoice.pk: run.pk}


def test_a_link_stays_marked_since_the_run_that_first_found_it_missing():
    company = factories.company()
    commitments = linked_commitments(company, 2)
    delete_in_erp(commitments[0])
    first = sync(company)

    second = sync(company)

    assert (second.missing_found, second.reappeared) == (0, 0)
    assert marks(commitments) == {commitments[0].pk: first.pk, commitments[1].pk: None}


def test_a_record_restored_in_the_erp_counts_as_present_again_at_the_next_sync():
    company = factories.company(erp_system=ErpSystem.SAGE_100_CONTRACTOR)
    commitments = linked_commitments(company, 3)
    erp_id = commitments[2].erp_id
    delete_in_erp(commitments[2])
    sync(company)
    restore_in_erp(commitments[2], erp_id)

    run = sync(company)

    assert (run.links_checked, run.missing_found, run.reappeared) == (3, 0, 1)
    assert set(marks(commitments).values()) == {None}


def test_a_sync_only_looks_at_its_own_company():
    company, other = factories.company(), factories.company()
    mine = linked_commitments(company, 2)
    theirs = linked_commitments(other, 2)
    delete_in_erp(theirs[0])

    run = sync(company)

    assert (run.links_checked, run.missing_found) == (2, 0)
    assert set(marks(mine).values()) == {None}
    assert set(marks(theirs).values()) == {None}


def test_records_that_are_not_linked_are_not_asked_about():
    company = factories.company()
    project = factories.project(company=company)
    factories.commitment(project=project)
    factories.commitment(project=project, export_state=ExportState.READY)
    linked = linked_commitments(company, 1)
    connector = SteppingConnector(company.erp_connection.erp_system)

    run = sync(company, connector=connector)

    assert run.links_checked == 1
    assert connector.calls == [("commitment", 1)]
    assert linked[0].erp_id


def test_a_sync_with_the_erp_offline_fails_with_the_error_and_changes_no_link():
    company = factories.company()
    commitments = linked_commitments(company, 3)
    delete_in_erp(commitments[0])
    sandbox_set_mode(erp_system="sage300", mode="offline")

    run = sync(company)

    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert run.error == "Sage 300 CRE® is not responding. Try again later."
    assert run.finished_at is not None
    assert (run.missing_found, run.reappeared) == (0, 0)
    assert set(marks(commitments).values()) == {None}


def test_an_erp_failure_in_the_second_batch_changes_no_link(settings):
    settings.SYNC_BATCH_SIZE = 2
    company = factories.company()
    commitments = linked_commitments(company, 4)
    delete_in_erp(commitments[0])  # found missing in the first batch, never written

    def fail_on_second_batch(call, kind):
        if call == 2:
            raise ErpUnavailable("Sage 300 CRE® is not responding. Try again later.")

    connector = SteppingConnector("sage300", before=fail_on_second_batch)
    run = sync(company, connector=connector)

    run.refresh_from_db()
    assert len(connector.calls) == 2
    assert run.status == SyncRun.Status.FAILED
    assert "not responding" in run.error
    assert run.links_checked == 2  # progress of the first batch, kept for the history
    assert run.missing_found == 0
    assert set(marks(commitments).values()) == {None}


def test_an_unexpected_error_fails_the_run_and_changes_no_link():
    company = factories.company()
    commitments = linked_commitments(company, 2)
    delete_in_erp(commitments[0])

    def crash(call, kind):
        raise RuntimeError("connector bug")

    run = sync(company, connector=SteppingConnector("sage300", before=crash))

    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert run.error == "Unexpected error: RuntimeError: connector bug"
    assert set(marks(commitments).values()) == {None}


def test_a_run_left_running_by_a_dead_worker_is_marked_failed_by_the_next_run():
    company = factories.company()
    linked_commitments(company, 1)
    stale = SyncRun.objects.create(
        connection=company.erp_connection, started_at=timezone.now() - timedelta(hours=1), links_checked=7
    )

    run = sync(company)

    stale.refresh_from_db()
    assert stale.status == SyncRun.Status.FAILED
    assert stale.error == DEAD_WORKER_ERROR
    assert stale.finished_at is not None
    assert run.status == SyncRun.Status.SUCCEEDED


def test_an_inactive_connection_is_not_synced():
    company = factories.company()
    linked_commitments(company, 1)
    company.erp_connection.is_active = False
    company.erp_connection.save()

    assert sync(company) is None
    assert not SyncRun.objects.exists()


def test_the_run_records_its_progress_after_every_batch(settings):
    settings.SYNC_BATCH_SIZE = 2
    company = factories.company()
    commitment = linked_commitments(company, 3)[0]
    factories.link(factories.invoice(commitment=commitment))
    seen = []

    def look_at_progress(call, kind):
        run = SyncRun.objects.get(connection=company.erp_connection)
        seen.append((kind, run.status, run.links_checked, run.links_total))

    sync(company, connector=SteppingConnector("sage300", before=look_at_progress))

    assert seen == [
        ("commitment", "running", 0, 4),
        ("commitment", "running", 2, 4),
        ("invoice", "running", 3, 4),
    ]


def test_the_run_records_who_asked_for_it_and_how():
    company = factories.company()
    admin = factories.user("admin", company=company)

    run = connection_sync(connection_id=company.erp_connection.pk, trigger="manual", requested_by_id=admin.pk)

    assert (run.trigger, run.requested_by_id) == ("manual", admin.pk)
    assert (run.links_total, run.links_checked) == (0, 0)
    assert run.status == SyncRun.Status.SUCCEEDED


#: What the reconciliation adds to a run whatever its size:
#:   staging tables: DROP IF EXISTS and CREATE (3 + 3), three indexes, three ANALYZEs, the
#:   DROPs at the end (3): 15;
#:   findings: DELETE the company's discrepancies and totals (2); per kind the records
#:   whose values differ into a temporary table (DROP IF EXISTS, CREATE ... AS SELECT,
#:   DROP: 3 x 3) and one INSERT ... SELECT per reconciled field (5 + 3 + 5); per kind its
#:   orphans (3) and absent records (3): 30;
#:   job costs and payments: DELETE and INSERT ... SELECT each: 4;
#:   totals: per kind platform, ERP and absent (3 x 3), paid and job cost (2), one INSERT: 12;
#:   ANALYZE of the findings' table; the run's counts of drift, orphans and absent records: 4.
RECONCILIATION_QUERIES = 15 + 30 + 4 + 12 + 4


def count_sync_queries(company, settings, n):
    """(platform queries, ERP calls) of one sync of n commitment links, one deleted."""
    commitments = linked_commitments(company, n)
    delete_in_erp(commitments[-1])
    connector = SteppingConnector("sage300")
    with CaptureQueriesContext(db_connection) as queries:
        run = sync(company, connector=connector)
    assert run.missing_found == 1
    return len(queries), len(connector.calls)


@pytest.mark.postgresql  # the query count or plan is PostgreSQL's
def test_the_number_of_queries_grows_with_batches_not_with_links(settings):
    settings.SYNC_BATCH_SIZE = 2
    # One full batch of commitments: the platform's queries are
    #   claim (pg_try_advisory_lock), the connection with its company, the company's change
    #   marks folded into its data version (1 DELETE ... INSERT), stale runs (UPDATE), links total
    #   (1 COUNT: every kind's links share one table), the new run (INSERT),
    #   commitments: batch 1 (SELECT) + progress (UPDATE), the empty batch after it (SELECT),
    #   invoices and CCOs: the empty first batch of each (2 SELECTs),
    #   jobs, vendors and cost codes: the empty first batch of their links (3 SELECTs),
    #   the marks and completion: SAVEPOINT, the marks (1 UPDATE), the ERP's master data
    #   (none here: 3 SELECTs of the ids held), the run (UPDATE), RELEASE,
    #   release the claim (pg_advisory_unlock);
    # and the reconciliation's fixed part (RECONCILIATION_QUERIES), plus one progress UPDATE
    # per page of ERP records read (its COPY goes by the driver's copy protocol, uncounted).
    one_batch = count_sync_queries(factories.company(), settings, 2)
    assert one_batch == (22 + RECONCILIATION_QUERIES + 1, 1)
    # Three full batches: two more batches, each one SELECT and one progress UPDATE, and
    # two more pages of ERP records (five live ones, two a page).
    three_batches = count_sync_queries(factories.company(), settings, 6)
    assert three_batches == (22 + RECONCILIATION_QUERIES + 1 + 2 * 2 + 2, 3)


@pytest.mark.postgresql  # the query count or plan is PostgreSQL's
def test_queries_per_link_stay_flat_with_the_default_batch_size(settings):
    settings.SYNC_BATCH_SIZE = 5000
    # As above, less the empty batch: a short batch is known to be the last.
    small = count_sync_queries(factories.company(), settings, 3)
    large = count_sync_queries(factories.company(), settings, 60)
    assert small == large == (21 + RECONCILIATION_QUERIES + 1, 1)


def test_invoices_are_asked_about_as_requisitions_of_the_same_erp():
    company = factories.company(erp_system=ErpSystem.SAGE_100_CONTRACTOR)
    commitment = linked_commitments(company, 1)[0]
    invoices = [factories.link(factories.invoice(commitment=commitment)) for _ in range(2)]
    delete_in_erp(invoices[1])
    connector = SteppingConnector("sage100")

    run = sync(company, connector=connector)

    assert connector.calls == [("commitment", 1), ("invoice", 2)]
    assert run.missing_found == 1
    assert SubcontractorInvoice.objects.get(pk=invoices[1].pk).erp_missing_since_id == run.pk
    assert Commitment.objects.get(pk=commitment.pk).erp_missing_since_id is None
