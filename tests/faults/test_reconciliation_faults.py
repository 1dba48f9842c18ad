"""The ERP changes, or goes away, while a sync reads its values for the reconciliation.

A run records what it read; what changes behind the page it has read is the next run's.
A run that cannot read every value fails and changes no finding and no mark.
"""

from datetime import date
from decimal import Decimal

import pytest

from erp_integrations.connectors import get_connector
from erp_integrations.kinds import COMMITMENT
from erp_integrations.models import (
    Commitment,
    Discrepancy,
    ExportState,
    JobCostTransaction,
    ReconciliationTotal,
    SyncRun,
)
from erp_integrations.sandbox.services import sandbox_edit, sandbox_post_cost, sandbox_set_mode
from erp_integrations.services.exports import record_export, record_reject
from erp_integrations.services.reconciliation import project_job_id
from erp_integrations.services.sync import connection_sync
from tests import factories
from tests.erp_integrations.services.sync_support import SteppingConnector, delete_in_erp
from tests.faults.support import assert_invariants, linked_company

pytestmark = [pytest.mark.faults, pytest.mark.django_db(databases="__all__")]


class ValuesConnector(SteppingConnector):
    """The sandbox connector, with ``on_page(page_number, kind)`` run before each page of
    ERP values the reconciliation reads."""

    def __init__(self, erp_system, on_page):
        super().__init__(erp_system)
        self.on_page = on_page
        self.pages = 0

    def records(self, kind, **kwargs):
        self.pages += 1
        self.on_page(self.pages, kind)
        return self.inner.records(kind, **kwargs)


def edit_in_erp(record, **changes):
    sandbox_edit(erp_system="sage300", kind="commitment", erp_id=record.erp_id, changes=changes)


def sync(company, connector=None):
    return connection_sync(connection_id=company.erp_connection.pk, trigger="schedule", connector=connector)


def drifted(company) -> set[tuple[int, str]]:
    return set(
        Discrepancy.objects.filter(company=company, category=Discrepancy.Category.DRIFT).values_list(
            "record_id", "field"
        )
    )


def test_erp_values_changing_while_a_sync_reads_them(settings):
    settings.SYNC_BATCH_SIZE = 2
    data = linked_company(commitments=6, deleted=0)
    read_already, not_read_yet = data.commitments[0], data.commitments[5]

    def edit_after_first_page(page: int, kind: str) -> None:
        if page == 2:
            # The first page (commitments 1-2) is read; the third (5-6) is not.
            for record in (read_already, not_read_yet):
                sandbox_edit(
                    erp_system="sage300", kind="commitment", erp_id=record.erp_id, changes={"amount": "7"}
                )

    run = sync(data.company, ValuesConnector("sage300", edit_after_first_page))

    assert run.status == SyncRun.Status.SUCCEEDED
    # Each value is judged as it was read: the page read before the change agrees.
    assert drifted(data.company) == {(not_read_yet.pk, "amount")}
    committed = ReconciliationTotal.objects.get(company=data.company, measure="committed")
    assert committed.erp_total == committed.platform_total - not_read_yet.amount + Decimal("7.00")
    # The next run reads the change it missed.
    sync(data.company)
    assert drifted(data.company) == {(read_already.pk, "amount"), (not_read_yet.pk, "amount")}
    assert_invariants(unlinked=0)


def test_an_orphan_appearing_while_a_sync_runs(settings):
    settings.SYNC_BATCH_SIZE = 2
    data = linked_company(commitments=4, deleted=0)
    project = data.commitments[0].project
    lost = factories.commitment(project=project, export_state=ExportState.READY)
    exported_meanwhile = factories.commitment(project=project, export_state=ExportState.READY)

    def during_the_run(page: int, kind: str) -> None:
        if page == 1:
            # An export whose answer never came back: the ERP made the record, the
            # platform never linked it, and the approver rejected the commitment.
            get_connector("sage300").export(COMMITMENT, lost)
            assert record_reject(kind=COMMITMENT, user=data.approver, record_id=lost.pk, reason="Lost").ok
            # And an export that went through while the run was reading.
            assert record_export(kind=COMMITMENT, user=data.approver, record_id=exported_meanwhile.pk).ok

    run = sync(data.company, ValuesConnector("sage300", during_the_run))

    assert run.status == SyncRun.Status.SUCCEEDED
    orphans = list(Discrepancy.objects.filter(company=data.company, category=Discrepancy.Category.ORPHAN))
    assert [(o.record_id, o.relinkable) for o in orphans] == [(lost.pk, True)]
    assert run.orphans_found == 1
    exported_meanwhile.refresh_from_db()
    assert exported_meanwhile.export_state == ExportState.SYNCED
    assert_invariants(unlinked=0, exported=1)


def test_erp_offline_while_values_are_read_fails_the_run_and_changes_no_mark(settings):
    settings.SYNC_BATCH_SIZE = 2
    data = linked_company(commitments=6, deleted=0)
    sandbox_edit(
        erp_system="sage300", kind="commitment", erp_id=data.commitments[0].erp_id, changes={"title": "X"}
    )
    sandbox_post_cost(
        erp_system="sage300",
        company_id=data.company.pk,
        job=project_job_id(data.commitments[0].project),
        cost_code="03-300",
        amount=Decimal("10.00"),
        posted_on=date(2026, 11, 2),
    )
    first = sync(data.company)
    assert first.status == SyncRun.Status.SUCCEEDED and first.drift_found == 1

    def snapshot():
        return (
            sorted(Discrepancy.objects.values_list("id", "category", "record_id", "field", "found_by_id")),
            sorted(ReconciliationTotal.objects.values_list("id", "measure", "erp_total", "run_id")),
            sorted(JobCostTransaction.objects.values_list("id", "amount")),
            dict(Commitment.objects.values_list("pk", "link__missing_since_id")),
        )

    before = snapshot()
    # Meanwhile in the ERP: the drift is put right, a record is deleted, another drifts.
    edit_in_erp(data.commitments[0], title=data.commitments[0].title)
    delete_in_erp(data.commitments[1])
    sandbox_edit(
        erp_system="sage300", kind="commitment", erp_id=data.commitments[4].erp_id, changes={"amount": "1"}
    )

    def offline_at_second_page(page: int, kind: str) -> None:
        if page == 2:
            sandbox_set_mode(erp_system="sage300", mode="offline")

    run = sync(data.company, ValuesConnector("sage300", offline_at_second_page))

    assert run.status == SyncRun.Status.FAILED
    assert "Sage 300 CRE® is not responding" in run.error
    assert snapshot() == before
    sandbox_set_mode(erp_system="sage300", mode="normal")
    # The ERP is back: the next run records all of it.
    after = sync(data.company)
    assert (after.missing_found, after.drift_found) == (1, 1)
    assert drifted(data.company) == {(data.commitments[4].pk, "amount")}
    assert_invariants(unlinked=0)
