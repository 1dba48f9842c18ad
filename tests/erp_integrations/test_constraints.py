"""The database itself refuses rows that break the records' rules.

Each bad row is written with the ORM's plain create/update, which validates nothing,
so only the database's constraints stand in the way.
"""

from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import DirectoryMembership, ProjectPermission
from erp_integrations.models import (
    Commitment,
    CommitmentLineItem,
    ErpConnection,
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


def test_a_missing_mark_on_an_unlinked_record_is_refused(subcontract):
    run = SyncRun.objects.create(
        connection=ErpConnection.objects.get(company=subcontract.company),
        started_at=timezone.now(),
    )
    with refused():
        Commitment.objects.filter(pk=subcontract.pk).update(erp_missing_since=run)


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


def test_erp_id_is_unique_within_a_company(project, subcontract):
    linked = dict(export_state=ExportState.SYNCED, erp_id="JC-0000001", linked_at=timezone.now())
    Commitment.objects.filter(pk=subcontract.pk).update(**linked)
    second = factories.commitment(project=project)

    with refused():
        Commitment.objects.filter(pk=second.pk).update(**linked)

    # The same ERP id in another company's ERP is a different record.
    elsewhere = factories.commitment(project=factories.project(company=factories.company()))
    assert Commitment.objects.filter(pk=elsewhere.pk).update(**linked) == 1


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
