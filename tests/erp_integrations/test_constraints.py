"""The database itself refuses rows that break the records' rules.

Each bad row is written with the ORM's plain create/update, which validates nothing,
so only the database's constraints stand in the way.
"""

from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import DirectoryMembership, ProjectPermission
from erp_integrations.models import (
    Commitment,
    CommitmentLineItem,
    ErpConnection,
    ErpLink,
    ExportState,
    SubcontractorInvoice,
    SyncRun,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return factories.project(company=factories.company(name="Northwind Builders"), name="Harbor Tower")


@pytest.fixture
def subcontract(project):
    return factories.commitment(project=project, number="SC-001")


@contextmanager
def refused():
    """The database refuses the statement; its savepoint rolls back so the test goes on."""
    with pytest.raises(IntegrityError), transaction.atomic():
        yield


def test_commitment_number_is_unique_per_project(project, subcontract):
    with refused():
        factories.commitment(project=project, number="SC-001")


def test_same_commitment_number_in_another_project_is_fine(project, subcontract):
    other = factories.project(company=project.company)

    assert factories.commitment(project=other, number="SC-001").pk


def test_commitment_amount_cannot_be_negative(project):
    with refused():
        factories.commitment(project=project, amount=Decimal("-0.01"), cost_code=None)


def test_line_item_amount_cannot_be_negative(subcontract):
    with refused():
        CommitmentLineItem.objects.create(commitment=subcontract, cost_code="03-300", amount=Decimal("-5"))


def test_line_item_needs_a_cost_code(subcontract):
    with refused():
        CommitmentLineItem.objects.create(commitment=subcontract, cost_code="", amount=Decimal("5"))


def test_invoice_amounts_cannot_be_negative(subcontract):
    with refused():
        factories.invoice(commitment=subcontract, amount=Decimal("-1"))
    invoice = factories.invoice(commitment=subcontract)
    with refused():
        SubcontractorInvoice.objects.filter(pk=invoice.pk).update(retainage=Decimal("-1"))


def test_synced_without_an_erp_id_is_refused(subcontract):
    with refused():
        Commitment.objects.filter(pk=subcontract.pk).update(
            export_state=ExportState.SYNCED, linked_at=timezone.now()
        )


def test_synced_without_linked_at_is_refused(subcontract):
    with refused():
        Commitment.objects.filter(pk=subcontract.pk).update(export_state=ExportState.SYNCED, erp_id="JC-1")


@pytest.mark.parametrize(
    "state", [ExportState.DRAFT, ExportState.READY, ExportState.FAILED, ExportState.REJECTED]
)
def test_an_erp_id_on_a_record_that_is_not_synced_is_refused(subcontract, state):
    with refused():
        Commitment.objects.filter(pk=subcontract.pk).update(
            export_state=state, erp_id="JC-0000001", linked_at=timezone.now()
        )


def _link_row(record, erp_id: str = "JC-0000009") -> ErpLink:
    return ErpLink.objects.create(
        kind="commitment",
        record_id=record.pk,
        company=record.company,
        erp_id=erp_id,
        linked_at=timezone.now(),
    )


def test_a_synced_record_without_a_link_row_is_refused(subcontract):
    with refused():
        Commitment.objects.filter(pk=subcontract.pk).update(
            export_state=ExportState.SYNCED, erp_id="JC-0000001", linked_at=timezone.now()
        )


def test_a_records_copy_of_its_erp_id_must_be_its_links(subcontract):
    link = _link_row(subcontract)
    with refused(), transaction.atomic():
        Commitment.objects.filter(pk=subcontract.pk).update(
            export_state=ExportState.SYNCED, link=link, erp_id="JC-0000001", linked_at=link.linked_at
        )
        # The composite foreign key is checked at commit; ask for it now.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_a_record_has_at_most_one_live_link(subcontract):
    _link_row(subcontract, "JC-0000009")
    with refused():
        _link_row(subcontract, "JC-0000010")


def test_an_unlinked_link_stays_as_history_beside_a_new_one(subcontract):
    old = _link_row(subcontract, "JC-0000009")
    ErpLink.objects.filter(pk=old.pk).update(unlinked_at=timezone.now())
    _link_row(subcontract, "JC-0000009")
    assert ErpLink.objects.filter(kind="commitment", record_id=subcontract.pk).count() == 2


def test_one_live_link_per_erp_id_in_a_company(subcontract):
    other = factories.commitment(project=subcontract.project)
    _link_row(subcontract, "JC-0000009")
    with refused():
        _link_row(other, "JC-0000009")


def test_invoice_synced_without_an_erp_id_is_refused(subcontract):
    invoice = factories.invoice(commitment=subcontract)
    with refused():
        SubcontractorInvoice.objects.filter(pk=invoice.pk).update(
            export_state=ExportState.SYNCED, linked_at=timezone.now()
        )


def test_billing_period_cannot_end_before_it_starts(subcontract):
    with refused():
        SubcontractorInvoice.objects.create(
            company=subcontract.company,
            project=subcontract.project,
            vendor=subcontract.vendor,
            commitment=subcontract,
            number="7",
            billing_period_start=date(2026, 10, 31),
            billing_period_end=date(2026, 10, 1),
        )


def test_invoice_number_is_unique_per_subcontract(subcontract):
    factories.invoice(commitment=subcontract, number="1")
    with refused():
        factories.invoice(commitment=subcontract, number="1")


def _synced(record, erp_id: str) -> int:
    link = _link_row(record, erp_id)
    return Commitment.objects.filter(pk=record.pk).update(
        export_state=ExportState.SYNCED, link=link, erp_id=erp_id, linked_at=link.linked_at
    )


def test_erp_id_is_unique_within_a_company(project, subcontract):
    _synced(subcontract, "JC-0000001")
    second = factories.commitment(project=project)

    with refused():
        _synced(second, "JC-0000001")

    # The same ERP id in another company's ERP is a different record.
    elsewhere = factories.commitment(project=factories.project(company=factories.company()))
    assert _synced(elsewhere, "JC-0000001") == 1


def test_many_unlinked_records_may_share_an_empty_erp_id(project, subcontract):
    factories.commitment(project=project)

    assert Commitment.objects.filter(project=project, erp_id__isnull=True).count() == 2


@pytest.mark.parametrize("state", ["exported", "SYNCED", ""])
def test_unknown_export_state_is_refused(subcontract, state):
    with refused():
        Commitment.objects.filter(pk=subcontract.pk).update(export_state=state)


def test_unknown_commitment_kind_is_refused(subcontract):
    with refused():
        Commitment.objects.filter(pk=subcontract.pk).update(kind="change_order")


@pytest.mark.parametrize("level", [4, 9])
def test_permission_levels_out_of_range_are_refused(project, level):
    pm = factories.user("pm", company=project.company, projects={project: 3})

    with refused():
        DirectoryMembership.objects.filter(user=pm).update(erp_integrations_level=level)
    with refused():
        ProjectPermission.objects.filter(user=pm).update(commitments_level=level)


def test_one_directory_entry_per_user_and_company(project):
    pm = factories.user("pm", company=project.company)

    with refused():
        DirectoryMembership.objects.create(company=project.company, user=pm)


def test_a_finished_sync_run_needs_its_finish_time(subcontract):
    connection = ErpConnection.objects.get(company=subcontract.company)

    with refused():
        SyncRun.objects.create(
            connection=connection, started_at=timezone.now(), status=SyncRun.Status.SUCCEEDED
        )
