"""Commitment change orders in the Commitments tool, and what they ask of their commitment."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts.models import PermissionLevel
from accounts.permissions import AccessDenied, NotFound
from erp_integrations.models import (
    ChangeOrderLineItem,
    Commitment,
    CommitmentChangeOrder,
    CommitmentLineItem,
    ExportState,
)
from erp_integrations.services.records import (
    ChangeLineData,
    DeleteRefused,
    LineItemData,
    RecordLocked,
    change_order_create,
    change_order_delete,
    change_order_update,
    commitment_delete,
    commitment_update,
)
from tests import factories

WAITING = "Waiting for export: an approver must export or reject it first."


@pytest.fixture
def world(db):
    company = factories.company()
    project = factories.project(company=company, name="Tower")
    other_company = factories.company()
    commitment = factories.commitment(
        project=project, number="SC-7", cost_code="03-100", amount=Decimal("500")
    )
    second_line = CommitmentLineItem.objects.create(
        commitment=commitment, cost_code="03-300", description="Slab", amount=Decimal("1500")
    )
    Commitment.objects.filter(pk=commitment.pk).update(amount=Decimal("2000"))
    return {
        "company": company,
        "project": project,
        "commitment": commitment,
        "first_line": commitment.line_items.order_by("id").first(),
        "second_line": second_line,
        "pm": factories.user("pm", company=company, projects={project: PermissionLevel.STANDARD}),
        "viewer": factories.user("viewer", company=company, projects={project: PermissionLevel.READ_ONLY}),
        "outsider": factories.user(
            "outsider",
            company=other_company,
            projects={factories.project(company=other_company): PermissionLevel.ADMIN},
        ),
    }


def _fields(world, **overrides):
    fields = {
        "number": "001",
        "title": "Deeper footing",
        "description": "Owner asked for a deeper footing.",
        "status": CommitmentChangeOrder.Status.PENDING,
        "line_items": [
            ChangeLineData(commitment_line_id=world["first_line"].pk, amount=Decimal("250.00")),
            ChangeLineData(
                commitment_line_id=world["second_line"].pk, amount=Decimal("-100.00"), description="Less slab"
            ),
        ],
    }
    fields.update(overrides)
    return fields


def _commitment_fields(commitment, lines, **overrides):
    fields = {
        "kind": commitment.kind,
        "number": commitment.number,
        "title": commitment.title,
        "vendor_id": commitment.vendor_id,
        "status": commitment.status,
        "line_items": lines,
    }
    fields.update(overrides)
    return fields


# --- create, edit, delete ----------------------------------------------------------------


def test_a_change_order_is_a_draft_of_its_commitment_whose_amount_sums_its_lines_even_negative(world):
    commitment = world["commitment"]
    change_order = change_order_create(user=world["pm"], commitment_id=commitment.pk, **_fields(world))

    change_order.refresh_from_db()
    assert (change_order.company_id, change_order.project_id, change_order.vendor_id) == (
        commitment.company_id,
        commitment.project_id,
        commitment.vendor_id,
    )
    assert change_order.export_state == ExportState.DRAFT
    assert change_order.amount == Decimal("150.00")
    assert list(
        change_order.line_items.values_list("commitment_line__cost_code", "amount", "description")
    ) == [
        ("03-100", Decimal("250.00"), ""),
        ("03-300", Decimal("-100.00"), "Less slab"),
    ]


def test_a_wholly_deductive_change_order_has_a_negative_amount(world):
    lines = [ChangeLineData(commitment_line_id=world["second_line"].pk, amount=Decimal("-400.00"))]
    change_order = change_order_create(
        user=world["pm"], commitment_id=world["commitment"].pk, **_fields(world, line_items=lines)
    )
    assert CommitmentChangeOrder.objects.get(pk=change_order.pk).amount == Decimal("-400.00")


def test_the_number_is_unique_on_its_commitment(world):
    factories.change_order(commitment=world["commitment"], number="001")
    with pytest.raises(ValidationError) as excinfo:
        change_order_create(user=world["pm"], commitment_id=world["commitment"].pk, **_fields(world))
    assert excinfo.value.message_dict == {
        "number": ["A change order numbered 001 already exists on this commitment."]
    }
    other = factories.commitment(project=world["project"])
    lines = [ChangeLineData(commitment_line_id=other.line_items.get().pk, amount=Decimal("1"))]
    assert change_order_create(
        user=world["pm"], commitment_id=other.pk, **_fields(world, line_items=lines)
    ).pk


def test_a_line_must_change_a_line_of_its_own_commitment_and_have_an_amount(world):
    elsewhere = factories.commitment(project=world["project"], number="SC-8").line_items.get()
    lines = [
        ChangeLineData(commitment_line_id=elsewhere.pk, amount=Decimal("10")),
        ChangeLineData(commitment_line_id=world["first_line"].pk, amount=None),
    ]
    with pytest.raises(ValidationError) as excinfo:
        change_order_create(
            user=world["pm"], commitment_id=world["commitment"].pk, **_fields(world, line_items=lines)
        )
    assert excinfo.value.message_dict == {
        "line_items": ["Line 1: choose a line of commitment SC-7.", "Line 2: an amount is required."]
    }
    assert not CommitmentChangeOrder.objects.exists()


def test_update_replaces_the_fields_and_lines_and_keeps_the_description_whole(world):
    change_order = factories.change_order(commitment=world["commitment"], number="001")
    long_description = "x" * 1500
    lines = [ChangeLineData(commitment_line_id=world["second_line"].pk, amount=Decimal("-75.50"))]
    change_order_update(
        user=world["pm"],
        change_order_id=change_order.pk,
        **_fields(world, title="Revised", description=long_description, line_items=lines),
    )
    change_order.refresh_from_db()
    assert (change_order.title, change_order.description, change_order.amount) == (
        "Revised",
        long_description,
        Decimal("-75.50"),
    )
    assert list(change_order.line_items.values_list("commitment_line_id", flat=True)) == [
        world["second_line"].pk
    ]


def test_update_and_delete_are_refused_while_waiting_for_export(world):
    change_order = factories.change_order(
        commitment=world["commitment"], title="Original", export_state=ExportState.READY
    )
    with pytest.raises(RecordLocked) as excinfo:
        change_order_update(user=world["pm"], change_order_id=change_order.pk, **_fields(world))
    assert excinfo.value.message == WAITING
    with pytest.raises(RecordLocked):
        change_order_delete(user=world["pm"], change_order_id=change_order.pk)
    change_order.refresh_from_db()
    assert change_order.title == "Original" and change_order.line_items.count() == 1


@pytest.mark.django_db(databases="__all__")
def test_a_synced_change_order_names_the_erp_and_its_id(world):
    factories.link(world["commitment"])
    change_order = factories.link(factories.change_order(commitment=world["commitment"]))
    with pytest.raises(RecordLocked) as excinfo:
        change_order_update(user=world["pm"], change_order_id=change_order.pk, **_fields(world))
    assert excinfo.value.message == (
        f"Synced with Sage 300 CRE® (ERP id {change_order.erp_id}): unlink it in the ERP Integrations tool "
        "before editing or deleting."
    )


def test_delete_removes_the_change_order_and_its_lines_and_returns_its_commitment(world):
    change_order = factories.change_order(commitment=world["commitment"])
    assert change_order_delete(user=world["pm"], change_order_id=change_order.pk) == world["commitment"].pk
    assert not CommitmentChangeOrder.objects.filter(pk=change_order.pk).exists()
    assert not ChangeOrderLineItem.objects.filter(change_order_id=change_order.pk).exists()


def test_read_only_users_are_refused_with_the_missing_level_and_outsiders_find_nothing(world):
    change_order = factories.change_order(commitment=world["commitment"])
    with pytest.raises(AccessDenied) as excinfo:
        change_order_create(user=world["viewer"], commitment_id=world["commitment"].pk, **_fields(world))
    assert excinfo.value.decision.reason == (
        "create, edit or delete commitments needs 'Standard' or 'Admin' on the Commitments tool "
        "of project 'Tower'."
    )
    with pytest.raises(AccessDenied):
        change_order_update(user=world["viewer"], change_order_id=change_order.pk, **_fields(world))
    with pytest.raises(NotFound):
        change_order_delete(user=world["outsider"], change_order_id=change_order.pk)
    with pytest.raises(NotFound):
        change_order_create(user=world["outsider"], commitment_id=world["commitment"].pk, **_fields(world))
    assert CommitmentChangeOrder.objects.filter(pk=change_order.pk).count() == 1


# --- what change orders ask of their commitment --------------------------------------------


def test_a_commitment_edit_updates_lines_in_place_so_change_orders_keep_theirs(world):
    commitment = world["commitment"]
    change_order = factories.change_order(commitment=commitment)
    ids = list(commitment.line_items.order_by("id").values_list("id", flat=True))

    commitment_update(
        user=world["pm"],
        commitment_id=commitment.pk,
        **_commitment_fields(
            commitment,
            [
                LineItemData(cost_code="03-110", amount=Decimal("600")),
                LineItemData(cost_code="03-300", amount=Decimal("1500"), description="Slab"),
                LineItemData(cost_code="05-100", amount=Decimal("20")),
            ],
        ),
    )

    lines = list(commitment.line_items.order_by("id").values_list("id", "cost_code", "amount"))
    assert [line[:2] for line in lines[:2]] == [(ids[0], "03-110"), (ids[1], "03-300")]
    assert lines[2][1:] == ("05-100", Decimal("20.00")) and len(lines) == 3
    assert Commitment.objects.get(pk=commitment.pk).amount == Decimal("2120.00")
    assert change_order.line_items.get().commitment_line_id == ids[0]


def test_removing_a_line_a_change_order_changes_is_refused_naming_it(world):
    commitment = world["commitment"]
    factories.change_order(commitment=commitment, number="004")  # changes the first line
    other_line_removed = [
        LineItemData(cost_code="03-100", amount=Decimal("500"), removed=True),
        LineItemData(cost_code="03-300", amount=Decimal("1500")),
    ]
    with pytest.raises(ValidationError) as excinfo:
        commitment_update(
            user=world["pm"],
            commitment_id=commitment.pk,
            **_commitment_fields(commitment, other_line_removed),
        )
    assert excinfo.value.message_dict == {
        "line_items": ["Line 1 (03-100) cannot be removed: change order 004 changes it."]
    }
    assert commitment.line_items.count() == 2

    # Dropping it from the end of the list is removing it too; the other line may go.
    with pytest.raises(ValidationError, match="Line 1 \\(03-100\\) cannot be removed"):
        commitment_update(user=world["pm"], commitment_id=commitment.pk, **_commitment_fields(commitment, []))
    commitment_update(
        user=world["pm"],
        commitment_id=commitment.pk,
        **_commitment_fields(commitment, [LineItemData(cost_code="03-100", amount=Decimal("500"))]),
    )
    assert list(commitment.line_items.values_list("cost_code", flat=True)) == ["03-100"]


def test_a_commitment_with_change_orders_keeps_its_vendor_and_cannot_be_deleted(world):
    commitment = world["commitment"]
    factories.change_order(commitment=commitment)
    other_vendor = factories.vendor(company=world["company"])
    lines = [
        LineItemData(cost_code="03-100", amount=Decimal("500")),
        LineItemData(cost_code="03-300", amount=Decimal("1")),
    ]
    with pytest.raises(ValidationError) as excinfo:
        commitment_update(
            user=world["pm"],
            commitment_id=commitment.pk,
            **_commitment_fields(commitment, lines, vendor_id=other_vendor.pk),
        )
    assert excinfo.value.message_dict == {
        "vendor": ["This subcontract has change orders, so its vendor cannot change."]
    }
    with pytest.raises(DeleteRefused) as excinfo:
        commitment_delete(user=world["pm"], commitment_id=commitment.pk)
    assert excinfo.value.message == (
        "This commitment has 1 change order; delete them before deleting the commitment."
    )
    factories.invoice(commitment=commitment)
    with pytest.raises(DeleteRefused, match="has 1 subcontractor invoice and 1 change order;"):
        commitment_delete(user=world["pm"], commitment_id=commitment.pk)
    assert Commitment.objects.filter(pk=commitment.pk).exists()
