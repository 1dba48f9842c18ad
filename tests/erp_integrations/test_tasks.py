"""The Celery tasks: the hourly fan-out through the real broker, and the sync task."""

import threading
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.db import connections
from django.utils import timezone

from erp_integrations.celery import app
from erp_integrations.models import SyncRun
from erp_integrations.sandbox.services import sandbox_set_mode
from erp_integrations.tasks import sync_all_connections, sync_connection
from tests import factories
from tests.erp_integrations.broker import take_sent_tasks
from tests.erp_integrations.services.sync_support import delete_in_erp


@pytest.fixture(autouse=True)
def empty_broker_queue():
    take_sent_tasks()
    yield
    take_sent_tasks()


def test_the_beat_entry_names_the_fan_out_task_and_results_are_ignored():
    entry = settings.CELERY_BEAT_SCHEDULE["hourly-erp-sync"]
    assert entry["task"] == sync_all_connections.name
    assert entry["options"]["expires"] == 55 * 60
    assert {sync_all_connections.name, sync_connection.name} <= set(app.tasks)
    assert sync_all_connections.ignore_result and sync_connection.ignore_result


@pytest.mark.django_db
def test_the_hourly_task_queues_one_sync_per_active_connection():
    active = [factories.company(), factories.company(erp_system="sage100")]
    inactive = factories.company()
    inactive.erp_connection.is_active = False
    inactive.erp_connection.save()
    factories.company(erp_system=None)

    sync_all_connections()

    sent = take_sent_tasks()
    assert [(s.task, s.args, s.kwargs) for s in sent] == [
        ("erp_integrations.tasks.sync_connection", [company.erp_connection.pk], {"trigger": "schedule"})
        for company in active
    ]
    # Each fanned-out run expires like the beat entry, so runs missed while no worker
    # was up do not pile up.
    for s in sent:
        expires = datetime.fromisoformat(s.expires)
        assert timedelta(minutes=54) < expires - timezone.now() <= timedelta(minutes=55)
    assert not SyncRun.objects.exists()


@pytest.mark.django_db(databases="__all__")
def test_the_sync_task_runs_the_sync_of_its_connection():
    company = factories.company()
    commitment = factories.link(factories.commitment(project=factories.project(company=company)))
    delete_in_erp(commitment)
    admin = factories.user("admin", company=company)

    assert sync_connection(company.erp_connection.pk) is None
    sync_connection(company.erp_connection.pk, trigger="manual", requested_by_id=admin.pk)

    runs = list(
        SyncRun.objects.order_by("id").values_list("trigger", "requested_by_id", "status", "missing_found")
    )
    assert runs == [("schedule", None, "succeeded", 1), ("manual", admin.pk, "succeeded", 0)]


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_two_sync_tasks_for_one_connection_at_once_one_runs_and_one_stops_cleanly():
    company = factories.company()
    factories.link(factories.commitment(project=factories.project(company=company)))
    # The ERP takes a while to answer, so the first run still holds the connection
    # when the second task starts.
    sandbox_set_mode(erp_system="sage300", mode="slow", latency_ms=1500)
    barrier = threading.Barrier(2)
    errors = []

    def task():
        try:
            barrier.wait(timeout=10)
            sync_connection(company.erp_connection.pk)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=task) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert list(SyncRun.objects.values_list("status", "links_checked")) == [("succeeded", 1)]
