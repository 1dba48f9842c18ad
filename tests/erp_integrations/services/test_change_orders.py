"""Commitment change orders (CCOs) with both ERPs: send, export, the ERPs' limits, sync, unlink."""

from decimal import Decimal

import pytest
from django.urls import reverse

from erp_integrations.connectors import get_connector
from erp_integrations.kinds import CCO, COMMITMENT
from erp_integrations.models import (
    AuditEntry,
    ChangeOrderLineItem,
    Commitment,
    CommitmentChangeOrder,
    CommitmentLineItem,
    ErpSystem,
    ExportState,
)
from erp_integrations.sandbox.services import sandbox_records
from erp_integrations.services.exports import record_export, record_send_to_accounting
from erp_integrations.services.results import Outcome
from erp_integrations.services.sync import connection_sync
from erp_integrations.services.unlink import record_unlink
from tests import factories
from tests.erp_integrations.services.sync_support import delete_in_erp

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]

SAGE_300, SAGE_100 = ErpSystem.SAGE_300_CRE.value, ErpSystem.SAGE_100_CONTRACTOR.value


def world(erp_system: str = SAGE_300, *, kind: str = Commitment.Kind.SUBCONTRACT):
    company = factories.company(erp_system=erp_system)
    project = factories.project(company=company, name="Harbor Tower")
    approver = factories.approver(company, project)
    commitment = factories.commitment(project=project, number="SC-001", kind=kind, status="approved")
    return approver, commitment


def ready_cco(commitment, **fields) -> CommitmentChangeOrder:
    return factories.change_order(commitment=commitment, export_state=ExportState.READY, **fields)


def sync(company):
    run = connection_sync(connection_id=company.erp_connection.pk, trigger="command")
    assert run.status == "succeeded", run.error
    return run


def erp_record(erp_system: str, erp_id: str):
    return sandbox_records(erp_system).get(erp_id=erp_id)


# --- send -------------------------------------------------------------------------------------


def test_a_cco_cannot_be_sent_until_its_commitment_is_synced():
    approver, commitment = world()
    cco = factories.change_order(commitment=commitment, number="CO1")

    refused = record_send_to_accounting(kind=CCO, user=approver, record_id=cco.pk)

    assert refused.outcome == Outcome.CONFLICT
    assert refused.message == (
        "CCO CO1 on SC-001 cannot be sent to accounting until its commitment SC-001 is synced "
        "with Sage 300 CRE®. Export the commitment first."
    )
    factories.link(commitment)
    sent = record_send_to_accounting(kind=CCO, user=approver, record_id=cco.pk)
    assert sent.ok and CommitmentChangeOrder.objects.get(pk=cco.pk).export_state == ExportState.READY


# --- export -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("erp_system", "prefix"), [(SAGE_300, "CCO-"), (SAGE_100, "CO")])
def test_export_links_the_cco_to_an_erp_cco_under_its_commitment(erp_system, prefix):
    approver, commitment = world(erp_system)
    factories.link(commitment)
    cco = ready_cco(commitment, number="CO1", amount=Decimal("250.00"))

    result = record_export(kind=CCO, user=approver, record_id=cco.pk)

    assert result.ok, result.message
    cco.refresh_from_db()
    assert cco.export_state == ExportState.SYNCED and cco.erp_id.startswith(prefix)
    assert cco.link.kind == "cco" and cco.link.linked_by == approver
    data = erp_record(erp_system, cco.erp_id).data
    assert (data["number"], data["commitment"], data["amount"]) == ("CO1", commitment.erp_id, "250.00")
    entry = AuditEntry.objects.get(record_id=cco.pk, record_type="cco", action="export")
    assert (entry.outcome, entry.erp_id) == ("success", cco.erp_id)


@pytest.mark.parametrize(
    ("erp_system", "number", "accepted"),
    [
        (SAGE_300, "12345", True),
        (SAGE_300, "123456", False),
        (SAGE_100, "123456789012", True),
        (SAGE_100, "1234567890123", False),
    ],
)
def test_the_cco_number_fits_each_erps_limit(erp_system, number, accepted):
    approver, commitment = world(erp_system)
    factories.link(commitment)
    cco = ready_cco(commitment, number=number)

    result = record_export(kind=CCO, user=approver, record_id=cco.pk)

    assert result.ok is accepted
    if not accepted:
        limit = 5 if erp_system == SAGE_300 else 12
        assert result.outcome == Outcome.INVALID
        assert f"Number: must be at most {limit} characters" in result.message
        assert CommitmentChangeOrder.objects.get(pk=cco.pk).export_state == ExportState.FAILED
        assert not sandbox_records(erp_system).filter(kind="cco").exists()


def test_a_title_over_30_characters_is_refused_naming_the_field():
    approver, commitment = world()
    factories.link(commitment)
    cco = ready_cco(commitment, number="CO1", title="T" * 31)

    result = record_export(kind=CCO, user=approver, record_id=cco.pk)

    assert result.outcome == Outcome.INVALID
    assert "Title: must be at most 30 characters in Sage 300 CRE® (it has 31)." in result.message


def test_a_long_description_is_kept_whole_here_and_cut_at_1000_by_the_erp_with_a_warning():
    approver, commitment = world()
    factories.link(commitment)
    cco = ready_cco(commitment, number="CO1")
    CommitmentChangeOrder.objects.filter(pk=cco.pk).update(description="d" * 1500)

    result = record_export(kind=CCO, user=approver, record_id=cco.pk)

    assert result.ok
    assert (
        "Sage 300 CRE® keeps the first 1,000 characters of the description (it has 1,500)" in result.message
    )
    cco.refresh_from_db()
    assert len(cco.description) == 1500
    assert erp_record(SAGE_300, cco.erp_id).data["description"] == "d" * 1000


def test_a_line_changed_twice_is_exported_as_one_summed_line():
    approver, commitment = world()
    factories.link(commitment)
    cco = ready_cco(commitment, number="CO1", amount=Decimal("100.00"))
    first_line = cco.line_items.get().commitment_line
    other_line = CommitmentLineItem.objects.create(
        commitment=commitment, cost_code="02-200", amount=Decimal(50)
    )
    ChangeOrderLineItem.objects.create(change_order=cco, commitment_line=first_line, amount=Decimal("-30.00"))
    ChangeOrderLineItem.objects.create(change_order=cco, commitment_line=other_line, amount=Decimal("5.00"))

    assert record_export(kind=CCO, user=approver, record_id=cco.pk).ok

    lines = erp_record(SAGE_300, CommitmentChangeOrder.objects.get(pk=cco.pk).erp_id).data["lines"]
    assert lines == [
        {"cost_code": first_line.cost_code, "amount": "70.00"},
        {"cost_code": "02-200", "amount": "5.00"},
    ]


def test_sage_100_appends_a_purchase_orders_change_order_to_the_po():
    approver, commitment = world(SAGE_100, kind=Commitment.Kind.PURCHASE_ORDER)
    factories.link(commitment)
    cco = ready_cco(commitment, number="CO1", amount=Decimal("80.00"))

    assert record_export(kind=CCO, user=approver, record_id=cco.pk).ok

    cco.refresh_from_db()
    po = erp_record(SAGE_100, commitment.erp_id)
    assert po.data["change_orders"] == [
        {
            "change_order": cco.erp_id,
            "number": "CO1",
            "lines": [{"cost_code": cco.line_items.get().commitment_line.cost_code, "amount": "80.00"}],
        }
    ]
    # Exported again (a retry after a timeout, say), it is neither made nor appended twice.
    assert get_connector(SAGE_100).export(CCO, cco) == cco.erp_id
    assert sandbox_records(SAGE_100).filter(kind="cco").count() == 1
    assert len(erp_record(SAGE_100, commitment.erp_id).data["change_orders"]) == 1


def test_sage_300_keeps_a_purchase_orders_change_order_on_its_own():
    approver, commitment = world(SAGE_300, kind=Commitment.Kind.PURCHASE_ORDER)
    factories.link(commitment)
    cco = ready_cco(commitment, number="CO1")

    assert record_export(kind=CCO, user=approver, record_id=cco.pk).ok

    assert "change_orders" not in erp_record(SAGE_300, commitment.erp_id).data


# --- sync and unlink --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("erp_system", "erp_name"), [(SAGE_300, "Sage 300 CRE®"), (SAGE_100, "Sage 100 Contractor®")]
)
def test_the_cco_story_red_delete_still_red_sync_green(erp_system, erp_name):
    approver, commitment = world(erp_system)
    factories.link(commitment)
    cco = factories.link(factories.change_order(commitment=commitment, number="CO1"))
    red = f"The CCO is still in {erp_name}. Please delete it before retrying."

    assert record_unlink(kind=CCO, user=approver, record_id=cco.pk).message == red
    delete_in_erp(cco)
    assert record_unlink(kind=CCO, user=approver, record_id=cco.pk).message == red
    run = sync(commitment.company)
    assert run.missing_found == 1 and run.links_checked == 2

    result = record_unlink(kind=CCO, user=approver, record_id=cco.pk)

    assert (result.ok, result.message) == (True, "Successfully Unlinked")
    cco.refresh_from_db()
    assert (cco.export_state, cco.link_id, cco.erp_id) == (ExportState.DRAFT, None, None)


def test_a_commitment_with_synced_ccos_is_refused_naming_each_until_they_are_unlinked():
    approver, commitment = world()
    factories.link(commitment)
    ccos = [factories.link(factories.change_order(commitment=commitment, number=n)) for n in ("CO2", "CO1")]
    invoice = factories.link(factories.invoice(commitment=commitment, number="7"))
    delete_in_erp(commitment)
    sync(commitment.company)

    refused = record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert refused.outcome == Outcome.CONFLICT
    assert refused.message == (
        "This commitment has 2 CCOs (CO1, CO2) and 1 requisition (7) synced with Sage 300 CRE®. "
        "Unlink them first, then unlink the commitment."
    )
    assert [(kind.slug, child.number) for kind, child in refused.blocking] == [
        ("cco", "CO1"),
        ("cco", "CO2"),
        ("invoice", "7"),
    ]
    assert [kind.detail_url(child) for kind, child in refused.blocking][0] == reverse(
        "cco_detail", args=[commitment.project_id, ccos[1].pk]
    )

    for record in (*ccos, invoice):
        delete_in_erp(record)
    sync(commitment.company)
    for record in ccos:
        assert record_unlink(kind=CCO, user=approver, record_id=record.pk).ok
    assert record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk).message.startswith(
        "This commitment has 1 requisition (7) synced"
    )


def test_the_hourly_sync_checks_cco_links_in_the_same_run():
    approver, commitment = world(SAGE_100)
    factories.link(commitment)
    kept, deleted = (factories.link(factories.change_order(commitment=commitment)) for _ in range(2))
    delete_in_erp(deleted)

    run = sync(commitment.company)

    assert (run.links_total, run.links_checked, run.missing_found) == (3, 3, 1)
    assert CommitmentChangeOrder.objects.get(pk=deleted.pk).erp_missing
    assert not CommitmentChangeOrder.objects.get(pk=kept.pk).erp_missing


def test_sage_100_keeps_a_pos_change_orders_when_the_po_is_exported_again():
    approver, commitment = world(SAGE_100, kind=Commitment.Kind.PURCHASE_ORDER)
    factories.link(commitment)
    cco = ready_cco(commitment, number="CO1")
    assert record_export(kind=CCO, user=approver, record_id=cco.pk).ok
    Commitment.objects.filter(pk=commitment.pk).update(title="Crane rental, revised")
    commitment.refresh_from_db()

    # The same PO exported again (a retry finds it by its reference and updates it).
    assert get_connector(SAGE_100).export(COMMITMENT, commitment) == commitment.erp_id

    po = erp_record(SAGE_100, commitment.erp_id).data
    assert po["title"] == "Crane rental, revised"
    assert [entry["number"] for entry in po["change_orders"]] == ["CO1"]


def test_a_refusal_counts_every_linked_child_and_names_the_first_ten_of_each_kind():
    approver, commitment = world()
    factories.link(commitment)
    for n in range(12):
        factories.link(factories.invoice(commitment=commitment, number=f"{n:02d}"))
    factories.link(factories.change_order(commitment=commitment, number="CO1"))
    delete_in_erp(commitment)
    sync(commitment.company)

    refused = record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert refused.message == (
        "This commitment has 1 CCO (CO1) and 12 requisitions (00, 01, 02, 03, 04, 05, 06, 07, 08, 09, "
        "and 2 more) synced with Sage 300 CRE®. Unlink them first, then unlink the commitment."
    )
    assert [kind.slug for kind, _ in refused.blocking] == ["cco"] + ["invoice"] * 10
