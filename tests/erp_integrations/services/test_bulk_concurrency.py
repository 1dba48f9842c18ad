"""Bulk actions race like single ones: two approvers bulk-exporting the same rows at
once, or a bulk unlink racing a single one, never double anything; and Retrieve never
pulls back a record whose export is in flight."""

import time

import pytest

from erp_integrations.kinds import COMMITMENT
from erp_integrations.models import AuditEntry, ExportState
from erp_integrations.sandbox.services import sandbox_records, sandbox_set_mode
from erp_integrations.services.bulk import bulk_start
from erp_integrations.services.exports import record_export, record_retrieve
from erp_integrations.services.unlink import record_unlink
from tests import factories
from tests.erp_integrations.services.test_export_concurrency import _run_at_once
from tests.erp_integrations.views.tool_world import delete_in_erp_and_sync

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True, databases="__all__")]


def test_two_approvers_bulk_exporting_the_same_rows_make_one_erp_record_each():
    company = factories.company(erp_system="sage300")
    project = factories.project(company=company)
    first = factories.approver(company, project, username="approver-1")
    second = factories.approver(company, project, username="approver-2")
    rows = [factories.commitment(project=project, export_state=ExportState.READY) for _ in range(6)]
    ids = [r.pk for r in rows]

    results = _run_at_once(
        lambda: bulk_start(kind=COMMITMENT, action="export", user=first, company=company, record_ids=ids),
        lambda: bulk_start(kind=COMMITMENT, action="export", user=second, company=company, record_ids=ids),
    )

    for record_id in ids:
        oks = [row.ok for outcome in results for row in outcome if row.record_id == record_id]
        assert sorted(oks) == [False, True], record_id
        successes = AuditEntry.objects.filter(
            record_type="commitment", record_id=record_id, outcome="success"
        )
        assert successes.count() == 1
    assert sandbox_records("sage300").filter(kind="commitment").count() == len(ids)


def test_a_bulk_unlink_racing_single_unlinks_unlinks_each_row_once():
    company = factories.company(erp_system="sage300")
    project = factories.project(company=company)
    approver = factories.approver(company, project)
    rows = [factories.link(factories.commitment(project=project)) for _ in range(3)]
    for row in rows:
        delete_in_erp_and_sync(row)

    _run_at_once(
        lambda: bulk_start(
            kind=COMMITMENT, action="unlink", user=approver, company=company, record_ids=[r.pk for r in rows]
        ),
        *[lambda pk=row.pk: record_unlink(kind=COMMITMENT, user=approver, record_id=pk) for row in rows],
    )

    for row in rows:
        outcomes = AuditEntry.objects.filter(record_type="commitment", record_id=row.pk, action="unlink")
        assert sorted(outcomes.values_list("outcome", flat=True)) == ["refused", "success"]


def test_retrieve_while_an_export_is_in_flight_is_refused_and_the_export_links_it():
    company = factories.company(erp_system="sage300")
    project = factories.project(company=company)
    approver = factories.approver(company, project)
    sender = factories.approver(company, project, username="sender")
    commitment = factories.commitment(project=project, export_state=ExportState.READY)
    # A slow ERP keeps the export inside its call while Retrieve arrives.
    sandbox_set_mode(erp_system="sage300", mode="slow", latency_ms=800)

    def retrieve_a_moment_later():
        time.sleep(0.3)
        return record_retrieve(kind=COMMITMENT, user=sender, record_id=commitment.pk)

    exported, retrieved = _run_at_once(
        lambda: record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk),
        retrieve_a_moment_later,
    )

    assert exported.ok, exported.message
    assert not retrieved.ok
    assert retrieved.message == "An export of this commitment is in progress; it cannot be retrieved now."
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED and commitment.retrieved_at is None
