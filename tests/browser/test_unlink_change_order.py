"""A commitment change order's unlink story, clicked through on both ERPs.

The seeds' rule holds for CCOs too: red while the CCO is in the ERP, still red once it
is deleted there until a sync has seen it gone, then green; the CCO is then edited in
the project's Commitments tool, sent again and exported, and gets a new ERP id.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from erp_integrations.models import CommitmentChangeOrder, ErpConnection, ExportState, SyncRun
from erp_integrations.services.sync import connection_sync
from tests.browser.steps import (
    GREEN_UNLINKED,
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
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

TAB = "Commitment Change Orders"


@pytest.mark.parametrize(
    ("company", "project", "erp_name", "new_id"),
    [
        ("Northwind Builders", "Harbor Tower", "Sage 300 CRE®", r"^CCO-\d{7}$"),
        ("Lakeshore Contracting", "Airport Terminal B", "Sage 100 Contractor®", r"^CO\d{6}$"),
    ],
)
def test_a_cco_deleted_in_the_erp_unlinks_after_the_sync_and_exports_again(
    demo, new_context, shots, company, project, erp_name, new_id
):
    # CO-01 on SC-001: synced with the ERP.
    cco = CommitmentChangeOrder.objects.get(
        project__name=project, commitment__number="SC-001", number="CO-01"
    )
    old_erp_id = cco.erp_id
    assert cco.export_state == ExportState.SYNCED and old_erp_id
    red = f"The CCO is still in {erp_name}. Please delete it before retrying."
    synced_title = f"Change Orders - Successfully Synced with {erp_name}"

    page = sign_in(new_context(), "approver")
    open_erp_tool(page, company)
    open_tab(page, TAB)
    synced = record_list(page, synced_title)
    expect(record_list(page, "Change Orders - Ready to Export")).to_be_visible()
    expect(record_list(page, "Change Orders - Failed to Export")).to_be_visible()
    row = record_row(synced, cco.pk)
    expect(erp_id(row)).to_have_text(old_erp_id)
    shots(page, f"cco-tab-{cco.company.erp_connection.erp_system}")

    # Unlink while the CCO is still in the ERP: red, in place.
    mark_page(page)
    assert click_row_action(page, row, "Unlink").status == 409
    expect_red(row.get_by_test_id("row-message"), red)
    assert_not_reloaded(page)

    # Deleted in the ERP, but no sync has seen it yet: still red.
    staff_page = sign_in(new_context(), "staff")
    delete_in_sandbox_console(staff_page, erp_name=erp_name, erp_id=old_erp_id)
    assert click_row_action(page, row, "Unlink").status == 409
    expect_red(row.get_by_test_id("row-message"), red)

    # The sync sees it gone; Unlink is green, on the same page.
    run = connection_sync(
        connection_id=ErpConnection.objects.get(company__name=company).pk, trigger=SyncRun.Trigger.COMMAND
    )
    assert run is not None and run.status == SyncRun.Status.SUCCEEDED and run.missing_found == 1
    assert click_row_action(page, row, "Unlink").status == 200
    expect_green(row.get_by_test_id("row-message"), GREEN_UNLINKED)
    assert_not_reloaded(page)
    shots(page, f"cco-unlinked-{cco.company.erp_connection.erp_system}")

    # Edit it in the project's Commitments tool, where the green message leads.
    row.get_by_role("link", name="Edit in the Commitments tool").click()
    expect(page.get_by_test_id("cco-number")).to_have_text("CO-01")
    expect(page.get_by_test_id("locked-reason")).to_have_count(0)
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Title").fill("Added footing, rev B")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("cco-title")).to_have_text("Added footing, rev B")

    # Send it to accounting again, and export it from the tool's Ready to Export list.
    page.get_by_role("button", name="Send to Accounting").click()
    expect(page.get_by_test_id("export-state").first).to_have_attribute("data-state", ExportState.READY)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="ERP Integrations").click()
    open_erp_tool(page, company)
    open_tab(page, TAB)
    ready_row = record_row(record_list(page, "Change Orders - Ready to Export"), cco.pk)
    expect(row_cell(ready_row, 2)).to_contain_text("Added footing, rev B")
    mark_page(page)
    assert click_row_action(page, ready_row, "Export").status == 200
    expect_green(ready_row.get_by_test_id("row-message"), f"Exported to {erp_name}")
    assert_not_reloaded(page)

    # Synced again, with a new ERP id.
    cco.refresh_from_db()
    assert cco.export_state == ExportState.SYNCED and cco.erp_id != old_erp_id
    synced_row = record_row(record_list(page, synced_title), cco.pk)
    expect(erp_id(synced_row)).to_have_text(re.compile(new_id))
    expect(erp_id(synced_row)).to_have_text(cco.erp_id)
    shots(page, f"cco-exported-again-{cco.company.erp_connection.erp_system}")
