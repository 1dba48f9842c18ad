"""Send to Accounting from the Commitments tool, and the whole round trip after unlink."""

from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import PermissionLevel
from erp_integrations.kinds import COMMITMENT
from erp_integrations.models import AuditEntry, Commitment, ExportState, SyncRun
from erp_integrations.sandbox.services import sandbox_delete
from erp_integrations.services.exports import record_export
from erp_integrations.services.sync import connection_sync
from erp_integrations.services.unlink import record_unlink
from tests import factories
from tests.erp_integrations.views.commitments_world import build_world, commitment_form_data, text_of


@pytest.fixture
def world(db):
    return build_world()


def _url(name, commitment):
    return reverse(name, args=[commitment.project_id, commitment.pk])


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_send_moves_a_draft_to_ready_and_locks_it(world):
    commitment = factories.commitment(project=world.project, number="SC-8")
    client = world.client(world.project_admin)

    response = client.post(_url("commitment_send", commitment))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == _url("commitment_detail", commitment)
    assert _messages(response) == ["Commitment SC-8 was sent to accounting and is ready to export."]
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.READY
    detail = client.get(_url("commitment_detail", commitment)).content.decode()
    assert "Waiting for export: an approver must export or reject it first." in detail
    assert 'data-testid="send-to-accounting"' not in detail


def test_sending_twice_shows_why_the_second_is_refused(world):
    commitment = factories.commitment(project=world.project, number="SC-8")
    client = world.client(world.project_admin)
    client.post(_url("commitment_send", commitment))
    response = client.post(_url("commitment_send", commitment), follow=True)
    assert "Commitment SC-8 cannot be sent to accounting: it is ready to export." in text_of(response)
    assert AuditEntry.objects.filter(action="send", outcome="success", record_id=commitment.pk).count() == 1


def test_send_refused_without_admin_on_the_commitments_tool(world):
    commitment = factories.commitment(project=world.project)
    response = world.client(world.pm).post(_url("commitment_send", commitment))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "Send to Accounting needs 'Admin' on the Commitments tool of project 'Tower'." in text_of(response)
    assert Commitment.objects.get(pk=commitment.pk).export_state == ExportState.DRAFT


def test_send_is_404_for_outsiders_unknown_ids_and_another_projects_url(world):
    commitment = factories.commitment(project=world.project)
    other = factories.project(company=world.company)
    world.project_admin.project_permissions.create(project=other, commitments_level=PermissionLevel.ADMIN)
    client = world.client(world.project_admin)
    assert world.client(world.outsider).post(_url("commitment_send", commitment)).status_code == 404
    assert client.post(reverse("commitment_send", args=[world.project.pk, 999_999])).status_code == 404
    assert client.post(reverse("commitment_send", args=[other.pk, commitment.pk])).status_code == 404
    assert Commitment.objects.get(pk=commitment.pk).export_state == ExportState.DRAFT


def test_send_is_post_only(world):
    commitment = factories.commitment(project=world.project)
    response = world.client(world.project_admin).get(_url("commitment_send", commitment))
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_send_needs_the_csrf_token(world):
    commitment = factories.commitment(project=world.project)
    response = world.client(world.project_admin, csrf=True).post(_url("commitment_send", commitment))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert Commitment.objects.get(pk=commitment.pk).export_state == ExportState.DRAFT


@pytest.mark.django_db(databases="__all__")
def test_after_unlink_the_commitment_is_edited_sent_and_exported_again_with_a_new_erp_id(world):
    approver = factories.approver(world.company, world.project)
    commitment = factories.link(
        factories.commitment(project=world.project, vendor=world.vendor, number="SC-9")
    )
    first_erp_id = commitment.erp_id
    client = world.client(approver)

    # Deleted in the ERP, seen gone by a completed sync, then unlinked.
    sandbox_delete(erp_system="sage300", kind="commitment", erp_id=first_erp_id)
    connection_sync(connection_id=world.company.erp_connection.pk, trigger=SyncRun.Trigger.MANUAL)
    assert record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk).ok

    detail = client.get(_url("commitment_detail", commitment)).content.decode()
    assert 'data-testid="locked-reason"' not in detail and 'data-testid="edit-commitment"' in detail
    response = client.post(
        _url("commitment_edit", commitment),
        commitment_form_data(world, number="SC-9", title="Corrected title"),
    )
    assert response.status_code == HTTPStatus.FOUND

    assert client.post(_url("commitment_send", commitment)).status_code == HTTPStatus.FOUND
    assert record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk).ok
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED
    assert commitment.title == "Corrected title"
    assert commitment.erp_id and commitment.erp_id != first_erp_id
