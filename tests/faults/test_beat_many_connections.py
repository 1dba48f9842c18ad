"""Two Celery workers and one beat running the hourly sync for 20 connections.

Beat sends the "hourly-erp-sync" entry (the real entry, its task and options; only
its period is shortened with SYNC_SCHEDULE_SECONDS) through the test's own Redis;
``sync_all_connections`` fans out one ``sync_connection`` per connection to the two
workers. Every connection is synced exactly once per beat tick, never twice at once.
"""

import re

import pytest

from erp_integrations.models import ErpConnection, SyncRun
from tests import factories
from tests.erp_integrations.services.sync_support import delete_in_erp
from tests.faults import support

pytestmark = [
    pytest.mark.faults,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

CONNECTIONS = 20
TICKS = 2
PERIOD_SECONDS = 8
SENT = re.compile(r"Sending due task hourly-erp-sync \(erp_integrations\.tasks\.sync_all_connections\)")


def test_each_connection_is_synced_exactly_once_per_beat_tick(tmp_path):
    for n in range(CONNECTIONS):
        company = factories.company(erp_system="sage300" if n % 2 else "sage100")
        project = factories.project(company=company)
        linked = [factories.link(factories.commitment(project=project)) for _ in range(2)]
        delete_in_erp(linked[0])

    with support.redis_server(tmp_path) as redis_url:
        env = support.process_env(tmp_path, redis_url, SYNC_SCHEDULE_SECONDS=str(PERIOD_SECONDS))
        with (
            support.celery_worker("one", env, tmp_path / "worker-one.log") as one,
            support.celery_worker("two", env, tmp_path / "worker-two.log") as two,
        ):
            support.wait_until(lambda: support.worker_ready(one) and support.worker_ready(two), timeout=90,
                               what="both workers")  # fmt: skip
            with support.celery_beat(env, tmp_path) as beat:
                support.wait_until(
                    lambda: len(SENT.findall(beat.text())) >= TICKS,
                    timeout=PERIOD_SECONDS * (TICKS + 2) + 30,
                    what=f"{TICKS} beat ticks",
                )
            ticks = len(SENT.findall(beat.text()))
            support.wait_until(
                lambda: (
                    SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED).count() >= ticks * CONNECTIONS
                ),
                timeout=90,
                what="every run of every tick",
            )
            worker_logs = one.text() + two.text()
        assert ticks >= TICKS

    for connection in ErpConnection.objects.all():
        runs = list(connection.sync_runs.order_by("started_at"))
        assert len(runs) == ticks, (connection.pk, [(r.pk, r.status, r.error) for r in runs])
        assert {(r.status, r.trigger) for r in runs} == {(SyncRun.Status.SUCCEEDED, SyncRun.Trigger.SCHEDULE)}
        assert [r.missing_found for r in runs] == [1] + [0] * (ticks - 1)
        # One at a time: each run started after the one before it finished.
        assert all(
            later.started_at >= earlier.finished_at for earlier, later in zip(runs, runs[1:], strict=False)
        )
    # The fan-out reached both workers.
    assert "sync_connection" in one.text() and "sync_connection" in two.text(), worker_logs[-2000:]
    support.assert_invariants(unlinked=0)
