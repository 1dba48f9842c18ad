"""The Commitment Change Orders tab of the ERP Integrations tool: lists, Export, Reject, Unlink."""

import re
from http import HTTPStatus

import pytest
from django.urls import reverse

from erp_integrations.models import CommitmentChangeOrder, ExportState
from tests.erp_integrations.views.tool_world import (
    action_url,
    build_world,
    client_for,
    csrf_token,
    delete_in_erp_and_sync,
    post,
    ready_change_order,
    row_numbers,
    synced_change_order,
    synced_commitment,
    tab_url,
    text,
)

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]

TAB = "change-orders"


def list_titles(response) -> list[str]:
    return re.findall(r'data-testid="list-title">([^<]*)<', response.content.decode())


def row_message(response) -> str:
    match = re.search(r'data-testid="row-message">(.*?)</p>', response.content.decode(), re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split()) if match else ""


def act(world, user, record, action: str, data: dict | None = None):
    client = client_for(user)
    # Any signed-in user's page sets the CSRF cookie; an outsider cannot open this tab.
    token = csrf_token(client, reverse("company_list"))
    return post(
        client, action_url(record, action), data, htmx=True, token=token, current=tab_url(world.company, TAB)
    )


@pytest.mark.parametrize(
    ("erp_system", "erp_name"), [("sage300", "Sage 300 CRE®"), ("sage100", "Sage 100 Contractor®")]
)
def test_the_tab_has_the_change_order_lists_in_the_erps_words(erp_system, erp_name):
    world = build_world(erp_system=erp_system)
    ready_change_order(world, number="CO1")
    synced_change_order(world, number="CO2")

    response = client_for(world.viewer).get(tab_url(world.company, TAB))

    assert response.status_code == HTTPStatus.OK
    assert list_titles(response) == [
        "Change Orders - Ready to Export",
        "Change Orders - Failed to Export",
        f"Change Orders - Successfully Synced with {erp_name}",
    ]
    assert row_numbers(response, "ready") == ["CO1"]
    assert row_numbers(response, "synced") == ["CO2"]
    assert 'aria-current="page" data-testid="tab-change-orders">Commitment Change Orders<' in (
        response.content.decode()
    )


def test_an_approver_exports_a_ready_cco_and_it_joins_the_synced_list():
    world = build_world()
    cco = ready_change_order(world, number="CO1")

    response = act(world, world.approver, cco, "export")

    assert response.status_code == HTTPStatus.OK
    cco.refresh_from_db()
    assert cco.export_state == ExportState.SYNCED
    assert f"Exported to Sage 300 CRE® as {cco.erp_id}." in row_message(response)
    assert "erp:refresh-synced" in response.headers["HX-Trigger"]


def test_a_cco_over_the_erps_number_limit_fails_naming_the_field():
    world = build_world()
    cco = ready_change_order(world, number="CO-123")

    response = act(world, world.approver, cco, "export")

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "Number: must be at most 5 characters in Sage 300 CRE® (it has 6)." in text(response)
    assert CommitmentChangeOrder.objects.get(pk=cco.pk).export_state == ExportState.FAILED


def test_reject_needs_a_reason_and_sends_the_cco_back():
    world = build_world()
    cco = ready_change_order(world, number="CO1")

    assert (
        act(world, world.approver, cco, "reject", {"reason": ""}).status_code
        == HTTPStatus.UNPROCESSABLE_ENTITY
    )
    response = act(world, world.approver, cco, "reject", {"reason": "Wrong line"})

    assert response.status_code == HTTPStatus.OK
    cco.refresh_from_db()
    assert (cco.export_state, cco.rejection_reason) == (ExportState.REJECTED, "Wrong line")


def test_unlink_is_refused_in_red_until_a_sync_saw_the_cco_deleted_then_green():
    world = build_world(erp_system="sage100")
    cco = synced_change_order(world, number="CO1")

    refused = act(world, world.approver, cco, "unlink")
    assert refused.status_code == HTTPStatus.CONFLICT
    assert "The CCO is still in Sage 100 Contractor®. Please delete it before retrying." in row_message(
        refused
    )

    delete_in_erp_and_sync(cco)
    done = act(world, world.approver, cco, "unlink")

    assert done.status_code == HTTPStatus.OK
    assert "Successfully Unlinked" in row_message(done)
    detail = reverse("cco_detail", args=[world.project.pk, cco.pk])
    assert f'href="{detail}" data-testid="next-step"' in done.content.decode()


def test_a_commitment_with_a_synced_cco_is_refused_with_a_link_to_it():
    world = build_world()
    commitment = synced_commitment(world, number="SC-001")
    cco = synced_change_order(world, commitment=commitment, number="CO1")
    delete_in_erp_and_sync(commitment)

    client = client_for(world.approver)
    page = tab_url(world.company)
    response = post(
        client, action_url(commitment, "unlink"), htmx=True, token=csrf_token(client, page), current=page
    )

    assert response.status_code == HTTPStatus.CONFLICT
    assert row_message(response).startswith(
        "This commitment has 1 CCO (CO1) synced with Sage 300 CRE®. "
        "Unlink it first, then unlink the commitment."
    )
    detail = reverse("cco_detail", args=[world.project.pk, cco.pk])
    assert (
        f'<a href="{detail}" data-testid="blocking-link">CCO CO1 on SC-001</a>' in response.content.decode()
    )


def test_the_same_permission_triple_as_commitments():
    world = build_world()
    cco = synced_change_order(world, number="CO1")
    delete_in_erp_and_sync(cco)

    refused = act(world, world.pm, cco, "unlink")

    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert "'Can Push to Accounting' privilege" in text(refused)
    assert CommitmentChangeOrder.objects.get(pk=cco.pk).is_linked
    assert act(world, world.outsider, cco, "unlink").status_code == HTTPStatus.NOT_FOUND


def test_without_javascript_the_refusal_links_each_cco_too():
    world = build_world()
    commitment = synced_commitment(world, number="SC-001")
    cco = synced_change_order(world, commitment=commitment, number="CO1")
    delete_in_erp_and_sync(commitment)
    client = client_for(world.approver)
    page = tab_url(world.company)

    response = post(client, action_url(commitment, "unlink"), htmx=False, token=csrf_token(client, page))
    assert response.status_code == HTTPStatus.FOUND
    shown = client.get(response["Location"])

    detail = reverse("cco_detail", args=[world.project.pk, cco.pk])
    assert "This commitment has 1 CCO (CO1) synced with Sage 300 CRE®." in text(shown)
    assert f'<a href="{detail}" data-testid="blocking-link">CCO CO1 on SC-001</a>' in shown.content.decode()
