"""Unlink: who may, when it succeeds, what it says when it does not, and what it records."""

from http import HTTPStatus

import pytest
from django.http import Http404

from accounts.models import PermissionLevel
from accounts.permissions import AccessDenied, CompanyAccess
from erp_integrations.models import AuditEntry, Commitment, ErpSystem, ExportState, SubcontractorInvoice
from erp_integrations.services.sync import connection_sync
from erp_integrations.services.unlink import commitment_unlink, subcontractor_invoice_unlink
from tests import factories
from tests.erp_integrations.services.sync_support import delete_in_erp

pytestmark = pytest.mark.django_db(databases="__all__")

STILL_IN_SAGE_300 = "The commitment is still in Sage 300 CRE®. Please delete it before retrying."
STILL_IN_SAGE_100 = "The commitment is still in Sage 100 Contractor®. Please delete it before retrying."
REQUISITION_STILL_IN_SAGE_100 = (
    "The requisition is still in Sage 100 Contractor®. Please delete it before retrying."
)


@pytest.fixture
def company():
    return factories.company()


@pytest.fixture
def project(company):
    return factories.project(company=company)


@pytest.fixture
def approver(company, project):
    return factories.approver(company, project)


@pytest.fixture
def commitment(project):
    return factories.link(factories.commitment(project=project))


def sync(company):
    return connection_sync(connection_id=company.erp_connection.pk, trigger="command")


def deleted_in_erp_and_synced(record):
    delete_in_erp(record)
    return sync(record.company)


def audit_trail(record):
    return list(
        AuditEntry.objects.filter(record_id=record.pk, action="unlink")
        .order_by("id")
        .values_list("outcome", "erp_id", "message")
    )


def test_unlink_fails_while_the_erp_record_exists(approver, commitment):
    result = commitment_unlink(user=approver, commitment_id=commitment.pk)

    assert not result.ok
    assert result.status == HTTPStatus.CONFLICT
    assert result.message == STILL_IN_SAGE_300
    commitment.refresh_from_db()
    assert commitment.erp_id and commitment.export_state == ExportState.SYNCED
    assert audit_trail(commitment) == [("refused", commitment.erp_id, STILL_IN_SAGE_300)]


def test_unlink_fails_after_the_erp_record_was_deleted_until_a_sync_completes(approver, commitment):
    delete_in_erp(commitment)

    result = commitment_unlink(user=approver, commitment_id=commitment.pk)

    assert result.message == STILL_IN_SAGE_300
    commitment.refresh_from_db()
    assert commitment.is_linked


def test_unlink_succeeds_once_a_completed_sync_saw_the_erp_record_missing(approver, commitment):
    erp_id = commitment.erp_id
    deleted_in_erp_and_synced(commitment)

    result = commitment_unlink(user=approver, commitment_id=commitment.pk)

    assert result.ok and result.status == HTTPStatus.OK
    assert result.message == "Successfully Unlinked"
    commitment.refresh_from_db()
    assert (commitment.erp_id, commitment.linked_at, commitment.linked_by_id) == (None, None, None)
    assert commitment.erp_missing_since_id is None
    assert commitment.export_state == ExportState.DRAFT
    assert not commitment.is_locked
    assert result.record.pk == commitment.pk and result.record.export_state == ExportState.DRAFT
    entry = AuditEntry.objects.get(record_id=commitment.pk, action="unlink")
    assert (entry.user, entry.outcome, entry.erp_id, entry.erp_system, entry.record_type) == (
        approver,
        "success",
        erp_id,
        "sage300",
        "commitment",
    )
    assert entry.record_number == commitment.number


def test_a_failed_sync_does_not_count(approver, commitment):
    from erp_integrations.sandbox.services import sandbox_set_mode

    delete_in_erp(commitment)
    sandbox_set_mode(erp_system="sage300", mode="offline")
    assert sync(commitment.company).status == "failed"

    result = commitment_unlink(user=approver, commitment_id=commitment.pk)

    assert result.message == STILL_IN_SAGE_300


def test_unlinking_twice_says_it_was_already_unlinked_and_changes_nothing(approver, commitment):
    deleted_in_erp_and_synced(commitment)
    assert commitment_unlink(user=approver, commitment_id=commitment.pk).ok

    again = commitment_unlink(user=approver, commitment_id=commitment.pk)

    assert not again.ok and again.status == HTTPStatus.CONFLICT
    assert (
        again.message == "This commitment is not linked to Sage 300 CRE® any more: it was already unlinked."
    )
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.DRAFT
    assert [outcome for outcome, _, _ in audit_trail(commitment)] == ["success", "refused"]


def test_a_commitment_with_linked_invoices_cannot_be_unlinked_until_they_are(approver, commitment):
    invoices = [factories.link(factories.invoice(commitment=commitment)) for _ in range(2)]
    deleted_in_erp_and_synced(commitment)

    result = commitment_unlink(user=approver, commitment_id=commitment.pk)

    assert result.status == HTTPStatus.CONFLICT
    assert result.message == (
        "This commitment has 2 subcontractor invoices synced with Sage 300 CRE®. "
        "Unlink them first, then unlink the commitment."
    )
    assert Commitment.objects.get(pk=commitment.pk).is_linked
    assert audit_trail(commitment)[0][0] == "refused"

    for invoice in invoices:
        delete_in_erp(invoice)
    sync(commitment.company)
    subcontractor_invoice_unlink(user=approver, invoice_id=invoices[0].pk)
    one_left = commitment_unlink(user=approver, commitment_id=commitment.pk)
    assert one_left.message.startswith("This commitment has 1 subcontractor invoice synced")
    assert "Unlink it first" in one_left.message

    subcontractor_invoice_unlink(user=approver, invoice_id=invoices[1].pk)
    assert commitment_unlink(user=approver, commitment_id=commitment.pk).message == "Successfully Unlinked"


def test_a_requisition_still_in_sage_100_is_refused_in_the_erps_words():
    company = factories.company(erp_system=ErpSystem.SAGE_100_CONTRACTOR)
    project = factories.project(company=company)
    approver = factories.approver(company, project)
    commitment = factories.link(factories.commitment(project=project))
    invoice = factories.link(factories.invoice(commitment=commitment))

    assert subcontractor_invoice_unlink(user=approver, invoice_id=invoice.pk).message == (
        REQUISITION_STILL_IN_SAGE_100
    )
    assert commitment_unlink(user=approver, commitment_id=commitment.pk).message.startswith(
        "This commitment has 1 subcontractor invoice synced with Sage 100 Contractor®."
    )

    deleted_in_erp_and_synced(invoice)
    result = subcontractor_invoice_unlink(user=approver, invoice_id=invoice.pk)

    assert result.message == "Successfully Unlinked"
    invoice.refresh_from_db()
    assert invoice.export_state == ExportState.DRAFT and invoice.erp_id is None
    assert commitment_unlink(user=approver, commitment_id=commitment.pk).message == STILL_IN_SAGE_100
    assert subcontractor_invoice_unlink(user=approver, invoice_id=invoice.pk).message == (
        "This subcontractor invoice is not linked to Sage 100 Contractor® any more: it was already unlinked."
    )
    entry = AuditEntry.objects.filter(record_type="invoice", outcome="success").get()
    assert (entry.record_id, entry.erp_system) == (invoice.pk, "sage100")


@pytest.mark.parametrize(
    ("erp_level", "commitments_level", "privilege", "missing"),
    [
        (PermissionLevel.STANDARD, PermissionLevel.STANDARD, True, "'Admin' on the Commitments tool"),
        (
            PermissionLevel.READ_ONLY,
            PermissionLevel.ADMIN,
            True,
            "'Standard' or 'Admin' on the ERP Integrations",
        ),
        (PermissionLevel.ADMIN, PermissionLevel.ADMIN, False, "'Can Push to Accounting'"),
    ],
)
def test_a_member_missing_a_requirement_is_refused_with_the_reason(
    company, project, commitment, erp_level, commitments_level, privilege, missing
):
    deleted_in_erp_and_synced(commitment)
    pm = factories.user(
        "pm", company=company, erp_level=erp_level, privilege=privilege, projects={project: commitments_level}
    )

    with pytest.raises(AccessDenied) as refused:
        commitment_unlink(user=pm, commitment_id=commitment.pk)

    assert missing in refused.value.decision.reason
    assert Commitment.objects.get(pk=commitment.pk).is_linked
    assert not AuditEntry.objects.exists()


def test_an_outsider_gets_not_found(commitment):
    other = factories.company()
    outsider = factories.approver(other, factories.project(company=other), username="outsider")

    with pytest.raises(Http404):
        commitment_unlink(user=outsider, commitment_id=commitment.pk)


def test_an_unknown_record_is_not_found(approver):
    with pytest.raises(Http404):
        commitment_unlink(user=approver, commitment_id=987654)
    with pytest.raises(Http404):
        subcontractor_invoice_unlink(user=approver, invoice_id=987654)


def test_unlink_runs_few_queries(approver, commitment, django_assert_num_queries):
    deleted_in_erp_and_synced(commitment)
    # SAVEPOINT, 1) the commitment, row locked, with company, connection and project,
    # 2) directory entry, 3) project levels, 4) linked invoices (COUNT), 5) clear the
    # link (UPDATE), 6) audit entry (INSERT), RELEASE SAVEPOINT.
    with django_assert_num_queries(8):
        assert commitment_unlink(user=approver, commitment_id=commitment.pk).ok


def test_unlink_with_the_callers_access_skips_loading_it(approver, commitment, django_assert_num_queries):
    deleted_in_erp_and_synced(commitment)
    access = CompanyAccess.load(approver, commitment.company)
    # SAVEPOINT, 1) the commitment, row locked, with company, connection and project,
    # 2) linked invoices (COUNT), 3) clear the link (UPDATE), 4) audit entry (INSERT),
    # RELEASE SAVEPOINT. The directory entry and project levels come with ``access``.
    with django_assert_num_queries(6):
        assert commitment_unlink(user=approver, commitment_id=commitment.pk, access=access).ok


def test_unlink_checks_the_permission_with_the_callers_access(company, project, commitment):
    viewer = factories.user(
        "viewer", company=company, erp_level=PermissionLevel.READ_ONLY, projects={project: 1}
    )
    deleted_in_erp_and_synced(commitment)
    access = CompanyAccess.load(viewer, company)

    with pytest.raises(AccessDenied):
        commitment_unlink(user=viewer, commitment_id=commitment.pk, access=access)
    commitment.refresh_from_db()
    assert commitment.is_linked


def test_unlink_ignores_an_access_to_another_company(project, approver, commitment):
    other = factories.company(name="Other Co")
    other_project = factories.project(company=other)
    # Full rights in another company say nothing about this one: the outsider's record
    # is not found, whatever access the caller passes.
    outsider = factories.approver(other, other_project, username="outsider")
    deleted_in_erp_and_synced(commitment)

    with pytest.raises(Http404):
        commitment_unlink(
            user=outsider, commitment_id=commitment.pk, access=CompanyAccess.load(outsider, other)
        )
    # Another user's access is not taken for the caller's either.
    with pytest.raises(Http404):
        commitment_unlink(
            user=outsider, commitment_id=commitment.pk, access=CompanyAccess.load(approver, project.company)
        )
    commitment.refresh_from_db()
    assert commitment.is_linked


def test_a_refused_invoice_unlink_runs_few_queries(
    company, project, approver, commitment, django_assert_num_queries
):
    invoice = factories.link(factories.invoice(commitment=commitment))
    # SAVEPOINT, 1) the invoice, row locked, with company, connection and project,
    # 2) directory entry, 3) project levels, 4) audit entry (INSERT), RELEASE SAVEPOINT.
    with django_assert_num_queries(6):
        result = subcontractor_invoice_unlink(user=approver, invoice_id=invoice.pk)
    assert result.status == HTTPStatus.CONFLICT
    assert SubcontractorInvoice.objects.get(pk=invoice.pk).is_linked
