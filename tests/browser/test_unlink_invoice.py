"""The article "Unlink Subcontractor Invoices Synced with ERP", on Sage 100 Contractor®, in clicks."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from erp_integrations.models import ErpConnection, ExportState, SubcontractorInvoice, SyncRun
from erp_integrations.services.sync import connection_sync
from tests.browser.steps import (
    GREEN_UNLINKED,
    RED_REQUISITION,
    assert_not_reloaded,
    click_row_action,
    delete_in_sandbox_console,
    erp_id,
    expect_green,
    expect_red,
    mark_page,
    open_erp_tool,
    open_tab,
    record_list,
    record_row,
    rows,
    search_list,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

COMPANY = "Lakeshore Contracting"
ERP = "Sage 100 Contractor®"
TAB = "Subcontractor Invoices"
SYNCED = f"Subcontractor Invoices - Synced with {ERP}"
READY = "Subcontractor Invoices - Ready to Export"


def test_invoice_deleted_in_sage_100_contractor_unlinks_after_the_sync_and_exports_again(
    demo, new_context, shots
):
    # Invoice 1 on SC-001 of Airport Terminal B: synced as a requisition.
    invoice = SubcontractorInvoice.objects.get(
        project__name="Airport Terminal B", commitment__number="SC-001", number="1"
    )
    old_erp_id = invoice.erp_id
    assert invoice.export_state == ExportState.SYNCED and old_erp_id

    # 1. Navigate to the company's ERP Integrations tool. 2. Click Subcontractor Invoices.
    page = sign_in(new_context(), "approver")
    open_erp_tool(page, COMPANY)
    open_tab(page, TAB)
    shots(page, "subcontractor-invoices-tab")

    # 3. Locate it under "Subcontractor Invoices - Synced with Sage 100 Contractor®".
    synced = record_list(page, SYNCED)
    search_list(page, synced, old_erp_id)
    row = record_row(synced, invoice.pk)
    expect(erp_id(row)).to_have_text(old_erp_id)
    expect(rows(synced)).to_have_count(1)
    shots(page, "located-in-synced-list")

    # 4. Click Unlink while the requisition is still in Sage 100 Contractor®: red, in place.
    mark_page(page)
    assert click_row_action(page, row, "Unlink").status == 409
    expect_red(row.get_by_test_id("row-message"), RED_REQUISITION)
    assert_not_reloaded(page)
    shots(page, "unlink-refused-still-in-erp")

    # Delete the requisition in Sage 100 Contractor® (the staff-only sandbox console).
    staff_page = sign_in(new_context(), "staff")
    delete_in_sandbox_console(staff_page, erp_name=ERP, erp_id=old_erp_id)
    shots(staff_page, "deleted-in-sage-100-contractor")

    # Not seen by a sync yet: still red, as the platform last saw the ERP.
    assert click_row_action(page, row, "Unlink").status == 409
    expect_red(row.get_by_test_id("row-message"), RED_REQUISITION)
    assert_not_reloaded(page)
    shots(page, "unlink-still-refused-before-sync")

    # The sync runs.
    run = connection_sync(
        connection_id=ErpConnection.objects.get(company__name=COMPANY).pk, trigger=SyncRun.Trigger.COMMAND
    )
    assert run is not None and run.status == SyncRun.Status.SUCCEEDED and run.missing_found == 1

    # Unlink: green 'Successfully Unlinked', on the same page.
    assert click_row_action(page, row, "Unlink").status == 200
    expect_green(row.get_by_test_id("row-message"), GREEN_UNLINKED)
    assert_not_reloaded(page)
    expect(row.get_by_role("button", name="Unlink")).to_have_count(0)
    shots(page, "unlinked")
    invoice.refresh_from_db()
    assert invoice.erp_id is None and invoice.export_state == ExportState.DRAFT

    # Editable again under its subcontract in the project's Commitments tool.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    project_row = page.get_by_role("row").filter(has_text="Airport Terminal B")
    project_row.get_by_role("link", name="Commitments").click()
    page.get_by_role("link", name="SC-001", exact=True).click()
    page.get_by_test_id("invoice-list").get_by_role("link", name="1", exact=True).click()
    expect(page.get_by_test_id("locked-reason")).to_have_count(0)
    shots(page, "invoice-unlocked")
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Amount").fill("38500.00")
    shots(page, "invoice-edited")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("field-amount")).to_have_text("38,500.00")

    # Send it to accounting again.
    page.get_by_role("button", name="Send to Accounting").click()
    heading = page.locator("header").filter(has=page.get_by_role("heading", level=1))
    expect(heading.get_by_test_id("export-state")).to_have_attribute("data-state", ExportState.READY)
    shots(page, "sent-to-accounting")

    # Export it again from "Subcontractor Invoices - Ready to Export".
    page.get_by_role("navigation", name="Main").get_by_role("link", name="ERP Integrations").click()
    open_tab(page, TAB)
    ready_row = record_row(record_list(page, READY), invoice.pk)
    expect(ready_row).to_contain_text("38,500.00")
    shots(page, "ready-to-export")
    mark_page(page)
    assert click_row_action(page, ready_row, "Export").status == 200
    expect_green(ready_row.get_by_test_id("row-message"), f"Exported to {ERP}")
    assert_not_reloaded(page)

    # Under Synced again, with a new requisition id.
    invoice.refresh_from_db()
    new_erp_id = invoice.erp_id
    assert invoice.export_state == ExportState.SYNCED
    assert new_erp_id and new_erp_id != old_erp_id
    expect(ready_row.get_by_test_id("row-message")).to_contain_text(new_erp_id)
    synced_row = record_row(record_list(page, SYNCED), invoice.pk)
    expect(erp_id(synced_row)).to_have_text(new_erp_id)
    expect(erp_id(synced_row)).to_have_text(re.compile(r"^RQ\d{6}$"))
    expect(synced_row.get_by_role("button", name="Unlink")).to_be_enabled()
    shots(page, "synced-with-new-erp-id")
