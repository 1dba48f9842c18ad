"""Jobs, vendors and cost codes: brought in by the sync, added, linked, exported, unlinked."""

import pytest

from accounts.models import PermissionLevel, Project, ProjectPermission
from accounts.permissions import AccessDenied, NotFound
from erp_integrations import selectors
from erp_integrations.master_kinds import COST_CODE, JOB, VENDOR
from erp_integrations.models import (
    AuditEntry,
    CostCode,
    ErpLink,
    ErpMasterEntry,
    ErpSystem,
    MasterExportState,
    SyncRun,
    Vendor,
)
from erp_integrations.sandbox.services import (
    sandbox_delete,
    sandbox_master_edit,
    sandbox_records,
    sandbox_set_mode,
)
from erp_integrations.services import master
from erp_integrations.services.results import Outcome
from tests import factories
from tests.erp_integrations.services.master_support import entry, in_erp, sync

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases="__all__")]

SAGE_300 = ErpSystem.SAGE_300_CRE.value
SAGE_100 = ErpSystem.SAGE_100_CONTRACTOR.value


@pytest.fixture
def company():
    return factories.company(name="Northwind")


@pytest.fixture
def approver(company):
    return factories.approver(company)


def _names(page):
    return [row.name for row in page.rows]


# --- the sync brings the ERP's master data in ---------------------------------------------
def test_sync_brings_in_the_erps_jobs_vendors_and_cost_codes_as_ready_to_import(company):
    in_erp(company, "job", id="26-0101", name="Harbor Tower")
    in_erp(company, "vendor", id="ACME", name="Acme Concrete", type="Subcontractor")
    in_erp(company, "cost_code", code="03-300", **{"class": "L"}, description="Concrete labor")

    run = sync(company)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert _names(selectors.master_ready_to_import(kind=JOB, company_id=company.pk)) == ["Harbor Tower"]
    assert _names(selectors.master_ready_to_import(kind=VENDOR, company_id=company.pk)) == ["Acme Concrete"]
    cost_code = entry(company, "cost_code", "03-300:L")
    assert (cost_code.name, cost_code.attrs) == ("Concrete labor", {"code": "03-300", "cost_class": "L"})
    assert entry(company, "vendor", "ACME").attrs == {"vendor_type": "Subcontractor"}


def test_sync_drops_what_was_deleted_in_the_erp_and_rewrites_only_what_changed(company):
    in_erp(company, "vendor", id="ACME", name="Acme Concrete", type="Subcontractor")
    in_erp(company, "vendor", id="BOLT", name="Bolt Steel", type="Supplier")
    sync(company)
    untouched = entry(company, "vendor", "BOLT").seen_at
    sandbox_delete(erp_system=SAGE_300, kind="vendor", erp_id="ACME")
    sandbox_master_edit(erp_system=SAGE_300, kind="vendor", erp_id="BOLT", values={"name": "Bolt Steel Inc"})
    in_erp(company, "vendor", id="CRANE", name="Crane Rental", type="Service")

    sync(company)

    assert sorted(ErpMasterEntry.objects.filter(company=company).values_list("erp_id", "name")) == [
        ("BOLT", "Bolt Steel Inc"),
        ("CRANE", "Crane Rental"),
    ]
    assert entry(company, "vendor", "BOLT").seen_at > untouched


def test_a_sync_with_the_erp_offline_leaves_the_master_data_as_it_was(company):
    in_erp(company, "vendor", id="ACME", name="Acme Concrete", type="Subcontractor")
    sync(company)
    sandbox_master_edit(erp_system=SAGE_300, kind="vendor", erp_id="ACME", values={"name": "Acme Two"})
    sandbox_set_mode(erp_system=SAGE_300, mode="offline")

    run = sync(company)

    assert run.status == SyncRun.Status.FAILED
    assert entry(company, "vendor", "ACME").name == "Acme Concrete"


def test_a_linked_vendor_renamed_in_the_erp_is_ready_to_update_and_update_takes_the_name(company, approver):
    in_erp(company, "vendor", id="ACME", name="Acme Concrete", type="Subcontractor")
    sync(company)
    result = master.master_entry_import(
        kind=VENDOR, user=approver, company=company, entry_id=entry(company, "vendor", "ACME").pk
    )
    assert result.ok, result.message
    assert selectors.master_ready_to_update(kind=VENDOR, company_id=company.pk).rows == []
    sandbox_master_edit(
        erp_system=SAGE_300, kind="vendor", erp_id="ACME", values={"name": "Acme Concrete LLC"}
    )
    sync(company)

    rows = selectors.master_ready_to_update(kind=VENDOR, company_id=company.pk).rows
    assert [(row.name, row.platform_name) for row in rows] == [("Acme Concrete LLC", "Acme Concrete")]

    result = master.master_record_update(
        kind=VENDOR, user=approver, company=company, record_id=rows[0].record_id
    )

    assert result.ok, result.message
    assert Vendor.objects.get(pk=rows[0].record_id).name == "Acme Concrete LLC"
    assert selectors.master_ready_to_update(kind=VENDOR, company_id=company.pk).rows == []


# --- add to the platform ------------------------------------------------------------------
def test_import_vendor_creates_directory_company_linked_to_the_erp_vendor(company, approver):
    in_erp(company, "vendor", id="ACME", name="Acme Concrete", type="Subcontractor")
    sync(company)

    result = master.master_entry_import(
        kind=VENDOR, user=approver, company=company, entry_id=entry(company, "vendor", "ACME").pk
    )

    assert result.ok and result.message == (
        "Vendor Acme Concrete was added to the platform from Sage 300 CRE® and linked to ACME."
    )
    vendor = Vendor.objects.get(company=company, name="Acme Concrete")
    assert vendor.erp_vendor_id == "ACME"
    link = ErpLink.objects.get(kind="vendor", record_id=vendor.pk, unlinked_at__isnull=True)
    assert (link.erp_id, link.linked_by) == ("ACME", approver)
    assert selectors.master_ready_to_import(kind=VENDOR, company_id=company.pk).rows == []
    assert _names(selectors.master_synced(kind=VENDOR, company_id=company.pk)) == ["Acme Concrete"]
    audit = AuditEntry.objects.get(record_type="vendor", record_id=vendor.pk)
    assert (audit.action, audit.outcome, audit.erp_id) == ("import", "success", "ACME")


def test_import_job_makes_a_project_numbered_by_the_job_with_the_templates_team(company, approver):
    template = factories.project(company=company, name="Template tower")
    pm = factories.user("pm", company=company, projects={template: PermissionLevel.ADMIN})
    in_erp(company, "job", id="26-0101", name="Harbor Tower")
    sync(company)

    result = master.master_entry_import(
        kind=JOB,
        user=approver,
        company=company,
        entry_id=entry(company, "job", "26-0101").pk,
        template_id=template.pk,
    )

    assert result.ok, result.message
    project = Project.objects.get(company=company, number="26-0101")
    assert (project.name, project.erp_job_id) == ("Harbor Tower", "26-0101")
    assert ProjectPermission.objects.get(project=project, user=pm).commitments_level == PermissionLevel.ADMIN


def test_import_cost_codes_makes_the_companys_standard_list(company, approver):
    in_erp(company, "cost_code", code="03-300", **{"class": "L"}, description="Concrete labor")
    sync(company)

    result = master.master_entry_import(
        kind=COST_CODE, user=approver, company=company, entry_id=entry(company, "cost_code", "03-300:L").pk
    )

    assert result.ok, result.message
    cost_code = CostCode.objects.get(company=company)
    assert (cost_code.code, cost_code.cost_class, cost_code.description, cost_code.erp_cost_code_id) == (
        "03-300",
        "L",
        "Concrete labor",
        "03-300:L",
    )


def test_import_is_refused_when_the_platform_has_that_vendor_already(company, approver):
    factories.vendor(company=company, name="acme concrete", synced=False)
    in_erp(company, "vendor", id="ACME", name="Acme Concrete", type="Subcontractor")
    sync(company)

    result = master.master_entry_import(
        kind=VENDOR, user=approver, company=company, entry_id=entry(company, "vendor", "ACME").pk
    )

    assert result.outcome == Outcome.CONFLICT
    assert "Vendor acme concrete is already in the platform; link it to vendor ACME" in result.message
    assert Vendor.objects.filter(company=company).count() == 1


def test_another_companys_entry_is_not_found(company, approver):
    other = factories.company(name="Other")
    in_erp(other, "vendor", id="ZED", name="Zed", type="Other")
    sync(other)

    with pytest.raises(NotFound):
        master.master_entry_import(
            kind=VENDOR, user=approver, company=company, entry_id=entry(other, "vendor", "ZED").pk
        )


# --- link -----------------------------------------------------------------------------------
def test_suggestions_offer_the_same_name_ignoring_case_first_and_near_names_with_a_score(company):
    same = factories.vendor(company=company, name="ACME CONCRETE", synced=False)
    near = factories.vendor(company=company, name="Acme Concrete Inc", synced=False)
    factories.vendor(company=company, name="Bolt Steel", synced=False)
    factories.vendor(company=company, name="Acme Concrete Co", synced=True)  # linked: not offered
    in_erp(company, "vendor", id="ACME", name="Acme Concrete", type="Subcontractor")
    sync(company)
    erp_vendor = entry(company, "vendor", "ACME")

    found = selectors.master_suggestions(kind=VENDOR, company_id=company.pk, entries=[erp_vendor])

    suggestions = found[erp_vendor.pk]
    assert [(s.record_id, s.exact) for s in suggestions] == [(same.pk, True), (near.pk, False)]
    assert suggestions[0].score == 1.0
    assert 0 < suggestions[1].score < 1


def test_link_ties_the_erp_job_to_a_project_that_exists_on_both_sides(company, approver):
    project = factories.project(company=company, name="Riverside Clinic", job=False)
    in_erp(company, "job", id="26-0102", name="Riverside Clinic (phase 1)")
    sync(company)

    result = master.master_entry_link(
        kind=JOB,
        user=approver,
        company=company,
        entry_id=entry(company, "job", "26-0102").pk,
        record_id=project.pk,
    )

    assert result.ok, result.message
    project.refresh_from_db()
    assert project.erp_job_id == "26-0102"
    # Linked to a differently named job: the names differ, so it is ready to update.
    assert _names(selectors.master_ready_to_update(kind=JOB, company_id=company.pk)) == [
        "Riverside Clinic (phase 1)"
    ]


def test_link_refuses_a_record_linked_already(company, approver):
    vendor = factories.vendor(company=company, name="Acme", synced=False)
    in_erp(company, "vendor", id="ACME", name="Acme", type="Subcontractor")
    in_erp(company, "vendor", id="ACME2", name="Acme", type="Subcontractor")
    sync(company)
    assert master.master_entry_link(
        kind=VENDOR,
        user=approver,
        company=company,
        entry_id=entry(company, "vendor", "ACME").pk,
        record_id=vendor.pk,
    ).ok

    result = master.master_entry_link(
        kind=VENDOR,
        user=approver,
        company=company,
        entry_id=entry(company, "vendor", "ACME2").pk,
        record_id=vendor.pk,
    )

    assert result.outcome == Outcome.CONFLICT
    assert result.message == "Vendor Acme is already linked to vendor ACME in Sage 300 CRE®."


def test_link_all_links_each_same_name_and_says_why_it_left_the_others(company, approver):
    acme = factories.vendor(company=company, name="Acme Concrete", synced=False)
    factories.vendor(company=company, name="Bolt Steel", synced=False)
    factories.vendor(company=company, name="bolt steel ", synced=False)  # not the same name
    twin_a = factories.vendor(company=company, name="Crane Rental", synced=False)
    Vendor.objects.filter(pk=twin_a.pk).update(name="CRANE RENTAL")
    factories.vendor(company=company, name="Crane rental", synced=False)
    in_erp(company, "vendor", id="ACME", name="ACME CONCRETE", type="Subcontractor")
    in_erp(company, "vendor", id="CRANE", name="Crane Rental", type="Service")
    in_erp(company, "vendor", id="DELTA", name="Delta Electric", type="Subcontractor")
    sync(company)

    results = master.master_link_all(kind=VENDOR, user=approver, company=company)

    outcome = {row.entry.erp_id: (row.result.ok, row.result.message) for row in results}
    assert set(outcome) == {"ACME", "CRANE"}
    assert outcome["ACME"][0] is True
    assert outcome["CRANE"] == (
        False,
        "Not linked: 2 vendors have this name (CRANE RENTAL, Crane rental); link one by hand.",
    )
    acme.refresh_from_db()
    assert acme.erp_vendor_id == "ACME"


# --- export --------------------------------------------------------------------------------
def test_export_vendor_checks_the_id_and_type_against_the_erps_format_before_calling_it(company, approver):
    vendor = factories.vendor(company=company, name="Granite Ridge", synced=False)

    result = master.master_record_export(
        kind=VENDOR,
        user=approver,
        company=company,
        record_id=vendor.pk,
        values={"id": "granite-ridge!", "type": "Cousin"},
    )

    assert result.outcome == Outcome.INVALID
    assert (
        "Vendor id: 'granite-ridge!' is not a vendor id of Sage 300 CRE®: 1 to 10 capital letters or digits."
        in (result.message)
    )
    assert "Vendor type: 'Cousin' is not a vendor type of Sage 300 CRE®" in result.message
    assert sandbox_records(SAGE_300).filter(kind="vendor").count() == 0
    assert not MasterExportState.objects.exists()


def test_export_vendor_refuses_an_id_the_erp_already_has_before_calling_it(company, approver):
    in_erp(company, "vendor", id="GRANITE", name="Granite Co", type="Supplier")
    sync(company)
    vendor = factories.vendor(company=company, name="Granite Ridge", synced=False)
    sandbox_set_mode(erp_system=SAGE_300, mode="offline")  # it is not asked

    result = master.master_record_export(
        kind=VENDOR,
        user=approver,
        company=company,
        record_id=vendor.pk,
        values={"id": "GRANITE", "type": "Supplier"},
    )

    assert result.outcome == Outcome.INVALID
    assert "Sage 300 CRE® already has vendor GRANITE (Granite Co)" in result.message


def test_export_vendor_makes_it_in_the_erp_and_links_it(company, approver):
    vendor = factories.vendor(company=company, name="Granite Ridge", synced=False)

    result = master.master_record_export(
        kind=VENDOR,
        user=approver,
        company=company,
        record_id=vendor.pk,
        values={"id": "GRANITE", "type": "Supplier"},
    )

    assert result.ok and result.message == "Exported to Sage 300 CRE® as vendor GRANITE."
    vendor.refresh_from_db()
    assert vendor.erp_vendor_id == "GRANITE"
    erp_vendor = sandbox_records(SAGE_300).get(kind="vendor", erp_id="GRANITE")
    assert erp_vendor.data == {"name": "Granite Ridge", "vendor_type": "Supplier"}
    # Not offered for import when the next sync sees it.
    sync(company)
    assert selectors.master_ready_to_import(kind=VENDOR, company_id=company.pk).rows == []


def test_export_job_follows_the_erps_job_mask_and_sage_100s_numbers():
    for erp_system, bad, good in ((SAGE_300, "2026-1", "26-0001"), (SAGE_100, "26-0001", "2601")):
        company = factories.company(erp_system=erp_system)
        approver = factories.approver(company, username=f"approver-{erp_system}")
        project = factories.project(company=company, job=False)
        refused = master.master_record_export(
            kind=JOB, user=approver, company=company, record_id=project.pk, values={"id": bad}
        )
        assert refused.outcome == Outcome.INVALID and "Job id:" in refused.message, refused.message
        done = master.master_record_export(
            kind=JOB, user=approver, company=company, record_id=project.pk, values={"id": good}
        )
        assert done.ok, done.message
        project.refresh_from_db()
        assert project.erp_job_id == good


def test_export_with_the_erp_offline_fails_and_lists_the_vendor_in_failed_to_export(company, approver):
    vendor = factories.vendor(company=company, name="Granite Ridge", synced=False)
    sandbox_set_mode(erp_system=SAGE_300, mode="offline")

    result = master.master_record_export(
        kind=VENDOR,
        user=approver,
        company=company,
        record_id=vendor.pk,
        values={"id": "GRANITE", "type": "Supplier"},
    )

    assert result.outcome == Outcome.ERP_FAILED
    vendor.refresh_from_db()
    assert vendor.erp_vendor_id is None
    failed = selectors.master_failed(kind=VENDOR, company_id=company.pk).rows
    assert [(row.name, row.export_message) for row in failed] == [
        ("Granite Ridge", "Sage 300 CRE® is not responding. Try again later.")
    ]
    assert selectors.master_ready_to_export(kind=VENDOR, company_id=company.pk).rows == []


def test_reject_needs_a_reason_and_takes_the_record_off_ready_to_export(company, approver):
    vendor = factories.vendor(company=company, name="Granite Ridge", synced=False)

    assert (
        master.master_record_reject(
            kind=VENDOR, user=approver, company=company, record_id=vendor.pk, reason=" "
        ).outcome
        == Outcome.INVALID
    )
    result = master.master_record_reject(
        kind=VENDOR, user=approver, company=company, record_id=vendor.pk, reason="Duplicate of Granite Co"
    )

    assert result.ok
    assert selectors.master_ready_to_export(kind=VENDOR, company_id=company.pk).rows == []
    assert MasterExportState.objects.get(record_id=vendor.pk).message == "Duplicate of Granite Co"


# --- unlink and archive ----------------------------------------------------------------------
def test_unlink_vendor_only_after_it_is_deleted_in_the_erp_and_a_sync_saw_it(company, approver):
    in_erp(company, "vendor", id="ACME", name="Acme Concrete", type="Subcontractor")
    sync(company)
    master.master_entry_import(
        kind=VENDOR, user=approver, company=company, entry_id=entry(company, "vendor", "ACME").pk
    )
    vendor = Vendor.objects.get(company=company, name="Acme Concrete")

    refused = master.master_record_unlink(kind=VENDOR, user=approver, company=company, record_id=vendor.pk)
    assert refused.message == "The vendor is still in Sage 300 CRE®. Please delete it before retrying."
    sandbox_delete(erp_system=SAGE_300, kind="vendor", erp_id="ACME")
    assert not master.master_record_unlink(
        kind=VENDOR, user=approver, company=company, record_id=vendor.pk
    ).ok

    sync(company)
    result = master.master_record_unlink(kind=VENDOR, user=approver, company=company, record_id=vendor.pk)

    assert result.ok and result.message == "Successfully Unlinked"
    vendor.refresh_from_db()
    assert vendor.erp_vendor_id is None
    assert not ErpLink.objects.filter(kind="vendor", record_id=vendor.pk, unlinked_at__isnull=True).exists()


def test_archive_hides_an_erp_vendor_from_ready_to_import_for_good(company, approver):
    in_erp(company, "vendor", id="OLD", name="Old Supplier", type="Supplier")
    sync(company)

    result = master.master_entry_archive(
        kind=VENDOR, user=approver, company=company, entry_id=entry(company, "vendor", "OLD").pk
    )
    sync(company)

    assert result.ok
    assert selectors.master_ready_to_import(kind=VENDOR, company_id=company.pk).rows == []


# --- permissions ---------------------------------------------------------------------------------
def test_master_data_needs_standard_on_erp_integrations_and_the_privilege(company):
    pm = factories.user("pm", company=company, erp_level=PermissionLevel.READ_ONLY)
    in_erp(company, "vendor", id="ACME", name="Acme Concrete", type="Subcontractor")
    sync(company)

    with pytest.raises(AccessDenied) as denied:
        master.master_entry_import(
            kind=VENDOR, user=pm, company=company, entry_id=entry(company, "vendor", "ACME").pk
        )

    assert str(denied.value) == (
        "Importing, exporting or linking jobs, vendors and cost codes needs 'Standard' or 'Admin' on the "
        "ERP Integrations tool, and the 'Can Push to Accounting' privilege in the Company Directory "
        "(this must be enabled for you by platform staff)."
    )
    assert not Vendor.objects.filter(company=company).exists()


def test_a_vendor_is_not_unlinked_while_commitments_exported_with_it_are_synced(company, approver):
    in_erp(company, "vendor", id="ACME", name="Acme Concrete", type="Subcontractor")
    sync(company)
    master.master_entry_import(
        kind=VENDOR, user=approver, company=company, entry_id=entry(company, "vendor", "ACME").pk
    )
    vendor = Vendor.objects.get(company=company, name="Acme Concrete")
    commitment = factories.link(
        factories.commitment(project=factories.project(company=company), vendor=vendor)
    )
    sandbox_delete(erp_system=SAGE_300, kind="vendor", erp_id="ACME")
    sync(company)

    result = master.master_record_unlink(kind=VENDOR, user=approver, company=company, record_id=vendor.pk)

    assert result.outcome == Outcome.CONFLICT
    assert result.message == (
        "Vendor Acme Concrete cannot be unlinked while records exported with it are synced with "
        f"Sage 300 CRE®: Commitment {commitment.number}. Unlink them first."
    )
    assert [child.pk for _kind, child in result.blocking] == [commitment.pk]
    vendor.refresh_from_db()
    assert vendor.erp_vendor_id == "ACME"
