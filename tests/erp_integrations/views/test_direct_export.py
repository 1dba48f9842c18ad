"""Direct Export: a company setting per record kind ('Admin' on ERP Integrations). When
it is on, Send to Accounting exports at once, with no approver, and the audit trail
says so; the other kinds still wait for an approver."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from erp_integrations.kinds import COMMITMENT, INVOICE
from erp_integrations.models import AuditEntry, DirectExportSetting, ExportState
from erp_integrations.services.direct_export import direct_export_set
from erp_integrations.services.exports import DIRECT_EXPORT_NOTE, record_send_to_accounting
from tests import factories
from tests.erp_integrations.views.tool_world import ERP_ADMIN, build_world, client_for, csrf_token, text

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def world():
    return build_world()


def settings_url(world) -> str:
    return reverse("erp_settings", kwargs={"company_id": world.company.pk})


@pytest.mark.embedded
def test_with_direct_export_on_a_sent_record_is_exported_at_once_and_the_trail_says_so(world):
    direct_export_set(company=world.company, user=world.approver, enabled={COMMITMENT.slug})
    commitment = factories.commitment(project=world.project, vendor=world.vendor, number="SC-5")

    # The pm may send but not export; the company's setting stands in for the approver.
    result = record_send_to_accounting(kind=COMMITMENT, user=world.pm, record_id=commitment.pk)

    assert result.ok, result.message
    assert "Direct Export: Exported to Sage 300 CRE® as" in result.message
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED and commitment.erp_id
    export = AuditEntry.objects.get(action="export")
    assert (export.user, export.outcome) == (world.pm, "success")
    assert export.message.startswith(DIRECT_EXPORT_NOTE)
    setting = AuditEntry.objects.get(action="settings")
    assert setting.message.startswith("Direct Export of commitments turned on")


@pytest.mark.embedded
def test_direct_export_is_per_kind(world):
    direct_export_set(company=world.company, user=world.approver, enabled={COMMITMENT.slug})
    invoice = factories.invoice(commitment=factories.link(factories.commitment(project=world.project)))

    assert record_send_to_accounting(kind=INVOICE, user=world.pm, record_id=invoice.pk).ok

    invoice.refresh_from_db()
    assert invoice.export_state == ExportState.READY  # waits for an approver


def test_the_settings_page_needs_admin_on_erp_integrations_and_refusals_are_kept(world):
    pm = client_for(world.pm)
    token = csrf_token(pm, reverse("erp_tab", kwargs={"company_id": world.company.pk, "tab": "commitments"}))

    page = pm.get(settings_url(world))
    posted = pm.post(settings_url(world), {"direct-commitment": "1"}, headers={"X-CSRFToken": token})

    assert page.status_code == posted.status_code == HTTPStatus.FORBIDDEN
    assert ERP_ADMIN in text(posted)
    assert not DirectExportSetting.objects.filter(enabled=True).exists()
    assert AuditEntry.objects.get(user=world.pm).action == "settings"


def test_an_admin_turns_direct_export_on_and_off_on_the_settings_page(world):
    client = client_for(world.approver, csrf=False)

    assert client.get(settings_url(world)).status_code == HTTPStatus.OK
    on = client.post(settings_url(world), {"direct-invoice": "1"}, follow=True)
    assert "Direct Export saved (1 change)." in text(on)
    assert 'checked data-testid="direct-invoice"' in on.content.decode()
    client.post(settings_url(world), {})

    assert list(
        AuditEntry.objects.filter(action="settings").values_list("message", flat=True).order_by("id")
    ) == [
        "Direct Export of subcontractor invoices turned on: "
        "a sent record is exported at once, with no approver.",
        "Direct Export of subcontractor invoices turned off: sent records wait for an approver again.",
    ]


def test_the_settings_page_costs_the_same_few_queries(world, django_assert_num_queries):
    direct_export_set(company=world.company, user=world.approver, enabled={COMMITMENT.slug, INVOICE.slug})
    client = client_for(world.approver)
    client.get(settings_url(world))  # the session remembers the company once

    # 1 session  2 user  3 directory entry with its company  4 the kinds' settings, with
    # who changed them  5 the switcher (no project levels: no question about a project)
    with django_assert_num_queries(5):
        assert client.get(settings_url(world)).status_code == HTTPStatus.OK
