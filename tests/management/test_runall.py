"""runall runs the product on the embedded default: SQLite files and a file-system broker.

The command runs for real in a subprocess with a clean environment (no DATABASE_URL,
no REDIS_URL) and its own VAR_DIR: the web server must answer, a task sent through the
file-system broker by beat must be run by the worker, and a stop must take all three
down.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow

STARTUP_TIMEOUT = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children_of(pid: int) -> dict[int, str]:
    """Live child processes of ``pid`` and their command lines, read from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # The fields after the command name (which may hold spaces) start after ')'.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found[int(entry.name)] = cmdline
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Runall:
    def __init__(self, var_dir: Path, *extra: str, **extra_env: str):
        self.var_dir = var_dir
        self.port = free_port()
        self.log = var_dir / f"runall-{self.port}.log"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "DEBUG": "true",
            "VAR_DIR": str(var_dir),
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runall", f"--port={self.port}", *extra],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.process.poll() is not None:
                pytest.fail(f"runall exited ({self.process.returncode}) before {text!r}:\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{text!r} did not appear within {timeout} s:\n{self.output()}")
            time.sleep(0.25)

    def get(self, path: str):
        return urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10)  # noqa: S310

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for pid in children_of(self.process.pid):
                os.kill(pid, signal.SIGKILL)
            self.process.kill()
            raise


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("runall-var")


def test_runs_web_worker_and_beat_on_sqlite_and_the_file_system_broker(var_dir):
    # Beat fires the hourly entry every few seconds instead of on the hour.
    runall = Runall(var_dir, SYNC_SCHEDULE_SECONDS="3")
    try:
        runall.wait_for("ERP Integrations is running on")
        runall.wait_for("celery@")
        runall.wait_for(" ready.")
        runall.wait_for("beat: Starting...")

        admin_login = _wait_for_page(runall, "/admin/login/")
        children = children_of(runall.process.pid)
        # Beat sends the entry through the file-system broker; the worker fans it out
        # and runs one sync per connection against the SQLite stores.
        runall.wait_for("Scheduler: Sending due task hourly-erp-sync", timeout=60)
        runall.wait_for("Hourly sync queued for 2 connection(s).", timeout=60)
        _wait_for_sync_runs(var_dir / "erp_integrations.sqlite3", count=2)
        login = runall.get("/")  # redirected to the product's sign-in page
    finally:
        code = runall.stop()

    assert admin_login.status == 200
    assert login.status == 200
    assert "/login/" in login.url
    commands = " | ".join(children.values())
    assert "runserver" in commands
    assert "celery -A erp_integrations worker" in commands
    assert "celery -A erp_integrations beat" in commands
    assert "Demo data ready" in runall.output()
    # Everything the embedded default writes stays under VAR_DIR.
    assert (var_dir / "erp_integrations.sqlite3").is_file()
    assert (var_dir / "celery-broker" / "control").is_dir()
    assert code == 0
    assert not any(alive(pid) for pid in children)


def test_stops_everything_when_one_process_dies(var_dir):
    runall = Runall(var_dir, "--no-seed")
    try:
        runall.wait_for(" ready.")
        runall.wait_for("beat: Starting...")
        children = children_of(runall.process.pid)
        worker = next(pid for pid, cmd in children.items() if " worker " in cmd)

        os.kill(worker, signal.SIGKILL)
        code = runall.process.wait(timeout=30)
    finally:
        runall.stop()

    assert code == 1
    assert "worker exited with code -9; stopping the others." in runall.output()
    assert not any(alive(pid) for pid in children)


@pytest.mark.parametrize("how", [signal.SIGHUP, signal.SIGINT], ids=["terminal-closed", "ctrl-c"])
def test_a_closed_terminal_or_ctrl_c_stops_all_three(var_dir, how):
    runall = Runall(var_dir, "--no-seed")
    try:
        runall.wait_for(" ready.")
        runall.wait_for("beat: Starting...")
        children = children_of(runall.process.pid)
        assert len(children) == 3, children

        runall.process.send_signal(how)
        code = runall.process.wait(timeout=30)
    finally:
        runall.stop()

    assert code == 0
    assert f"Received {how.name}; stopping..." in runall.output()
    assert not any(alive(pid) for pid in children)


def _wait_for_page(runall: Runall, path: str):
    deadline = time.monotonic() + 30
    while True:
        try:
            return runall.get(path)
        except urllib.error.HTTPError:
            raise
        except OSError:  # not listening yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def _wait_for_sync_runs(database: Path, *, count: int) -> None:
    """The worker ran the fanned-out syncs: completed runs are in the SQLite database."""
    deadline = time.monotonic() + 60
    while True:
        with sqlite3.connect(database, timeout=20) as db:
            done = db.execute(
                "SELECT count(*) FROM erp_integrations_syncrun WHERE status = 'succeeded'"
            ).fetchone()[0]
        if done >= count:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{done} of {count} sync runs completed within 60 s")
        time.sleep(0.5)
