"""Send to Accounting: the project side hands a record to the approvers; its fields lock."""

import pytest

from accounts.models import PermissionLevel
from erp_integrations.kinds import COMMITMENT, INVOICE
from erp_integrations.models import AuditEntry, Commitment, ExportState, SubcontractorInvoice
from erp_integrations.services.exports import record_send_to_accounting
from erp_integrations.services.results import Outcome
from tests import factories

pytestmark = pytest.mark.embedded


@pytest.fixture
def world(db):
    company = factories.company()
    project = factories.project(company=company)
    project_admin = factories.user(
        "project-admin", company=company, projects={project: PermissionLevel.ADMIN}
    )
    return company, project, project_admin


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("state", [ExportState.DRAFT, ExportState.REJECTED, ExportState.FAILED])
def test_a_commitment_is_sent_from_draft_rejected_or_failed(world, state):
    _, project, project_admin = world
    commitment = factories.commitment(project=project)
    Commitment.objects.filter(pk=commitment.pk).update(
        export_state=state, rejection_reason="Wrong vendor", export_error="Sage said no"
    )

    result = record_send_to_accounting(kind=COMMITMENT, user=project_admin, record_id=commitment.pk)

    assert result.ok and result.outcome == Outcome.DONE
    assert result.message == f"Commitment {commitment.number} was sent to accounting and is ready to export."
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.READY and commitment.is_locked
    assert commitment.sent_by == project_admin and commitment.sent_at is not None
    assert commitment.rejection_reason == "" and commitment.export_error == ""
    assert result.record.export_state == ExportState.READY
    entry = AuditEntry.objects.get(record_type="commitment", record_id=commitment.pk)
    assert (entry.user, entry.action, entry.outcome, entry.erp_system) == (
        project_admin,
        AuditEntry.Action.SEND,
        AuditEntry.Outcome.SUCCESS,
        "sage300",
    )


@pytest.mark.django_db(databases="__all__")
def test_a_ready_commitment_cannot_be_sent_twice(world):
    _, project, project_admin = world
    commitment = factories.commitment(project=project)
    assert record_send_to_accounting(kind=COMMITMENT, user=project_admin, record_id=commitment.pk).ok

    again = record_send_to_accounting(kind=COMMITMENT, user=project_admin, record_id=commitment.pk)

    assert again.outcome == Outcome.CONFLICT
    assert again.message == (
        f"Commitment {commitment.number} cannot be sent to accounting: it is ready to export."
    )
    assert list(
        AuditEntry.objects.filter(record_type="commitment", record_id=commitment.pk)
        .order_by("id")
        .values_list("outcome", flat=True)
    ) == ["success", "refused"]


@pytest.mark.django_db(databases="__all__")
def test_a_synced_commitment_cannot_be_sent(world):
    _, project, project_admin = world
    commitment = factories.link(factories.commitment(project=project))

    result = record_send_to_accounting(kind=COMMITMENT, user=project_admin, record_id=commitment.pk)

    assert result.outcome == Outcome.CONFLICT
    assert f"it is synced with Sage 300 CRE® as {commitment.erp_id}" in result.message
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED and commitment.sent_at is None


@pytest.mark.django_db(databases="__all__")
def test_an_invoice_is_sent_only_once_its_commitment_is_synced(world):
    _, project, project_admin = world
    commitment = factories.commitment(project=project, number="SC-7")
    invoice = factories.invoice(commitment=commitment, number="3")

    refused = record_send_to_accounting(kind=INVOICE, user=project_admin, record_id=invoice.pk)

    assert refused.outcome == Outcome.CONFLICT
    assert refused.message == (
        "Subcontractor invoice 3 on SC-7 cannot be sent to accounting until its commitment SC-7 "
        "is synced with Sage 300 CRE®. Export the commitment first."
    )
    invoice.refresh_from_db()
    assert invoice.export_state == ExportState.DRAFT

    factories.link(commitment)
    sent = record_send_to_accounting(kind=INVOICE, user=project_admin, record_id=invoice.pk)

    assert sent.ok, sent.message
    invoice.refresh_from_db()
    assert invoice.export_state == ExportState.READY and invoice.sent_by == project_admin
    assert list(
        AuditEntry.objects.filter(record_type="invoice", record_id=invoice.pk)
        .order_by("id")
        .values_list("action", "outcome")
    ) == [("send", "refused"), ("send", "success")]


@pytest.mark.django_db(databases="__all__")
def test_a_commitment_unlinked_after_the_check_still_stops_the_invoice(world):
    """The UPDATE itself requires the commitment synced, not only the check before it."""
    _, project, project_admin = world
    commitment = factories.link(factories.commitment(project=project))
    invoice = factories.invoice(commitment=commitment)
    loaded = SubcontractorInvoice.objects.select_related("commitment").get(pk=invoice.pk)
    assert loaded.commitment.is_linked
    Commitment.objects.filter(pk=commitment.pk).update(
        export_state=ExportState.DRAFT, erp_id=None, linked_at=None, link=None
    )

    result = record_send_to_accounting(kind=INVOICE, user=project_admin, record_id=invoice.pk)

    assert result.outcome == Outcome.CONFLICT
    assert "until its commitment" in result.message
    invoice.refresh_from_db()
    assert invoice.export_state == ExportState.DRAFT


@pytest.mark.django_db(databases="__all__")
def test_send_takes_a_handful_of_queries(world, django_assert_num_queries):
    _, project, project_admin = world
    commitment = factories.commitment(project=project)
    #  1 the record with company, ERP connection, project and vendor
    #  2 directory entry  3 project levels
    #  4 savepoint  5 conditional UPDATE to ready  6 INSERT the audit entry  7 release savepoint
    #  8 whether the company's Direct Export is on for commitments
    with django_assert_num_queries(8):
        assert record_send_to_accounting(kind=COMMITMENT, user=project_admin, record_id=commitment.pk).ok
