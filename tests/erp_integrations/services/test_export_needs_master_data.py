"""A commitment, invoice or CCO whose vendor or job is not linked fails before the ERP is called."""

import pytest

from erp_integrations.kinds import CCO, COMMITMENT, INVOICE
from erp_integrations.master_kinds import JOB, VENDOR
from erp_integrations.models import ErpSystem, ExportState
from erp_integrations.sandbox.services import sandbox_records, sandbox_set_mode
from erp_integrations.services.exports import record_export
from erp_integrations.services.results import Outcome
from tests import factories

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases="__all__")]


@pytest.mark.parametrize("erp_system", [ErpSystem.SAGE_300_CRE.value, ErpSystem.SAGE_100_CONTRACTOR.value])
def test_export_of_a_commitment_whose_vendor_is_not_linked_fails_naming_the_vendor(erp_system):
    company = factories.company(erp_system=erp_system)
    project = factories.project(company=company)
    approver = factories.approver(company, project)
    vendor = factories.vendor(company=company, name="Granite Ridge", synced=False)
    commitment = factories.commitment(project=project, vendor=vendor, export_state=ExportState.READY)
    # Were the ERP called, an offline ERP would answer 502; the check comes first.
    sandbox_set_mode(erp_system=erp_system, mode="offline")

    result = record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    erp = ErpSystem(erp_system).label
    assert result.outcome == Outcome.INVALID
    assert (
        f"Vendor Granite Ridge is not linked with {erp} yet: link or export it on the Companies tab first."
        in result.message
    )
    assert result.blocking == ((VENDOR, vendor),)
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.FAILED and commitment.erp_id is None
    assert "Vendor Granite Ridge is not linked" in commitment.export_error
    assert sandbox_records(erp_system).filter(kind="commitment").count() == 0


def test_export_of_a_commitment_whose_project_has_no_job_names_the_project_and_its_tab():
    company = factories.company()
    project = factories.project(company=company, name="Harbor Tower", job=False)
    approver = factories.approver(company, project)
    commitment = factories.commitment(project=project, export_state=ExportState.READY)

    result = record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert result.outcome == Outcome.INVALID
    assert (
        "Project Harbor Tower is not linked with Sage 300 CRE® yet: link or export it on the Projects tab"
        in (result.message)
    )
    assert result.blocking == ((JOB, project),)
    assert JOB.detail_url(project).endswith(f"#ready-job-{project.pk}")


def test_both_missing_are_named_vendor_first():
    company = factories.company()
    project = factories.project(company=company, job=False)
    approver = factories.approver(company, project)
    vendor = factories.vendor(company=company, synced=False)
    commitment = factories.commitment(project=project, vendor=vendor, export_state=ExportState.READY)

    result = record_export(kind=COMMITMENT, user=approver, record_id=commitment.pk)

    assert [kind for kind, _target in result.blocking] == [VENDOR, JOB]


def test_invoices_and_change_orders_need_their_vendor_linked_too():
    company = factories.company()
    project = factories.project(company=company)
    approver = factories.approver(company, project)
    vendor = factories.vendor(company=company)
    commitment = factories.link(factories.commitment(project=project, vendor=vendor))
    invoice = factories.invoice(commitment=commitment, export_state=ExportState.READY)
    change_order = factories.change_order(commitment=commitment, export_state=ExportState.READY)
    type(vendor).objects.filter(pk=vendor.pk).update(erp_vendor_id=None)  # unlinked since

    for kind, record in ((INVOICE, invoice), (CCO, change_order)):
        result = record_export(kind=kind, user=approver, record_id=record.pk)
        assert result.outcome == Outcome.INVALID, kind.slug
        assert result.blocking == ((VENDOR, vendor),)
