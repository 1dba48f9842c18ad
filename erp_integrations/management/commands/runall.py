"""Run the whole product on one machine: web server, Celery worker and Celery beat.

Migrates the platform's database and both sandbox ERP stores, seeds the demo, then
starts the three processes and watches them. Ctrl-C, SIGTERM or SIGHUP (the terminal
closing) stops all three; if
one of them dies, the others are stopped too and the command exits non-zero. On the
embedded default (no DATABASE_URL, no REDIS_URL) everything lives in SQLite files and
a file-system broker under VAR_DIR.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

#: How long the processes get to stop after SIGTERM before they are killed.
STOP_TIMEOUT = 10


class Command(BaseCommand):
    help = "Migrate, seed the demo and run the web server, a Celery worker and Celery beat together."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1", help="Address the web server listens on.")
        parser.add_argument("--port", type=int, default=8000, help="Port of the web server.")
        parser.add_argument("--no-seed", action="store_true", help="Do not run seed_demo.")
        parser.add_argument(
            "--password", help="Password for the demo users (required by seed_demo unless DEBUG is on)."
        )

    def handle(self, *args, addr, port, no_seed, password, **options):
        verbosity = options["verbosity"]
        self._prepare(no_seed=no_seed, password=password, verbosity=verbosity)
        processes = self._start(addr, port)
        self.stdout.write(
            self.style.SUCCESS(f"ERP Integrations is running on http://{addr}:{port}/ (Ctrl-C stops it).")
        )
        self.stdout.flush()
        exit_code = self._watch(processes)
        if exit_code:
            raise CommandError(f"Stopped because a process exited with code {exit_code}.", returncode=1)

    # --- before the processes start ---------------------------------------------------
    def _prepare(self, *, no_seed: bool, password: str | None, verbosity: int) -> None:
        for alias in settings.DATABASES:
            self.stdout.write(f"Migrating database '{alias}'...")
            call_command("migrate", database=alias, interactive=False, verbosity=max(verbosity - 1, 0))
        if not settings.DEBUG:
            # Without DEBUG, static files are served from the collected, hashed copies.
            call_command("collectstatic", interactive=False, verbosity=max(verbosity - 1, 0))
        if not no_seed:
            call_command("seed_demo", password=password, verbosity=verbosity)

    # --- the three processes ------------------------------------------------------------
    def _commands(self, addr: str, port: int) -> dict[str, list[str]]:
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        celery = [python, "-m", "celery", "-A", "erp_integrations"]
        schedule = settings.CELERY_BEAT_SCHEDULE_FILENAME
        return {
            # No autoreloader: it forks a child of its own that would outlive a stop.
            "web": [python, manage, "runserver", f"{addr}:{port}", "--noreload"],
            # The solo pool runs one task at a time in the worker process itself: right for
            # SQLite's single writer and the file-system broker; with PostgreSQL and Redis,
            # run more workers (or --pool=prefork) instead.
            "worker": [*celery, "worker", "--loglevel=INFO", "--pool=solo"],
            "beat": [*celery, "beat", "--loglevel=INFO", f"--schedule={schedule}"],
        }

    def _start(self, addr: str, port: int) -> dict[str, subprocess.Popen]:
        env = os.environ.copy()
        env.setdefault("DJANGO_SETTINGS_MODULE", "erp_integrations.settings")
        env["PYTHONUNBUFFERED"] = "1"
        processes: dict[str, subprocess.Popen] = {}
        for name, command in self._commands(addr, port).items():
            # Each in a session of its own, so a stop reaches its children and a
            # terminal's Ctrl-C reaches them only through us, in order.
            processes[name] = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, start_new_session=True
            )
            self.stdout.write(f"Started {name} (pid {processes[name].pid}): {' '.join(command[1:])}")
            self.stdout.flush()
        return processes

    def _watch(self, processes: dict[str, subprocess.Popen]) -> int:
        stopping: list[int] = []

        def on_signal(signum, frame):
            stopping.append(signum)

        # Ctrl-C, a stop, or the terminal closing (SIGHUP): the three go down with us
        # instead of living on as orphans that hold the port and keep a second beat.
        stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {sig: signal.signal(sig, on_signal) for sig in stop_signals}
        try:
            while not stopping:
                for name, process in processes.items():
                    code = process.poll()
                    if code is not None:
                        self.stderr.write(f"{name} exited with code {code}; stopping the others.")
                        self._stop(processes)
                        return code or 1
                time.sleep(0.5)
            self.stdout.write(f"Received {signal.Signals(stopping[0]).name}; stopping...")
            self.stdout.flush()
            self._stop(processes)
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self, processes: dict[str, subprocess.Popen]) -> None:
        for process in processes.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for name, process in processes.items():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in {STOP_TIMEOUT} s; killing it.")
                _signal_group(process, signal.SIGKILL)
                process.wait()
            # Whatever the process left behind in its session goes with it.
            _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
