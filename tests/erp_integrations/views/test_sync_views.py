"""Sync status on every tab, Sync now, its live progress, and the history of runs."""

import html
import json
import re
from datetime import timedelta
from http import HTTPStatus
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from erp_integrations.models import SyncRun
from erp_integrations.services.sync import connection_sync, next_scheduled_run
from erp_integrations.views.sync import STOP_POLLING
from tests.erp_integrations.views.tool_world import (
    ERP_ADMIN,
    build_world,
    client_for,
    csrf_token,
    htmx_get,
    messages_of,
    post,
    sync_claimed_elsewhere,
    tab_url,
    text,
)

pytestmark = pytest.mark.django_db(databases="__all__")


def sync_url(world, name="erp_sync"):
    return reverse(name, kwargs={"company_id": world.company.pk})


def run(
    world, *, status=SyncRun.Status.SUCCEEDED, ago=timedelta(minutes=10), error="", checked=120, **fields
):
    started = timezone.now() - ago
    return SyncRun.objects.create(
        connection=world.company.erp_connection,
        status=status,
        started_at=started,
        finished_at=None if status == SyncRun.Status.RUNNING else started + timedelta(seconds=75),
        links_total=fields.pop("links_total", checked),
        links_checked=checked,
        error=error,
        **fields,
    )


def panel(response) -> str:
    body = response.content.decode()
    start = body.index('<section id="sync-panel"')
    return body[start : body.index("</section>", start)]


def sync_now(client, world, *, htmx=True, data=None):
    page = tab_url(world.company)
    token = csrf_token(client, page)
    return post(
        client,
        sync_url(world, "erp_sync_now"),
        data or {"next": page, "tab": "commitments"},
        htmx=htmx,
        token=token,
        current=page,
    )


# --- the status every tab shows ----------------------------------------------------------------------
def test_every_tab_says_when_the_last_sync_completed_and_when_the_next_runs():
    world = build_world()
    last = run(world)

    for tab in ("commitments", "subcontractor-invoices"):
        response = client_for(world.viewer).get(tab_url(world.company, tab))
        box = panel(response)
        assert f'datetime="{last.finished_at.isoformat()}"' in box
        assert 'data-testid="last-sync-outcome">Succeeded<' in box
        assert f'datetime="{next_scheduled_run().isoformat()}"' in box
        assert "hourly, on the hour" in box


def test_the_page_says_unlink_needs_a_completed_sync_for_invoices_too():
    world = build_world(erp_system="sage100")
    client = client_for(world.viewer)

    commitments = text(client.get(tab_url(world.company)))
    invoices = text(client.get(tab_url(world.company, "subcontractor-invoices")))

    assert (
        "Unlink succeeds only after the hourly sync has seen the record deleted in Sage 100 Contractor®."
        in commitments
    )
    assert "Delete the commitment in Sage 100 Contractor® first" in commitments
    assert (
        "Unlink succeeds only after the hourly sync has seen the record deleted in Sage 100 Contractor®."
        in invoices
    )
    assert "Delete the requisition in Sage 100 Contractor® first" in invoices


def test_before_any_sync_the_page_says_so():
    world = build_world()

    box = panel(client_for(world.viewer).get(tab_url(world.company)))

    assert "No sync has completed yet" in box


def test_a_failed_last_sync_shows_its_error_and_the_last_successful_one():
    world = build_world()
    good = run(world, ago=timedelta(hours=2))
    run(world, status=SyncRun.Status.FAILED, error="Sage 300 CRE® is not responding. Try again later.")

    box = html.unescape(panel(client_for(world.viewer).get(tab_url(world.company))))

    assert 'data-testid="last-sync-outcome">Failed<' in box
    words = " ".join(re.sub(r"<[^>]+>", " ", box).split())
    assert "The last sync failed: Sage 300 CRE® is not responding. Try again later." in words
    assert f'datetime="{good.finished_at.isoformat()}"' in box


# --- Sync now -------------------------------------------------------------------------------------------
def test_sync_now_is_offered_to_erp_admins_and_disabled_with_the_reason_for_others():
    world = build_world()

    admin = panel(client_for(world.approver).get(tab_url(world.company)))
    pm = panel(client_for(world.pm).get(tab_url(world.company)))

    assert re.search(r'<button[^>]*data-testid="sync-now-button"', admin.replace("\n", " "))
    assert f'hx-post="{sync_url(world, "erp_sync_now")}"' in admin and "sync-now-denied" not in admin
    button = re.search(r"<button[^>]*sync-now-button[^>]*>", pm, re.S).group(0)
    assert "disabled" in button and "hx-post" not in button
    assert f'data-testid="sync-now-denied">Sync now needs {ERP_ADMIN}.<' in html.unescape(pm)


def test_sync_now_queues_the_sync_when_the_request_commits_and_starts_polling(
    django_capture_on_commit_callbacks,
):
    world = build_world()
    client = client_for(world.approver)

    with django_capture_on_commit_callbacks() as callbacks:
        response = sync_now(client, world)

    assert response.status_code == HTTPStatus.OK
    assert len(callbacks) == 1
    box = response.content.decode()
    assert box.strip().startswith('<section id="sync-panel"')
    assert 'data-testid="sync-message">Sync started.' in box
    # Waiting for a worker to pick it up: the progress bar polls every second.
    assert 'hx-trigger="every 1s"' in box and "waiting for a worker" in box
    assert "since=" in box and "tab=commitments" in box


def test_sync_now_without_admin_is_403_with_the_reason_and_queues_nothing(django_capture_on_commit_callbacks):
    world = build_world()

    with django_capture_on_commit_callbacks() as callbacks:
        response = sync_now(client_for(world.pm), world)

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert f"Sync now needs {ERP_ADMIN}." in html.unescape(response.content.decode())
    assert callbacks == []


def test_sync_now_while_a_run_is_in_progress_refuses_politely_and_shows_its_progress(
    django_capture_on_commit_callbacks,
):
    world = build_world()
    run(world, status=SyncRun.Status.RUNNING, ago=timedelta(seconds=20), checked=50, links_total=200)

    with sync_claimed_elsewhere(world.company), django_capture_on_commit_callbacks() as callbacks:
        response = sync_now(client_for(world.approver), world)

    assert response.status_code == HTTPStatus.CONFLICT
    assert callbacks == []
    box = html.unescape(response.content.decode())
    assert "A sync with Sage 300 CRE® is already running (50 of 200 links checked)." in box
    assert '<progress id="sync-progress-bar" max="200" value="50">25%</progress>' in box
    assert 'hx-trigger="every 1s"' in box
    # Nobody can start another while it runs.
    assert re.search(r"<button[^>]*disabled[^>]*>Sync now</button>", box.replace("\n", " "))


def test_sync_now_without_javascript_redirects_back_with_the_message(django_capture_on_commit_callbacks):
    world = build_world()
    client = client_for(world.approver)

    with django_capture_on_commit_callbacks() as callbacks:
        response = sync_now(client, world, htmx=False)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == tab_url(world.company)
    assert len(callbacks) == 1
    [message] = messages_of(client.get(response["Location"]))
    assert message.startswith("Sync started.")


def test_sync_now_is_post_only_needs_the_csrf_token_and_hides_from_outsiders(
    django_capture_on_commit_callbacks,
):
    world = build_world()

    with django_capture_on_commit_callbacks() as callbacks:
        assert client_for(world.approver).get(sync_url(world, "erp_sync_now")).status_code == 405
        assert client_for(world.approver).post(sync_url(world, "erp_sync_now")).status_code == 403
        outsider = client_for(world.outsider)
        token = csrf_token(outsider, tab_url(world.other_company))
        assert post(outsider, sync_url(world, "erp_sync_now"), htmx=True, token=token).status_code == 404

    assert callbacks == []


# --- progress ---------------------------------------------------------------------------------------------
def test_progress_keeps_polling_while_the_run_is_in_progress():
    world = build_world()
    running = run(world, status=SyncRun.Status.RUNNING, ago=timedelta(seconds=5), checked=30, links_total=120)
    url = sync_url(world, "erp_sync_progress") + f"?run={running.pk}&tab=commitments"

    with sync_claimed_elsewhere(world.company):
        response = htmx_get(client_for(world.viewer), url, current=tab_url(world.company))

    assert response.status_code == HTTPStatus.OK
    body = response.content.decode()
    assert body.strip().startswith('<div id="sync-progress"')
    assert 'hx-trigger="every 1s"' in body
    assert '<progress id="sync-progress-bar" max="120" value="30">25%</progress>' in body
    assert "30 of 120 links checked" in body


def test_progress_stops_polling_when_the_run_ends_and_refreshes_the_panel():
    world = build_world()
    connection_sync(connection_id=world.company.erp_connection.pk, trigger="manual")
    url = sync_url(world, "erp_sync_progress") + "?run=1&tab=commitments"

    response = htmx_get(client_for(world.viewer), url, current=tab_url(world.company))

    # 286 tells htmx to stop polling; the panel replaces itself without the trigger.
    assert response.status_code == STOP_POLLING
    assert response["HX-Retarget"] == "#sync-panel" and response["HX-Reswap"] == "outerHTML"
    assert json.loads(response["HX-Trigger"]) == {"erp:sync-finished": {}}
    body = response.content.decode()
    assert body.strip().startswith('<section id="sync-panel"')
    assert "every 1s" not in body
    assert 'data-testid="last-sync-outcome">Succeeded<' in body
    assert "Delete the commitment in Sage 300 CRE® first" in html.unescape(body)


def test_progress_waits_for_a_worker_for_a_while_then_gives_up_polling():
    world = build_world()
    client = client_for(world.viewer)
    url = sync_url(world, "erp_sync_progress")

    waiting = htmx_get(client, url + "?" + f"since={timezone.now().isoformat()}".replace("+", "%2B"))
    assert waiting.status_code == HTTPStatus.OK and "every 1s" in waiting.content.decode()

    old = (timezone.now() - timedelta(minutes=5)).isoformat().replace("+", "%2B")
    given_up = htmx_get(client, url + f"?since={old}")
    assert given_up.status_code == STOP_POLLING

    assert htmx_get(client, url + "?since=yesterday").status_code == STOP_POLLING


def test_progress_without_htmx_goes_to_the_sync_page():
    world = build_world()

    response = client_for(world.viewer).get(sync_url(world, "erp_sync_progress"))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == sync_url(world)


# --- the panel keeps itself current ----------------------------------------------------------------------
def test_the_panel_asks_for_itself_every_minute_from_its_page_and_tab():
    world = build_world()
    page = tab_url(world.company, "subcontractor-invoices")

    box = panel(client_for(world.viewer).get(page))

    query = urlencode({"next": page, "tab": "subcontractor-invoices"})
    poll = sync_url(world, "erp_sync_panel") + "?" + query
    assert f'hx-get="{html.escape(poll)}" hx-trigger="every 60s" hx-target="this" hx-swap="outerHTML"' in box
    assert "hx-swap-oob" not in box


def test_a_tab_left_open_through_the_sync_learns_of_it_at_the_next_poll(django_assert_num_queries):
    world = build_world()
    client = client_for(world.viewer)
    page = tab_url(world.company)
    assert "No sync has completed yet" in panel(client.get(page))
    last = connection_sync(connection_id=world.company.erp_connection.pk, trigger="schedule")
    poll = sync_url(world, "erp_sync_panel") + "?" + urlencode({"next": page, "tab": "commitments"})

    # 1) session, 2) user, 3) directory entry with its company and connection, 4) sync
    # status: last completed run (it succeeded) and run in progress, one UNION. No
    # project levels.
    with django_assert_num_queries(4):
        response = htmx_get(client, poll, current=page)

    assert response.status_code == HTTPStatus.OK
    body = response.content.decode()
    assert body.strip().startswith('<section id="sync-panel"')
    assert f'datetime="{last.finished_at.isoformat()}"' in body
    assert 'data-testid="last-sync-outcome">Succeeded<' in body
    assert "No sync has completed yet" not in body
    # It keeps its tab's words and keeps polling.
    assert "Delete the commitment in Sage 300 CRE® first" in html.unescape(body)
    assert 'hx-trigger="every 60s"' in body


def test_the_panel_shows_a_run_in_progress_when_it_polls():
    world = build_world()
    run(world, status=SyncRun.Status.RUNNING, ago=timedelta(seconds=5), checked=30, links_total=120)

    with sync_claimed_elsewhere(world.company):
        response = htmx_get(client_for(world.viewer), sync_url(world, "erp_sync_panel") + "?tab=commitments")

    assert "30 of 120 links checked" in response.content.decode()
    assert 'hx-trigger="every 1s"' in response.content.decode()


def test_the_panel_without_htmx_goes_to_the_sync_page_and_hides_from_outsiders():
    world = build_world()
    url = sync_url(world, "erp_sync_panel")

    response = client_for(world.viewer).get(url)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == sync_url(world)
    assert htmx_get(client_for(world.outsider), url).status_code == HTTPStatus.NOT_FOUND
    assert client_for(world.viewer, csrf=False).post(url).status_code == HTTPStatus.METHOD_NOT_ALLOWED


# --- history --------------------------------------------------------------------------------------------
def test_the_history_lists_runs_with_trigger_duration_counts_status_and_error():
    world = build_world()
    run(world, ago=timedelta(hours=3), checked=1200, missing_found=3, reappeared=1)
    run(
        world,
        status=SyncRun.Status.FAILED,
        ago=timedelta(hours=2),
        error="Sage 300 CRE® is not responding.",
        trigger="manual",
        requested_by=world.approver,
    )

    response = client_for(world.viewer).get(sync_url(world))

    assert response.status_code == HTTPStatus.OK
    rows = re.findall(r'<tr data-testid="sync-run".*?</tr>', response.content.decode(), re.S)
    cells = [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split()) for row in rows]
    assert len(cells) == 2
    # Newest first.
    assert "Sync now by approver" in cells[0] and "1 min 15 s" in cells[0]
    assert "Failed" in cells[0] and "Sage 300 CRE® is not responding." in cells[0]
    # Links checked, missing found (and under it drift and orphans found), reappeared.
    assert "Hourly schedule" in cells[1] and "1200 3 0 drift, 0 orphans 1 Succeeded" in cells[1]


@pytest.mark.parametrize("runs", [3, 45])
def test_the_history_is_paged_by_keyset_at_a_constant_cost(runs, django_assert_num_queries):
    world = build_world()
    SyncRun.objects.bulk_create(
        SyncRun(
            connection=world.company.erp_connection,
            status="succeeded",
            started_at=timezone.now() - timedelta(hours=i),
            finished_at=timezone.now() - timedelta(hours=i) + timedelta(seconds=30),
        )
        for i in range(1, runs + 1)
    )
    client = client_for(world.viewer)
    # Opening a company's tool notes it in the session (written on the first page only).
    client.get(sync_url(world))

    # 1) session, 2) user, 3) directory entry with its company and connection, 4) one
    # page of runs, 5) sync status: last completed run and run in progress, one UNION
    # (the last completed one succeeded), 6) the chart's runs, 7) the switcher's
    # companies. No project levels.
    with django_assert_num_queries(7):
        response = client.get(sync_url(world))

    ids = re.findall(r'data-run-id="(\d+)"', response.content.decode())
    assert len(ids) == min(runs, 20)
    if runs > 20:
        seen = list(ids)
        while link := re.search(r'rel="next" href="([^"]+)"', response.content.decode()):
            response = client.get(sync_url(world) + html.unescape(link.group(1)))
            seen += re.findall(r'data-run-id="(\d+)"', response.content.decode())
        assert len(seen) == len(set(seen)) == runs
        # Newest first: the runs were made newest first, so in id order.
        assert seen == sorted(seen, key=int)


def test_the_history_fragment_answers_htmx_paging():
    world = build_world()
    for i in range(25):
        run(world, ago=timedelta(hours=i + 1))
    client = client_for(world.viewer)
    first = client.get(sync_url(world))
    link = html.unescape(re.search(r'rel="next" href="([^"]+)"', first.content.decode()).group(1))

    response = htmx_get(client, sync_url(world) + link, target="sync-runs")

    body = response.content.decode().strip()
    assert body.startswith('<div class="list-body" id="sync-runs"')
    assert len(re.findall(r'data-testid="sync-run"', body)) == 5


# --- polls that find nothing new are answered 304 --------------------------------------------------
def test_a_repeated_poll_is_answered_304_until_the_panel_changes(django_assert_num_queries):
    world = build_world()
    client = client_for(world.viewer)
    page = tab_url(world.company)
    poll = sync_url(world, "erp_sync_panel") + "?" + urlencode({"next": page, "tab": "commitments"})

    first = htmx_get(client, poll, current=page)
    assert first.status_code == HTTPStatus.OK
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"'), etag
    assert {part.strip() for part in first["Cache-Control"].split(",")} == {"private", "no-cache"}

    # The queries of a full answer and no more: 1) session, 2) user, 3) directory entry
    # with its company and connection, 4)-5) sync status (no run has completed: last
    # completed and run in progress in one UNION, then last succeeded); no body
    # rendered, no project levels.
    with django_assert_num_queries(5):
        again = client.get(
            poll,
            headers={
                "HX-Request": "true",
                "HX-Current-URL": "http://testserver" + page,
                "If-None-Match": etag,
            },
        )
    assert again.status_code == HTTPStatus.NOT_MODIFIED
    assert again.content == b"" and again["ETag"] == etag
    assert {part.strip() for part in again["Cache-Control"].split(",")} == {"private", "no-cache"}

    # A sync completes: the next poll gets the new panel.
    connection_sync(connection_id=world.company.erp_connection.pk, trigger="schedule")
    changed = client.get(
        poll,
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver" + page, "If-None-Match": etag},
    )
    assert changed.status_code == HTTPStatus.OK and changed["ETag"] != etag
    assert 'data-testid="last-sync-outcome">Succeeded<' in changed.content.decode()


def test_a_compressed_panel_carries_a_weak_tag_that_a_repeated_poll_matches():
    # The browser sends back what it was given: W/"…" once the panel was gzipped.
    world = build_world()
    client = client_for(world.viewer)
    page = tab_url(world.company)
    poll = sync_url(world, "erp_sync_panel") + "?" + urlencode({"next": page, "tab": "commitments"})
    headers = {"HX-Request": "true", "HX-Current-URL": "http://testserver" + page, "Accept-Encoding": "gzip"}

    first = client.get(poll, headers=headers)
    assert first["Content-Encoding"] == "gzip"
    assert first["ETag"].startswith('W/"'), first["ETag"]

    again = client.get(poll, headers={**headers, "If-None-Match": first["ETag"]})
    assert again.status_code == HTTPStatus.NOT_MODIFIED and again.content == b""


def test_the_panel_tag_differs_between_users_who_see_different_panels():
    world = build_world()
    poll = sync_url(world, "erp_sync_panel") + "?tab=commitments"

    approver = htmx_get(client_for(world.approver), poll)
    viewer = htmx_get(client_for(world.viewer), poll)

    assert approver["ETag"] != viewer["ETag"]
    # The viewer may not start a sync: the panel says why; the approver's does not.
    assert 'data-testid="sync-now-denied"' in viewer.content.decode()
    assert 'data-testid="sync-now-denied"' not in approver.content.decode()


def test_the_panels_relative_times_carry_their_moment_for_the_pages_script():
    world = build_world()
    last = connection_sync(connection_id=world.company.erp_connection.pk, trigger="schedule")

    body = htmx_get(client_for(world.viewer), sync_url(world, "erp_sync_panel")).content.decode()

    assert f'data-ago="{last.finished_at.isoformat()}"' in body
    assert f'data-until="{next_scheduled_run().isoformat()}"' in body
