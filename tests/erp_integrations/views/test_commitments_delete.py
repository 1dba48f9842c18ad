"""Deleting a commitment: a confirm page, then POST; refused while locked or billed."""

from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from erp_integrations.models import Commitment, ExportState
from tests import factories
from tests.erp_integrations.views.commitments_world import build_world, text_of


@pytest.fixture
def world(db):
    return build_world()


def _url(commitment):
    return reverse("commitment_delete", args=[commitment.project_id, commitment.pk])


def test_the_confirm_page_asks_before_deleting(world):
    commitment = factories.commitment(project=world.project, number="SC-3")
    response = world.client(world.pm).get(_url(commitment))
    assert response.status_code == HTTPStatus.OK
    assert 'data-testid="confirm-delete"' in response.content.decode()
    assert Commitment.objects.filter(pk=commitment.pk).exists()


def test_deleting_redirects_to_the_list_with_a_message(world):
    commitment = factories.commitment(project=world.project, number="SC-3")
    response = world.client(world.pm).post(_url(commitment))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("commitment_list", args=[world.project.pk])
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Commitment SC-3 deleted."]
    assert not Commitment.objects.filter(pk=commitment.pk).exists()


def test_a_commitment_waiting_for_export_cannot_be_deleted(world):
    commitment = factories.commitment(project=world.project, export_state=ExportState.READY)
    client = world.client(world.pm)

    confirm = client.get(_url(commitment)).content.decode()
    assert "Waiting for export: an approver must export or reject it first." in confirm
    assert 'data-testid="confirm-delete"' not in confirm

    response = client.post(_url(commitment))
    assert response.status_code == HTTPStatus.CONFLICT
    assert "Waiting for export: an approver must export or reject it first." in text_of(response)
    assert Commitment.objects.filter(pk=commitment.pk).exists()


@pytest.mark.django_db(databases="__all__")
def test_a_synced_commitment_cannot_be_deleted(world):
    commitment = factories.link(factories.commitment(project=world.project))
    response = world.client(world.pm).post(_url(commitment))
    assert response.status_code == HTTPStatus.CONFLICT
    assert f"Synced with Sage 300 CRE® (ERP id {commitment.erp_id})" in text_of(response)
    assert Commitment.objects.filter(pk=commitment.pk).exists()


def test_a_commitment_with_invoices_cannot_be_deleted_and_says_so(world):
    commitment = factories.commitment(project=world.project)
    factories.invoice(commitment=commitment)
    client = world.client(world.pm)
    message = "This commitment has 1 subcontractor invoice; delete them before deleting the commitment."

    detail = text_of(client.get(reverse("commitment_detail", args=[world.project.pk, commitment.pk])))
    assert 'data-testid="delete-commitment"' not in detail
    assert message in detail
    response = client.post(_url(commitment))
    assert response.status_code == HTTPStatus.CONFLICT
    assert message in text_of(response)
    assert Commitment.objects.filter(pk=commitment.pk).exists()


def test_delete_refused_to_read_only_with_the_reason(world):
    commitment = factories.commitment(project=world.project)
    response = world.client(world.viewer).post(_url(commitment))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "'Standard' or 'Admin' on the Commitments tool of project 'Tower'" in text_of(response)
    assert Commitment.objects.filter(pk=commitment.pk).exists()


def test_delete_is_404_for_outsiders_and_unknown_ids(world):
    commitment = factories.commitment(project=world.project)
    assert world.client(world.outsider).post(_url(commitment)).status_code == HTTPStatus.NOT_FOUND
    unknown = reverse("commitment_delete", args=[world.project.pk, 999_999])
    assert world.client(world.pm).post(unknown).status_code == HTTPStatus.NOT_FOUND
    assert Commitment.objects.filter(pk=commitment.pk).exists()


def test_delete_needs_the_csrf_token(world):
    commitment = factories.commitment(project=world.project)
    assert world.client(world.pm, csrf=True).post(_url(commitment)).status_code == HTTPStatus.FORBIDDEN
    assert Commitment.objects.filter(pk=commitment.pk).exists()


def test_delete_answers_405_to_other_methods(world):
    commitment = factories.commitment(project=world.project)
    assert world.client(world.pm).put(_url(commitment)).status_code == HTTPStatus.METHOD_NOT_ALLOWED
