"""A user who lacks a requirement sees the button disabled and which requirement is missing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from erp_integrations.models import AuditEntry, Commitment, ExportState
from tests.browser.steps import (
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
READY = "Commitments - Ready to Export"
# pm has 'Admin' on Commitments and 'Standard' on ERP Integrations, but not the privilege.
MISSING_PRIVILEGE = re.compile(
    r"Unlink needs the 'Can Push to Accounting' privilege in the Company Directory"
)


def test_pm_sees_unlink_disabled_with_the_missing_privilege_named(demo, new_context, shots):
    commitment = Commitment.objects.get(project__name="Harbor Tower", number="SC-002")
    page = sign_in(new_context(), "pm")
    open_erp_tool(page, COMPANY)
    open_tab(page, "Commitments")

    synced = record_list(page, SYNCED)
    row = record_row(synced, commitment.pk)
    unlink = row.get_by_role("button", name="Unlink")
    expect(unlink).to_be_disabled()
    # The reason is on the page (by the row, or once above the list when every row
    # shares it) and is the disabled button's accessible description.
    expect(unlink).to_have_accessible_description(MISSING_PRIVILEGE)
    expect(synced.get_by_text(MISSING_PRIVILEGE).first).to_be_visible()
    # Every Unlink in the list is disabled for pm, not only this one.
    expect(synced.get_by_role("button", name="Unlink", disabled=False)).to_have_count(0)
    # Export on a ready record needs the same three; pm lacks the same one.
    ready_row = rows(record_list(page, READY)).first
    expect(ready_row.get_by_role("button", name="Export")).to_be_disabled()
    expect(ready_row.get_by_role("button", name="Export")).to_have_accessible_description(
        re.compile(r"Export and Reject need the 'Can Push to Accounting' privilege")
    )
    shots(page, "pm-unlink-disabled-with-reason")

    # The server decides, not the button: a forced click (the form posted anyway) is
    # refused with the same reason, and nothing is unlinked.
    unlink.evaluate("button => button.removeAttribute('disabled')")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/unlink/")) as reply:
        unlink.click()
    assert reply.value.status == 302
    expect_red(row.get_by_test_id("row-message"), "'Can Push to Accounting'")
    shots(page, "pm-forced-unlink-refused")
    commitment.refresh_from_db()
    assert commitment.export_state == ExportState.SYNCED and commitment.erp_id
    assert not AuditEntry.objects.filter(action="unlink", outcome=AuditEntry.Outcome.SUCCESS).exists()
    # The forced click is kept in the audit trail, refused, with the reason.
    refused = AuditEntry.objects.get(action="unlink", user__username="pm")
    assert (refused.outcome, refused.record_id) == (AuditEntry.Outcome.REFUSED, commitment.pk)
    assert "'Can Push to Accounting'" in refused.message
