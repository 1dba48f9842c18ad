"""Subcontractor invoices under their subcontract in the project's Commitments tool."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from erp_integrations.models import AuditEntry, Commitment, ExportState, SubcontractorInvoice
from tests import factories
from tests.erp_integrations.views.commitments_world import build_world, invoice_form_data, text_of

WAITING = "Waiting for export: an approver must export or reject it first."


@pytest.fixture
def world(db):
    return build_world(erp_system="sage100", project_name="Harbor")


@pytest.fixture
def subcontract(world):
    return factories.commitment(project=world.project, vendor=world.vendor, number="SC-7")


def _url(name, invoice):
    return reverse(name, args=[invoice.project_id, invoice.pk])


def _create_url(commitment):
    return reverse("invoice_create", args=[commitment.project_id, commitment.pk])


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- create --------------------------------------------------------------------------


def test_the_subcontract_links_to_a_new_invoice_form(world, subcontract):
    detail = world.client(world.pm).get(reverse("commitment_detail", args=[world.project.pk, subcontract.pk]))
    assert _create_url(subcontract) in detail.content.decode()
    form = world.client(world.pm).get(_create_url(subcontract))
    assert form.status_code == HTTPStatus.OK
    assert 'name="billing_period_start"' in form.content.decode()


def test_the_form_shows_the_subcontracts_vendor_as_a_read_only_field_it_does_not_post(world, subcontract):
    body = world.client(world.pm).get(_create_url(subcontract)).content.decode()

    field = body.split('data-testid="invoice-vendor-field"')[1].split("</div>")[0]
    assert '<label for="invoice-vendor">Vendor</label>' in field
    assert (
        f'<input type="text" id="invoice-vendor" value="{world.vendor.name}" readonly '
        'aria-describedby="invoice-vendor-help" data-testid="invoice-vendor">'
    ) in field
    assert '<p class="help" id="invoice-vendor-help">From subcontract SC-7</p>' in field
    # No name: the vendor comes from the subcontract, never from the form.
    assert "name=" not in field
    assert "Vendor: " not in body


def test_creating_an_invoice_copies_the_subcontracts_vendor_and_redirects(world, subcontract):
    response = world.client(world.pm).post(_create_url(subcontract), invoice_form_data())
    invoice = SubcontractorInvoice.objects.get(commitment=subcontract)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == _url("invoice_detail", invoice)
    assert (invoice.vendor_id, invoice.project_id, invoice.amount) == (
        world.vendor.pk,
        world.project.pk,
        Decimal("10000.00"),
    )
    assert _messages(response) == ["Subcontractor invoice 1 created."]


def test_service_errors_show_on_the_invoice_form(world, subcontract):
    response = world.client(world.pm).post(
        _create_url(subcontract),
        invoice_form_data(billing_period_start="2026-10-31", billing_period_end="2026-10-01", retainage="-1"),
    )
    assert response.status_code == HTTPStatus.OK
    errors = response.context["form"].errors
    assert errors["billing_period_end"] == ["The billing period cannot end before it starts."]
    assert errors["retainage"] == ["The retainage cannot be negative."]
    assert not SubcontractorInvoice.objects.exists()


def test_no_invoices_under_a_purchase_order(world):
    order = factories.commitment(project=world.project, kind=Commitment.Kind.PURCHASE_ORDER, number="PO-1")
    client = world.client(world.pm)
    detail = client.get(reverse("commitment_detail", args=[world.project.pk, order.pk])).content.decode()
    assert 'data-testid="new-invoice"' not in detail
    response = client.post(_create_url(order), invoice_form_data())
    assert response.status_code == HTTPStatus.CONFLICT
    assert "Subcontractor invoices can only be created under a subcontract" in text_of(response)
    assert not SubcontractorInvoice.objects.exists()


def test_create_refused_to_read_only_and_404_to_outsiders(world, subcontract):
    response = world.client(world.viewer).post(_create_url(subcontract), invoice_form_data())
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "'Standard' or 'Admin' on the Commitments tool of project 'Harbor'" in text_of(response)
    assert world.client(world.outsider).post(_create_url(subcontract), invoice_form_data()).status_code == 404
    unknown = reverse("invoice_create", args=[world.project.pk, 999_999])
    assert world.client(world.pm).get(unknown).status_code == HTTPStatus.NOT_FOUND
    assert not SubcontractorInvoice.objects.exists()


def test_create_needs_the_csrf_token(world, subcontract):
    response = world.client(world.pm, csrf=True).post(_create_url(subcontract), invoice_form_data())
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert not SubcontractorInvoice.objects.exists()


# --- detail, edit, delete --------------------------------------------------------------


def test_the_detail_shows_the_invoice_and_its_actions(world, subcontract):
    invoice = factories.invoice(commitment=subcontract, number="4")
    response = world.client(world.pm).get(_url("invoice_detail", invoice))
    body = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert 'data-testid="invoice-number">4<' in body
    assert 'data-testid="edit-invoice"' in body and 'data-testid="delete-invoice"' in body


def test_the_detail_is_404_for_outsiders_unknown_ids_and_another_projects_url(world, subcontract):
    invoice = factories.invoice(commitment=subcontract)
    other = factories.project(company=world.company)
    assert world.client(world.outsider).get(_url("invoice_detail", invoice)).status_code == 404
    assert (
        world.client(world.pm).get(reverse("invoice_detail", args=[world.project.pk, 999_999])).status_code
        == 404
    )
    assert (
        world.client(world.pm).get(reverse("invoice_detail", args=[other.pk, invoice.pk])).status_code == 404
    )


def test_editing_an_invoice_saves_and_redirects(world, subcontract):
    invoice = factories.invoice(commitment=subcontract, number="4")
    response = world.client(world.pm).post(
        _url("invoice_edit", invoice), invoice_form_data(number="4", amount="300.00", retainage="30.00")
    )
    assert response.status_code == HTTPStatus.FOUND
    invoice.refresh_from_db()
    assert (invoice.amount, invoice.retainage) == (Decimal("300.00"), Decimal("30.00"))


def test_an_invoice_waiting_for_export_is_read_only_and_cannot_be_deleted(world, subcontract):
    invoice = factories.invoice(commitment=subcontract, export_state=ExportState.READY)
    client = world.client(world.pm)

    detail = client.get(_url("invoice_detail", invoice)).content.decode()
    assert f'data-testid="locked-reason">{WAITING}<' in detail
    assert 'data-testid="edit-invoice"' not in detail and 'data-testid="delete-invoice"' not in detail
    edit = client.get(_url("invoice_edit", invoice))
    assert all(field.disabled for field in edit.context["form"].fields.values())
    assert 'data-testid="save-invoice"' not in edit.content.decode()

    assert client.post(_url("invoice_edit", invoice), invoice_form_data(amount="1.00")).status_code == 409
    response = client.post(_url("invoice_delete", invoice))
    assert response.status_code == HTTPStatus.CONFLICT
    assert WAITING in text_of(response)
    invoice.refresh_from_db()
    assert invoice.amount == Decimal("250.00")


@pytest.mark.django_db(databases="__all__")
def test_a_synced_invoice_names_the_erp_and_its_requisition_id(world, subcontract):
    factories.link(subcontract)
    invoice = factories.link(factories.invoice(commitment=subcontract))
    assert invoice.erp_id.startswith("RQ")
    body = text_of(world.client(world.pm).get(_url("invoice_detail", invoice)))
    assert (
        f"Synced with Sage 100 Contractor® (ERP id {invoice.erp_id}): unlink it in the ERP Integrations tool "
        "before editing or deleting."
    ) in body


def test_deleting_an_invoice_returns_to_its_subcontract(world, subcontract):
    invoice = factories.invoice(commitment=subcontract, number="4")
    client = world.client(world.pm)
    assert 'data-testid="confirm-delete"' in client.get(_url("invoice_delete", invoice)).content.decode()
    response = client.post(_url("invoice_delete", invoice))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("commitment_detail", args=[world.project.pk, subcontract.pk])
    assert _messages(response) == ["Subcontractor invoice 4 deleted."]
    assert not SubcontractorInvoice.objects.filter(pk=invoice.pk).exists()


def test_edit_and_delete_refused_to_read_only_and_404_to_outsiders(world, subcontract):
    invoice = factories.invoice(commitment=subcontract)
    viewer = world.client(world.viewer)
    assert viewer.post(_url("invoice_edit", invoice), invoice_form_data()).status_code == HTTPStatus.FORBIDDEN
    response = viewer.post(_url("invoice_delete", invoice))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "'Standard' or 'Admin' on the Commitments tool" in text_of(response)
    assert world.client(world.outsider).post(_url("invoice_delete", invoice)).status_code == 404
    assert SubcontractorInvoice.objects.filter(pk=invoice.pk).exists()


def test_edit_and_delete_need_the_csrf_token(world, subcontract):
    invoice = factories.invoice(commitment=subcontract)
    client = world.client(world.pm, csrf=True)
    assert client.post(_url("invoice_edit", invoice), invoice_form_data(amount="1")).status_code == 403
    assert client.post(_url("invoice_delete", invoice)).status_code == HTTPStatus.FORBIDDEN
    assert SubcontractorInvoice.objects.get(pk=invoice.pk).amount == Decimal("250.00")


# --- send ------------------------------------------------------------------------------


@pytest.mark.django_db(databases="__all__")
def test_send_moves_the_invoice_to_ready(world, subcontract):
    factories.link(subcontract)
    invoice = factories.invoice(commitment=subcontract, number="4")
    response = world.client(world.project_admin).post(_url("invoice_send", invoice))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == _url("invoice_detail", invoice)
    assert _messages(response) == [
        "Subcontractor invoice 4 on SC-7 was sent to accounting and is ready to export."
    ]
    assert SubcontractorInvoice.objects.get(pk=invoice.pk).export_state == ExportState.READY


def test_send_shows_the_refusal_when_the_subcontract_is_not_synced(world, subcontract):
    invoice = factories.invoice(commitment=subcontract, number="4")
    response = world.client(world.project_admin).post(_url("invoice_send", invoice), follow=True)
    assert "until its commitment SC-7 is synced with Sage 100 Contractor®" in text_of(response)
    assert (
        AuditEntry.objects.filter(record_type="invoice", record_id=invoice.pk, outcome="refused").count() == 1
    )
    assert SubcontractorInvoice.objects.get(pk=invoice.pk).export_state == ExportState.DRAFT


def test_send_refused_without_admin_is_post_only_and_needs_csrf(world, subcontract):
    invoice = factories.invoice(commitment=subcontract)
    response = world.client(world.pm).post(_url("invoice_send", invoice))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "Send to Accounting needs 'Admin' on the Commitments tool of project 'Harbor'." in text_of(
        response
    )
    assert world.client(world.project_admin).get(_url("invoice_send", invoice)).status_code == 405
    assert world.client(world.project_admin, csrf=True).post(_url("invoice_send", invoice)).status_code == 403
    assert world.client(world.outsider).post(_url("invoice_send", invoice)).status_code == 404
    assert SubcontractorInvoice.objects.get(pk=invoice.pk).export_state == ExportState.DRAFT
