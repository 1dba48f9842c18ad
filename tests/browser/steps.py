"""What a person does in the browser, in the product's words, for the browser tests.

Elements are found the way a person finds them: by role and accessible name (the
tool's tabs, the lists' titles, the buttons' labels); a ``data-testid`` only where the
page has no words to go by (a record's row, the message under it).
"""

from __future__ import annotations

import re

from django.urls import reverse
from playwright.sync_api import BrowserContext, Locator, Page, Response, expect

#: The password the demo users get in these tests (seed_demo takes it).
DEMO_PASSWORD = "browser-test-pw-2f9c"

RED_COMMITMENT = "The commitment is still in Sage 300 CRE®. Please delete it before retrying."
RED_REQUISITION = "The requisition is still in Sage 100 Contractor®. Please delete it before retrying."
GREEN_UNLINKED = "Successfully Unlinked"

#: Set in the page before an HTMX action; still there afterwards means no reload happened.
NO_RELOAD_MARKER = "window.__erpNoReload"


def sign_in(context: BrowserContext, username: str, password: str = DEMO_PASSWORD) -> Page:
    """Sign in through the real sign-in form, as a person would; the page after it."""
    page = context.new_page()
    page.goto(reverse("login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(re.escape(reverse("login")) + r"(\?|$)"))
    return page


def open_erp_tool(page: Page, company: str) -> None:
    """Open one company's tool with the header's company switcher (the demo users are in two)."""
    switcher = page.get_by_test_id("company-switcher")
    switcher.locator("summary").click()
    switcher.get_by_role("link", name=company, exact=True).click()
    expect(page.get_by_role("heading", name="ERP Integrations", level=1)).to_be_visible()
    expect(switcher.locator("summary")).to_contain_text(company)


def open_tab(page: Page, name: str) -> None:
    """Click one of the tool's tabs: 'Commitments' or 'Subcontractor Invoices'."""
    page.get_by_role("navigation", name="ERP Integrations").get_by_role("link", name=name, exact=True).click()
    expect(
        page.get_by_role("navigation", name="ERP Integrations").get_by_role("link", name=name, exact=True)
    ).to_have_attribute("aria-current", "page")


def record_list(page: Page, title: str) -> Locator:
    """One list of a tab, by the articles' title, e.g. 'Commitments - Synced with Sage 300 CRE®'."""
    region = page.get_by_role("region", name=title, exact=True)
    expect(region).to_be_visible()
    return region


def search_list(page: Page, region: Locator, text: str) -> None:
    """Type into a list's search box; the list is swapped for what matches."""
    with page.expect_response(lambda r: "q=" in r.url and r.request.method == "GET"):
        region.get_by_role("searchbox").fill(text)


def rows(region: Locator) -> Locator:
    """The records' rows of a list (each a <tbody>, with the message under it)."""
    return region.locator("table.records > tbody")


def record_row(region: Locator, record_id: int) -> Locator:
    """A record's row (and the message under it) in a list: its <tbody>, whose id is
    "<list>-<kind>-<record id>"."""
    return region.locator(f'table.records > tbody[id$="-{record_id}"]')


def row_cell(row: Locator, column: int) -> Locator:
    """A cell of a record's row by its column: 1 the number, 2 the title, 3 the project,
    4 the vendor, 5 the amount, 6 the status, 7 the ERP id, 8 the date, 9 the buttons."""
    return row.locator(f"tr:first-child > :nth-child({column})")


def erp_id(row: Locator) -> Locator:
    return row_cell(row, 7).locator("code")


def click_row_action(page: Page, row: Locator, name: str) -> Response:
    """Click a row's Unlink / Export button and wait until its reply has been swapped in.

    The row is tagged before the click; the tag is gone once HTMX has put the new row in
    its place, so a message asserted afterwards is the reply's, not one left from before.
    """
    path = f"/{name.lower()}/"
    row.evaluate("element => element.setAttribute('data-before-click', '')")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith(path)) as reply:
        row.get_by_role("button", name=name).click()
    expect(row).not_to_have_attribute("data-before-click", re.compile(".*"))
    return reply.value


def mark_page(page: Page) -> None:
    page.evaluate(f"{NO_RELOAD_MARKER} = 'still the same page'")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate(NO_RELOAD_MARKER) == "still the same page", "the page was reloaded"


def _rgb(locator: Locator) -> tuple[int, int, int]:
    color = locator.evaluate("element => getComputedStyle(element).color")
    red, green, blue = (int(part) for part in re.findall(r"\d+", color)[:3])
    return red, green, blue


def expect_red(message: Locator, text: str) -> None:
    """The message says ``text`` and reads red (its colour, not only its class)."""
    expect(message).to_contain_text(text)
    expect(message).to_be_visible()
    red, green, blue = _rgb(message)
    assert red > green + 40 and red > blue + 40, f"{text!r} is not red: rgb({red}, {green}, {blue})"


def expect_green(message: Locator, text: str) -> None:
    """The message says ``text`` and reads green."""
    expect(message).to_contain_text(text)
    expect(message).to_be_visible()
    red, green, blue = _rgb(message)
    assert green > red + 40 and green > blue, f"{text!r} is not green: rgb({red}, {green}, {blue})"


def delete_in_sandbox_console(page: Page, *, erp_name: str, erp_id: str) -> None:
    """As staff, delete a record in the sandbox ERP, as a user would in Sage itself."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sandbox ERP").click()
    page.get_by_role("link", name=f"Open {erp_name}").click()
    expect(page.get_by_role("heading", name=erp_name, exact=True)).to_be_visible()
    page.get_by_role("searchbox", name="Search records").fill(erp_id)
    page.get_by_role("button", name="Search", exact=True).click()
    row = page.locator(f'[data-testid="sandbox-row"][data-erp-id="{erp_id}"]')
    expect(row).to_have_attribute("data-deleted", "no")
    row.get_by_role("button", name=f"Delete in {erp_name}").click()
    expect(page.get_by_role("status").filter(has_text=f"{erp_id} deleted in {erp_name}")).to_be_visible()
    expect(row).to_have_attribute("data-deleted", "yes")
