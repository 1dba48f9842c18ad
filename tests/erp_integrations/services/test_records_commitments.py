"""Creating, editing and deleting commitments in the project's Commitments tool."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts.models import PermissionLevel
from accounts.permissions import AccessDenied, NotFound
from erp_integrations.models import Commitment, CommitmentLineItem, ExportState
from erp_integrations.services.records import (
    DeleteRefused,
    LineItemData,
    RecordLocked,
    commitment_create,
    commitment_delete,
    commitment_update,
)
from tests import factories

WAITING = "Waiting for export: an approver must export or reject it first."


@pytest.fixture
def world(db):
    company = factories.company()
    project = factories.project(company=company, name="Tower")
    pm = factories.user("pm", company=company, projects={project: PermissionLevel.STANDARD})
    viewer = factories.user("viewer", company=company, projects={project: PermissionLevel.READ_ONLY})
    other_company = factories.company()
    outsider = factories.user(
        "outsider",
        company=other_company,
        projects={factories.project(company=other_company): PermissionLevel.ADMIN},
    )
    vendor = factories.vendor(company=company, name="Acme Concrete")
    return {
        "company": company,
        "project": project,
        "pm": pm,
        "viewer": viewer,
        "outsider": outsider,
        "vendor": vendor,
        "foreign_vendor": factories.vendor(company=other_company, name="Elsewhere Ltd"),
    }


def _fields(world, **overrides):
    fields = {
        "kind": Commitment.Kind.SUBCONTRACT,
        "number": "SC-100",
        "title": "Formwork and concrete",
        "vendor_id": world["vendor"].pk,
        "status": Commitment.Status.APPROVED,
        "line_items": [
            LineItemData(cost_code="03-100", amount=Decimal("1200.50"), description="Formwork"),
            LineItemData(cost_code="03-300", amount=Decimal("799.50")),
        ],
    }
    fields.update(overrides)
    return fields


def _errors(excinfo) -> dict:
    return excinfo.value.message_dict


# --- create --------------------------------------------------------------------------


def test_create_makes_a_draft_whose_amount_is_the_sum_of_its_line_items(world):
    commitment = commitment_create(user=world["pm"], project_id=world["project"].pk, **_fields(world))

    commitment.refresh_from_db()
    assert commitment.company_id == world["company"].pk
    assert commitment.export_state == ExportState.DRAFT
    assert commitment.amount == Decimal("2000.00")
    assert list(commitment.line_items.values_list("cost_code", "description", "amount")) == [
        ("03-100", "Formwork", Decimal("1200.50")),
        ("03-300", "", Decimal("799.50")),
    ]


def test_create_without_line_items_has_amount_zero(world):
    commitment = commitment_create(
        user=world["pm"], project_id=world["project"].pk, **_fields(world, line_items=[])
    )
    assert commitment.amount == Decimal("0")


def test_create_refuses_a_read_only_user_and_names_the_missing_permission(world):
    with pytest.raises(AccessDenied) as excinfo:
        commitment_create(user=world["viewer"], project_id=world["project"].pk, **_fields(world))
    assert excinfo.value.decision.reason == (
        "create, edit or delete commitments needs 'Standard' or 'Admin' on the Commitments tool "
        "of project 'Tower'."
    )
    assert not Commitment.objects.exists()


def test_create_in_another_companys_project_is_not_found(world):
    with pytest.raises(NotFound):
        commitment_create(user=world["outsider"], project_id=world["project"].pk, **_fields(world))
    with pytest.raises(NotFound):
        commitment_create(user=world["pm"], project_id=999_999, **_fields(world))


def test_the_number_is_unique_in_the_project(world):
    factories.commitment(project=world["project"], number="SC-100")
    with pytest.raises(ValidationError) as excinfo:
        commitment_create(user=world["pm"], project_id=world["project"].pk, **_fields(world))
    assert _errors(excinfo) == {"number": ["A commitment numbered SC-100 already exists in this project."]}
    # The same number in another project of the company is fine.
    other = factories.project(company=world["company"])
    world["pm"].project_permissions.create(project=other, commitments_level=PermissionLevel.STANDARD)
    assert commitment_create(user=world["pm"], project_id=other.pk, **_fields(world)).number == "SC-100"


def test_line_items_need_a_cost_code_and_an_amount_that_is_not_negative(world):
    items = [
        LineItemData(cost_code="", amount=Decimal("10")),
        LineItemData(cost_code="03-300", amount=Decimal("-1")),
    ]
    with pytest.raises(ValidationError) as excinfo:
        commitment_create(
            user=world["pm"], project_id=world["project"].pk, **_fields(world, line_items=items)
        )
    assert _errors(excinfo)["line_items"] == [
        "Line 1: a cost code is required.",
        "Line 2: the amount cannot be negative.",
    ]
    assert not Commitment.objects.exists()


def test_the_vendor_must_belong_to_the_company(world):
    with pytest.raises(ValidationError) as excinfo:
        commitment_create(
            user=world["pm"],
            project_id=world["project"].pk,
            **_fields(world, vendor_id=world["foreign_vendor"].pk),
        )
    assert _errors(excinfo) == {"vendor": ["Choose a vendor from this company's directory."]}


def test_model_limits_and_choices_are_field_errors(world):
    with pytest.raises(ValidationError) as excinfo:
        commitment_create(
            user=world["pm"],
            project_id=world["project"].pk,
            **_fields(world, kind="lease", number="", title="x" * 256),
        )
    errors = _errors(excinfo)
    assert set(errors) == {"kind", "number", "title"}
    assert "Value 'lease' is not a valid choice." in errors["kind"]


# --- update --------------------------------------------------------------------------


def test_update_replaces_fields_and_line_items_and_recomputes_the_amount(world):
    commitment = factories.commitment(project=world["project"], vendor=world["vendor"], number="SC-1")
    other_vendor = factories.vendor(company=world["company"])

    commitment_update(
        user=world["pm"],
        commitment_id=commitment.pk,
        **_fields(
            world,
            number="SC-1",
            title="Revised",
            vendor_id=other_vendor.pk,
            line_items=[LineItemData(cost_code="05-120", amount=Decimal("42.10"))],
        ),
    )

    commitment.refresh_from_db()
    assert (commitment.number, commitment.title, commitment.vendor_id) == ("SC-1", "Revised", other_vendor.pk)
    assert commitment.amount == Decimal("42.10")
    assert list(
        CommitmentLineItem.objects.filter(commitment=commitment).values_list("cost_code", flat=True)
    ) == ["05-120"]


@pytest.mark.parametrize("state", [ExportState.FAILED, ExportState.REJECTED, ExportState.DRAFT])
def test_records_not_waiting_for_export_or_synced_are_editable(world, state):
    commitment = factories.commitment(project=world["project"], vendor=world["vendor"], export_state=state)
    commitment_update(user=world["pm"], commitment_id=commitment.pk, **_fields(world, title="Fixed"))
    commitment.refresh_from_db()
    assert commitment.title == "Fixed"
    # Editing does not move the record through the export states; sending does.
    assert commitment.export_state == state


def test_update_refused_while_waiting_for_export(world):
    commitment = factories.commitment(
        project=world["project"], vendor=world["vendor"], export_state=ExportState.READY, title="Original"
    )
    with pytest.raises(RecordLocked) as excinfo:
        commitment_update(user=world["pm"], commitment_id=commitment.pk, **_fields(world, title="Changed"))
    assert excinfo.value.message == WAITING
    commitment.refresh_from_db()
    assert commitment.title == "Original" and commitment.line_items.count() == 1


@pytest.mark.django_db(databases="__all__")
def test_update_refused_while_synced_names_the_erp_and_its_id(world):
    commitment = factories.link(factories.commitment(project=world["project"], vendor=world["vendor"]))
    with pytest.raises(RecordLocked) as excinfo:
        commitment_update(user=world["pm"], commitment_id=commitment.pk, **_fields(world, title="Changed"))
    assert excinfo.value.message == (
        f"Synced with Sage 300 CRE® (ERP id {commitment.erp_id}): unlink it in the ERP Integrations tool "
        "before editing or deleting."
    )
    assert commitment.erp_id.startswith("JC-")
    commitment.refresh_from_db()
    assert commitment.title == "Concrete package" and commitment.export_state == ExportState.SYNCED


@pytest.mark.django_db(databases="__all__")
def test_after_unlink_the_commitment_is_editable_and_deletable_again(world):
    commitment = factories.link(factories.commitment(project=world["project"], vendor=world["vendor"]))
    # What a successful unlink leaves behind: a draft without a link.
    Commitment.objects.filter(pk=commitment.pk).update(
        export_state=ExportState.DRAFT, erp_id=None, linked_at=None, link=None
    )

    commitment_update(user=world["pm"], commitment_id=commitment.pk, **_fields(world, title="Corrected"))
    assert Commitment.objects.get(pk=commitment.pk).title == "Corrected"
    commitment_delete(user=world["pm"], commitment_id=commitment.pk)
    assert not Commitment.objects.filter(pk=commitment.pk).exists()


def test_update_keeps_its_own_number_but_not_another_ones(world):
    factories.commitment(project=world["project"], number="SC-2")
    commitment = factories.commitment(project=world["project"], vendor=world["vendor"], number="SC-1")

    commitment_update(user=world["pm"], commitment_id=commitment.pk, **_fields(world, number="SC-1"))
    with pytest.raises(ValidationError) as excinfo:
        commitment_update(user=world["pm"], commitment_id=commitment.pk, **_fields(world, number="SC-2"))
    assert _errors(excinfo) == {"number": ["A commitment numbered SC-2 already exists in this project."]}


def test_a_subcontract_with_invoices_keeps_its_kind_and_vendor(world):
    commitment = factories.commitment(project=world["project"], vendor=world["vendor"])
    factories.invoice(commitment=commitment)
    other_vendor = factories.vendor(company=world["company"])
    with pytest.raises(ValidationError) as excinfo:
        commitment_update(
            user=world["pm"],
            commitment_id=commitment.pk,
            **_fields(world, kind=Commitment.Kind.PURCHASE_ORDER, vendor_id=other_vendor.pk),
        )
    assert _errors(excinfo) == {
        "kind": ["This subcontract has subcontractor invoices, so it must stay a subcontract."],
        "vendor": ["This subcontract has subcontractor invoices, so its vendor cannot change."],
    }


def test_update_refuses_read_only_and_hides_from_outsiders(world):
    commitment = factories.commitment(project=world["project"], vendor=world["vendor"])
    with pytest.raises(AccessDenied, match="'Standard' or 'Admin' on the Commitments tool"):
        commitment_update(user=world["viewer"], commitment_id=commitment.pk, **_fields(world))
    with pytest.raises(NotFound):
        commitment_update(user=world["outsider"], commitment_id=commitment.pk, **_fields(world))
    with pytest.raises(NotFound):
        commitment_update(user=world["pm"], commitment_id=999_999, **_fields(world))


# --- delete --------------------------------------------------------------------------


def test_delete_removes_the_commitment_and_its_line_items(world):
    commitment = factories.commitment(project=world["project"])
    commitment_delete(user=world["pm"], commitment_id=commitment.pk)
    assert not Commitment.objects.filter(pk=commitment.pk).exists()
    assert not CommitmentLineItem.objects.filter(commitment_id=commitment.pk).exists()


def test_delete_refused_while_waiting_for_export(world):
    commitment = factories.commitment(project=world["project"], export_state=ExportState.READY)
    with pytest.raises(RecordLocked, match="Waiting for export"):
        commitment_delete(user=world["pm"], commitment_id=commitment.pk)
    assert Commitment.objects.filter(pk=commitment.pk).exists()


@pytest.mark.django_db(databases="__all__")
def test_delete_refused_while_synced(world):
    commitment = factories.link(factories.commitment(project=world["project"]))
    with pytest.raises(RecordLocked, match=f"Synced with Sage 300 CRE® \\(ERP id {commitment.erp_id}\\)"):
        commitment_delete(user=world["pm"], commitment_id=commitment.pk)
    assert Commitment.objects.filter(pk=commitment.pk).exists()


def test_delete_refused_while_the_commitment_has_invoices(world):
    commitment = factories.commitment(project=world["project"])
    factories.invoice(commitment=commitment)
    factories.invoice(commitment=commitment)
    with pytest.raises(DeleteRefused) as excinfo:
        commitment_delete(user=world["pm"], commitment_id=commitment.pk)
    assert excinfo.value.message == (
        "This commitment has 2 subcontractor invoices; delete them before deleting the commitment."
    )
    assert Commitment.objects.filter(pk=commitment.pk).exists()


def test_delete_refuses_read_only_and_hides_from_outsiders(world):
    commitment = factories.commitment(project=world["project"])
    with pytest.raises(AccessDenied) as excinfo:
        commitment_delete(user=world["viewer"], commitment_id=commitment.pk)
    assert "'Standard' or 'Admin' on the Commitments tool of project 'Tower'" in excinfo.value.decision.reason
    with pytest.raises(NotFound):
        commitment_delete(user=world["outsider"], commitment_id=commitment.pk)
    assert Commitment.objects.filter(pk=commitment.pk).exists()
