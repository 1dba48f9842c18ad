"""Master data in the browser: import, link, Link All, export, and the commitment that
waits for its vendor (issue: jobs, vendors and cost codes)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Project
from erp_integrations.models import Commitment, CommitmentLineItem, ExportState, Vendor
from erp_integrations.sandbox.services import sandbox_records
from tests.browser.steps import (
    expect_green,
    expect_red,
    open_erp_tool,
    record_row,
    rows,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

COMPANY = "Northwind Builders"


def open_master_tab(page: Page, name: str) -> None:
    open_erp_tool(page, COMPANY)
    nav = page.get_by_role("navigation", name="ERP Integrations")
    nav.get_by_role("link", name=name, exact=True).click()
    expect(nav.get_by_role("link", name=name, exact=True)).to_have_attribute("aria-current", "page")


def erp_row(page: Page, erp_id: str):
    row = page.locator(f'[data-testid="master-row"][data-erp-id="{erp_id}"]')
    expect(row).to_be_visible()
    return row


def post_from(page: Page, button, path: str):
    with page.expect_response(lambda r: r.request.method == "POST" and path in r.url) as reply:
        button.click()
    return reply.value


def test_import_a_vendor_from_the_erp(demo, new_context, shots):
    page = sign_in(new_context(), "approver")
    open_master_tab(page, "Companies")
    row = erp_row(page, "NORTHSTA")
    expect(row).to_contain_text("Northstar Crane Rental")

    reply = post_from(
        page, row.get_by_role("button", name="Add Northstar Crane Rental to the platform"), "/import/"
    )

    assert reply.status == 200
    expect_green(
        page.get_by_test_id("row-message"),
        "Vendor Northstar Crane Rental was added to the platform from Sage 300 CRE® and linked to NORTHSTA.",
    )
    shots(page, "imported")
    assert (
        Vendor.objects.get(company__name=COMPANY, name="Northstar Crane Rental").erp_vendor_id == "NORTHSTA"
    )


def test_link_a_vendor_by_its_suggested_match(demo, new_context, shots):
    page = sign_in(new_context(), "approver")
    open_master_tab(page, "Companies")
    row = erp_row(page, "CASCADE")
    suggestion = row.get_by_test_id("suggestion")
    expect(suggestion).to_contain_text("Cascade Plumbing")
    expect(suggestion.get_by_test_id("suggestion-score")).to_have_text(re.compile(r"0\.\d\d alike"))
    shots(page, "suggested")

    post_from(page, row.get_by_role("button", name="Link Cascade Plumbing Co to Cascade Plumbing"), "/link/")

    expect_green(
        page.get_by_test_id("row-message"),
        "Vendor Cascade Plumbing is linked to vendor CASCADE (Cascade Plumbing Co) in Sage 300 CRE®.",
    )
    assert Vendor.objects.get(company__name=COMPANY, name="Cascade Plumbing").erp_vendor_id == "CASCADE"


def test_link_all_links_each_same_name_with_a_result_per_row(demo, new_context, shots):
    # A directory company with the ERP vendor's name, but for case.
    Vendor.objects.create(
        company=Vendor.objects.filter(company__name=COMPANY).first().company, name="NORTHSTAR CRANE RENTAL"
    )
    page = sign_in(new_context(), "approver")
    open_master_tab(page, "Companies")

    post_from(page, page.get_by_role("button", name="Link All suggested"), "/link-all/")

    expect(page.get_by_test_id("link-all-summary")).to_have_text(
        "Link All linked 1 of 1 vendors with a matching name."
    )
    expect_green(
        page.get_by_test_id("link-all-result"),
        "NORTHSTA Northstar Crane Rental: Vendor NORTHSTAR CRANE RENTAL is linked to vendor NORTHSTA",
    )
    shots(page, "linked-all")


def test_export_a_vendor_whose_id_is_checked_first(demo, new_context, shots):
    page = sign_in(new_context(), "approver")
    open_master_tab(page, "Companies")
    ready = page.get_by_role("region", name="Companies - Ready to Export")
    row = ready.locator('[data-testid="master-row"][data-name="Cascade Plumbing"]')

    row.get_by_label("Vendor id").fill("cascade")
    row.get_by_label("Vendor type").select_option("Subcontractor")
    reply = post_from(page, row.get_by_role("button", name="Export"), "/export/")
    assert reply.status == 422
    expect_red(row.get_by_test_id("row-message"), "Vendor id: 'cascade' is not a vendor id of Sage 300 CRE®")
    shots(page, "id-refused")

    row.get_by_label("Vendor id").fill("CASCADE")
    row.get_by_label("Vendor type").select_option("Subcontractor")
    reply = post_from(page, row.get_by_role("button", name="Export"), "/export/")
    assert reply.status == 422
    expect_red(
        row.get_by_test_id("row-message"), "Sage 300 CRE® already has vendor CASCADE (Cascade Plumbing Co)"
    )

    row.get_by_label("Vendor id").fill("CASCADEP")
    row.get_by_label("Vendor type").select_option("Subcontractor")
    post_from(page, row.get_by_role("button", name="Export"), "/export/")
    expect_green(page.get_by_test_id("row-message"), "Exported to Sage 300 CRE® as vendor CASCADEP.")
    shots(page, "exported")
    assert sandbox_records("sage300").get(kind="vendor", erp_id="CASCADEP").data["name"] == "Cascade Plumbing"


def test_link_a_job_that_exists_on_both_sides(demo, new_context, shots):
    page = sign_in(new_context(), "approver")
    open_master_tab(page, "Projects")
    row = erp_row(page, "26-1004")
    expect(row.get_by_test_id("suggestion-name")).to_have_text("Bayview Offices")

    post_from(
        page, row.get_by_role("button", name="Link Bayview Offices Phase 2 to Bayview Offices"), "/link/"
    )

    expect_green(page.get_by_test_id("row-message"), "Project Bayview Offices is linked to job 26-1004")
    shots(page, "job-linked")
    assert Project.objects.get(company__name=COMPANY, name="Bayview Offices").erp_job_id == "26-1004"


def test_a_commitment_waits_for_its_vendor_then_exports(demo, new_context, shots):
    project = Project.objects.get(company__name=COMPANY, name="Harbor Tower")
    vendor = Vendor.objects.get(company=project.company, name="Cascade Plumbing")
    commitment = Commitment.objects.create(
        company=project.company,
        project=project,
        vendor=vendor,
        number="SC-900",
        title="Domestic water",
        status=Commitment.Status.APPROVED,
        export_state=ExportState.READY,
        amount=Decimal("12500.00"),
    )
    CommitmentLineItem.objects.create(commitment=commitment, cost_code="22-100", amount=Decimal("12500.00"))
    page = sign_in(new_context(), "approver")
    open_erp_tool(page, COMPANY)
    ready = page.get_by_role("region", name="Commitments - Ready to Export")
    ready.get_by_role("searchbox").fill("SC-900")
    row = record_row(ready, commitment.pk)
    # The search has answered: its row is the list's only one (a late answer would replace
    # the list, and the refusal with it).
    expect(rows(ready)).to_have_count(1)
    expect(row).to_be_visible()

    reply = post_from(page, row.get_by_role("button", name=re.compile("^Export SC-900")), "/export/")

    assert reply.status == 422
    message = record_row(page, commitment.pk).get_by_test_id("row-message")
    expect_red(message, "Vendor Cascade Plumbing is not linked with Sage 300 CRE® yet")
    shots(page, "commitment-refused")
    # The link under the refusal (the Failed to Export list, refreshed meanwhile, shows the
    # same record with its own "Link Vendor Cascade Plumbing").
    record_row(page, commitment.pk).get_by_test_id("blocking-link").filter(
        has_text="Vendor Cascade Plumbing"
    ).click()

    expect(page).to_have_url(re.compile(r"/erp/data/companies/\?ready-q=Cascade\+Plumbing"))
    fix = page.get_by_role("region", name="Companies - Ready to Export").locator(
        '[data-testid="master-row"][data-name="Cascade Plumbing"]'
    )
    fix.get_by_label("Vendor id").fill("CASCADEP")
    fix.get_by_label("Vendor type").select_option("Subcontractor")
    post_from(page, fix.get_by_role("button", name="Export"), "/export/")
    expect_green(page.get_by_test_id("row-message"), "Exported to Sage 300 CRE® as vendor CASCADEP.")
    shots(page, "vendor-exported")

    page.get_by_role("navigation", name="ERP Integrations").get_by_role(
        "link", name="Commitments", exact=True
    ).click()
    failed = page.get_by_role("region", name="Commitments - Failed to Export")
    row = record_row(failed, commitment.pk)
    expect(row).to_be_visible()
    post_from(page, row.get_by_role("button", name=re.compile("^Export SC-900")), "/export/")
    expect_green(
        record_row(page, commitment.pk).get_by_test_id("row-message"),
        re.compile(r"Exported to Sage 300 CRE® as JC-\d+"),
    )
    shots(page, "commitment-exported")
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED
