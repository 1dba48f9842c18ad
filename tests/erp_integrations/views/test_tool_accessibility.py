"""What the tool says to a keyboard and a screen reader, and what it says after a sync.

Button names with their record, one notice per list for a Read Only user, a red "still in
the ERP" that says when the sync looks next, a header that says a sync failed, lists that
refresh when a sync finishes, and labels on the record forms' line items.
"""

import html
import re
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import PermissionLevel
from erp_integrations.models import SyncRun
from tests import factories
from tests.erp_integrations.views.tool_world import (
    STILL_IN_SAGE_300,
    action_tags,
    action_url,
    build_world,
    client_for,
    csrf_token,
    post,
    ready_commitment,
    synced_commitment,
    synced_invoice,
    tab_url,
)

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


def buttons(body: str, action: str) -> list[str]:
    found = action_tags(body, action)
    assert found, f"no {action} button in the page"
    return found


def aria_label(tag: str) -> str:
    return html.unescape(re.search(r'aria-label="([^"]*)"', tag).group(1))


def finished_run(world, *, status=SyncRun.Status.SUCCEEDED, minutes_ago=10, error=""):
    started = timezone.now() - timedelta(minutes=minutes_ago)
    return SyncRun.objects.create(
        connection=world.company.erp_connection,
        status=status,
        started_at=started,
        finished_at=started + timedelta(seconds=75),
        links_total=1,
        links_checked=1,
        error=error,
    )


# --- each button says which record it acts on ----------------------------------------------------
def test_each_action_button_is_named_with_its_record_and_project():
    world = build_world()
    synced_commitment(world, number="SC-001")
    ready_commitment(world, number="SC-002")

    body = client_for(world.approver).get(tab_url(world.company)).content.decode()

    assert [aria_label(tag) for tag in buttons(body, "unlink")] == ["Unlink SC-001, Harbor Tower"]
    assert [aria_label(tag) for tag in buttons(body, "export")] == ["Export SC-002, Harbor Tower"]
    assert [aria_label(tag) for tag in buttons(body, "reject")] == ["Reject SC-002, Harbor Tower"]


def test_an_invoices_button_names_its_commitment_too():
    world = build_world(erp_system="sage100")
    invoice = synced_invoice(world, synced_commitment(world, number="SC-7"), number="3")

    body = client_for(world.approver).get(tab_url(world.company, "subcontractor-invoices")).content.decode()

    assert invoice.number == "3"
    assert [aria_label(tag) for tag in buttons(body, "unlink")] == ["Unlink invoice 3 on SC-7, Harbor Tower"]


def test_a_disabled_button_is_named_with_its_record_as_well():
    world = build_world()
    synced_commitment(world, number="SC-001")

    body = client_for(world.viewer).get(tab_url(world.company)).content.decode()

    (button,) = buttons(body, "unlink")
    assert "disabled" in button
    assert aria_label(button) == "Unlink SC-001, Harbor Tower"


# --- a Read Only user: one notice per list -------------------------------------------------------
def test_a_read_only_user_sees_one_notice_per_list_even_for_one_row():
    world = build_world()
    synced_commitment(world)
    ready_commitment(world)

    body = client_for(world.viewer).get(tab_url(world.company)).content.decode()

    for slug in ("ready", "synced"):
        section = body.split(f'data-testid="list-{slug}"')[1].split("</section>")[0]
        assert section.count('data-testid="denied-reason"') == 1, slug
        assert 'class="record-denied"' not in section, slug
    assert body.count('data-testid="denied-reason"') == 2


# --- red "still in the ERP": when the sync looks next, and Sync now ------------------------------
def unlink_htmx(world, user, record):
    client = client_for(user)
    page = tab_url(world.company)
    token = csrf_token(client, page)
    return post(client, action_url(record, "unlink"), htmx=True, token=token, current=page)


def row_parts(response) -> tuple[str, str]:
    body = response.content.decode()
    row = body.split("</tbody>")[0]
    message = re.search(r'data-testid="row-message">(.*?)</p>', row, re.S)
    assert message, "no row message"
    words = html.unescape(" ".join(re.sub(r"<[^>]+>", " ", message.group(1)).split()))
    return row, words


def test_a_red_still_in_the_erp_says_when_the_last_sync_completed_and_the_next_runs():
    world = build_world()
    commitment = synced_commitment(world)
    run = finished_run(world)

    response = unlink_htmx(world, world.approver, commitment)

    assert response.status_code == HTTPStatus.CONFLICT
    row, words = row_parts(response)
    finished = timezone.localtime(run.finished_at).strftime("%-d %b %Y, %H:%M")
    # The articles' words first and whole, then when the sync looked and looks again.
    assert words.startswith(STILL_IN_SAGE_300 + " ")
    assert words.removeprefix(STILL_IN_SAGE_300 + " ").startswith(
        f"The last sync completed {finished} UTC; the next one runs at "
    )
    assert re.search(r"the next one runs at \d\d:00 UTC\.$", words), words
    # Sync now beside it, for an approver who may start one.
    sync_now = re.search(r'<button[^>]*data-testid="row-sync-now"[^>]*>', row, re.S)
    assert sync_now and f'hx-post="{reverse("erp_sync_now", args=[world.company.pk])}"' in sync_now.group(0)


def test_the_red_words_say_when_the_last_sync_failed():
    world = build_world()
    commitment = synced_commitment(world)
    finished_run(world, status=SyncRun.Status.FAILED, error="Sage 300 CRE® is not responding.")

    _, words = row_parts(unlink_htmx(world, world.approver, commitment))

    assert words.startswith(STILL_IN_SAGE_300 + " The last sync completed ")
    assert " UTC (it failed); the next one runs at " in words


def test_no_sync_now_beside_the_red_words_for_who_may_not_start_one():
    world = build_world()
    commitment = synced_commitment(world)
    # May unlink (Standard on ERP Integrations) but not start a sync (Admin).
    user = factories.user(
        "standard_approver",
        company=world.company,
        erp_level=PermissionLevel.STANDARD,
        privilege=True,
        projects={world.project: PermissionLevel.ADMIN},
    )

    response = unlink_htmx(world, user, commitment)

    assert response.status_code == HTTPStatus.CONFLICT
    row, words = row_parts(response)
    assert words.startswith(STILL_IN_SAGE_300 + " No sync has completed yet; the next one runs at ")
    assert 'data-testid="row-sync-now"' not in row


def test_other_refusals_carry_no_sync_note():
    world = build_world()
    commitment = synced_commitment(world)

    response = unlink_htmx(world, world.pm, commitment)

    assert response.status_code == HTTPStatus.FORBIDDEN
    row, _ = row_parts(response)
    assert 'data-testid="row-sync-note"' not in row and 'data-testid="row-sync-now"' not in row


# --- the header after a failed sync ---------------------------------------------------------------
@pytest.mark.parametrize("page", ["erp_tab", "erp_sync", "erp_audit"])
def test_the_header_says_the_last_sync_failed_instead_of_connected(page):
    world = build_world()
    finished_run(world, status=SyncRun.Status.FAILED, error="Sage 300 CRE® is not responding.")
    kwargs = {"company_id": world.company.pk} | ({"tab": "commitments"} if page == "erp_tab" else {})

    body = client_for(world.approver).get(reverse(page, kwargs=kwargs)).content.decode()

    header = body.split('data-testid="erp-name">')[1].split("</p>")[0]
    assert "Connected" not in header and "dot-on" not in header
    assert "The last sync with <strong>Sage 300 CRE®</strong> failed" in header


def test_the_header_says_connected_after_a_successful_sync():
    world = build_world()
    finished_run(world, status=SyncRun.Status.FAILED, minutes_ago=70)
    finished_run(world)

    body = client_for(world.approver).get(tab_url(world.company)).content.decode()

    header = body.split('data-testid="erp-name">')[1].split("</p>")[0]
    assert "dot-on" in header and "Connected to <strong>Sage 300 CRE®</strong>" in header


# --- a finished sync refreshes every list ----------------------------------------------------------
def test_every_list_refreshes_when_a_sync_finishes():
    world = build_world()

    body = client_for(world.approver).get(tab_url(world.company)).content.decode()

    triggers = dict(
        re.findall(r'<div class="list-body" id="commitments-(\w+)-body"[^>]*hx-trigger="([^"]*)"', body, re.S)
    )
    assert sorted(triggers) == ["failed", "ready", "synced"]
    for slug, trigger in triggers.items():
        assert "erp:sync-finished from:body" in trigger, slug


# --- skip links -----------------------------------------------------------------------------------
def test_skip_links_lead_to_each_list_first_thing_on_the_page():
    world = build_world()

    body = client_for(world.approver).get(tab_url(world.company)).content.decode()

    skip = body.split('data-testid="skip-lists"')[1].split("</nav>")[0]
    targets = re.findall(r'<a href="#([\w-]+)"[^>]*>Skip to ([^<]+)</a>', skip)
    assert [(target, html.unescape(title)) for target, title in targets] == [
        ("commitments-ready-title", "Commitments - Ready to Export"),
        ("commitments-failed-title", "Commitments - Failed to Export"),
        ("commitments-synced-title", "Commitments - Synced with Sage 300 CRE®"),
    ]
    for target, _ in targets:
        assert f'id="{target}" tabindex="-1"' in body
    # Before the header: the keyboard meets them right after "Skip to content".
    assert body.index('data-testid="skip-lists"') < body.index('data-testid="appbar"')


# --- labels on the record forms --------------------------------------------------------------------
def unlabelled_inputs(body: str) -> list[str]:
    labelled = set(re.findall(r'<label[^>]*for="([^"]+)"', body))
    inputs = re.findall(r"<(?:input|select|textarea)\b[^>]*>", body)
    assert inputs
    return [
        tag
        for tag in inputs
        if 'type="hidden"' not in tag
        and "aria-label=" not in tag
        and re.search(r'id="([^"]+)"', tag).group(1) not in labelled
    ]


def test_every_input_of_the_commitment_form_has_a_label():
    world = build_world()

    body = (
        client_for(world.approver).get(reverse("commitment_create", args=[world.project.pk])).content.decode()
    )

    assert 'data-testid="line-item-form"' in body
    assert unlabelled_inputs(body) == []
    assert re.search(r'<label class="visually-hidden" for="[^"]+">Amount, line 1</label>', body)
    assert re.search(r'<label class="visually-hidden" for="[^"]+">Remove line 1</label>', body)
