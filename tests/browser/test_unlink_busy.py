"""While an Unlink request runs, its button is disabled: a second click cannot send it twice."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Request, Route, expect

from erp_integrations.models import AuditEntry, Commitment
from tests.browser.steps import (
    RED_COMMITMENT,
    expect_red,
    open_erp_tool,
    open_tab,
    record_list,
    record_row,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

SYNCED = "Commitments - Synced with Sage 300 CRE®"


def test_unlink_button_is_disabled_while_its_request_runs(demo, new_context, shots):
    commitment = Commitment.objects.get(project__name="Elm Street Lofts", number="SC-002")
    page = sign_in(new_context(), "approver")
    open_erp_tool(page, "Northwind Builders")
    open_tab(page, "Commitments")
    row = record_row(record_list(page, SYNCED), commitment.pk)
    unlink = row.get_by_role("button", name="Unlink")
    expect(unlink).to_be_enabled()

    # Hold the request in the network until the test lets it go: it is "running".
    held: list[Route] = []
    posts: list[Request] = []
    page.on("request", lambda r: r.method == "POST" and r.url.endswith("/unlink/") and posts.append(r))
    page.route("**/unlink/", lambda route: held.append(route))

    unlink.click()
    expect(unlink).to_be_disabled()
    expect(unlink).to_have_attribute("disabled", "")
    expect(row).to_have_class(re.compile(r"\bhtmx-request\b"))
    shots(page, "unlink-running-button-disabled")
    # A second click while it runs does nothing.
    unlink.click(force=True)
    # A round trip to the page: a request that click had started would be reported first.
    page.evaluate("1")
    assert len(posts) == 1 and len(held) == 1

    held[0].continue_()
    expect_red(row.get_by_test_id("row-message"), RED_COMMITMENT)
    expect(row.get_by_role("button", name="Unlink")).to_be_enabled()
    shots(page, "unlink-answered-button-enabled")
    assert len(posts) == 1
    assert AuditEntry.objects.filter(record_id=commitment.pk, action=AuditEntry.Action.UNLINK).count() == 1
