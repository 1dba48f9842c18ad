"""The sandbox ERP goes offline or slow in the middle of a sync.

A run that cannot finish changes no link and is recorded as failed with the reason;
unlink keeps judging by the last completed run. A slow ERP (within the timeout) only
makes the run take longer; past the timeout the run fails cleanly like offline.
"""

import time

import pytest

from erp_integrations.kinds import COMMITMENT
from erp_integrations.models import Commitment, SyncRun
from erp_integrations.sandbox.services import sandbox_set_mode
from erp_integrations.services.sync import connection_sync
from erp_integrations.services.unlink import record_unlink
from tests.erp_integrations.services.sync_support import SteppingConnector
from tests.faults.support import assert_invariants, linked_company

pytestmark = [pytest.mark.faults, pytest.mark.django_db(databases="__all__")]

STILL_THERE = "The commitment is still in Sage 300 CRE®. Please delete it before retrying."


def _marks(records) -> dict[int, int | None]:
    return dict(
        Commitment.objects.filter(pk__in=[r.pk for r in records]).values_list("pk", "link__missing_since_id")
    )


def _sync_with(company, before):
    connector = SteppingConnector("sage300", before=before)
    return connection_sync(
        connection_id=company.erp_connection.pk, trigger="schedule", connector=connector
    ), connector


def test_erp_going_offline_mid_sync_fails_the_run_and_changes_no_link(settings):
    settings.SYNC_BATCH_SIZE = 4
    data = linked_company(commitments=12, deleted=6)

    def offline_at_second_batch(call: int, kind: str) -> None:
        if call == 2:
            sandbox_set_mode(erp_system="sage300", mode="offline")

    run, connector = _sync_with(data.company, offline_at_second_batch)

    assert run.status == SyncRun.Status.FAILED
    assert "Sage 300 CRE® is not responding" in run.error
    # The first batch was compared before the ERP went away, yet nothing was written.
    assert connector.calls[0] == ("commitment", 4)
    assert set(_marks(data.commitments).values()) == {None}
    # Deleted in the ERP, but no completed sync saw it: unlink still refuses.
    refused = record_unlink(kind=COMMITMENT, user=data.approver, record_id=data.deleted[0].pk)
    assert (refused.ok, refused.message) == (False, STILL_THERE)

    # The ERP returns; the next run completes and unlink goes ahead.
    sandbox_set_mode(erp_system="sage300", mode="normal")
    run = connection_sync(connection_id=data.company.erp_connection.pk, trigger="schedule")
    assert (run.status, run.links_checked, run.missing_found) == (SyncRun.Status.SUCCEEDED, 12, 6)
    assert record_unlink(kind=COMMITMENT, user=data.approver, record_id=data.deleted[0].pk).ok
    assert_invariants(unlinked=1)


def test_slow_erp_mid_sync_only_makes_the_run_longer(settings):
    settings.SYNC_BATCH_SIZE = 4
    data = linked_company(commitments=12, deleted=3)

    def slow_from_second_batch(call: int, kind: str) -> None:
        if call == 2:
            sandbox_set_mode(erp_system="sage300", mode="slow", latency_ms=300)

    started = time.monotonic()
    run, connector = _sync_with(data.company, slow_from_second_batch)
    elapsed = time.monotonic() - started

    assert (run.status, run.links_checked, run.missing_found) == (SyncRun.Status.SUCCEEDED, 12, 3)
    assert len(connector.calls) == 3 and elapsed >= 0.6  # two slow answers of 0.3 s
    assert {pk for pk, mark in _marks(data.commitments).items() if mark == run.pk} == {
        r.pk for r in data.deleted
    }
    assert_invariants(unlinked=0)


def test_erp_slower_than_the_timeout_fails_the_run_cleanly(settings):
    settings.SYNC_BATCH_SIZE = 4
    settings.ERP_TIMEOUT_SECONDS = 1
    data = linked_company(commitments=8, deleted=4)
    # A completed run first: its marks must survive the failed run untouched.
    first = connection_sync(connection_id=data.company.erp_connection.pk, trigger="schedule")
    assert first.missing_found == 4
    before = _marks(data.commitments)

    def too_slow_at_second_batch(call: int, kind: str) -> None:
        if call == 2:
            sandbox_set_mode(erp_system="sage300", mode="slow", latency_ms=1500)

    run, _connector = _sync_with(data.company, too_slow_at_second_batch)

    assert run.status == SyncRun.Status.FAILED
    assert "did not answer within 1 s" in run.error
    assert _marks(data.commitments) == before
    # Unlink reads the last completed run, which saw the records gone.
    assert record_unlink(kind=COMMITMENT, user=data.approver, record_id=data.deleted[0].pk).ok
    assert_invariants(unlinked=1)


def test_erp_offline_during_an_import_of_master_data_changes_none_of_it():
    """The ERP goes away while the sync is bringing in its vendors, after its jobs."""
    from erp_integrations.master_kinds import VENDOR
    from erp_integrations.models import ErpMasterEntry, Vendor
    from erp_integrations.sandbox.services import sandbox_master_edit
    from erp_integrations.services.master import master_entry_import
    from tests import factories
    from tests.erp_integrations.services.master_support import entry, in_erp

    company = factories.company(name="Northwind")
    approver = factories.approver(company)
    in_erp(company, "job", id="26-0101", name="Harbor Tower")
    in_erp(company, "vendor", id="ACME", name="Acme Concrete", type="Subcontractor")
    connection_sync(connection_id=company.erp_connection.pk, trigger="schedule")
    before = sorted(ErpMasterEntry.objects.values_list("kind", "erp_id", "name"))
    sandbox_master_edit(
        erp_system="sage300", kind="job", erp_id="26-0101", values={"name": "Harbor Tower II"}
    )
    in_erp(company, "job", id="26-0102", name="Riverside Clinic")

    class OfflineAtVendors(SteppingConnector):
        def master_records(self, kind: str):
            if kind == "vendor":
                sandbox_set_mode(erp_system="sage300", mode="offline")
            return self.inner.master_records(kind)

    run = connection_sync(
        connection_id=company.erp_connection.pk, trigger="schedule", connector=OfflineAtVendors("sage300")
    )

    assert run.status == SyncRun.Status.FAILED
    assert "Sage 300 CRE® is not responding" in run.error
    # The jobs read before the ERP went away were not written either.
    assert sorted(ErpMasterEntry.objects.values_list("kind", "erp_id", "name")) == before
    assert_invariants()
    # Add to the platform works from what the last completed sync saw, ERP or not.
    result = master_entry_import(
        kind=VENDOR, user=approver, company=company, entry_id=entry(company, "vendor", "ACME").pk
    )
    assert result.ok, result.message
    assert Vendor.objects.get(company=company).erp_vendor_id == "ACME"
