"""Unlink from the tool's Synced lists: the articles' story, in HTMX and as a plain form."""

import html
import re
from http import HTTPStatus

import pytest
from django.urls import reverse

from accounts.models import DirectoryMembership, PermissionLevel, ProjectPermission
from erp_integrations.models import AuditEntry, Commitment, ExportState, SubcontractorInvoice
from erp_integrations.sandbox.services import sandbox_delete
from tests import factories
from tests.erp_integrations.views.tool_world import (
    ERP_READ,
    ERP_STANDARD,
    PRIVILEGE,
    REQUISITION_STILL_IN_SAGE_100,
    STILL_IN_SAGE_300,
    action_tags,
    action_url,
    build_world,
    client_for,
    csrf_token,
    delete_in_erp_and_sync,
    messages_of,
    post,
    synced_commitment,
    synced_invoice,
    tab_url,
    text,
)

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


def unlink(client, record, *, htmx=True, data=None, company=None):
    page = tab_url(
        (company or record.company),
        "commitments" if isinstance(record, Commitment) else "subcontractor-invoices",
    )
    token = csrf_token(client, page)
    return post(
        client, action_url(record, "unlink", company=company), data, htmx=htmx, token=token, current=page
    )


def audit_outcomes(record):
    return list(
        AuditEntry.objects.filter(record_id=record.pk, action="unlink")
        .order_by("id")
        .values_list("outcome", flat=True)
    )


def row_message(response) -> str:
    match = re.search(r'data-testid="row-message">(.*?)</p>', response.content.decode(), re.S)
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())) if match else ""


# --- the articles' story -----------------------------------------------------------------------
def test_unlink_fails_in_red_while_the_commitment_is_still_in_sage_300():
    world = build_world()
    commitment = synced_commitment(world, number="SC-12")

    response = unlink(client_for(world.approver), commitment)

    assert response.status_code == HTTPStatus.CONFLICT
    body = response.content.decode()
    # The row stays in the Synced list, with the red words under it.
    assert body.strip().startswith(f'<tbody id="synced-commitment-{commitment.pk}"')
    assert (
        '<p class="msg msg-error" tabindex="-1" data-testid="row-message">'
        f'<span class="msg-text" data-testid="row-message-text">{STILL_IN_SAGE_300}</span> '
    ) in body
    assert action_tags(body, "unlink")
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED
    assert audit_outcomes(commitment) == ["refused"]


def test_unlink_still_fails_after_deleting_in_the_erp_until_a_sync_has_seen_it():
    world = build_world()
    commitment = synced_commitment(world)
    sandbox_delete(erp_system="sage300", kind="commitment", erp_id=commitment.erp_id)

    response = unlink(client_for(world.approver), commitment)

    assert response.status_code == HTTPStatus.CONFLICT
    # The articles' words first, then when the sync looks again (none has run in this world).
    assert row_message(response).startswith(
        STILL_IN_SAGE_300 + " No sync has completed yet; the next one runs at "
    )


def test_unlink_succeeds_in_green_once_the_sync_saw_the_commitment_deleted():
    world = build_world()
    commitment = synced_commitment(world, number="SC-12")
    delete_in_erp_and_sync(commitment)

    response = unlink(client_for(world.approver), commitment)

    assert response.status_code == HTTPStatus.OK
    body = response.content.decode()
    # The record has left the Synced list: its place says what happened, in green.
    assert body.strip().startswith(f'<tbody id="synced-commitment-{commitment.pk}" class="record-done"')
    assert '<p class="msg msg-success" tabindex="-1" data-testid="row-message">' in body
    assert (
        row_message(response)
        == "Commitment SC-12, Harbor Tower — Successfully Unlinked Edit in the Commitments tool"
    )
    assert 'data-testid="row-message-text">Successfully Unlinked</span>' in body
    # The articles' next step: edit (or delete) the commitment in the project's tool.
    detail = reverse("commitment_detail", args=[world.project.pk, commitment.pk])
    assert (
        f'<a class="msg-next" href="{detail}" data-testid="next-step">Edit in the Commitments tool</a>'
        in body
    )
    assert not action_tags(body, "unlink")
    commitment.refresh_from_db()
    assert (commitment.export_state, commitment.erp_id) == (ExportState.DRAFT, None)
    assert audit_outcomes(commitment) == ["success"]


def test_an_htmx_unlink_reply_loads_the_users_access_once(django_assert_num_queries):
    world = build_world()
    commitment = synced_commitment(world, number="SC-13")
    delete_in_erp_and_sync(commitment)
    client = client_for(world.approver)
    page = tab_url(world.company, "commitments")
    token = csrf_token(client, page)

    # 1) session, 2) user, 3) directory entry with its company and connection; the
    # service: SAVEPOINT, 4) the record of this company, row locked (the view does not
    # read it first), 5) project levels (the service checks with this access, it does
    # not load its own), 6) its link, row locked, 7) linked invoices and CCOs (one
    # UNION), 8) clear the record's link (UPDATE), 9) close the link (UPDATE), 10) audit
    # entry (INSERT), RELEASE SAVEPOINT; the unlinked record is the service's (not read
    # again); 11) the sync status (the last completed run and a run in progress, one UNION).
    with django_assert_num_queries(13):
        response = post(client, action_url(commitment, "unlink"), htmx=True, token=token, current=page)

    assert response.status_code == HTTPStatus.OK
    assert (
        row_message(response)
        == "Commitment SC-13, Harbor Tower — Successfully Unlinked Edit in the Commitments tool"
    )


def test_unlink_of_a_requisition_uses_the_invoice_articles_words():
    world = build_world(erp_system="sage100")
    invoice = synced_invoice(world)

    refused = unlink(client_for(world.approver), invoice)
    assert refused.status_code == HTTPStatus.CONFLICT
    assert row_message(refused).startswith(REQUISITION_STILL_IN_SAGE_100 + " No sync has completed yet")
    assert refused.content.decode().strip().startswith(f'<tbody id="synced-invoice-{invoice.pk}"')

    delete_in_erp_and_sync(invoice)
    done = unlink(client_for(world.approver), invoice)

    assert done.status_code == HTTPStatus.OK
    # Named by its number and its commitment, in its project: numbers repeat.
    assert row_message(done) == (
        f"Subcontractor invoice {invoice.number} on {invoice.commitment.number}, Harbor Tower"
        " — Successfully Unlinked Edit in the Commitments tool"
    )
    detail = reverse("invoice_detail", args=[world.project.pk, invoice.pk])
    assert f'href="{detail}" data-testid="next-step"' in done.content.decode()
    invoice.refresh_from_db()
    assert invoice.export_state == ExportState.DRAFT


def test_a_commitment_with_synced_invoices_says_to_unlink_them_first():
    world = build_world(erp_system="sage100")
    invoice = synced_invoice(world)
    delete_in_erp_and_sync(invoice.commitment)

    response = unlink(client_for(world.approver), invoice.commitment)

    assert response.status_code == HTTPStatus.CONFLICT
    assert row_message(response).startswith(
        f"This commitment has 1 requisition ({invoice.number}) synced with Sage 100 Contractor®. "
        "Unlink it first, then unlink the commitment."
    )
    # The requisition is named and linked, to its page in the project's Commitments tool.
    detail = reverse("invoice_detail", args=[world.project.pk, invoice.pk])
    html = response.content.decode()
    assert html.count('data-testid="blocking-link"') == 1
    assert (
        f'<a href="{detail}" data-testid="blocking-link">Subcontractor invoice {invoice.number} on ' in html
    )


def test_a_double_submit_unlinks_once_and_says_so_the_second_time():
    world = build_world()
    commitment = synced_commitment(world)
    delete_in_erp_and_sync(commitment)
    client = client_for(world.approver)

    first = unlink(client, commitment)
    second = unlink(client, commitment)

    assert first.status_code == HTTPStatus.OK
    assert second.status_code == HTTPStatus.CONFLICT
    assert "already unlinked" in row_message(second)
    # The record is a draft now: its place in the Synced list shows only the message.
    assert (
        second.content.decode()
        .strip()
        .startswith(f'<tbody id="synced-commitment-{commitment.pk}" class="record-done"')
    )
    assert audit_outcomes(commitment) == ["success", "refused"]


# --- the sync panel comes along ------------------------------------------------------------------
def oob_panel(response) -> str:
    """The sync panel a reply carries after the row, for htmx to swap out of band."""
    tail = response.content.decode().split("</tbody>", 1)[1]
    assert tail.lstrip().startswith('<section id="sync-panel"'), tail[:200]
    return tail


def test_every_unlink_reply_brings_the_sync_panel_up_to_date_out_of_band():
    world = build_world()
    commitment = synced_commitment(world, number="SC-12")
    client = client_for(world.approver)

    refused = unlink(client, commitment)
    box = oob_panel(refused)
    assert 'hx-swap-oob="true"' in box
    assert "No sync has completed yet" in box

    # The sync ran while the page stood open: the green reply says so in the panel too.
    delete_in_erp_and_sync(commitment)
    done = unlink(client, commitment)
    box = oob_panel(done)
    assert 'hx-swap-oob="true"' in box
    assert 'data-testid="last-sync-outcome">Succeeded<' in box
    assert "No sync has completed yet" not in box
    # The panel keeps the page's tab and address for its own polling and Sync now.
    assert "Delete the commitment in Sage 300 CRE® first" in html.unescape(box)
    assert "tab=commitments" in html.unescape(box)


def test_a_refused_permission_reply_brings_the_panel_too():
    world = build_world()
    commitment = synced_commitment(world)

    response = unlink(client_for(world.pm), commitment)

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert 'hx-swap-oob="true"' in oob_panel(response)


# --- without JavaScript --------------------------------------------------------------------------
def test_without_javascript_unlink_redirects_back_with_a_green_message():
    world = build_world()
    commitment = synced_commitment(world, number="SC-12")
    delete_in_erp_and_sync(commitment)
    client = client_for(world.approver)
    back = tab_url(world.company) + "?synced-sort=number"

    response = unlink(client, commitment, htmx=False, data={"next": back})

    # Back to the page, scrolled to the Synced list the commitment has left.
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == back + "#commitments-synced"
    page = client.get(response["Location"])
    assert messages_of(page) == ["Commitment SC-12, Harbor Tower — Successfully Unlinked"]
    body = page.content.decode()
    # The message is at the top of that list, with the next step; not at the top of the page.
    synced = body.split('<section class="list" id="commitments-synced"')[1].split("</header>")[1]
    detail = reverse("commitment_detail", args=[world.project.pk, commitment.pk])
    assert synced.lstrip().startswith(
        '<div class="list-message"><p class="msg msg-success" data-testid="list-message">'
        '<span class="msg-text">Commitment SC-12, Harbor Tower — Successfully Unlinked</span> '
        f'<a class="msg-next" href="{detail}" data-testid="next-step">Edit in the Commitments tool</a>'
        "</p></div>"
    )
    assert 'data-testid="message"' not in body


def test_without_javascript_a_refusal_comes_back_in_red():
    world = build_world()
    commitment = synced_commitment(world, number="SC-12")
    client = client_for(world.approver)

    response = unlink(client, commitment, htmx=False)

    # Back to the page, scrolled to the row, which still is in the Synced list.
    row_id = f"synced-commitment-{commitment.pk}"
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == f"{tab_url(world.company)}#{row_id}"
    page = client.get(response["Location"])
    # Under its row: the articles' words first and alone.
    assert messages_of(page) == [STILL_IN_SAGE_300]
    # The red words are under the row, as with JavaScript; no next step.
    row = page.content.decode().split(f'<tbody id="{row_id}"')[1].split("</tbody>")[0]
    assert (
        '<p class="msg msg-error" tabindex="-1" data-testid="row-message">'
        f'<span class="msg-text" data-testid="row-message-text">{html.escape(STILL_IN_SAGE_300)}</span></p>'
    ) in row
    assert action_tags(row, "unlink") and "next-step" not in row
    assert 'data-testid="message"' not in page.content.decode()


@pytest.mark.parametrize("next_url", ["https://evil.example/phish", "//evil.example/", "javascript:alert(1)"])
def test_without_javascript_an_outside_next_is_ignored(next_url):
    world = build_world()
    commitment = synced_commitment(world)

    response = unlink(client_for(world.approver), commitment, htmx=False, data={"next": next_url})

    assert response["Location"] == f"{tab_url(world.company)}#synced-commitment-{commitment.pk}"


# --- who may --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "missing"),
    [
        ("pm", PRIVILEGE),
        ("no_commitments_admin", "'Admin' on the Commitments tool of project 'Harbor Tower'"),
        ("erp_read_only", ERP_STANDARD),
    ],
)
def test_each_missing_requirement_is_refused_with_403_naming_it(role, missing):
    world = build_world()
    commitment = synced_commitment(world)
    delete_in_erp_and_sync(commitment)

    response = unlink(client_for(getattr(world, role)), commitment)

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert row_message(response) == f"Unlink needs {missing}."
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED


def test_without_javascript_a_missing_permission_comes_back_as_a_red_message():
    world = build_world()
    commitment = synced_commitment(world, number="SC-5")
    client = client_for(world.pm)

    response = unlink(client, commitment, htmx=False)

    assert response.status_code == HTTPStatus.FOUND
    assert messages_of(client.get(response["Location"])) == [f"Unlink needs {PRIVILEGE}."]


def test_a_member_who_may_not_open_the_tool_gets_403_in_the_message_area():
    world = build_world()
    commitment = synced_commitment(world)

    response = unlink(client_for(world.member), commitment)

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response["HX-Retarget"] == "#flash" and response["HX-Reswap"] == "innerHTML"
    assert f"view the ERP Integrations tool needs {ERP_READ}." in text(response)


def test_the_viewer_is_refused_with_every_missing_requirement():
    world = build_world()
    commitment = synced_commitment(world)

    response = unlink(client_for(world.viewer), commitment)

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert row_message(response).startswith(
        "Unlink needs 'Admin' on the Commitments tool of project 'Harbor Tower', and"
    )


def test_an_outsider_gets_404_and_learns_nothing():
    world = build_world()
    commitment = synced_commitment(world)
    client = client_for(world.outsider)
    token = csrf_token(client, tab_url(world.other_company))

    response = post(client, action_url(commitment, "unlink"), htmx=True, token=token)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert audit_outcomes(commitment) == []


def test_another_companys_record_through_this_companys_url_is_404():
    world = build_world()
    # The approver is in both companies; the URL's company must own the record.
    DirectoryMembership.objects.create(
        company=world.other_company, user=world.approver, erp_integrations_level=PermissionLevel.ADMIN
    )
    ProjectPermission.objects.create(
        project=world.other_project, user=world.approver, commitments_level=PermissionLevel.ADMIN
    )
    foreign = factories.link(factories.commitment(project=world.other_project))

    response = unlink(client_for(world.approver), foreign, company=world.company)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert audit_outcomes(foreign) == []


def test_unknown_ids_are_404():
    world = build_world()
    client = client_for(world.approver)
    token = csrf_token(client, tab_url(world.company))
    url = reverse(
        "erp_action",
        kwargs={
            "company_id": world.company.pk,
            "tab": "commitments",
            "record_id": 987654,
            "action": "unlink",
        },
    )

    assert post(client, url, htmx=True, token=token).status_code == HTTPStatus.NOT_FOUND
    assert (
        post(client, url.replace("unlink", "archive"), htmx=True, token=token).status_code
        == HTTPStatus.NOT_FOUND
    )


def test_get_on_unlink_is_405():
    world = build_world()
    commitment = synced_commitment(world)

    assert (
        client_for(world.approver).get(action_url(commitment, "unlink")).status_code
        == HTTPStatus.METHOD_NOT_ALLOWED
    )
    assert client_for(None).get(action_url(commitment, "unlink")).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_a_post_without_the_csrf_token_is_refused():
    world = build_world()
    commitment = synced_commitment(world)
    delete_in_erp_and_sync(commitment)
    client = client_for(world.approver)

    htmx = client.post(action_url(commitment, "unlink"), headers={"HX-Request": "true"})
    plain = client.post(action_url(commitment, "unlink"))

    assert htmx.status_code == plain.status_code == HTTPStatus.FORBIDDEN
    assert htmx["HX-Retarget"] == "#flash"
    assert "Reload the page and try again." in text(htmx)
    assert "Please try again" in text(plain)
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED
    assert SubcontractorInvoice.objects.count() == 0 and audit_outcomes(commitment) == []
