"""Reject asks for a reason in a dialog fetched when it is opened; without JavaScript, on a page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from erp_integrations.models import Commitment, ExportState
from tests.browser.steps import (
    assert_not_reloaded,
    expect_green,
    mark_page,
    open_erp_tool,
    open_tab,
    record_list,
    rows,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

COMPANY = "Northwind Builders"
READY = "Commitments - Ready to Export"
REJECTED = re.compile(r"was rejected\. It can be edited and sent to accounting again\.")


def _first_ready_row(page):
    row = rows(record_list(page, READY)).first
    expect(row).to_be_visible()
    record = Commitment.objects.get(pk=int(row.get_attribute("id").rpartition("-")[2]))
    assert record.export_state == ExportState.READY
    return row, record


def test_reject_opens_a_dialog_that_takes_focus_closes_with_esc_and_rejects(demo, new_context, shots):
    page = sign_in(new_context(), "approver")
    open_erp_tool(page, COMPANY)
    open_tab(page, "Commitments")
    mark_page(page)
    row, record = _first_ready_row(page)
    opener = row.get_by_role("link", name="Reject")

    opener.click()
    dialog = page.get_by_role("dialog", name=f"Reject {record.number}")
    expect(dialog).to_be_visible()
    reason = dialog.get_by_label(f"Reason for rejecting {record.number}")
    expect(reason).to_be_focused()
    shots(page, "reject-dialog")

    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(opener).to_be_focused()

    opener.click()
    dialog = page.get_by_role("dialog", name=f"Reject {record.number}")
    expect(dialog).to_be_visible()
    dialog.get_by_label(f"Reason for rejecting {record.number}").fill("Wrong cost code")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/reject/")) as reply:
        dialog.get_by_role("button", name="Reject").click()

    assert reply.value.status == 200
    expect(dialog).to_have_count(0)
    expect_green(page.get_by_test_id("row-message").filter(has_text=REJECTED), record.number)
    assert_not_reloaded(page)
    record.refresh_from_db()
    assert (record.export_state, record.rejection_reason) == (ExportState.REJECTED, "Wrong cost code")


def test_without_javascript_reject_opens_a_page_with_the_same_form(demo, new_context, shots):
    page = sign_in(new_context(java_script_enabled=False), "approver")
    open_erp_tool(page, COMPANY)
    open_tab(page, "Commitments")
    row, record = _first_ready_row(page)
    tab = page.url

    row.get_by_role("link", name="Reject").click()
    expect(page.get_by_role("heading", name=f"Reject {record.number}")).to_be_visible()
    page.get_by_label(f"Reason for rejecting {record.number}").fill("Duplicate")
    shots(page, "reject-page")
    page.get_by_role("button", name="Reject").click()
    page.wait_for_load_state()

    assert page.url.split("#")[0] == tab.split("#")[0]
    expect(page.get_by_text(REJECTED).first).to_be_visible()
    record.refresh_from_db()
    assert (record.export_state, record.rejection_reason) == (ExportState.REJECTED, "Duplicate")
