"""Reject: an approver sends a ready (or failed) record back with a reason."""

import pytest

from accounts.models import PermissionLevel
from erp_integrations.kinds import COMMITMENT, INVOICE
from erp_integrations.models import AuditEntry, Commitment, ExportState
from erp_integrations.sandbox.services import sandbox_records
from erp_integrations.services.exports import (
    MAX_REJECTION_REASON,
    record_export,
    record_reject,
    record_send_to_accounting,
)
from erp_integrations.services.results import Outcome
from tests import factories

pytestmark = pytest.mark.embedded


def _world():
    company = factories.company()
    project = factories.project(company=company)
    approver = factories.approver(company, project)
    pm = factories.user("project-admin", company=company, projects={project: PermissionLevel.ADMIN})
    return project, approver, pm


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("state", [ExportState.READY, ExportState.FAILED])
def test_reject_makes_the_commitment_editable_again_with_the_reason(state):
    project, approver, _ = _world()
    commitment = factories.commitment(project=project, export_state=state)
    Commitment.objects.filter(pk=commitment.pk).update(export_error="Sage said no")

    result = record_reject(
        kind=COMMITMENT, user=approver, record_id=commitment.pk, reason="  Wrong cost code  "
    )

    assert result.ok and result.outcome == Outcome.DONE
    assert result.message == (
        f"Commitment {commitment.number} was rejected. It can be edited and sent to accounting again."
    )
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.REJECTED and not commitment.is_locked
    assert commitment.rejection_reason == "Wrong cost code"
    assert commitment.export_error == ""
    entry = AuditEntry.objects.get(record_type="commitment", record_id=commitment.pk)
    assert (entry.user, entry.action, entry.outcome, entry.message, entry.erp_id) == (
        approver,
        AuditEntry.Action.REJECT,
        AuditEntry.Outcome.SUCCESS,
        "Wrong cost code",
        "",
    )


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_reject_requires_a_reason(reason):
    project, approver, _ = _world()
    commitment = factories.commitment(project=project, export_state=ExportState.READY)

    result = record_reject(kind=COMMITMENT, user=approver, record_id=commitment.pk, reason=reason)

    assert result.outcome == Outcome.INVALID
    assert result.message == f"Please give a reason for rejecting Commitment {commitment.number}."
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.READY and commitment.rejection_reason == ""
    assert not AuditEntry.objects.filter(record_type="commitment", record_id=commitment.pk).exists()


@pytest.mark.django_db(databases="__all__")
def test_a_reason_may_be_at_most_1000_characters():
    project, approver, _ = _world()
    commitment = factories.commitment(project=project, export_state=ExportState.READY)

    too_long = record_reject(kind=COMMITMENT, user=approver, record_id=commitment.pk, reason="x" * 1001)

    assert MAX_REJECTION_REASON == 1000
    assert too_long.outcome == Outcome.INVALID
    assert "at most 1000 characters (it has 1001)" in too_long.message
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.READY

    assert record_reject(kind=COMMITMENT, user=approver, record_id=commitment.pk, reason="x" * 1000).ok
    commitment.refresh_from_db()
    assert len(commitment.rejection_reason) == 1000


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    ("state", "words"), [(ExportState.DRAFT, "a draft"), (ExportState.REJECTED, "rejected")]
)
def test_only_ready_or_failed_records_can_be_rejected(state, words):
    project, approver, _ = _world()
    commitment = factories.commitment(project=project, export_state=state)

    result = record_reject(kind=COMMITMENT, user=approver, record_id=commitment.pk, reason="No")

    assert result.outcome == Outcome.CONFLICT
    assert result.message == f"Commitment {commitment.number} cannot be rejected: it is {words}."
    commitment.refresh_from_db()
    assert commitment.export_state == state
    assert (
        AuditEntry.objects.get(record_type="commitment", record_id=commitment.pk).outcome
        == AuditEntry.Outcome.REFUSED
    )


@pytest.mark.django_db(databases="__all__")
def test_a_synced_commitment_cannot_be_rejected():
    project, approver, _ = _world()
    commitment = factories.link(factories.commitment(project=project))

    result = record_reject(kind=COMMITMENT, user=approver, record_id=commitment.pk, reason="Too late")

    assert result.outcome == Outcome.CONFLICT
    assert f"it is synced with Sage 300 CRE® as {commitment.erp_id}" in result.message
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED and commitment.rejection_reason == ""


@pytest.mark.django_db(databases="__all__")
def test_a_rejected_commitment_is_resent_and_exported():
    project, approver, pm = _world()
    commitment = factories.commitment(project=project)
    assert record_send_to_accounting(kind=COMMITMENT, user=pm, record_id=commitment.pk).ok
    assert record_reject(kind=COMMITMENT, user=approver, record_id=commitment.pk, reason="Title is wrong").ok
    Commitment.objects.filter(pk=commitment.pk).update(title="Concrete, corrected")

    resent = record_send_to_accounting(kind=COMMITMENT, user=pm, record_id=commitment.pk)

    assert resent.ok
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.READY and commitment.rejection_reason == ""
    assert record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk).ok
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED
    [erp_record] = sandbox_records("sage300").filter(kind="commitment")
    assert erp_record.erp_id == commitment.erp_id
    assert erp_record.data["title"] == "Concrete, corrected"
    assert list(
        AuditEntry.objects.filter(record_id=commitment.pk, record_type="commitment")
        .order_by("id")
        .values_list("action", "outcome")
    ) == [("send", "success"), ("reject", "success"), ("send", "success"), ("export", "success")]


@pytest.mark.django_db(databases="__all__")
def test_a_subcontractor_invoice_is_rejected_resent_and_exported():
    project, approver, pm = _world()
    commitment = factories.link(factories.commitment(project=project))
    invoice = factories.invoice(commitment=commitment, export_state=ExportState.READY)

    rejected = record_reject(kind=INVOICE, user=approver, record_id=invoice.pk, reason="Wrong period")

    assert rejected.ok
    invoice.refresh_from_db()
    assert invoice.export_state == ExportState.REJECTED and invoice.rejection_reason == "Wrong period"
    assert (
        record_reject(kind=INVOICE, user=approver, record_id=invoice.pk, reason="Again").outcome
        == Outcome.CONFLICT
    )
    assert record_send_to_accounting(kind=INVOICE, user=pm, record_id=invoice.pk).ok
    assert record_export(kind=INVOICE, user=approver, record_id=invoice.pk).ok
    invoice.refresh_from_db()
    assert invoice.export_state == ExportState.SYNCED and invoice.rejection_reason == ""


@pytest.mark.postgresql  # the query count or plan is PostgreSQL's
@pytest.mark.django_db(databases="__all__")
def test_reject_takes_a_handful_of_queries(django_assert_num_queries):
    project, approver, _ = _world()
    commitment = factories.commitment(project=project, export_state=ExportState.READY)
    #  1 the record with company, ERP connection, project and vendor
    #  2 directory entry  3 project levels  4 take the export claim
    #  5 savepoint  6 conditional UPDATE to rejected  7 INSERT the audit entry
    #  8 release savepoint  9 release the claim
    with django_assert_num_queries(9):
        assert record_reject(kind=COMMITMENT, user=approver, record_id=commitment.pk, reason="No").ok
