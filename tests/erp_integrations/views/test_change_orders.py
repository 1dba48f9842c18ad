"""Commitment change orders in the project's Commitments tool: on their commitment's page,
created, edited, deleted and sent to accounting, read-only while locked."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from erp_integrations.models import (
    ChangeOrderLineItem,
    CommitmentChangeOrder,
    CommitmentLineItem,
    ExportState,
)
from tests import factories
from tests.erp_integrations.views.commitments_world import (
    build_world,
    change_order_form_data,
    commitment_form_data,
    text_of,
)

WAITING = "Waiting for export: an approver must export or reject it first."


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def commitment(world):
    commitment = factories.commitment(
        project=world.project, vendor=world.vendor, number="SC-7", cost_code="03-100", amount=Decimal("500")
    )
    CommitmentLineItem.objects.create(
        commitment=commitment, cost_code="03-300", description="Slab", amount=1500
    )
    return commitment


def _lines(commitment):
    return list(commitment.line_items.order_by("id"))


def _url(name, record):
    return reverse(name, args=[record.project_id, record.pk])


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- on the commitment's page ----------------------------------------------------------------


@pytest.mark.django_db(databases="__all__")
def test_the_commitment_lists_its_change_orders_with_their_export_state_and_erp_id(world, commitment):
    factories.link(commitment)
    synced = factories.link(factories.change_order(commitment=commitment, number="001", title="Footing"))
    factories.change_order(commitment=commitment, number="002", title="Credit", amount=Decimal("-50"))

    body = world.client(world.pm).get(_url("commitment_detail", commitment)).content.decode()

    rows = body.split('data-testid="cco-list"')[1].split("</table>")[0]
    assert rows.count('data-testid="cco-row"') == 2
    first, second = rows.split('data-testid="cco-row"')[1:]
    assert _url("cco_detail", synced) in first and "Footing" in first and "Approved" in first
    assert f"<code>{synced.erp_id}</code>" in first and 'data-state="synced"' in first
    assert "002" in second and "-50.00" in second and 'data-state="draft"' in second
    assert f'href="{_url("cco_create", commitment)}" data-testid="new-cco">New change order<' in body


def test_a_viewer_sees_the_change_orders_but_no_new_change_order(world, commitment):
    factories.change_order(commitment=commitment, number="001")
    body = world.client(world.viewer).get(_url("commitment_detail", commitment)).content.decode()
    assert body.count('data-testid="cco-row"') == 1
    assert 'data-testid="new-cco"' not in body


# --- create ---------------------------------------------------------------------------------


def test_creating_a_change_order_with_a_negative_line_redirects_to_it(world, commitment):
    first, second = _lines(commitment)
    data = change_order_form_data(
        lines=[(first.pk, "300.00", "Deeper"), (second.pk, "-120.50", "Thinner slab")]
    )

    response = world.client(world.pm).post(_url("cco_create", commitment), data)

    change_order = CommitmentChangeOrder.objects.get(commitment=commitment)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == _url("cco_detail", change_order)
    assert _messages(response) == ["Change order 001 created."]
    assert change_order.amount == Decimal("179.50") and change_order.vendor_id == world.vendor.pk
    assert list(change_order.line_items.values_list("amount", flat=True)) == [
        Decimal("300.00"),
        Decimal("-120.50"),
    ]


def test_the_form_offers_only_the_commitments_lines_and_shows_its_vendor(world, commitment):
    factories.commitment(project=world.project, number="SC-8", cost_code="99-999")
    body = world.client(world.pm).get(_url("cco_create", commitment)).content.decode()
    first, second = _lines(commitment)
    assert f'<option value="{first.pk}">03-100</option>' in body
    assert f'<option value="{second.pk}">03-300 Slab</option>' in body
    assert "99-999" not in body
    assert 'id="cco-vendor" value="Acme Concrete" readonly' in body
    assert "From subcontract SC-7" in body


def test_service_errors_show_on_the_change_order_form(world, commitment):
    factories.change_order(commitment=commitment, number="001")
    first, _ = _lines(commitment)
    response = world.client(world.pm).post(
        _url("cco_create", commitment), change_order_form_data(lines=[(first.pk, "5", "")])
    )
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors["number"] == [
        "A change order numbered 001 already exists on this commitment."
    ]
    assert CommitmentChangeOrder.objects.count() == 1


def test_create_refused_to_a_viewer_naming_the_level_and_404_to_outsiders(world, commitment):
    first, _ = _lines(commitment)
    data = change_order_form_data(lines=[(first.pk, "5", "")])
    response = world.client(world.viewer).post(_url("cco_create", commitment), data)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert (
        "create, edit or delete commitments needs 'Standard' or 'Admin' on the Commitments tool "
        "of project 'Tower'."
    ) in text_of(response)
    assert world.client(world.outsider).post(_url("cco_create", commitment), data).status_code == 404
    assert world.client(world.pm, csrf=True).post(_url("cco_create", commitment), data).status_code == 403
    assert not CommitmentChangeOrder.objects.exists()


# --- its page -------------------------------------------------------------------------------


def test_a_line_changed_twice_is_noted_as_one_summed_line_for_the_erp(world, commitment):
    first, second = _lines(commitment)
    change_order = factories.change_order(commitment=commitment, number="003", amount=Decimal("2000"))
    ChangeOrderLineItem.objects.create(
        change_order=change_order, commitment_line=first, amount=Decimal("1600")
    )
    ChangeOrderLineItem.objects.create(
        change_order=change_order, commitment_line=second, amount=Decimal("-10")
    )

    body = text_of(world.client(world.viewer).get(_url("cco_detail", change_order)))

    assert body.count('data-testid="change-line-row"') == 3
    note = body.split('data-testid="summed-lines"')[1].split("</div>")[0]
    assert "Sage 300 CRE® takes one change per commitment line" in note
    assert note.count('data-testid="summed-line"') == 1
    assert "03-100: 2 changes, sent as one line of <strong>3,600.00</strong>" in note


def test_no_summed_note_when_each_line_is_changed_once(world, commitment):
    change_order = factories.change_order(commitment=commitment)
    body = world.client(world.pm).get(_url("cco_detail", change_order)).content.decode()
    assert body.count('data-testid="change-line-row"') == 1
    assert 'data-testid="summed-lines"' not in body


def test_a_long_description_is_shown_whole_with_what_the_erp_keeps(world, commitment):
    change_order = factories.change_order(commitment=commitment)
    CommitmentChangeOrder.objects.filter(pk=change_order.pk).update(description="d" * 1200)
    body = text_of(world.client(world.pm).get(_url("cco_detail", change_order)))
    assert "d" * 1200 in body
    assert (
        "Sage 300 CRE® keeps the first 1,000 characters of the description (it has 1,200); "
        "the platform keeps it whole."
    ) in body


def test_the_page_is_404_to_outsiders_unknown_ids_and_another_projects_url(world, commitment):
    change_order = factories.change_order(commitment=commitment)
    other = factories.project(company=world.company)
    assert world.client(world.outsider).get(_url("cco_detail", change_order)).status_code == 404
    assert (
        world.client(world.pm).get(reverse("cco_detail", args=[world.project.pk, 999_999])).status_code == 404
    )
    assert (
        world.client(world.pm).get(reverse("cco_detail", args=[other.pk, change_order.pk])).status_code == 404
    )
    # In the company but without the project's Commitments tool: 403 naming the level.
    response = world.client(world.member).get(_url("cco_detail", change_order))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert (
        "view commitments needs 'Read Only' or 'Standard' or 'Admin' on the Commitments tool "
        "of project 'Tower'."
    ) in text_of(response)


def _page_queries(client, change_order) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(_url("cco_detail", change_order)).status_code == HTTPStatus.OK
    return len(queries)


def test_the_page_costs_the_same_queries_however_many_lines_it_has(world, commitment):
    client = world.client(world.pm)
    change_order = factories.change_order(commitment=commitment)
    client.get(_url("cco_detail", change_order))  # the session, once
    few = _page_queries(client, change_order)
    first, second = _lines(commitment)
    ChangeOrderLineItem.objects.bulk_create(
        ChangeOrderLineItem(change_order=change_order, commitment_line=line, amount=Decimal("1"))
        for line in [first, second] * 10
    )
    # 1) session, 2) user, 3) the change order with its project, company, ERP connection,
    # vendor and commitment, 4) the user's directory entry, 5) their project levels, 6) the
    # lines with their commitment lines, 7) the same for the summed lines, 8) the header's
    # company switcher, 9) its link history.
    assert few == _page_queries(client, change_order) == 9


# --- edit -------------------------------------------------------------------------------------


def test_the_edit_form_is_filled_with_the_change_order_and_saves(world, commitment):
    change_order = factories.change_order(commitment=commitment, number="001")
    client = world.client(world.pm)
    form = client.get(_url("cco_edit", change_order))
    assert form.context["form"]["title"].value() == "Added scope"
    assert form.context["formset"].forms[0]["commitment_line_id"].value() == _lines(commitment)[0].pk

    _, second = _lines(commitment)
    data = change_order_form_data(number="001", title="Revised", lines=[(second.pk, "-40.00", "")])
    response = client.post(_url("cco_edit", change_order), data)

    assert response.status_code == HTTPStatus.FOUND
    assert _messages(response) == ["Change order 001 saved."]
    change_order.refresh_from_db()
    assert (change_order.title, change_order.amount) == ("Revised", Decimal("-40.00"))


def test_a_change_order_waiting_for_export_is_read_only_and_an_edit_is_refused(world, commitment):
    change_order = factories.change_order(
        commitment=commitment, title="Original", export_state=ExportState.READY
    )
    client = world.client(world.pm)

    detail = client.get(_url("cco_detail", change_order)).content.decode()
    assert f'data-testid="locked-reason">{WAITING}<' in detail
    assert 'data-testid="edit-cco"' not in detail and 'data-testid="delete-cco"' not in detail
    edit = client.get(_url("cco_edit", change_order))
    assert all(field.disabled for field in edit.context["form"].fields.values())
    assert 'data-testid="save-cco"' not in edit.content.decode()

    first, _ = _lines(commitment)
    response = client.post(
        _url("cco_edit", change_order), change_order_form_data(lines=[(first.pk, "9", "")])
    )
    assert response.status_code == HTTPStatus.CONFLICT
    assert WAITING in text_of(response)
    assert CommitmentChangeOrder.objects.get(pk=change_order.pk).title == "Original"


def test_edit_refused_to_a_viewer_and_404_to_outsiders(world, commitment):
    change_order = factories.change_order(commitment=commitment, title="Original")
    data = change_order_form_data(title="Changed")
    assert world.client(world.viewer).post(_url("cco_edit", change_order), data).status_code == 403
    assert world.client(world.outsider).get(_url("cco_edit", change_order)).status_code == 404
    assert CommitmentChangeOrder.objects.get(pk=change_order.pk).title == "Original"


# --- delete ---------------------------------------------------------------------------------


def test_deleting_a_change_order_returns_to_its_commitment(world, commitment):
    change_order = factories.change_order(commitment=commitment, number="001")
    client = world.client(world.pm)
    assert 'data-testid="confirm-delete"' in client.get(_url("cco_delete", change_order)).content.decode()
    response = client.post(_url("cco_delete", change_order))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == _url("commitment_detail", commitment)
    assert _messages(response) == ["Change order 001 deleted."]
    assert not CommitmentChangeOrder.objects.filter(pk=change_order.pk).exists()


def test_a_change_order_waiting_for_export_cannot_be_deleted(world, commitment):
    change_order = factories.change_order(commitment=commitment, export_state=ExportState.READY)
    response = world.client(world.pm).post(_url("cco_delete", change_order))
    assert response.status_code == HTTPStatus.CONFLICT
    assert WAITING in text_of(response)
    assert world.client(world.outsider).post(_url("cco_delete", change_order)).status_code == 404
    assert CommitmentChangeOrder.objects.filter(pk=change_order.pk).exists()


# --- send -----------------------------------------------------------------------------------


def test_send_is_refused_while_the_commitment_is_not_synced_naming_it(world, commitment):
    change_order = factories.change_order(commitment=commitment, number="001")
    response = world.client(world.project_admin).post(_url("cco_send", change_order), follow=True)
    assert (
        "CCO 001 on SC-7 cannot be sent to accounting until its commitment SC-7 is synced with Sage 300 CRE®."
        in text_of(response)
    )
    assert CommitmentChangeOrder.objects.get(pk=change_order.pk).export_state == ExportState.DRAFT


@pytest.mark.django_db(databases="__all__")
def test_send_moves_the_change_order_of_a_synced_commitment_to_ready(world, commitment):
    factories.link(commitment)
    change_order = factories.change_order(commitment=commitment, number="001")
    response = world.client(world.project_admin).post(_url("cco_send", change_order))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == _url("cco_detail", change_order)
    assert _messages(response) == ["CCO 001 on SC-7 was sent to accounting and is ready to export."]
    assert CommitmentChangeOrder.objects.get(pk=change_order.pk).export_state == ExportState.READY


def test_send_needs_admin_on_the_commitments_tool_and_is_post_only(world, commitment):
    change_order = factories.change_order(commitment=commitment)
    response = world.client(world.pm).post(_url("cco_send", change_order))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "Send to Accounting needs 'Admin' on the Commitments tool of project 'Tower'." in text_of(response)
    assert world.client(world.project_admin).get(_url("cco_send", change_order)).status_code == 405
    assert world.client(world.outsider).post(_url("cco_send", change_order)).status_code == 404


# --- what change orders ask of their commitment -----------------------------------------------


def test_editing_the_commitment_keeps_the_lines_its_change_orders_change(world, commitment):
    change_order = factories.change_order(commitment=commitment)
    ids = [line.pk for line in _lines(commitment)]
    data = commitment_form_data(
        world, number="SC-7", title="Renamed", lines=[("03-100", "700.00"), ("03-300", "1500.00")]
    )
    data["lines-INITIAL_FORMS"] = "2"

    response = world.client(world.pm).post(_url("commitment_edit", commitment), data)

    assert response.status_code == HTTPStatus.FOUND
    assert [line.pk for line in _lines(commitment)] == ids
    assert change_order.line_items.get().commitment_line_id == ids[0]


def test_removing_a_line_a_change_order_changes_is_a_form_error_naming_it(world, commitment):
    factories.change_order(commitment=commitment, number="004")
    data = commitment_form_data(world, number="SC-7", lines=[("03-100", "500.00"), ("03-300", "1500.00")])
    data["lines-INITIAL_FORMS"] = "2"
    data["lines-0-DELETE"] = "on"

    response = world.client(world.pm).post(_url("commitment_edit", commitment), data)

    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].non_field_errors() == [
        "Line 1 (03-100) cannot be removed: change order 004 changes it."
    ]
    assert len(_lines(commitment)) == 2


def test_a_commitment_with_change_orders_cannot_be_deleted_and_says_so(world, commitment):
    factories.change_order(commitment=commitment)
    client = world.client(world.pm)
    message = "This commitment has 1 change order; delete them before deleting the commitment."
    detail = text_of(client.get(_url("commitment_detail", commitment)))
    assert 'data-testid="delete-commitment"' not in detail and message in detail
    response = client.post(_url("commitment_delete", commitment))
    assert response.status_code == HTTPStatus.CONFLICT
    assert message in text_of(response)
