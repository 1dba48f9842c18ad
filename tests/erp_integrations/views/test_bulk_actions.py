"""Bulk Export, Reject and Unlink on a list: selected rows or all that match its search,
each row with its own result in the seeds' words, each row audited; more than
BULK_INLINE_LIMIT rows run by a worker behind a progress bar; plain forms work too."""

import html
import re
from http import HTTPStatus

import pytest
from django.urls import reverse

from erp_integrations.celery import app
from erp_integrations.models import AuditEntry, BulkRun, Commitment, ExportState
from tests.erp_integrations.broker import take_sent_tasks
from tests.erp_integrations.views.tool_world import (
    PRIVILEGE,
    STILL_IN_SAGE_300,
    action_tags,
    build_world,
    client_for,
    csrf_token,
    delete_in_erp_and_sync,
    post,
    ready_commitment,
    rows,
    synced_commitment,
    synced_invoice,
    tab_url,
    text,
)

pytestmark = pytest.mark.django_db(databases="__all__")


def bulk_url(world, list_slug: str, tab: str = "commitments") -> str:
    return reverse("erp_bulk", kwargs={"company_id": world.company.pk, "tab": tab, "list_slug": list_slug})


def results(response) -> list[tuple[str, str, str]]:
    """(record id, ok, words) of each row's result."""
    found = re.findall(
        r'data-testid="bulk-result" data-record-id="(\d+)" data-ok="(\w+)">.*?'
        r'data-testid="bulk-result-text">(.*?)</span>',
        response.content.decode(),
        re.S,
    )
    assert found, "no row results in the response"
    return [(pk, ok, html.unescape(words)) for pk, ok, words in found]


@pytest.fixture
def world():
    return build_world()


def _three_synced(world):
    green = synced_commitment(world, number="SC-1")
    delete_in_erp_and_sync(green)
    red = synced_commitment(world, number="SC-2")
    parent = synced_commitment(world, number="SC-3")
    synced_invoice(world, commitment=parent, number="4")
    delete_in_erp_and_sync(parent)
    return green, red, parent


def test_bulk_unlink_gives_each_row_its_own_green_or_red_result_and_audits_each(world):
    green, red, parent = _three_synced(world)
    client = client_for(world.approver)
    token = csrf_token(client, tab_url(world.company))
    AuditEntry.objects.all().delete()

    response = post(
        client,
        bulk_url(world, "synced"),
        {"action": "unlink", "ids": [green.pk, red.pk, parent.pk]},
        htmx=True,
        token=token,
    )

    assert response.status_code == HTTPStatus.OK
    got = {int(pk): (ok, words) for pk, ok, words in results(response)}
    assert got[green.pk] == ("true", "Successfully Unlinked")
    assert got[red.pk] == ("false", STILL_IN_SAGE_300)
    assert got[parent.pk][0] == "false"
    assert got[parent.pk][1].startswith("This commitment has 1 requisition (4) synced with Sage 300 CRE®.")
    assert Commitment.objects.get(pk=green.pk).erp_id is None
    assert Commitment.objects.get(pk=red.pk).erp_id is not None
    # Every row in the audit trail, as one by one.
    assert sorted(AuditEntry.objects.values_list("record_id", "outcome")) == sorted(
        [(green.pk, "success"), (red.pk, "refused"), (parent.pk, "refused")]
    )
    # Each ticked row gets its result in place, out of band: the row with its red words
    # under it while it stays in the list, the green words alone where it was.
    in_place = {
        int(pk): row
        for pk, row in re.findall(
            r'<template>\s*<tbody id="synced-commitment-(\d+)" hx-swap-oob="true"(.*?)</template>',
            response.content.decode(),
            re.S,
        )
    }
    assert set(in_place) == {green.pk, red.pk, parent.pk}
    assert STILL_IN_SAGE_300 in in_place[red.pk] and action_tags(in_place[red.pk], "unlink")
    assert "Successfully Unlinked" in in_place[green.pk] and "record-done" in in_place[green.pk]
    # The other lists refresh themselves; this one keeps its in-place results.
    assert "erp:refresh-ready" in response["HX-Trigger"]
    assert "erp:refresh-synced" not in response["HX-Trigger"]


def test_a_plain_form_bulk_unlink_puts_each_result_where_its_row_is(world):
    green, red, _ = _three_synced(world)
    client = client_for(world.approver)
    token = csrf_token(client, tab_url(world.company))

    response = post(
        client,
        bulk_url(world, "synced"),
        {"action": "unlink", "ids": [green.pk, red.pk]},
        htmx=False,
        token=token,
    )
    assert response.status_code == HTTPStatus.FOUND
    page = client.get(response["Location"])

    body = page.content.decode()
    # The red one stays in its list: its message is under its row.
    red_row = body.split(f'id="synced-commitment-{red.pk}"')[1].split("</tbody>")[0]
    assert STILL_IN_SAGE_300 in red_row
    # The green one left the list: its message is at the top of the list, naming it.
    assert "SC-1" in text(page) and "Successfully Unlinked" in text(page)


def test_bulk_export_by_someone_without_the_privilege_refuses_and_audits_every_row(world):
    rows = [ready_commitment(world, number=f"SC-{n}") for n in range(1, 4)]
    client = client_for(world.pm)
    token = csrf_token(client, tab_url(world.company))

    response = post(
        client,
        bulk_url(world, "ready"),
        {"action": "export", "ids": [r.pk for r in rows]},
        htmx=True,
        token=token,
    )

    got = results(response)
    assert len(got) == 3
    assert all(ok == "false" and PRIVILEGE in words for _, ok, words in got)
    assert set(Commitment.objects.values_list("export_state", flat=True)) == {ExportState.READY}
    refused = AuditEntry.objects.filter(user=world.pm, action="export", outcome="refused")
    assert sorted(refused.values_list("record_id", flat=True)) == sorted(r.pk for r in rows)


def test_bulk_reject_takes_one_reason_for_every_row_and_needs_one(world):
    rows = [ready_commitment(world, number=f"SC-{n}") for n in range(1, 3)]
    client = client_for(world.approver)
    token = csrf_token(client, tab_url(world.company))
    ids = [r.pk for r in rows]

    missing = post(client, bulk_url(world, "ready"), {"action": "reject", "ids": ids}, htmx=True, token=token)
    assert missing.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "Please give a reason for rejecting these rows." in missing.content.decode()

    response = post(
        client,
        bulk_url(world, "ready"),
        {"action": "reject", "ids": ids, "reason": "Duplicate"},
        htmx=True,
        token=token,
    )
    assert all(ok == "true" for _, ok, _ in results(response))
    assert set(Commitment.objects.values_list("rejection_reason", flat=True)) == {"Duplicate"}


def test_all_matching_the_search_takes_only_the_matches_and_is_capped(world, settings):
    concrete = [ready_commitment(world, number=f"SC-{n}", title="Concrete pour") for n in range(1, 4)]
    ready_commitment(world, number="SC-9", title="Steel frame")
    client = client_for(world.approver)
    token = csrf_token(client, tab_url(world.company))

    response = post(
        client,
        bulk_url(world, "ready"),
        {"action": "reject", "all": "1", "q": "pour", "reason": "Wrong job"},
        htmx=True,
        token=token,
    )
    assert sorted(int(pk) for pk, _, _ in results(response)) == sorted(r.pk for r in concrete)
    assert Commitment.objects.get(number="SC-9").export_state == ExportState.READY

    settings.BULK_MAX_ROWS = 2
    Commitment.objects.update(export_state=ExportState.READY, rejection_reason="")
    capped = post(
        client,
        bulk_url(world, "ready"),
        {"action": "export", "all": "1", "q": "pour"},
        htmx=True,
        token=token,
    )
    # The first two that match, by id; the third waits for the next run.
    assert [int(pk) for pk, _, _ in results(capped)] == [concrete[0].pk, concrete[1].pk]
    assert Commitment.objects.get(pk=concrete[2].pk).export_state == ExportState.READY
    # Ticked rows beyond the cap are refused as a whole, not cut silently.
    ticked = post(
        client,
        bulk_url(world, "ready"),
        {"action": "export", "ids": [r.pk for r in concrete]},
        htmx=True,
        token=token,
    )
    assert ticked.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "At most 2 rows at once" in ticked.content.decode()


def test_another_companys_ids_in_a_bulk_action_are_not_found_and_unchanged(world):
    theirs = ready_commitment(world)
    Commitment.objects.filter(pk=theirs.pk).update(company=world.other_company, project=world.other_project)
    client = client_for(world.approver)
    token = csrf_token(client, tab_url(world.company))

    response = post(
        client, bulk_url(world, "ready"), {"action": "export", "ids": [theirs.pk]}, htmx=True, token=token
    )

    [(pk, ok, words)] = results(response)
    assert (int(pk), ok) == (theirs.pk, "false")
    assert words == f"No commitment with id {theirs.pk} in this company."
    assert Commitment.objects.get(pk=theirs.pk).export_state == ExportState.READY


def test_an_action_the_list_does_not_offer_is_refused(world):
    row = ready_commitment(world)
    client = client_for(world.approver)
    token = csrf_token(client, tab_url(world.company))

    response = post(
        client, bulk_url(world, "ready"), {"action": "unlink", "ids": [row.pk]}, htmx=True, token=token
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "Choose Export or Reject for the selected rows of this list." in response.content.decode()
    assert not AuditEntry.objects.filter(action="unlink").exists()


@pytest.mark.postgresql  # the run goes through the real broker (Redis)
def test_more_rows_than_the_inline_limit_run_on_a_worker_behind_a_progress_bar(
    world, settings, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    take_sent_tasks()
    settings.BULK_INLINE_LIMIT = 2
    rows = [ready_commitment(world, number=f"SC-{n}") for n in range(1, 6)]
    client = client_for(world.approver)
    token = csrf_token(client, tab_url(world.company))

    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            client,
            bulk_url(world, "ready"),
            {"action": "export", "ids": [r.pk for r in rows]},
            htmx=True,
            token=token,
        )

    run = BulkRun.objects.get()
    progress_url = reverse(
        "erp_bulk_run", kwargs={"company_id": world.company.pk, "tab": "commitments", "run_id": run.pk}
    )
    assert response["HX-Redirect"] == progress_url
    page = client.get(progress_url)
    assert 'data-status="queued"' in page.content.decode()
    assert '<progress class="bulk-progress" max="5" value="0"' in page.content.decode()
    # Without JavaScript the page reloads itself while the run is not done.
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page.content.decode()

    [queued] = take_sent_tasks()
    app.tasks[queued.task](*queued.args)  # as a worker would

    # Session, user, company, directory entry, project levels, switcher, the run, its records.
    with django_assert_max_num_queries(10):
        done = client.get(progress_url, headers={"HX-Request": "true"})
    body = done.content.decode()
    assert 'data-status="done"' in body and "5 of 5 rows done (100%): 5 succeeded." in body
    assert "hx-trigger" not in body  # polling stops
    assert len(re.findall(r'data-ok="true"', body)) == 5
    assert set(Commitment.objects.values_list("export_state", flat=True)) == {ExportState.SYNCED}
    assert AuditEntry.objects.filter(action="export", outcome="success").count() == 5


@pytest.mark.embedded
def test_a_bulk_run_is_carried_on_from_where_a_dead_worker_stopped(world):
    from erp_integrations.services.bulk import bulk_run_execute

    rows = [ready_commitment(world, number=f"SC-{n}") for n in range(1, 4)]
    run = BulkRun.objects.create(
        company=world.company,
        user=world.approver,
        kind="commitment",
        action="reject",
        reason="Duplicate",
        record_ids=[r.pk for r in rows],
        results=[[rows[0].pk, True, "done before the worker died"]],
        status=BulkRun.Status.RUNNING,
    )

    bulk_run_execute(bulk_run_id=run.pk)

    run.refresh_from_db()
    assert run.status == BulkRun.Status.DONE
    assert [row[0] for row in run.results] == [r.pk for r in rows]
    assert Commitment.objects.get(pk=rows[0].pk).export_state == ExportState.READY  # not run twice
    assert Commitment.objects.get(pk=rows[1].pk).export_state == ExportState.REJECTED
    assert bulk_run_execute(bulk_run_id=run.pk) is None  # a late duplicate finds it done


def test_someone_elses_bulk_run_is_not_found(world):
    run = BulkRun.objects.create(
        company=world.company, user=world.approver, kind="commitment", action="export", record_ids=[1]
    )
    url = reverse(
        "erp_bulk_run", kwargs={"company_id": world.company.pk, "tab": "commitments", "run_id": run.pk}
    )

    assert client_for(world.pm).get(url).status_code == HTTPStatus.NOT_FOUND


def test_the_list_offers_bulk_actions_with_the_count_and_checkboxes_only_to_who_may_act(world):
    for n in range(1, 4):
        ready_commitment(world, number=f"SC-{n}")

    approver_page = client_for(world.approver).get(tab_url(world.company)).content.decode()
    viewer_page = client_for(world.viewer).get(tab_url(world.company)).content.decode()

    assert 'id="commitments-ready-bulk"' in approver_page
    assert "All 3 rows" in approver_page
    assert approver_page.count('form="commitments-ready-bulk"') == 3
    assert 'data-testid="bulk-form"' not in viewer_page
    assert 'name="ids"' not in viewer_page and rows(viewer_page, "ready")
