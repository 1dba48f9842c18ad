"""The beat-to-worker path for real: beat sends the hourly entry through Redis, a worker
runs it, and a completed sync run is left in the database.

The test starts its own redis-server on a free port and a real `celery worker` and
`celery beat` against the test databases. SYNC_SCHEDULE_SECONDS makes beat fire the
"hourly-erp-sync" entry (same task, same options) every two seconds instead of on the
hour. Every process is stopped before the test ends.
"""

import os
import shutil
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from erp_integrations.models import Commitment, SyncRun
from tests import factories
from tests.erp_integrations.processes import database_url, free_port, process, redis_answers, wait_for
from tests.erp_integrations.services.sync_support import delete_in_erp

CELERY = str(Path(sys.executable).parent / "celery")
DEADLINE_SECONDS = 60


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_beat_sends_the_hourly_entry_through_redis_and_a_worker_completes_a_sync(tmp_path):
    assert shutil.which("redis-server"), "redis-server must be installed"
    company = factories.company()
    project = factories.project(company=company)
    commitments = [factories.link(factories.commitment(project=project)) for _ in range(3)]
    delete_in_erp(commitments[1])

    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    env = {key: value for key, value in os.environ.items() if key != "CELERY_BROKER_URL"} | {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url("default"),
        "SANDBOX_SAGE300_DATABASE_URL": database_url("sandbox_sage300"),
        "SANDBOX_SAGE100_DATABASE_URL": database_url("sandbox_sage100"),
        "REDIS_URL": redis_url,
        "SYNC_SCHEDULE_SECONDS": "2",
        "VAR_DIR": str(tmp_path / "var"),
    }
    redis_server = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    redis_server += ["--appendonly", "no", "--dir", str(tmp_path)]
    worker = [CELERY, "-A", "erp_integrations", "worker", "--pool=solo", "--loglevel=INFO"]
    worker += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"beat-test-{port}@%h"]
    beat = [CELERY, "-A", "erp_integrations", "beat", "--loglevel=INFO", "--max-interval", "1"]
    beat += ["-s", str(tmp_path / "celerybeat-schedule")]

    with ExitStack() as stack:
        stack.enter_context(process(redis_server, log=tmp_path / "redis.log"))
        wait_for(lambda: redis_answers(redis_url), timeout=10, what="the test's redis-server")
        stack.enter_context(process(worker, log=tmp_path / "worker.log", env=env))
        stack.enter_context(process(beat, log=tmp_path / "beat.log", env=env))

        def completed_run():
            return (
                SyncRun.objects.filter(connection=company.erp_connection)
                .exclude(status=SyncRun.Status.RUNNING)
                .order_by("id")
                .first()
            )

        try:
            run = wait_for(completed_run, timeout=DEADLINE_SECONDS, what="a completed sync run")
        except AssertionError:
            for name in ("beat.log", "worker.log"):
                print(f"--- {name}\n{(tmp_path / name).read_text(errors='replace')}")
            raise

    beat_log = (tmp_path / "beat.log").read_text(errors="replace")
    worker_log = (tmp_path / "worker.log").read_text(errors="replace")
    assert "Sending due task hourly-erp-sync (erp_integrations.tasks.sync_all_connections)" in beat_log
    assert "erp_integrations.tasks.sync_all_connections" in worker_log
    assert "erp_integrations.tasks.sync_connection" in worker_log
    assert (run.status, run.trigger, run.error) == ("succeeded", "schedule", "")
    assert (run.links_checked, run.missing_found) == (3, 1)
    assert Commitment.objects.get(pk=commitments[1].pk).erp_missing_since_id == run.pk
