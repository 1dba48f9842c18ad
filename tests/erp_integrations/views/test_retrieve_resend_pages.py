"""The project tool: Retrieve on a record that waits for an approver, the rejection's
reason and Resend on a rejected one, the colour badges; and the digest opt-out on the
user's settings page."""

import re
from http import HTTPStatus

import pytest
from django.urls import reverse

from accounts.models import User
from erp_integrations.kinds import COMMITMENT
from erp_integrations.models import Commitment, ExportState
from erp_integrations.services.exports import record_reject, record_retrieve
from tests import factories
from tests.erp_integrations.views.tool_world import build_world, client_for, text

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


@pytest.fixture
def world():
    return build_world()


def badge(response) -> tuple[str, str]:
    found = re.search(r'data-badge="(\w+)">([^<]+)</span>', response.content.decode())
    assert found, "no badge on the page"
    return found.group(1), found.group(2)


def test_a_sent_record_shows_its_badge_and_retrieve_takes_it_back(world):
    record = factories.commitment(project=world.project, export_state=ExportState.READY)
    client = client_for(world.approver, csrf=False)
    detail = COMMITMENT.detail_url(record)

    page = client.get(detail)
    assert badge(page) == ("sent", "Sent · Ready to Export")
    assert 'data-testid="retrieve"' in page.content.decode()

    after = client.post(reverse("commitment_retrieve", args=[record.project_id, record.pk]), follow=True)

    assert after.status_code == HTTPStatus.OK
    assert badge(after) == ("retrieved", "Retrieved · Draft")
    assert "was retrieved and is a draft again" in text(after)
    assert 'data-testid="retrieve"' not in after.content.decode()


def test_a_viewer_gets_no_retrieve_button(world):
    record = factories.commitment(project=world.project, export_state=ExportState.READY)

    page = client_for(world.viewer).get(COMMITMENT.detail_url(record))

    assert 'data-testid="retrieve"' not in page.content.decode()


def test_a_rejected_record_shows_its_reason_and_resend_sends_it_back_to_ready(world):
    record = factories.commitment(project=world.project, export_state=ExportState.READY)
    record_reject(kind=COMMITMENT, user=world.approver, record_id=record.pk, reason="Wrong vendor")
    client = client_for(world.approver, csrf=False)

    page = client.get(COMMITMENT.detail_url(record))
    assert badge(page) == ("rejected", "Rejected")
    assert "Rejected: Wrong vendor" in text(page)
    assert "Resend to Accounting" in text(page)

    client.post(reverse("commitment_send", args=[record.project_id, record.pk]))

    assert Commitment.objects.get(pk=record.pk).export_state == ExportState.READY


def test_a_synced_record_shows_synced_with_the_erp(world):
    record = factories.link(factories.commitment(project=world.project))
    page = client_for(world.approver).get(COMMITMENT.detail_url(record))
    assert badge(page) == ("synced", "Synced with Sage 300 CRE®")


def test_retrieved_badge_shows_in_the_commitments_list_too(world):
    record = factories.commitment(project=world.project, export_state=ExportState.READY)
    record_retrieve(kind=COMMITMENT, user=world.approver, record_id=record.pk)

    page = client_for(world.approver).get(reverse("commitment_list", args=[world.project.pk]))

    assert 'data-badge="retrieved"' in page.content.decode()


def test_the_settings_page_subscribes_and_unsubscribes_the_digest(world):
    client = client_for(world.approver, csrf=False)
    url = reverse("account_settings")
    page = client.get(url)
    assert "Subscribe to ERP digest emails" in text(page)
    assert re.search(r'name="digest_emails"[^>]* checked', page.content.decode())

    saved = client.post(url, {"time_zone": "UTC"}, follow=True)

    assert "No daily ERP digest email." in text(saved)
    assert not User.objects.get(pk=world.approver.pk).digest_emails
    client.post(url, {"time_zone": "UTC", "digest_emails": "on"})
    assert User.objects.get(pk=world.approver.pk).digest_emails
