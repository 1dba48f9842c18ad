"""Without JavaScript, Unlink is a plain form: POST, redirect, and the same words."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from erp_integrations.models import Commitment, ErpConnection, ExportState, SyncRun
from erp_integrations.services.sync import connection_sync
from tests.browser.steps import (
    GREEN_UNLINKED,
    RED_COMMITMENT,
    delete_in_sandbox_console,
    expect_green,
    expect_red,
    open_erp_tool,
    open_tab,
    record_list,
    record_row,
    rows,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

COMPANY = "Northwind Builders"
SYNCED = "Commitments - Synced with Sage 300 CRE®"


def _unlink_with_a_plain_form(page, row) -> int:
    """Click Unlink; the browser posts the form and follows the redirect. The POST's status."""
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/unlink/")) as reply:
        row.get_by_role("button", name="Unlink").click()
    page.wait_for_load_state()
    return reply.value.status


def test_unlink_works_as_a_plain_form_without_javascript(demo, new_context, shots):
    commitment = Commitment.objects.get(project__name="Riverside Clinic", number="PO-001")
    erp_id = commitment.erp_id
    page = sign_in(new_context(java_script_enabled=False), "approver")
    open_erp_tool(page, COMPANY)
    open_tab(page, "Commitments")

    # Search the synced list the old way: the form is submitted and the page reloads.
    synced = record_list(page, SYNCED)
    synced.get_by_role("searchbox").fill(erp_id)
    synced.get_by_role("searchbox").press("Enter")
    in_synced_list = re.compile(rf"/erp/commitments/\?synced-q={erp_id}$")
    expect(page).to_have_url(in_synced_list)
    synced = record_list(page, SYNCED)
    row = record_row(synced, commitment.pk)
    expect(rows(synced)).to_have_count(1)
    shots(page, "located-without-javascript")

    # Unlink: POST, redirect back to the same list scrolled to the row, and the
    # articles' red words under it, as with JavaScript.
    assert _unlink_with_a_plain_form(page, row) == 302
    row_anchor = f"#synced-commitment-{commitment.pk}"
    expect(page).to_have_url(re.compile(rf"/erp/commitments/\?synced-q={erp_id}{row_anchor}$"))
    expect_red(row.get_by_test_id("row-message"), RED_COMMITMENT)
    expect(row.get_by_test_id("row-message")).to_be_in_viewport()
    expect(page.get_by_test_id("messages")).to_have_count(0)
    shots(page, "unlink-refused-after-redirect")

    # Deleted in Sage 300 CRE® (the console is plain forms too) and seen by a sync.
    staff_page = sign_in(new_context(java_script_enabled=False), "staff")
    delete_in_sandbox_console(staff_page, erp_name="Sage 300 CRE®", erp_id=erp_id)
    run = connection_sync(
        connection_id=ErpConnection.objects.get(company__name=COMPANY).pk, trigger=SyncRun.Trigger.COMMAND
    )
    assert run is not None and run.missing_found == 1

    # Unlink again (the page as it was): green, at the top of the synced list the
    # commitment has left, where the page is scrolled to, with the next step.
    assert _unlink_with_a_plain_form(page, record_row(record_list(page, SYNCED), commitment.pk)) == 302
    expect(page).to_have_url(re.compile(rf"/erp/commitments/\?synced-q={erp_id}#commitments-synced$"))
    synced = record_list(page, SYNCED)
    expect_green(synced.get_by_test_id("list-message"), GREEN_UNLINKED)
    expect(synced.get_by_test_id("list-message")).to_be_in_viewport()
    expect(record_row(synced, commitment.pk)).to_have_count(0)
    shots(page, "unlinked-after-redirect")
    commitment.refresh_from_db()
    assert commitment.erp_id is None and commitment.export_state == ExportState.DRAFT

    # The next step: the commitment's page in the project's Commitments tool, unlocked.
    synced.get_by_role("link", name="Edit in the Commitments tool").click()
    expect(page.get_by_test_id("commitment-number")).to_have_text("PO-001")
    expect(page.get_by_test_id("locked-reason")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit", exact=True)).to_be_visible()
