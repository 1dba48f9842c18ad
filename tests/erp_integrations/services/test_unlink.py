"""Unlink: who may, when it succeeds, what it says when it does not, and what it records."""

import pytest

from accounts.models import PermissionLevel
from accounts.permissions import AccessDenied, CompanyAccess, NotFound
from erp_integrations.kinds import COMMITMENT, INVOICE
from erp_integrations.models import (
    AuditEntry,
    Commitment,
    ErpLink,
    ErpSystem,
    ExportState,
    SubcontractorInvoice,
)
from erp_integrations.services.results import Outcome
from erp_integrations.services.sync import connection_sync
from erp_integrations.services.unlink import record_unlink
from tests import factories
from tests.erp_integrations.services.sync_support import delete_in_erp

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]

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
    result = record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert not result.ok
    assert result.outcome == Outcome.CONFLICT
    assert result.message == STILL_IN_SAGE_300
    commitment.refresh_from_db()
    assert commitment.erp_id and commitment.export_state == ExportState.SYNCED
    assert audit_trail(commitment) == [("refused", commitment.erp_id, STILL_IN_SAGE_300)]


def test_unlink_fails_after_the_erp_record_was_deleted_until_a_sync_completes(approver, commitment):
    delete_in_erp(commitment)

    result = record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert result.message == STILL_IN_SAGE_300
    commitment.refresh_from_db()
    assert commitment.is_linked


def test_unlink_succeeds_once_a_completed_sync_saw_the_erp_record_missing(approver, commitment):
    erp_id = commitment.erp_id
    deleted_in_erp_and_synced(commitment)

    result = record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert result.ok and result.outcome == Outcome.DONE
    assert result.message == "Successfully Unlinked"
    commitment.refresh_from_db()
    assert (commitment.link_id, commitment.erp_id, commitment.linked_at) == (None, None, None)
    assert commitment.erp_missing_since_id is None
    # The link stays as the record's history: who unlinked it and when.
    [closed] = ErpLink.objects.filter(kind="commitment", record_id=commitment.pk)
    assert (closed.erp_id, closed.unlinked_by) == (erp_id, approver) and closed.unlinked_at is not None
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

    result = record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert result.message == STILL_IN_SAGE_300


def test_unlinking_twice_says_it_was_already_unlinked_and_changes_nothing(approver, commitment):
    deleted_in_erp_and_synced(commitment)
    assert record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk).ok

    again = record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert not again.ok and again.outcome == Outcome.CONFLICT
    assert (
        again.message == "This commitment is not linked to Sage 300 CRE® any more: it was already unlinked."
    )
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.DRAFT
    assert [outcome for outcome, _, _ in audit_trail(commitment)] == ["success", "refused"]


def test_a_commitment_with_linked_invoices_cannot_be_unlinked_until_they_are(approver, commitment):
    invoices = [factories.link(factories.invoice(commitment=commitment)) for _ in range(2)]
    deleted_in_erp_and_synced(commitment)

    result = record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert result.outcome == Outcome.CONFLICT
    assert result.message == (
        f"This commitment has 2 requisitions ({invoices[0].number}, {invoices[1].number}) synced with "
        "Sage 300 CRE®. Unlink them first, then unlink the commitment."
    )
    # Each is named and can be linked to.
    assert [(kind.slug, child.pk) for kind, child in result.blocking] == [("invoice", i.pk) for i in invoices]
    assert Commitment.objects.get(pk=commitment.pk).is_linked
    assert audit_trail(commitment)[0][0] == "refused"

    for invoice in invoices:
        delete_in_erp(invoice)
    sync(commitment.company)
    record_unlink(kind=INVOICE, user=approver, record_id=invoices[0].pk)
    one_left = record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk)
    assert one_left.message.startswith(f"This commitment has 1 requisition ({invoices[1].number}) synced")
    assert "Unlink it first" in one_left.message

    record_unlink(kind=INVOICE, user=approver, record_id=invoices[1].pk)
    assert (
        record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk).message
        == "Successfully Unlinked"
    )


def test_a_requisition_still_in_sage_100_is_refused_in_the_erps_words():
    company = factories.company(erp_system=ErpSystem.SAGE_100_CONTRACTOR)
    project = factories.project(company=company)
    approver = factories.approver(company, project)
    commitment = factories.link(factories.commitment(project=project))
    invoice = factories.link(factories.invoice(commitment=commitment))

    assert record_unlink(kind=INVOICE, user=approver, record_id=invoice.pk).message == (
        REQUISITION_STILL_IN_SAGE_100
    )
    assert record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk).message.startswith(
        f"This commitment has 1 requisition ({invoice.number}) synced with Sage 100 Contractor®."
    )

    deleted_in_erp_and_synced(invoice)
    result = record_unlink(kind=INVOICE, user=approver, record_id=invoice.pk)

    assert result.message == "Successfully Unlinked"
    invoice.refresh_from_db()
    assert invoice.export_state == ExportState.DRAFT and invoice.erp_id is None
    assert record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk).message == STILL_IN_SAGE_100
    assert record_unlink(kind=INVOICE, user=approver, record_id=invoice.pk).message == (
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
        record_unlink(kind=COMMITMENT, user=pm, record_id=commitment.pk)

    assert missing in refused.value.decision.reason
    assert Commitment.objects.get(pk=commitment.pk).is_linked
    # The refused attempt leaves a trace: who, which record, why.
    entry = AuditEntry.objects.get(action=AuditEntry.Action.UNLINK)
    assert (entry.user, entry.record_id, entry.outcome) == (pm, commitment.pk, AuditEntry.Outcome.REFUSED)
    assert missing in entry.message


def test_an_outsider_gets_not_found(commitment):
    other = factories.company()
    outsider = factories.approver(other, factories.project(company=other), username="outsider")

    with pytest.raises(NotFound):
        record_unlink(kind=COMMITMENT, user=outsider, record_id=commitment.pk)


def test_an_unknown_record_is_not_found(approver):
    with pytest.raises(NotFound):
        record_unlink(kind=COMMITMENT, user=approver, record_id=987654)
    with pytest.raises(NotFound):
        record_unlink(kind=INVOICE, user=approver, record_id=987654)


def test_unlink_runs_few_queries(approver, commitment, django_assert_num_queries):
    deleted_in_erp_and_synced(commitment)
    # SAVEPOINT, 1) the commitment, row locked, with company, connection and project,
    # 2) directory entry, 3) project levels, 4) its link, row locked, 5) linked
    # invoices and CCOs (one UNION), 6) clear the record's link (UPDATE), 7) close the
    # link (UPDATE), 8) audit entry (INSERT), RELEASE SAVEPOINT.
    with django_assert_num_queries(10):
        assert record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk).ok


def test_unlink_with_the_callers_access_skips_loading_it(approver, commitment, django_assert_num_queries):
    deleted_in_erp_and_synced(commitment)
    access = CompanyAccess.load(approver, commitment.company)
    assert access.project_levels  # read, as a page that judged its rows has them
    # SAVEPOINT, 1) the commitment, row locked, with company, connection and project,
    # 2) its link, row locked, 3) linked invoices and CCOs, 4) clear the record's link,
    # 5) close the link, 6) audit entry (INSERT), RELEASE SAVEPOINT. The directory
    # entry and project levels come with ``access``.
    with django_assert_num_queries(8):
        assert record_unlink(kind=COMMITMENT, user=approver, record_id=commitment.pk, access=access).ok


def test_unlink_checks_the_permission_with_the_callers_access(company, project, commitment):
    viewer = factories.user(
        "viewer", company=company, erp_level=PermissionLevel.READ_ONLY, projects={project: 1}
    )
    deleted_in_erp_and_synced(commitment)
    access = CompanyAccess.load(viewer, company)

    with pytest.raises(AccessDenied):
        record_unlink(kind=COMMITMENT, user=viewer, record_id=commitment.pk, access=access)
    commitment.refresh_from_db()
    assert commitment.is_linked


def test_unlink_ignores_an_access_to_another_company(project, approver, commitment):
    other = factories.company(name="Other Co")
    other_project = factories.project(company=other)
    # Full rights in another company say nothing about this one: the outsider's record
    # is not found, whatever access the caller passes.
    outsider = factories.approver(other, other_project, username="outsider")
    deleted_in_erp_and_synced(commitment)

    with pytest.raises(NotFound):
        record_unlink(
            kind=COMMITMENT,
            user=outsider,
            record_id=commitment.pk,
            access=CompanyAccess.load(outsider, other),
        )
    # Another user's access is not taken for the caller's either.
    with pytest.raises(NotFound):
        record_unlink(
            kind=COMMITMENT,
            user=outsider,
            record_id=commitment.pk,
            access=CompanyAccess.load(approver, project.company),
        )
    commitment.refresh_from_db()
    assert commitment.is_linked


def test_a_refused_invoice_unlink_runs_few_queries(
    company, project, approver, commitment, django_assert_num_queries
):
    invoice = factories.link(factories.invoice(commitment=commitment))
    # SAVEPOINT, 1) the invoice, row locked, with company, connection and project,
    # 2) directory entry, 3) project levels, 4) its link, row locked, 5) audit entry
    # (INSERT), RELEASE SAVEPOINT. An invoice has no children to ask about.
    with django_assert_num_queries(7):
        result = record_unlink(kind=INVOICE, user=approver, record_id=invoice.pk)
    assert result.outcome == Outcome.CONFLICT
    assert SubcontractorInvoice.objects.get(pk=invoice.pk).is_linked
