"""Creating and editing commitments; locked records are read-only with the reason."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from erp_integrations.models import Commitment, ExportState
from tests import factories
from tests.erp_integrations.views.commitments_world import build_world, commitment_form_data, text_of

WAITING = "Waiting for export: an approver must export or reject it first."


@pytest.fixture
def world(db):
    return build_world()


def _url(name, commitment):
    return reverse(name, args=[commitment.project_id, commitment.pk])


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- create --------------------------------------------------------------------------


def test_the_new_commitment_form_offers_the_companys_vendors(world):
    factories.vendor(company=factories.company(), name="Elsewhere Ltd")
    response = world.client(world.pm).get(reverse("commitment_create", args=[world.project.pk]))
    assert response.status_code == HTTPStatus.OK
    assert list(response.context["form"].fields["vendor"].queryset) == [world.vendor]
    body = response.content.decode()
    assert 'name="number"' in body and 'name="lines-0-cost_code"' in body
    assert 'data-testid="save-commitment"' in body


def test_creating_a_commitment_redirects_to_it(world):
    response = world.client(world.pm).post(
        reverse("commitment_create", args=[world.project.pk]),
        commitment_form_data(world, lines=[("03-100", "1000.00"), ("03-300", "500.25")]),
    )
    commitment = Commitment.objects.get(project=world.project, number="SC-100")
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == _url("commitment_detail", commitment)
    assert commitment.amount == Decimal("1500.25") and commitment.export_state == ExportState.DRAFT
    assert _messages(response) == ["Commitment SC-100 created."]


def test_service_errors_show_on_the_form_fields(world):
    factories.commitment(project=world.project, number="SC-100")
    response = world.client(world.pm).post(
        reverse("commitment_create", args=[world.project.pk]),
        commitment_form_data(world, lines=[("03-300", "-5")]),
    )
    assert response.status_code == HTTPStatus.OK
    form = response.context["form"]
    assert form.errors["number"] == ["A commitment numbered SC-100 already exists in this project."]
    assert "Line 1: the amount cannot be negative." in form.non_field_errors()
    assert Commitment.objects.filter(project=world.project).count() == 1


def test_a_vendor_of_another_company_is_not_a_choice(world):
    foreign = factories.vendor(company=factories.company())
    response = world.client(world.pm).post(
        reverse("commitment_create", args=[world.project.pk]),
        commitment_form_data(world, vendor=str(foreign.pk)),
    )
    assert response.status_code == HTTPStatus.OK
    assert "vendor" in response.context["form"].errors
    assert not Commitment.objects.exists()


def test_create_refused_to_read_only_with_the_reason_and_hidden_from_outsiders(world):
    url = reverse("commitment_create", args=[world.project.pk])
    response = world.client(world.viewer).post(url, commitment_form_data(world))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "'Standard' or 'Admin' on the Commitments tool of project 'Tower'" in text_of(response)
    assert world.client(world.viewer).get(url).status_code == HTTPStatus.FORBIDDEN
    assert world.client(world.outsider).get(url).status_code == HTTPStatus.NOT_FOUND
    assert not Commitment.objects.exists()


def test_create_needs_the_csrf_token(world):
    url = reverse("commitment_create", args=[world.project.pk])
    response = world.client(world.pm, csrf=True).post(url, commitment_form_data(world))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert not Commitment.objects.exists()


# --- detail --------------------------------------------------------------------------


def test_the_detail_shows_fields_line_items_and_actions(world):
    commitment = factories.commitment(project=world.project, number="SC-5", title="Masonry")
    body = world.client(world.pm).get(_url("commitment_detail", commitment)).content.decode()
    assert 'data-testid="commitment-number">SC-5<' in body
    assert body.count('data-testid="line-item-row"') == 1
    assert 'data-testid="edit-commitment"' in body and 'data-testid="delete-commitment"' in body
    assert 'data-testid="locked-reason"' not in body
    # Sending needs 'Admin' on the Commitments tool: the button is disabled with the reason.
    assert 'data-testid="send-denied-reason"' in body
    assert "Send to Accounting needs &#x27;Admin&#x27; on the Commitments tool" in body


def test_the_detail_for_a_viewer_has_no_edit_and_says_why(world):
    commitment = factories.commitment(project=world.project)
    response = world.client(world.viewer).get(_url("commitment_detail", commitment))
    body = text_of(response)
    assert response.status_code == HTTPStatus.OK
    assert 'data-testid="edit-commitment"' not in body and 'data-testid="delete-commitment"' not in body
    assert "create, edit or delete commitments needs 'Standard' or 'Admin'" in body


def test_the_detail_answers_404_for_outsiders_unknown_ids_and_other_projects(world):
    commitment = factories.commitment(project=world.project)
    other_project = factories.project(company=world.company)
    assert world.client(world.outsider).get(_url("commitment_detail", commitment)).status_code == 404
    assert (
        world.client(world.pm).get(reverse("commitment_detail", args=[world.project.pk, 999_999])).status_code
        == 404
    )
    wrong_project = reverse("commitment_detail", args=[other_project.pk, commitment.pk])
    assert world.client(world.pm).get(wrong_project).status_code == 404


# --- edit ----------------------------------------------------------------------------


def test_the_edit_form_is_filled_with_the_commitment(world):
    commitment = factories.commitment(project=world.project, vendor=world.vendor, number="SC-5")
    response = world.client(world.pm).get(_url("commitment_edit", commitment))
    assert response.context["form"]["number"].value() == "SC-5"
    assert response.context["formset"].forms[0]["cost_code"].value() == "03-300"
    assert 'data-testid="save-commitment"' in response.content.decode()


def test_editing_saves_and_redirects(world):
    commitment = factories.commitment(project=world.project, vendor=world.vendor, number="SC-5")
    response = world.client(world.pm).post(
        _url("commitment_edit", commitment),
        commitment_form_data(world, number="SC-5", title="Revised", lines=[("05-120", "12.00")]),
    )
    assert response.status_code == HTTPStatus.FOUND
    commitment.refresh_from_db()
    assert (commitment.title, commitment.amount) == ("Revised", Decimal("12.00"))
    assert _messages(response) == ["Commitment SC-5 saved."]


def test_a_line_marked_for_removal_is_dropped(world):
    commitment = factories.commitment(project=world.project, vendor=world.vendor, number="SC-5")
    data = commitment_form_data(world, number="SC-5", lines=[("03-300", "10.00"), ("03-400", "20.00")])
    data["lines-1-DELETE"] = "on"
    world.client(world.pm).post(_url("commitment_edit", commitment), data)
    commitment.refresh_from_db()
    assert list(commitment.line_items.values_list("cost_code", flat=True)) == ["03-300"]
    assert commitment.amount == Decimal("10.00")


def test_a_record_waiting_for_export_shows_read_only_fields_and_the_reason(world):
    commitment = factories.commitment(project=world.project, export_state=ExportState.READY)
    client = world.client(world.pm)

    detail = client.get(_url("commitment_detail", commitment)).content.decode()
    assert f'data-testid="locked-reason">{WAITING}<' in detail
    assert 'data-testid="edit-commitment"' not in detail and 'data-testid="delete-commitment"' not in detail

    edit = client.get(_url("commitment_edit", commitment))
    assert edit.status_code == HTTPStatus.OK
    assert all(field.disabled for field in edit.context["form"].fields.values())
    body = edit.content.decode()
    assert WAITING in body and 'data-testid="save-commitment"' not in body
    # Only the commitment's own line items, no blank lines to fill in.
    assert body.count('data-testid="line-item-form"') == commitment.line_items.count() > 0
    assert "Save to get more blank lines" not in body


def test_the_edit_form_offers_blank_lines_while_it_can_be_saved(world):
    commitment = factories.commitment(project=world.project, vendor=world.vendor)

    body = world.client(world.pm).get(_url("commitment_edit", commitment)).content.decode()

    assert body.count('data-testid="line-item-form"') > commitment.line_items.count()
    assert "Save to get more blank lines" in body


def test_posting_to_a_locked_record_is_refused_with_409_and_the_reason(world):
    commitment = factories.commitment(project=world.project, export_state=ExportState.READY, title="Original")
    response = world.client(world.pm).post(
        _url("commitment_edit", commitment), commitment_form_data(world, title="Changed")
    )
    assert response.status_code == HTTPStatus.CONFLICT
    assert WAITING in text_of(response)
    commitment.refresh_from_db()
    assert commitment.title == "Original"


@pytest.mark.django_db(databases="__all__")
def test_a_synced_record_is_locked_until_unlinked_then_editable_again(world):
    commitment = factories.link(factories.commitment(project=world.project, vendor=world.vendor))
    client = world.client(world.pm)
    reason = (
        f"Synced with Sage 300 CRE® (ERP id {commitment.erp_id}): unlink it in the ERP Integrations tool "
        "before editing or deleting."
    )
    assert reason in text_of(client.get(_url("commitment_detail", commitment)))
    assert client.post(_url("commitment_edit", commitment), commitment_form_data(world)).status_code == 409

    # What a successful Unlink leaves: a draft without a link.
    Commitment.objects.filter(pk=commitment.pk).update(
        export_state=ExportState.DRAFT, erp_id=None, linked_at=None, link=None
    )
    detail = client.get(_url("commitment_detail", commitment)).content.decode()
    assert 'data-testid="locked-reason"' not in detail
    assert 'data-testid="edit-commitment"' in detail and 'data-testid="delete-commitment"' in detail
    response = client.post(
        _url("commitment_edit", commitment),
        commitment_form_data(world, number=commitment.number, title="Fixed"),
    )
    assert response.status_code == HTTPStatus.FOUND
    assert Commitment.objects.get(pk=commitment.pk).title == "Fixed"


def test_edit_refused_to_read_only_with_the_reason_and_hidden_from_outsiders(world):
    commitment = factories.commitment(project=world.project, title="Original")
    response = world.client(world.viewer).post(
        _url("commitment_edit", commitment), commitment_form_data(world)
    )
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "'Standard' or 'Admin' on the Commitments tool" in text_of(response)
    assert world.client(world.outsider).get(_url("commitment_edit", commitment)).status_code == 404
    assert (
        world.client(world.pm).get(reverse("commitment_edit", args=[world.project.pk, 999_999])).status_code
        == 404
    )
    assert Commitment.objects.get(pk=commitment.pk).title == "Original"


def test_edit_needs_the_csrf_token(world):
    commitment = factories.commitment(project=world.project, title="Original")
    response = world.client(world.pm, csrf=True).post(
        _url("commitment_edit", commitment), commitment_form_data(world, title="Changed")
    )
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert Commitment.objects.get(pk=commitment.pk).title == "Original"


def test_anonymous_users_are_sent_to_sign_in(world):
    commitment = factories.commitment(project=world.project)
    response = world.client(None).get(_url("commitment_edit", commitment))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("login"))
