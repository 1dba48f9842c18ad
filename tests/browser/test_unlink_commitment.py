"""The article "Unlink Commitments Synced with Sage 300 CRE®", clicked through end to end."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from erp_integrations.models import Commitment, ErpConnection, ExportState, SyncRun
from erp_integrations.services.sync import connection_sync
from tests.browser.steps import (
    GREEN_UNLINKED,
    RED_COMMITMENT,
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
    row_cell,
    rows,
    search_list,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

COMPANY = "Northwind Builders"
SYNCED = "Commitments - Synced with Sage 300 CRE®"
READY = "Commitments - Ready to Export"


def test_commitment_deleted_in_sage_300_cre_unlinks_after_the_sync_and_exports_again(
    demo, new_context, shots
):
    # SC-002 of Harbor Tower: synced, with no synced invoices holding it.
    commitment = Commitment.objects.get(project__name="Harbor Tower", number="SC-002")
    old_erp_id = commitment.erp_id
    assert commitment.export_state == ExportState.SYNCED and old_erp_id

    # 1. Navigate to the company's ERP Integrations tool.
    page = sign_in(new_context(), "approver")
    shots(page, "signed-in")
    open_erp_tool(page, COMPANY)
    # 2. Click Commitments.
    open_tab(page, "Commitments")
    # The tab says what the sync has (not yet) seen and when it runs next.
    expect(page.get_by_test_id("last-sync")).to_contain_text("No sync has completed yet")
    expect(page.get_by_test_id("next-sync")).to_contain_text("hourly, on the hour")
    shots(page, "commitments-tab")

    # 3. Locate the commitment under "Commitments - Synced with Sage 300 CRE®".
    synced = record_list(page, SYNCED)
    search_list(page, synced, old_erp_id)
    row = record_row(synced, commitment.pk)
    expect(erp_id(row)).to_have_text(old_erp_id)
    expect(rows(synced)).to_have_count(1)
    shots(page, "located-in-synced-list")

    # 4. Click Unlink while the commitment is still in Sage 300 CRE®: red, in place.
    mark_page(page)
    assert click_row_action(page, row, "Unlink").status == 409
    expect_red(row.get_by_test_id("row-message"), RED_COMMITMENT)
    assert_not_reloaded(page)
    shots(page, "unlink-refused-still-in-erp")

    # Delete it in Sage 300 CRE® (the sandbox console; staff only, so a second browser).
    staff_page = sign_in(new_context(), "staff")
    delete_in_sandbox_console(staff_page, erp_name="Sage 300 CRE®", erp_id=old_erp_id)
    shots(staff_page, "deleted-in-sage-300-cre")

    # Deleted in the ERP, but no sync has seen it yet: Unlink is still red.
    assert click_row_action(page, row, "Unlink").status == 409
    expect_red(row.get_by_test_id("row-message"), RED_COMMITMENT)
    assert_not_reloaded(page)
    shots(page, "unlink-still-refused-before-sync")

    # The hourly sync runs and sees the ERP record gone.
    run = connection_sync(
        connection_id=ErpConnection.objects.get(company__name=COMPANY).pk, trigger=SyncRun.Trigger.COMMAND
    )
    assert run is not None and run.status == SyncRun.Status.SUCCEEDED and run.missing_found == 1

    # Unlink again, on the same page: green 'Successfully Unlinked', no reload; the
    # sync panel, which said no sync had completed, now says the last one succeeded.
    assert click_row_action(page, row, "Unlink").status == 200
    expect_green(row.get_by_test_id("row-message"), GREEN_UNLINKED)
    assert_not_reloaded(page)
    expect(row.get_by_role("button", name="Unlink")).to_have_count(0)
    expect(page.get_by_test_id("last-sync-outcome")).to_have_text("Succeeded")
    expect(page.get_by_test_id("last-sync")).not_to_contain_text("No sync has completed yet")
    shots(page, "unlinked")
    commitment.refresh_from_db()
    assert commitment.erp_id is None and commitment.export_state == ExportState.DRAFT

    # The commitment is editable again in the project's Commitments tool: the green
    # message links to it.
    row.get_by_role("link", name="Edit in the Commitments tool").click()
    expect(page.get_by_test_id("commitment-number")).to_have_text("SC-002")
    expect(page.get_by_test_id("locked-reason")).to_have_count(0)
    shots(page, "commitment-unlocked")
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Title").fill("Electrical rough-in, rev B")
    shots(page, "commitment-edited")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("commitment-title")).to_have_text("Electrical rough-in, rev B")

    # Send it to accounting again.
    page.get_by_role("button", name="Send to Accounting").click()
    heading = page.locator("header").filter(has=page.get_by_role("heading", level=1))
    expect(heading.get_by_test_id("export-state")).to_have_attribute("data-state", ExportState.READY)
    shots(page, "sent-to-accounting")

    # Export it again from the tool's "Ready to Export" list.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="ERP Integrations").click()
    open_tab(page, "Commitments")
    expect(page.get_by_test_id("last-sync")).to_contain_text("Succeeded")
    ready = record_list(page, READY)
    ready_row = record_row(ready, commitment.pk)
    expect(row_cell(ready_row, 2)).to_contain_text("Electrical rough-in, rev B")
    shots(page, "ready-to-export")
    mark_page(page)
    assert click_row_action(page, ready_row, "Export").status == 200
    expect_green(ready_row.get_by_test_id("row-message"), "Exported to Sage 300 CRE®")
    assert_not_reloaded(page)

    # It is under Synced again, with a new ERP id.
    commitment.refresh_from_db()
    new_erp_id = commitment.erp_id
    assert commitment.export_state == ExportState.SYNCED
    assert new_erp_id and new_erp_id != old_erp_id
    expect(ready_row.get_by_test_id("row-message")).to_contain_text(new_erp_id)
    synced_row = record_row(record_list(page, SYNCED), commitment.pk)
    expect(erp_id(synced_row)).to_have_text(new_erp_id)
    expect(erp_id(synced_row)).to_have_text(re.compile(r"^JC-\d{7}$"))
    expect(synced_row.get_by_role("button", name="Unlink")).to_be_enabled()
    shots(page, "synced-with-new-erp-id")
