"""generate_load_data: realistic records whose links, ERP records and permissions agree."""

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from accounts.models import Company, DirectoryMembership, PrivilegeChange, User
from accounts.permissions import Action, CompanyAccess
from erp_integrations.connectors import get_connector
from erp_integrations.models import (
    AuditEntry,
    Commitment,
    CommitmentLineItem,
    ExportState,
    SubcontractorInvoice,
    Vendor,
)
from erp_integrations.sandbox.models import Sage100Record, Sage300Record
from erp_integrations.services.sync import connection_sync
from erp_integrations.services.unlink import commitment_unlink

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _generate(*extra: str) -> None:
    call_command(
        "generate_load_data",
        "--commitments", "600", "--invoices", "400", "--projects", "5",
        "--company-slug", "gen", "--missing-fraction", "0.05", "--user-prefix", "gen-", *extra,
    )  # fmt: skip


def test_records_links_erp_records_and_users_agree():
    _generate("--erp", "sage100")
    company = Company.objects.get(slug="gen")
    commitments = Commitment.objects.filter(company=company)
    invoices = SubcontractorInvoice.objects.filter(company=company)
    assert commitments.count() == 600 and invoices.count() == 400
    assert CommitmentLineItem.objects.filter(commitment__company=company).count() == 600
    assert Vendor.objects.filter(company=company).count() == 50
    synced = commitments.filter(export_state=ExportState.SYNCED)
    assert 500 < synced.count() < 600
    assert {ExportState.READY, ExportState.FAILED, ExportState.DRAFT} <= set(
        commitments.values_list("export_state", flat=True)
    )
    # Invoices belong to subcontracts; a synced one only to a synced subcontract.
    assert not invoices.exclude(commitment__kind=Commitment.Kind.SUBCONTRACT).exists()
    assert not invoices.filter(export_state="synced").exclude(commitment__export_state="synced").exists()
    assert not invoices.exclude(project_id=F("commitment__project_id")).exists()

    # Every link is a live or deleted record of Sage 100 Contractor, made for this record.
    records = {r.erp_id: r for r in Sage100Record.objects.using("sandbox_sage100").all()}
    assert not Sage300Record.objects.using("sandbox_sage300").exists()
    assert len(records) == synced.count() + invoices.filter(export_state="synced").count()
    connector = get_connector("sage100")
    for pk, erp_id in synced.values_list("pk", "erp_id"):
        assert records[erp_id].external_reference == f"commitment-{pk}"
        assert erp_id.startswith("SC") and len(erp_id) == 8
    for pk, erp_id in invoices.filter(export_state="synced").values_list("pk", "erp_id"):
        assert records[erp_id].external_reference == f"invoice-{pk}" and erp_id.startswith("RQ")
    deleted = [r for r in records.values() if r.deleted_at is not None]
    assert deleted
    # Titles, numbers and vendors fit the ERP's limits, so any of them could be exported.
    sample = synced.select_related("vendor").prefetch_related("line_items")[:50]
    assert all(not connector.validate_commitment(c) for c in sample)
    # The audit trail has the exports.
    exports = AuditEntry.objects.filter(company=company, action="export", outcome="success").count()
    assert exports == len(records)

    # Users: the approver may unlink; pm and viewer may not, and say why.
    approver = User.objects.get(username="gen-approver")
    some = synced.first()
    assert CompanyAccess.load(approver, company).check(Action.UNLINK, some.project)
    assert not CompanyAccess.load(User.objects.get(username="gen-pm"), company).check(
        Action.UNLINK, some.project
    )
    viewer = CompanyAccess.load(User.objects.get(username="gen-viewer"), company)
    assert viewer.check(Action.VIEW_COMMITMENTS, some.project) and not viewer.check(
        Action.UNLINK, some.project
    )
    assert User.objects.get(username="gen-staff").is_superuser
    # The privilege was granted through the recording service.
    assert DirectoryMembership.objects.get(user=approver, company=company).can_push_to_accounting
    assert PrivilegeChange.objects.filter(company=company, user=approver, action="granted").count() == 1

    # A sync finds exactly the records deleted in the ERP, and one can be unlinked.
    run = connection_sync(connection_id=company.erp_connection.pk, trigger="command")
    assert run.missing_found == len(deleted)
    unlinkable = synced.filter(erp_missing_since=run, kind=Commitment.Kind.PURCHASE_ORDER).first()
    assert commitment_unlink(user=approver, commitment_id=unlinkable.pk).message == "Successfully Unlinked"


def test_an_existing_company_needs_reset_and_reset_replaces_it():
    _generate()
    first = Company.objects.get(slug="gen").pk
    with pytest.raises(CommandError, match="--reset"):
        _generate()
    _generate("--reset")
    company = Company.objects.get(slug="gen")
    assert company.pk != first
    assert Commitment.objects.count() == 600
    references = set(
        Sage300Record.objects.using("sandbox_sage300").values_list("external_reference", flat=True)
    )
    assert references == {
        f"commitment-{pk}"
        for pk in Commitment.objects.filter(export_state="synced").values_list("pk", flat=True)
    } | {
        f"invoice-{pk}"
        for pk in SubcontractorInvoice.objects.filter(export_state="synced").values_list("pk", flat=True)
    }
