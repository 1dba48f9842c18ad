"""What operations rely on: /healthz, a 503 rather than a 500 when the database pool is
exhausted, caching headers, log lines that name their request and user, Redis timeouts,
and a Redis database of the tests' own."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import DatabaseError, connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from psycopg_pool import PoolTimeout

from accounts.models import PermissionLevel
from erp_integrations.celery import app
from erp_integrations.logging import RequestContextFilter
from erp_integrations.models import SyncRun
from erp_integrations.services.results import Outcome
from erp_integrations.services.sync import sync_now_request
from tests import factories
from tests.erp_integrations.broker import take_sent_tasks
from tests.erp_integrations.processes import free_port

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def northwind():
    company = factories.company(name="Northwind Builders")
    project = factories.project(company=company, name="Harbor Tower")
    return company, project, factories.approver(company, project)


def _use_broker(url: str) -> None:
    app.conf.broker_url = url
    # The app caches its broker connections and producers; drop them so the next
    # publish connects to ``url``. (Private attributes: there is no public switch.)
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_at():
    original = app.conf.broker_url
    yield _use_broker
    _use_broker(original)


# --- /healthz ------------------------------------------------------------------------------
def test_healthz_reports_database_broker_and_each_connections_last_sync(northwind):
    company, _, _ = northwind
    now = timezone.now()
    SyncRun.objects.create(
        connection=company.erp_connection,
        status=SyncRun.Status.SUCCEEDED,
        started_at=now - timedelta(minutes=31),
        finished_at=now - timedelta(minutes=30),
    )

    response = Client().get("/healthz")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert (body["status"], body["database"], body["broker"]) == ("ok", "ok", "ok")
    [entry] = [c for c in body["connections"] if c["id"] == company.erp_connection.pk]
    assert entry["erp"] == "sage300"
    assert 30 * 60 - 5 <= entry["last_successful_sync_age_seconds"] <= 30 * 60 + 60
    assert entry["last_completed_sync_age_seconds"] == entry["last_successful_sync_age_seconds"]
    assert entry["stale"] is False
    # Nothing a stranger should learn: no company names, no URLs or credentials.
    assert (
        "Northwind" not in response.text
        and "redis://" not in response.text
        and "postgres" not in response.text
    )


def test_healthz_flags_a_connection_never_synced_as_stale_without_failing(northwind):
    company, _, _ = northwind

    response = Client().get(reverse("healthz"))

    assert response.status_code == 200
    [entry] = [c for c in response.json()["connections"] if c["id"] == company.erp_connection.pk]
    assert entry["last_completed_sync_age_seconds"] is None and entry["stale"] is True


def test_healthz_is_503_when_the_broker_does_not_answer(broker_at):
    broker_at(f"redis://127.0.0.1:{free_port()}/0")

    response = Client().get(reverse("healthz"))

    assert response.status_code == 503
    assert response.json()["broker"] == "unreachable" and response.json()["database"] == "ok"


def test_healthz_is_503_when_the_database_does_not_answer(monkeypatch):
    def refuse(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)

    response = Client().get(reverse("healthz"))

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "unreachable",
        "broker": "ok",
        "connections": None,
    }


def test_healthz_answers_plain_http_where_everything_else_redirects(settings):
    settings.SECURE_SSL_REDIRECT = True

    assert Client().get(reverse("healthz")).status_code == 200
    assert Client().get(reverse("login")).status_code == 301


# --- an exhausted pool ---------------------------------------------------------------------
def _pool_exhausted(*args, **kwargs):
    # As Django reports it: an OperationalError caused by psycopg_pool's PoolTimeout.
    with connection.wrap_database_errors:
        raise PoolTimeout("couldn't get a connection after 10.00 sec")


def test_a_view_that_finds_no_free_connection_answers_503_with_retry_after(northwind, monkeypatch):
    _, _, approver = northwind
    client = Client()
    client.force_login(approver)
    monkeypatch.setattr("erp_integrations.selectors.companies_for_user", _pool_exhausted)

    response = client.get(reverse("company_list"))

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "Every connection to the database is in use" in response.text


def test_no_free_connection_outside_a_view_is_503_too(northwind, monkeypatch):
    _, _, approver = northwind
    client = Client(raise_request_exception=False)
    client.force_login(approver)
    monkeypatch.setattr("django.contrib.sessions.backends.db.SessionStore.save", _pool_exhausted)

    # Opening a company's tool remembers it in the session, saved after the view.
    response = client.get(reverse("erp_tab", args=[northwind[0].pk, "commitments"]))

    assert response.status_code == 503
    assert response["Retry-After"] == "5"


def test_other_server_errors_stay_500(northwind, monkeypatch):
    _, _, approver = northwind
    client = Client(raise_request_exception=False)
    client.force_login(approver)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("erp_integrations.selectors.companies_for_user", broken)

    assert client.get(reverse("company_list")).status_code == 500


# --- caching headers -----------------------------------------------------------------------
def test_signed_in_pages_are_private_and_not_stored(northwind):
    company, _, approver = northwind
    client = Client()
    client.force_login(approver)

    for url in (reverse("company_list"), reverse("erp_tab", args=[company.pk, "commitments"])):
        cache_control = {part.strip() for part in client.get(url)["Cache-Control"].split(",")}
        assert {"private", "no-store"} <= cache_control, url
    assert "private" not in Client().get("/favicon.ico").get("Cache-Control", "")


def test_only_the_sync_panels_poll_may_be_kept_and_revalidated(northwind):
    company, _, approver = northwind
    client = Client()
    client.force_login(approver)
    htmx = {"HX-Request": "true"}

    poll = client.get(reverse("erp_sync_panel", args=[company.pk]), headers=htmx)
    lists = client.get(reverse("erp_list", args=[company.pk, "commitments", "synced"]), headers=htmx)
    progress = client.get(reverse("erp_sync_progress", args=[company.pk]), headers=htmx)

    assert poll.status_code == 200 and "ETag" in poll
    assert {part.strip() for part in poll["Cache-Control"].split(",")} == {"private", "no-cache"}
    for other in (lists, progress):
        assert {part.strip() for part in other["Cache-Control"].split(",")} == {"private", "no-store"}
        assert "ETag" not in other


def test_responses_that_differ_for_htmx_say_so(northwind):
    company, _, approver = northwind
    client = Client()
    client.force_login(approver)
    synced = reverse("erp_list", args=[company.pk, "commitments", "synced"])

    for headers in ({}, {"HX-Request": "true"}):
        tab = client.get(reverse("erp_tab", args=[company.pk, "commitments"]), headers=headers)
        fragment = client.get(synced, headers=headers, follow=False)
        assert "HX-Request" in tab["Vary"], headers
        assert "HX-Request" in fragment["Vary"], headers
    assert "HX-Request" not in Client().get(reverse("healthz")).get("Vary", "")


# --- log lines -----------------------------------------------------------------------------
class _Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []
        self.addFilter(RequestContextFilter())
        self.setFormatter(logging.Formatter(settings.LOGGING["formatters"]["line"]["format"]))

    def emit(self, record):
        self.lines.append(self.format(record))


def test_log_lines_carry_time_level_request_id_and_user(northwind):
    company, _, approver = northwind
    other = factories.company(name="Other Builders")
    client = Client()
    client.force_login(approver)
    lines = _Lines()
    logging.getLogger("django.request").addHandler(lines)
    try:
        response = client.get(reverse("erp_tab", args=[other.pk, "commitments"]))  # 404: logged
        given = client.get(
            reverse("erp_tab", args=[other.pk, "commitments"]), headers={"X-Request-ID": "lb-1234.abc"}
        )
        bogus = client.get(
            reverse("erp_tab", args=[other.pk, "commitments"]), headers={"X-Request-ID": "a b\n"}
        )
    finally:
        logging.getLogger("django.request").removeHandler(lines)

    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    assert given["X-Request-ID"] == "lb-1234.abc"
    assert bogus["X-Request-ID"] not in ("a b\n", request_id) and len(bogus["X-Request-ID"]) == 32
    first = lines.lines[0]
    assert first[:4].isdigit() and " WARNING " in first
    assert f"[{request_id} approver] django.request: Not Found" in first
    assert "[lb-1234.abc approver]" in lines.lines[1]


def test_log_lines_outside_a_request_say_so():
    lines = _Lines()
    logger = logging.getLogger("erp_integrations.tests")
    logger.addHandler(lines)
    try:
        logger.warning("from the command line")
    finally:
        logger.removeHandler(lines)

    assert "[- -] erp_integrations.tests: from the command line" in lines.lines[0]


# --- Redis ---------------------------------------------------------------------------------
@pytest.fixture
def black_hole():
    """A TCP port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_sync_now_gives_up_on_a_black_holed_redis(black_hole, broker_at, settings):
    company = factories.company()
    admin = factories.user("erp-admin", company=company, erp_level=PermissionLevel.ADMIN)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": black_hole,
            "OPTIONS": settings.CACHES["default"]["OPTIONS"],
        }
    }
    broker_at(black_hole)

    def hung(signum, frame):
        raise TimeoutError("Sync now hung on a Redis that does not answer")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        started = time.monotonic()
        result = sync_now_request(user=admin, company=company)
        seconds = time.monotonic() - started
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)

    assert result.outcome == Outcome.UNAVAILABLE
    assert "the task queue is not reachable right now" in result.message
    assert seconds < 8 * settings.REDIS_SOCKET_TIMEOUT
    assert not connection.in_atomic_block  # as in a view: the task was sent at once


def test_redis_clients_have_socket_timeouts():
    options = settings.CACHES["default"]["OPTIONS"]
    assert options["socket_timeout"] == options["socket_connect_timeout"] == settings.REDIS_SOCKET_TIMEOUT
    transport = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    assert transport["socket_timeout"] == transport["socket_connect_timeout"] == settings.REDIS_SOCKET_TIMEOUT


def _tests_redis(**env: str) -> list[str]:
    """The Redis URL and broker of tests.settings, in a process with ``env`` and no REDIS_URL."""
    unset = ("REDIS_URL", "PYTEST_XDIST_WORKER")
    kept = {key: value for key, value in os.environ.items() if key not in unset}
    code = "import tests.settings as s; print(s.REDIS_URL, s.CELERY_BROKER_URL)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=kept | env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def test_the_tests_use_a_redis_database_of_their_own():
    assert _tests_redis() == ["redis://127.0.0.1:6379/15", "redis://127.0.0.1:6379/15"]
    # Under pytest-xdist each worker has one of its own, below it.
    assert _tests_redis(PYTEST_XDIST_WORKER="gw0") == ["redis://127.0.0.1:6379/15"] * 2
    assert _tests_redis(PYTEST_XDIST_WORKER="gw1") == ["redis://127.0.0.1:6379/14"] * 2
    assert (
        _tests_redis(PYTEST_XDIST_WORKER="gw1", REDIS_URL="redis://127.0.0.1:6379/9")
        == ["redis://127.0.0.1:6379/8"] * 2
    )
    take_sent_tasks()
