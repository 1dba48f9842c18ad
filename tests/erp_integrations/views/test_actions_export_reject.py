"""Export and Reject from the Ready and Failed lists, in HTMX and as plain forms."""

import html
import json
import re
from http import HTTPStatus

import pytest
from django.urls import reverse

from erp_integrations.kinds import kind_of
from erp_integrations.models import AuditEntry, Commitment, ExportState
from erp_integrations.sandbox.services import sandbox_set_mode
from tests import factories
from tests.erp_integrations.views.tool_world import (
    ERP_STANDARD,
    PRIVILEGE,
    action_tags,
    action_url,
    build_world,
    client_for,
    csrf_token,
    messages_of,
    post,
    ready_commitment,
    ready_invoice,
    synced_commitment,
    tab_url,
)

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


def act(client, record, action, *, htmx=True, data=None):
    page = tab_url(
        record.company, "commitments" if isinstance(record, Commitment) else "subcontractor-invoices"
    )
    token = csrf_token(client, page)
    return post(client, action_url(record, action), data, htmx=htmx, token=token, current=page)


def row_message(response) -> str:
    match = re.search(r'data-testid="row-message">(.*?)</p>', response.content.decode(), re.S)
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())) if match else ""


def triggered(response) -> dict:
    return json.loads(response.headers.get("HX-Trigger", "{}"))


def outcomes(record, action):
    return list(
        AuditEntry.objects.filter(record_id=record.pk, record_type=kind_of(record).slug, action=action)
        .order_by("id")
        .values_list("outcome", flat=True)
    )


# --- Export ---------------------------------------------------------------------------------------
def test_export_moves_the_commitment_to_synced_and_says_so_in_its_place():
    world = build_world()
    commitment = ready_commitment(world, number="SC-12")

    response = act(client_for(world.approver), commitment, "export")

    assert response.status_code == HTTPStatus.OK
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED and commitment.erp_id.startswith("JC-")
    body = response.content.decode().strip()
    assert body.startswith(f'<tbody id="ready-commitment-{commitment.pk}" class="record-done"')
    # Named with its project: every project has its SC-12.
    assert row_message(response) == (
        f"Commitment SC-12, Harbor Tower — Exported to Sage 300 CRE® as {commitment.erp_id}."
    )
    assert "msg-success" in body
    # The Synced list refreshes itself to show the new link.
    assert triggered(response) == {"erp:refresh-synced": {}}
    assert outcomes(commitment, "export") == ["success"]


def test_export_of_a_subcontractor_invoice_links_a_requisition():
    world = build_world(erp_system="sage100")
    invoice = ready_invoice(world, number="4")

    response = act(client_for(world.approver), invoice, "export")

    assert response.status_code == HTTPStatus.OK
    invoice.refresh_from_db()
    assert invoice.export_state == ExportState.SYNCED
    assert row_message(response) == (
        f"Subcontractor invoice 4 on {invoice.commitment.number}, Harbor Tower"
        f" — Exported to Sage 100 Contractor® as {invoice.erp_id}."
    )
    assert response.content.decode().strip().startswith(f'<tbody id="ready-invoice-{invoice.pk}"')


def test_export_refused_by_the_erps_limits_is_422_and_moves_to_failed():
    world = build_world()
    commitment = ready_commitment(world, number="SC-1", title="A title far longer than Sage 300 CRE allows")

    response = act(client_for(world.approver), commitment, "export")

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    # The message names the record; its project goes in front.
    assert row_message(response) == (
        "Harbor Tower — Commitment SC-1 cannot be exported to Sage 300 CRE®. "
        "Title: must be at most 30 characters in Sage 300 CRE® (it has 43)."
    )
    assert "msg-error" in response.content.decode()
    assert triggered(response) == {"erp:refresh-failed": {}}
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.FAILED
    # It now shows under "Failed to Export" with the ERP's words.
    page = client_for(world.viewer).get(tab_url(world.company))
    failed = page.content.decode().split('data-testid="list-failed"')[1]
    assert f'id="failed-commitment-{commitment.pk}"' in failed
    assert "Title: must be at most 30 characters in Sage 300 CRE®" in html.unescape(failed)


def test_export_while_the_erp_is_offline_is_502_with_the_erps_message():
    world = build_world()
    commitment = ready_commitment(world, number="SC-3")
    sandbox_set_mode(erp_system="sage300", mode="offline")

    response = act(client_for(world.approver), commitment, "export")

    assert response.status_code == HTTPStatus.BAD_GATEWAY
    assert "Export to Sage 300 CRE® failed: Sage 300 CRE® is not responding. Try again later." in row_message(
        response
    )
    assert outcomes(commitment, "export") == ["failed"]


def test_retrying_a_failed_export_that_fails_again_keeps_the_row_with_the_message():
    world = build_world()
    commitment = ready_commitment(world)
    Commitment.objects.filter(pk=commitment.pk).update(
        export_state=ExportState.FAILED, export_error="earlier"
    )
    sandbox_set_mode(erp_system="sage300", mode="offline")

    response = act(client_for(world.approver), commitment, "export")

    assert response.status_code == HTTPStatus.BAD_GATEWAY
    body = response.content.decode()
    # Still in the Failed list: the whole row, the ERP's latest error and the message.
    assert body.strip().startswith(f'<tbody id="failed-commitment-{commitment.pk}" class="has-message"')
    assert action_tags(body, "export")
    assert 'data-testid="export-error"' in body and "is not responding" in body
    assert "HX-Trigger" not in response.headers


def test_export_double_submit_links_once():
    world = build_world()
    commitment = ready_commitment(world, number="SC-8")
    client = client_for(world.approver)

    first = act(client, commitment, "export")
    second = act(client, commitment, "export")

    assert first.status_code == HTTPStatus.OK
    assert second.status_code == HTTPStatus.CONFLICT
    commitment.refresh_from_db()
    assert row_message(second) == (
        f"Commitment SC-8 is not ready to export: it is synced with Sage 300 CRE® as {commitment.erp_id}."
    )
    assert outcomes(commitment, "export") == ["success", "refused"]


def test_export_without_javascript_redirects_back_with_the_message():
    world = build_world()
    commitment = ready_commitment(world, number="SC-8")
    client = client_for(world.approver)

    response = act(
        client, commitment, "export", htmx=False, data={"next": tab_url(world.company) + "?ready-sort=number"}
    )

    # Back to the Ready list the commitment has left, where the message is.
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == tab_url(world.company) + "?ready-sort=number#commitments-ready"
    commitment.refresh_from_db()
    page = client.get(response["Location"])
    message = f"Commitment SC-8, Harbor Tower — Exported to Sage 300 CRE® as {commitment.erp_id}."
    assert messages_of(page) == [message]
    ready = page.content.decode().split('id="commitments-ready"')[1].split("</section>")[0]
    assert f'data-testid="list-message"><span class="msg-text">{html.escape(message)}</span></p>' in ready


# --- Reject ---------------------------------------------------------------------------------------
def test_reject_with_a_reason_sends_the_commitment_back_for_editing():
    world = build_world()
    commitment = ready_commitment(world, number="SC-4")

    response = act(client_for(world.approver), commitment, "reject", data={"reason": "Wrong cost code"})

    assert response.status_code == HTTPStatus.OK
    assert (
        row_message(response)
        == "Harbor Tower — Commitment SC-4 was rejected. It can be edited and sent to accounting again."
    )
    commitment.refresh_from_db()
    assert (commitment.export_state, commitment.rejection_reason) == (ExportState.REJECTED, "Wrong cost code")
    assert "HX-Trigger" not in response.headers
    assert outcomes(commitment, "reject") == ["success"]


def test_reject_without_a_reason_is_422_and_the_row_stays():
    world = build_world()
    commitment = ready_commitment(world, number="SC-4")

    response = act(client_for(world.approver), commitment, "reject", data={"reason": "   "})

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert row_message(response) == "Please give a reason for rejecting Commitment SC-4."
    assert (
        response.content.decode()
        .strip()
        .startswith(f'<tbody id="ready-commitment-{commitment.pk}" class="has-message"')
    )
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.READY


def test_reject_of_a_subcontractor_invoice():
    world = build_world(erp_system="sage100")
    invoice = ready_invoice(world, number="2")

    response = act(client_for(world.approver), invoice, "reject", data={"reason": "Billing period is off"})

    assert response.status_code == HTTPStatus.OK
    invoice.refresh_from_db()
    assert invoice.export_state == ExportState.REJECTED
    assert row_message(response).startswith("Harbor Tower — Subcontractor invoice 2 on ")


def test_reject_without_javascript_comes_back_with_the_message():
    world = build_world()
    commitment = ready_commitment(world, number="SC-4")
    client = client_for(world.approver)

    response = act(client, commitment, "reject", htmx=False, data={"reason": "Duplicate"})

    assert response.status_code == HTTPStatus.FOUND
    assert messages_of(client.get(response["Location"])) == [
        "Harbor Tower — Commitment SC-4 was rejected. It can be edited and sent to accounting again."
    ]


def test_a_rejection_reason_and_record_number_are_escaped_in_the_reply():
    world = build_world()
    commitment = ready_commitment(world, number="<i>SC</i>")

    response = act(client_for(world.approver), commitment, "reject", data={"reason": ""})

    body = response.content.decode()
    assert "<i>SC</i>" not in body
    assert "&lt;i&gt;SC&lt;/i&gt;" in body


# --- who may, and what may not be asked ------------------------------------------------------------
@pytest.mark.parametrize("action", ["export", "reject"])
@pytest.mark.parametrize(
    ("role", "missing"),
    [
        ("pm", PRIVILEGE),
        ("no_commitments_admin", "'Admin' on the Commitments tool of project 'Harbor Tower'"),
        ("erp_read_only", ERP_STANDARD),
    ],
)
def test_each_missing_requirement_is_refused_with_403_naming_it(action, role, missing):
    world = build_world()
    commitment = ready_commitment(world)

    response = act(client_for(getattr(world, role)), commitment, action, data={"reason": "x"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert row_message(response) == f"{action.capitalize()} needs {missing}."
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.READY


@pytest.mark.parametrize("action", ["export", "reject"])
def test_another_companys_record_is_404(action):
    world = build_world()
    foreign = factories.commitment(project=world.other_project, export_state="ready")
    client = client_for(world.approver)
    token = csrf_token(client, tab_url(world.company))
    url = reverse(
        "erp_action",
        kwargs={
            "company_id": world.company.pk,
            "tab": "commitments",
            "record_id": foreign.pk,
            "action": action,
        },
    )

    response = post(client, url, {"reason": "x"}, htmx=True, token=token)

    assert response.status_code == HTTPStatus.NOT_FOUND
    foreign.refresh_from_db()
    assert foreign.export_state == ExportState.READY


@pytest.mark.parametrize("action", ["export", "reject"])
def test_unknown_ids_are_404_and_get_is_405(action):
    world = build_world()
    client = client_for(world.approver)
    token = csrf_token(client, tab_url(world.company))
    url = reverse(
        "erp_action",
        kwargs={
            "company_id": world.company.pk,
            "tab": "subcontractor-invoices",
            "record_id": 424242,
            "action": action,
        },
    )

    assert post(client, url, {"reason": "x"}, htmx=True, token=token).status_code == HTTPStatus.NOT_FOUND
    assert (
        client.get(action_url(ready_commitment(world), action)).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    )


@pytest.mark.parametrize("action", ["export", "reject"])
def test_a_post_without_the_csrf_token_is_403(action):
    world = build_world()
    commitment = ready_commitment(world)

    response = client_for(world.approver).post(action_url(commitment, action), {"reason": "x"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.READY


def test_a_commitment_record_id_under_the_invoices_tab_is_404():
    world = build_world()
    commitment = synced_commitment(world)
    client = client_for(world.approver)
    token = csrf_token(client, tab_url(world.company))
    url = reverse(
        "erp_action",
        kwargs={
            "company_id": world.company.pk,
            "tab": "subcontractor-invoices",
            "record_id": commitment.pk,
            "action": "unlink",
        },
    )

    assert post(client, url, htmx=True, token=token).status_code == HTTPStatus.NOT_FOUND
