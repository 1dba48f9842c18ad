"""What the page says about the sync: last completed run, next run, a run in progress."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from erp_integrations.models import SyncRun
from erp_integrations.sandbox.services import sandbox_set_mode
from erp_integrations.services.sync import connection_sync, next_scheduled_run, sync_status
from tests import factories
from tests.erp_integrations.services.sync_support import PausedSync


def sync(company):
    return connection_sync(connection_id=company.erp_connection.pk, trigger="schedule")


@pytest.mark.parametrize(
    ("now", "next_run"),
    [
        (datetime(2026, 3, 2, 10, 15, 30, tzinfo=UTC), datetime(2026, 3, 2, 11, 0, tzinfo=UTC)),
        (datetime(2026, 3, 2, 10, 0, 0, 1, tzinfo=UTC), datetime(2026, 3, 2, 11, 0, tzinfo=UTC)),
        (datetime(2026, 3, 2, 23, 59, 59, tzinfo=UTC), datetime(2026, 3, 3, 0, 0, tzinfo=UTC)),
    ],
)
def test_the_next_run_is_the_next_top_of_the_hour_in_utc(now, next_run):
    assert next_scheduled_run(now) == next_run


@pytest.mark.embedded
@pytest.mark.django_db(databases="__all__")
def test_before_any_run_the_status_says_so_and_when_the_first_one_runs(django_assert_num_queries):
    company = factories.company()

    # 1) the last completed run and a run in progress (one UNION), 2) the last
    # successful one (none completed).
    with django_assert_num_queries(2):
        status = sync_status(connection=company.erp_connection)

    assert (status.last_completed, status.last_succeeded_at, status.running) == (None, None, None)
    assert not status.last_completed_ok
    now = timezone.now()
    assert now < status.next_run_at <= now + timedelta(hours=1)
    assert (status.next_run_at.minute, status.next_run_at.second, status.next_run_at.microsecond) == (0, 0, 0)


@pytest.mark.embedded
@pytest.mark.django_db(databases="__all__")
def test_after_a_successful_run_the_status_shows_it(django_assert_num_queries):
    company = factories.company()
    run = sync(company)

    # The last completed run (it succeeded, so it is also the last success) and a run
    # in progress, in one UNION (on SQLite too: each part is limited in a subquery).
    with django_assert_num_queries(1):
        status = sync_status(connection=company.erp_connection)

    assert status.last_completed == run and status.last_completed_ok
    assert status.last_succeeded_at == run.finished_at
    assert status.running is None and status.progress_percent is None


@pytest.mark.django_db(databases="__all__")
def test_after_a_failed_run_the_status_shows_the_failure_and_the_last_success():
    company = factories.company()
    factories.link(factories.commitment(project=factories.project(company=company)))
    succeeded = sync(company)
    sandbox_set_mode(erp_system="sage300", mode="offline")
    failed = sync(company)

    status = sync_status(connection=company.erp_connection)

    assert status.last_completed == failed and not status.last_completed_ok
    assert status.last_completed.error == "Sage 300 CRE® is not responding. Try again later."
    assert status.last_succeeded_at == succeeded.finished_at


@pytest.mark.django_db(databases="__all__")
def test_a_run_left_running_by_a_dead_worker_is_not_shown_as_in_progress():
    company = factories.company()
    SyncRun.objects.create(connection=company.erp_connection, started_at=timezone.now() - timedelta(hours=1))

    assert sync_status(connection=company.erp_connection).running is None


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_run_in_progress_shows_how_far_it_got(settings, django_assert_num_queries):
    settings.SYNC_BATCH_SIZE = 1
    company = factories.company()
    project = factories.project(company=company)
    for _ in range(3):
        factories.link(factories.commitment(project=project))
    sync(company)

    # 1) the last completed run and the run in progress (one UNION), 2) whether a live
    # worker holds its claim (pg_try_advisory_lock, refused: nothing to release).
    with PausedSync(company, hold_at=3) as paused, django_assert_num_queries(2):
        status = sync_status(connection=company.erp_connection)

    assert status.running is not None and status.running.pk == paused.run.pk
    assert (status.running.links_checked, status.running.links_total) == (2, 3)
    assert status.progress_percent == 66
    assert status.last_completed_ok
