"""A worker killed in the middle of a run: its claim dies with it, the next run goes
ahead and records the dead run as failed, and no link was changed."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from erp_integrations.models import Commitment, SyncRun
from erp_integrations.sandbox.services import sandbox_set_mode
from erp_integrations.services.sync import DEAD_WORKER_ERROR, connection_sync
from tests import factories
from tests.erp_integrations.processes import database_url, wait_for
from tests.erp_integrations.services.sync_support import delete_in_erp

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_worker_killed_mid_run_leaves_no_claim_and_no_changed_link(tmp_path):
    company = factories.company()
    commitments = [factories.link(factories.commitment(project=factories.project(company=company)))]
    delete_in_erp(commitments[0])
    # The ERP answers in 8 s (under the 10 s timeout): long enough to kill the run
    # while it waits, holding the connection's claim.
    sandbox_set_mode(erp_system="sage300", mode="slow", latency_ms=8000)
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url("default"),
        "SANDBOX_SAGE300_DATABASE_URL": database_url("sandbox_sage300"),
        "SANDBOX_SAGE100_DATABASE_URL": database_url("sandbox_sage100"),
        "VAR_DIR": str(tmp_path),
    }
    log = tmp_path / "erp_sync.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "erp_sync", "--company", company.slug],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        running = SyncRun.objects.filter(status=SyncRun.Status.RUNNING)
        wait_for(
            lambda: running.exists() or worker.poll() is not None,
            timeout=30,
            what="the worker's run to start",
        )
        assert worker.poll() is None, f"erp_sync ended early:\n{log.read_text(errors='replace')}"
        # While it runs, the connection is claimed: a second run stops at once.
        assert connection_sync(connection_id=company.erp_connection.pk, trigger="command") is None
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
    sandbox_set_mode(erp_system="sage300", mode="normal")
    dead = SyncRun.objects.get()
    assert Commitment.objects.get(pk=commitments[0].pk).erp_missing_since_id is None

    # PostgreSQL drops the dead process's session, and its advisory lock with it.
    run = wait_for(
        lambda: connection_sync(connection_id=company.erp_connection.pk, trigger="command"),
        timeout=30,
        what="the claim to be released",
    )

    dead.refresh_from_db()
    assert (dead.status, dead.error) == (SyncRun.Status.FAILED, DEAD_WORKER_ERROR)
    assert (run.status, run.missing_found) == (SyncRun.Status.SUCCEEDED, 1)
    assert Commitment.objects.get(pk=commitments[0].pk).erp_missing_since_id == run.pk
