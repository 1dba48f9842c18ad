"""Subcontractor invoices under their subcontract, in the project's Commitments tool."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts.models import PermissionLevel
from accounts.permissions import AccessDenied, NotFound
from erp_integrations.models import Commitment, ExportState, SubcontractorInvoice
from erp_integrations.services.records import (
    RecordLocked,
    subcontractor_invoice_create,
    subcontractor_invoice_delete,
    subcontractor_invoice_update,
)
from tests import factories


@pytest.fixture
def world(db):
    company = factories.company(erp_system="sage100")
    project = factories.project(company=company, name="Harbor")
    other_company = factories.company()
    return {
        "company": company,
        "project": project,
        "subcontract": factories.commitment(project=project, number="SC-7"),
        "pm": factories.user("pm", company=company, projects={project: PermissionLevel.STANDARD}),
        "viewer": factories.user("viewer", company=company, projects={project: PermissionLevel.READ_ONLY}),
        "outsider": factories.user(
            "outsider",
            company=other_company,
            projects={factories.project(company=other_company): PermissionLevel.ADMIN},
        ),
    }


def _fields(**overrides):
    fields = {
        "number": "1",
        "billing_period_start": date(2026, 10, 1),
        "billing_period_end": date(2026, 10, 31),
        "amount": Decimal("10000.00"),
        "retainage": Decimal("1000.00"),
        "status": SubcontractorInvoice.Status.UNDER_REVIEW,
    }
    fields.update(overrides)
    return fields


def test_create_copies_company_project_and_vendor_from_the_subcontract(world):
    subcontract = world["subcontract"]
    invoice = subcontractor_invoice_create(user=world["pm"], commitment_id=subcontract.pk, **_fields())

    invoice.refresh_from_db()
    assert (invoice.company_id, invoice.project_id, invoice.vendor_id, invoice.commitment_id) == (
        subcontract.company_id,
        subcontract.project_id,
        subcontract.vendor_id,
        subcontract.pk,
    )
    assert invoice.export_state == ExportState.DRAFT
    assert (invoice.amount, invoice.retainage) == (Decimal("10000.00"), Decimal("1000.00"))


def test_invoices_only_under_a_subcontract(world):
    order = factories.commitment(project=world["project"], kind=Commitment.Kind.PURCHASE_ORDER)
    with pytest.raises(ValidationError) as excinfo:
        subcontractor_invoice_create(user=world["pm"], commitment_id=order.pk, **_fields())
    assert excinfo.value.message_dict == {
        "commitment": [
            "Subcontractor invoices can only be created under a subcontract, not a purchase order."
        ]
    }
    assert not SubcontractorInvoice.objects.exists()


def test_the_billing_period_cannot_end_before_it_starts(world):
    with pytest.raises(ValidationError) as excinfo:
        subcontractor_invoice_create(
            user=world["pm"],
            commitment_id=world["subcontract"].pk,
            **_fields(billing_period_start=date(2026, 10, 31), billing_period_end=date(2026, 10, 1)),
        )
    assert excinfo.value.message_dict == {
        "billing_period_end": ["The billing period cannot end before it starts."]
    }


def test_amounts_are_not_negative_and_retainage_not_above_the_amount(world):
    subcontract = world["subcontract"]
    with pytest.raises(ValidationError) as excinfo:
        subcontractor_invoice_create(
            user=world["pm"],
            commitment_id=subcontract.pk,
            **_fields(amount=Decimal("-1"), retainage=Decimal("-2")),
        )
    assert excinfo.value.message_dict == {
        "amount": ["The amount cannot be negative."],
        "retainage": ["The retainage cannot be negative."],
    }
    with pytest.raises(ValidationError) as excinfo:
        subcontractor_invoice_create(
            user=world["pm"],
            commitment_id=subcontract.pk,
            **_fields(amount=Decimal("5"), retainage=Decimal("6")),
        )
    assert excinfo.value.message_dict == {"retainage": ["The retainage cannot be more than the amount."]}


def test_the_number_is_unique_on_its_subcontract(world):
    subcontract = world["subcontract"]
    factories.invoice(commitment=subcontract, number="1")
    with pytest.raises(ValidationError) as excinfo:
        subcontractor_invoice_create(user=world["pm"], commitment_id=subcontract.pk, **_fields(number="1"))
    assert excinfo.value.message_dict == {
        "number": ["An invoice numbered 1 already exists on this subcontract."]
    }
    # Another subcontract may have its own invoice 1.
    other = factories.commitment(project=world["project"])
    assert subcontractor_invoice_create(user=world["pm"], commitment_id=other.pk, **_fields(number="1")).pk


def test_create_refuses_read_only_and_hides_from_outsiders(world):
    with pytest.raises(AccessDenied) as excinfo:
        subcontractor_invoice_create(user=world["viewer"], commitment_id=world["subcontract"].pk, **_fields())
    assert excinfo.value.decision.reason == (
        "create, edit or delete commitments needs 'Standard' or 'Admin' on the Commitments tool "
        "of project 'Harbor'."
    )
    with pytest.raises(NotFound):
        subcontractor_invoice_create(
            user=world["outsider"], commitment_id=world["subcontract"].pk, **_fields()
        )
    with pytest.raises(NotFound):
        subcontractor_invoice_create(user=world["pm"], commitment_id=999_999, **_fields())


def test_update_changes_the_fields(world):
    invoice = factories.invoice(commitment=world["subcontract"], number="1")
    subcontractor_invoice_update(
        user=world["pm"],
        invoice_id=invoice.pk,
        **_fields(number="1A", amount=Decimal("12.34"), retainage=Decimal("1.23")),
    )
    invoice.refresh_from_db()
    assert (invoice.number, invoice.amount, invoice.status) == (
        "1A",
        Decimal("12.34"),
        SubcontractorInvoice.Status.UNDER_REVIEW,
    )


def test_update_and_delete_refused_while_waiting_for_export(world):
    invoice = factories.invoice(commitment=world["subcontract"], export_state=ExportState.READY)
    with pytest.raises(RecordLocked) as excinfo:
        subcontractor_invoice_update(user=world["pm"], invoice_id=invoice.pk, **_fields(amount=Decimal("1")))
    assert excinfo.value.message == "Waiting for export: an approver must export or reject it first."
    with pytest.raises(RecordLocked):
        subcontractor_invoice_delete(user=world["pm"], invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.amount == Decimal("250.00")


@pytest.mark.django_db(databases="__all__")
def test_update_and_delete_refused_while_synced_with_the_erp(world):
    subcontract = factories.link(world["subcontract"])
    invoice = factories.link(factories.invoice(commitment=subcontract))
    assert invoice.erp_id.startswith("RQ")
    expected = (
        f"Synced with Sage 100 Contractor® (ERP id {invoice.erp_id}): unlink it in the ERP Integrations "
        "tool before editing or deleting."
    )
    with pytest.raises(RecordLocked) as excinfo:
        subcontractor_invoice_update(user=world["pm"], invoice_id=invoice.pk, **_fields())
    assert excinfo.value.message == expected
    with pytest.raises(RecordLocked) as excinfo:
        subcontractor_invoice_delete(user=world["pm"], invoice_id=invoice.pk)
    assert excinfo.value.message == expected
    assert SubcontractorInvoice.objects.filter(pk=invoice.pk, export_state=ExportState.SYNCED).exists()


def test_an_invoice_can_be_added_under_a_synced_subcontract(world):
    # Invoices are billed against subcontracts that are already in the ERP.
    Commitment.objects.filter(pk=world["subcontract"].pk).update(export_state=ExportState.READY)
    invoice = subcontractor_invoice_create(
        user=world["pm"], commitment_id=world["subcontract"].pk, **_fields()
    )
    assert invoice.pk


def test_delete_returns_the_subcontract_and_then_the_subcontract_can_go(world):
    from erp_integrations.services.records import commitment_delete

    subcontract = world["subcontract"]
    invoice = factories.invoice(commitment=subcontract)
    assert subcontractor_invoice_delete(user=world["pm"], invoice_id=invoice.pk) == subcontract.pk
    commitment_delete(user=world["pm"], commitment_id=subcontract.pk)
    assert not Commitment.objects.filter(pk=subcontract.pk).exists()


def test_update_and_delete_refuse_read_only_and_hide_from_outsiders(world):
    invoice = factories.invoice(commitment=world["subcontract"])
    with pytest.raises(AccessDenied, match="'Standard' or 'Admin' on the Commitments tool"):
        subcontractor_invoice_update(user=world["viewer"], invoice_id=invoice.pk, **_fields())
    with pytest.raises(AccessDenied):
        subcontractor_invoice_delete(user=world["viewer"], invoice_id=invoice.pk)
    with pytest.raises(NotFound):
        subcontractor_invoice_delete(user=world["outsider"], invoice_id=invoice.pk)
    with pytest.raises(NotFound):
        subcontractor_invoice_update(user=world["pm"], invoice_id=999_999, **_fields())
    assert SubcontractorInvoice.objects.filter(pk=invoice.pk).exists()
