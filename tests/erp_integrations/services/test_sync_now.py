"""Sync now: an ERP Integrations admin queues the same task the hourly run uses."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import PermissionLevel
from accounts.permissions import AccessDenied, NotFound
from erp_integrations.celery import app
from erp_integrations.models import SyncRun
from erp_integrations.services.results import Outcome
from erp_integrations.services.sync import sync_now_request
from tests import factories
from tests.erp_integrations.broker import take_sent_tasks
from tests.erp_integrations.processes import free_port
from tests.erp_integrations.services.sync_support import PausedSync


@pytest.fixture(autouse=True)
def empty_broker_queue():
    take_sent_tasks()


def erp_admin(company, username="erp_admin"):
    return factories.user(username, company=company, erp_level=PermissionLevel.ADMIN)


@pytest.mark.django_db(databases="__all__")
def test_sync_now_queues_the_sync_task_once_the_request_commits(django_capture_on_commit_callbacks):
    company = factories.company()
    admin = erp_admin(company)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = sync_now_request(user=admin, company=company)
        # Nothing reaches the broker before the request's transaction commits.
        assert take_sent_tasks() == []

    assert result.ok and result.outcome == Outcome.DONE
    assert result.message.startswith("Sync started.")
    assert len(callbacks) == 1
    [sent] = take_sent_tasks()
    assert sent.task == "erp_integrations.tasks.sync_connection"
    assert sent.args == [company.erp_connection.pk]
    assert sent.kwargs == {"trigger": "manual", "requested_by_id": admin.pk}


@pytest.mark.django_db(databases="__all__")
def test_sync_now_needs_admin_on_the_erp_integrations_tool(django_capture_on_commit_callbacks):
    company = factories.company()
    standard = factories.user("standard", company=company, erp_level=PermissionLevel.STANDARD, privilege=True)

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(AccessDenied) as refused:
        sync_now_request(user=standard, company=company)

    assert "'Admin' on the ERP Integrations tool" in refused.value.decision.reason
    assert callbacks == []


@pytest.mark.django_db(databases="__all__")
def test_sync_now_is_not_found_for_an_outsider(django_capture_on_commit_callbacks):
    company, other = factories.company(), factories.company()
    outsider = erp_admin(other, "outsider")

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(NotFound):
        sync_now_request(user=outsider, company=company)

    assert callbacks == []


@pytest.mark.django_db(databases="__all__")
def test_sync_now_is_refused_without_an_active_connection(django_capture_on_commit_callbacks):
    company = factories.company()
    company.erp_connection.is_active = False
    company.erp_connection.save()

    with django_capture_on_commit_callbacks() as callbacks:
        result = sync_now_request(user=erp_admin(company), company=company)

    assert (result.ok, result.outcome) == (False, Outcome.CONFLICT)
    assert result.message == "This company has no active ERP connection to sync."
    assert callbacks == []


@pytest.mark.django_db(databases="__all__")
def test_a_run_left_by_a_dead_worker_does_not_block_sync_now(django_capture_on_commit_callbacks):
    company = factories.company()
    SyncRun.objects.create(connection=company.erp_connection, started_at=timezone.now() - timedelta(hours=2))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = sync_now_request(user=erp_admin(company), company=company)

    assert result.ok
    assert len(callbacks) == 1


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_sync_now_is_refused_politely_while_a_run_is_in_progress(settings):
    settings.SYNC_BATCH_SIZE = 1
    company = factories.company()
    project = factories.project(company=company)
    for _ in range(3):
        factories.link(factories.commitment(project=project))
    admin = erp_admin(company)

    with PausedSync(company, hold_at=2):
        result = sync_now_request(user=admin, company=company)

    assert (result.ok, result.outcome) == (False, Outcome.CONFLICT)
    assert result.message == (
        "A sync with Sage 300 CRE® is already running (1 of 3 links checked). "
        "Wait for it to finish before starting another."
    )
    assert take_sent_tasks() == []
    # Once it finished, Sync now goes ahead (committed at once: no surrounding transaction).
    assert sync_now_request(user=admin, company=company).ok
    assert [sent.kwargs["trigger"] for sent in take_sent_tasks()] == ["manual"]


@pytest.fixture
def unreachable_broker():
    """Point this process's Celery app at a port where no Redis listens, then back."""

    def use(url):
        app.conf.broker_url = url
        # The app caches its broker connections and producers; drop them so the next
        # publish connects to ``url``. (Private attributes: there is no public switch.)
        app._pool = None
        app.amqp._producer_pool = None

    original = app.conf.broker_url
    use(f"redis://127.0.0.1:{free_port()}/0")
    try:
        yield
    finally:
        use(original)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_sync_now_says_so_when_the_task_queue_is_unreachable(unreachable_broker):
    company = factories.company()
    assert not connection.in_atomic_block  # as in a view: the task is sent at once

    result = sync_now_request(user=erp_admin(company), company=company)

    assert (result.ok, result.outcome) == (False, Outcome.UNAVAILABLE)
    assert result.message.startswith("The sync could not be queued: the task queue is not reachable")
    assert not SyncRun.objects.exists()


@pytest.mark.django_db(databases="__all__")
def test_a_second_sync_now_is_refused_while_the_first_waits_for_a_worker(django_capture_on_commit_callbacks):
    company = factories.company()
    admin = erp_admin(company)

    with django_capture_on_commit_callbacks(execute=True):
        first = sync_now_request(user=admin, company=company)
    with django_capture_on_commit_callbacks(execute=True):
        second = sync_now_request(user=admin, company=company)

    assert first.ok
    assert not second.ok and second.outcome == Outcome.CONFLICT
    assert "already requested and is waiting for a worker" in second.message
    assert len(take_sent_tasks()) == 1


@pytest.mark.django_db(databases="__all__")
def test_sync_now_may_be_asked_again_once_a_run_has_started_since(django_capture_on_commit_callbacks):
    company = factories.company()
    admin = erp_admin(company)
    with django_capture_on_commit_callbacks(execute=True):
        assert sync_now_request(user=admin, company=company).ok
    # A worker took the queued task: its run started after the request.
    SyncRun.objects.create(
        connection=company.erp_connection,
        trigger=SyncRun.Trigger.MANUAL,
        status=SyncRun.Status.SUCCEEDED,
        started_at=timezone.now() + timedelta(seconds=1),
        finished_at=timezone.now() + timedelta(seconds=2),
    )

    with django_capture_on_commit_callbacks(execute=True):
        again = sync_now_request(user=admin, company=company)

    assert again.ok
    assert len(take_sent_tasks()) == 2
