"""The articles' Unlink with the keyboard alone: skip link, Tab, Enter, and the message has focus."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import RED_COMMITMENT, open_erp_tool, open_tab, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

SYNCED = "Commitments - Synced with Sage 300 CRE®"
#: Before skip links to each list and focus on the message it took 92.
MOST_TABS = 15


def focused(page: Page) -> dict:
    return page.evaluate(
        """() => {
            const element = document.activeElement;
            return {
                text: (element.textContent || "").trim(),
                name: element.getAttribute("aria-label") || "",
                testid: element.getAttribute("data-testid") || "",
                tag: element.tagName,
            };
        }"""
    )


def tab_until(page: Page, wanted, limit: int = 120) -> int:
    """Press Tab until ``wanted(focused element)``; how many presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if wanted(focused(page)):
            return presses
    pytest.fail(f"Tab never reached it in {limit} presses; last: {focused(page)}")


def test_the_first_synced_unlink_is_a_few_tabs_away_and_its_message_takes_focus(demo, new_context, shots):
    page = sign_in(new_context(), "approver")
    open_erp_tool(page, "Northwind Builders")
    open_tab(page, "Commitments")
    # Start from the top of the page, as after it loads.
    page.reload()
    expect(page.get_by_test_id("skip-lists")).to_be_attached()

    to_skip = tab_until(page, lambda element: element["text"] == f"Skip to {SYNCED}")
    expect(page.get_by_role("link", name=f"Skip to {SYNCED}")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=SYNCED, exact=True)).to_be_focused()
    to_unlink = tab_until(page, lambda element: element["name"].startswith("Unlink "))
    button = focused(page)
    shots(page, "first-synced-unlink-focused")

    assert button["tag"] == "BUTTON" and button["text"] == "Unlink"
    # Named with its record and project: "Unlink SC-001, Harbor Tower".
    assert re.fullmatch(r"Unlink [^,]+, [A-Z][\w ]+", button["name"]), button["name"]
    assert to_skip + 1 + to_unlink <= MOST_TABS, (to_skip, to_unlink)

    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/unlink/")) as reply:
        page.keyboard.press("Enter")
    assert reply.value.status == 409
    message = page.get_by_test_id("row-message")
    expect(message).to_be_focused()
    expect(message).to_contain_text(RED_COMMITMENT)
    # Announced once, through the page's one live region.
    expect(page.get_by_test_id("announcement")).to_contain_text(RED_COMMITMENT)
    assert page.locator("[aria-live], [role=status], [role=alert]").count() == 1
    assert page.locator("#flash[aria-live=polite]").count() == 1
    shots(page, "message-focused")

    # The keyboard carries on from the row: the next Tab stays in it (Sync now beside the words).
    page.keyboard.press("Tab")
    expect(page.get_by_test_id("row-sync-now")).to_be_focused()
