"""A Celery worker killed (SIGKILL) while its sync waits on the ERP.

The run's claim is a PostgreSQL advisory lock of the worker's own session, so it dies
with the process: nothing stays claimed. The next run, on another worker, records the
dead run as failed and completes; the dead run changed no link.
"""

import signal

import pytest

from erp_integrations.models import Commitment, SyncRun
from erp_integrations.sandbox.services import sandbox_set_mode
from erp_integrations.services.sync import DEAD_WORKER_ERROR, connection_sync
from tests.faults import support

pytestmark = [
    pytest.mark.faults,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

SYNC_TASK = "erp_integrations.tasks.sync_connection"


def test_worker_killed_mid_sync_leaves_nothing_claimed_and_the_next_run_completes(tmp_path):
    data = support.linked_company(commitments=6, deleted=2)
    connection_id = data.company.erp_connection.pk
    # The ERP answers in 8 s (within the 10 s timeout): the run is caught waiting.
    sandbox_set_mode(erp_system="sage300", mode="slow", latency_ms=8000)

    with support.redis_server(tmp_path) as redis_url:
        env = support.process_env(tmp_path, redis_url)
        with support.celery_worker("doomed", env, tmp_path / "doomed.log") as doomed:
            support.wait_until(lambda: support.worker_ready(doomed), timeout=60, what="the first worker")
            support.send_task(redis_url, SYNC_TASK, connection_id, trigger="schedule")
            support.wait_until(
                lambda: SyncRun.objects.filter(status=SyncRun.Status.RUNNING).exists(),
                timeout=30,
                what="the worker's run to start",
            )
            # Claimed while it runs: a second run stops at once.
            assert connection_sync(connection_id=connection_id, trigger="command") is None
            support.stop(doomed.proc, sig=signal.SIGKILL)

        dead = SyncRun.objects.get()
        assert dead.status == SyncRun.Status.RUNNING  # as the dead worker left it
        assert set(Commitment.objects.values_list("link__missing_since", flat=True)) == {None}
        sandbox_set_mode(erp_system="sage300", mode="normal")

        with support.celery_worker("survivor", env, tmp_path / "survivor.log") as survivor:
            support.wait_until(lambda: support.worker_ready(survivor), timeout=60, what="the second worker")
            support.send_task(redis_url, SYNC_TASK, connection_id, trigger="schedule")
            run = support.wait_until(
                lambda: SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED).first(),
                timeout=60,
                what="the next run to complete",
            )

    dead.refresh_from_db()
    assert (dead.status, dead.error) == (SyncRun.Status.FAILED, DEAD_WORKER_ERROR)
    assert (run.links_checked, run.missing_found) == (6, 2)
    marked = set(Commitment.objects.filter(link__missing_since=run).values_list("pk", flat=True))
    assert marked == {r.pk for r in data.deleted}
    support.assert_invariants(unlinked=0)
