"""The tool's lists on a laptop, a tablet in portrait and a phone: nothing overlaps, and
a row's buttons and date are on screen without scrolling sideways."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from accounts.models import User
from erp_integrations.models import Commitment, ErpLink, SubcontractorInvoice, SyncRun
from erp_integrations.services.audit import audit_record
from tests.browser.steps import (
    open_erp_tool,
    open_tab,
    record_list,
    record_row,
    row_cell,
    rows,
    sign_in,
)
from tests.erp_integrations.views.tool_world import STILL_IN_SAGE_300

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

#: The longest a record number (50) and an ERP id (40) may be.
LONG_NUMBER = "PAY-APP-2026-11-RETAINAGE-RELEASE-FINAL-REVISION-2"
LONG_ERP_ID = "AP-REQ-000000000000000000000000000000001"
TABS = {
    "Northwind Builders": "Commitments",
    "Lakeshore Contracting": "Subcontractor Invoices",
}


def _long_numbers_and_ids() -> None:
    # A failed invoice (the reviewer's case, 15 characters) made as long as allowed, and
    # a synced commitment and invoice with the longest ERP ids.
    assert len(LONG_NUMBER) == 50 and len(LONG_ERP_ID) == 40
    SubcontractorInvoice.objects.filter(project__name="Airport Terminal B", number="PAY-APP-2026-11").update(
        number=LONG_NUMBER
    )
    # The link's ERP id and the record's copy change together (a constraint holds them equal).
    for records in (
        Commitment.objects.filter(project__name="Harbor Tower", number="SC-001"),
        SubcontractorInvoice.objects.filter(
            project__name="Airport Terminal B", number="1", export_state="synced"
        ),
    ):
        with transaction.atomic():
            ErpLink.objects.filter(pk__in=records.values("link_id")).update(erp_id=LONG_ERP_ID)
            records.update(erp_id=LONG_ERP_ID)


def _overflowing_cells(page: Page) -> list[str]:
    """Cells of the lists' rows whose content is wider than the cell (it runs into the next)."""
    cells = page.locator("table.records.aligned > tbody > tr:first-child > *")
    assert cells.count() > 0
    return cells.evaluate_all(
        """cells => cells
            .filter(cell => cell.offsetWidth > 0 && cell.scrollWidth > cell.clientWidth + 1)
            .map(cell => cell.cellIndex + ': ' + cell.textContent.trim().slice(0, 60))"""
    )


def _outside_the_screen(page: Page, *selectors: str) -> list[str]:
    """Elements (of the lists) that start or end left or right of the window."""
    elements = page.locator(", ".join(f"table.records.aligned {selector}" for selector in selectors))
    assert elements.count() > 0, selectors
    return elements.evaluate_all(
        """elements => elements
            .filter(element => element.offsetWidth > 0)
            .filter(element => {
              const box = element.getBoundingClientRect();
              return box.left < 0 || box.right > document.documentElement.clientWidth;
            })
            .map(element => element.outerHTML.slice(0, 80))"""
    )


def _tables_scrolling_sideways(page: Page) -> int:
    return page.evaluate(
        """() => [...document.querySelectorAll('.table-scroll')]
            .filter(box => box.scrollWidth > box.clientWidth + 1).length"""
    )


@pytest.mark.parametrize("width", [1440, 820])
def test_every_list_fits_the_screen_with_numbers_ids_dates_and_buttons_in_their_columns(
    width, demo, new_context, shots
):
    _long_numbers_and_ids()
    page = sign_in(new_context(viewport={"width": width, "height": 1180}), "approver")
    for company, tab in TABS.items():
        open_erp_tool(page, company)
        open_tab(page, tab)
        expect(rows(page.get_by_test_id("list-failed")).first).to_be_visible()

        assert _overflowing_cells(page) == []
        assert _tables_scrolling_sideways(page) == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert _outside_the_screen(page, "tbody button", "tbody td:last-child > a") == []
        assert _outside_the_screen(page, "tbody time") == []
        shots(page, f"{tab.lower().replace(' ', '-')}-{width}")
    # The longest number wraps inside its own cell.
    cell = page.locator("table.records.aligned tbody th").filter(has_text=LONG_NUMBER).first
    assert cell.evaluate("cell => cell.scrollWidth <= cell.clientWidth")
    assert cell.evaluate("cell => cell.getBoundingClientRect().height") > 40


def _table_roles(page: Page) -> dict[str, int]:
    """How many of each table role the browser's own accessibility tree holds."""
    cdp = page.context.new_cdp_session(page)
    nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    cdp.detach()
    roles = [node.get("role", {}).get("value") for node in nodes]
    return {role: roles.count(role) for role in ("table", "row", "columnheader", "rowheader", "cell")}


def test_on_a_tablet_vendor_project_and_status_move_under_the_title_and_stay_table_cells(
    demo, new_context, shots
):
    """The tablet's folded columns are the row's own cells, laid out as a grid: no copy
    of them in the markup, and the same table for screen readers as on a laptop."""
    commitment = Commitment.objects.get(project__name="Harbor Tower", number="SC-002")
    roles = {}
    for width in (1440, 820):
        page = sign_in(new_context(viewport={"width": width, "height": 1180}), "approver")
        open_erp_tool(page, "Northwind Builders")
        row = record_row(record_list(page, "Commitments - Synced with Sage 300 CRE®"), commitment.pk)
        title, vendor, project, status = (
            row_cell(row, column).bounding_box()
            for column in (2, 4, 3, 6)  # title, vendor, project, status
        )
        if width == 820:
            # One under the other, in the title's column.
            assert title["x"] == vendor["x"] == project["x"] == status["x"]
            assert title["y"] < vendor["y"] < project["y"] < status["y"]
            shots(page, "tablet-folded-row")
        else:
            assert title["x"] < project["x"] < vendor["x"] < status["x"]
            assert title["y"] == project["y"] == vendor["y"] == status["y"]
        expect(row_cell(row, 4)).to_have_text(commitment.vendor.name)
        # Each value once in the row, in the markup as on screen.
        assert row.inner_text().count(commitment.vendor.name) == 1
        assert row.evaluate("row => row.outerHTML").count(commitment.vendor.name) == 1
        roles[width] = _table_roles(page)
        headers = page.get_by_test_id("list-synced").get_by_role("columnheader")
        expect(headers).to_contain_text(
            ["Number", "Title", "Project", "Vendor", "Amount", "Status", "ERP id", "Synced", "Actions"],
            ignore_case=True,
        )
        page.context.close()
    assert roles[820] == roles[1440] and roles[820]["cell"] > 0 and roles[820]["columnheader"] > 0


def test_on_a_phone_the_table_scrolls_under_buttons_that_stay_in_view(demo, new_context, shots):
    page = sign_in(new_context(viewport={"width": 560, "height": 1000}), "approver")
    open_erp_tool(page, "Northwind Builders")
    open_tab(page, "Commitments")

    assert _tables_scrolling_sideways(page) > 0
    assert _outside_the_screen(page, "tbody button", "tbody td:last-child > a") == []
    synced = record_list(page, "Commitments - Synced with Sage 300 CRE®")
    unlink = synced.get_by_role("button", name="Unlink").first
    # Scrolled to either end, the buttons are where they were.
    scroller = synced.locator(".table-scroll")
    before = unlink.bounding_box()
    scroller.evaluate("box => box.scrollTo(box.scrollWidth, 0)")
    assert unlink.bounding_box() == before
    shots(page, "phone-scrolled")


def _style(button, *names: str) -> dict[str, str]:
    return button.evaluate(
        "(element, names) => Object.fromEntries(names.map(n => [n, getComputedStyle(element)[n]]))",
        list(names),
    )


def _rgb(value: str) -> tuple[int, ...]:
    parts = value.removeprefix("rgba(").removeprefix("rgb(").rstrip(")").split(",")
    return tuple(int(part) for part in parts[:3])


def test_enabled_unlink_is_a_clear_button_and_disabled_unlink_looks_disabled(demo, new_context, shots):
    commitment = Commitment.objects.get(project__name="Harbor Tower", number="SC-002")
    names = ("color", "borderTopColor", "backgroundColor", "cursor")

    approver = sign_in(new_context(), "approver")
    open_erp_tool(approver, "Northwind Builders")
    enabled = record_row(record_list(approver, "Commitments - Synced with Sage 300 CRE®"), commitment.pk)
    enabled = enabled.get_by_role("button", name="Unlink")
    expect(enabled).to_be_enabled()
    on = _style(enabled, *names)

    pm = sign_in(new_context(), "pm")
    open_erp_tool(pm, "Northwind Builders")
    disabled = record_row(record_list(pm, "Commitments - Synced with Sage 300 CRE®"), commitment.pk)
    disabled = disabled.get_by_role("button", name="Unlink")
    expect(disabled).to_be_disabled()
    off = _style(disabled, *names)
    shots(approver, "unlink-enabled")
    shots(pm, "unlink-disabled")

    # Enabled: red text and a red outline on white, a pointer.
    red, green, blue = _rgb(on["color"])
    assert red > green + 60 and red > blue + 60, on
    red, green, blue = _rgb(on["borderTopColor"])
    assert red > green + 40 and red > blue + 40, on
    assert _rgb(on["backgroundColor"]) == (255, 255, 255) and on["cursor"] == "pointer"
    # Disabled: grey text on a grey button, and a not-allowed cursor.
    red, green, blue = _rgb(off["color"])
    assert max(red, green, blue) - min(red, green, blue) < 30 and 100 < red < 180, off
    assert _rgb(off["backgroundColor"]) != (255, 255, 255)
    assert off["cursor"] == "not-allowed"


def test_a_rows_buttons_and_cells_are_styled_by_their_column_without_classes(demo, new_context, shots):
    """A row carries no classes: Export is the filled button, Reject a quiet one beside
    it, the status a badge, the amount right-aligned, the number in monospace."""
    ready = Commitment.objects.filter(company__name="Northwind Builders", export_state="ready").first()
    assert ready is not None
    page = sign_in(new_context(), "approver")
    open_erp_tool(page, "Northwind Builders")
    row = record_row(record_list(page, "Commitments - Ready to Export"), ready.pk)
    export, reject = row.get_by_role("button", name="Export"), row.get_by_role("link", name="Reject")
    expect(export).to_be_enabled()
    shots(page, "ready-row")

    filled = _style(export, "color", "backgroundColor", "borderTopLeftRadius")
    assert _rgb(filled["color"]) == (255, 255, 255) and filled["borderTopLeftRadius"] != "0px", filled
    red, green, blue = _rgb(filled["backgroundColor"])
    assert blue > red + 60, filled
    quiet = _style(reject, "backgroundColor", "borderTopWidth", "display", "textDecorationLine")
    assert quiet["backgroundColor"] == "rgba(0, 0, 0, 0)" and quiet["borderTopWidth"] == "1px", quiet
    assert quiet["display"] == "inline-flex" and quiet["textDecorationLine"] == "none", quiet
    # Side by side, Reject after Export, both inside the row's last cell.
    export_box, reject_box = export.bounding_box(), reject.bounding_box()
    cell = row_cell(row, 9).bounding_box()
    assert export_box["x"] + export_box["width"] < reject_box["x"] and export_box["y"] == reject_box["y"]
    assert cell["x"] <= export_box["x"]
    assert reject_box["x"] + reject_box["width"] <= cell["x"] + cell["width"]
    badge = _style(row_cell(row, 6).locator("b"), "borderTopLeftRadius", "backgroundColor")
    assert badge["borderTopLeftRadius"] == "999px" and _rgb(badge["backgroundColor"]) != (255, 255, 255)
    assert _style(row_cell(row, 5), "textAlign")["textAlign"] == "right"
    assert "mono" in _style(row_cell(row, 1), "fontFamily")["fontFamily"].lower()


def test_no_page_of_the_tool_is_wider_than_a_tablet_in_portrait(demo, new_context, shots):
    commitment = Commitment.objects.get(project__name="Airport Terminal B", number="SC-001")
    invoice = commitment.subcontractor_invoices.order_by("number").first()
    company = commitment.company_id
    pages = {
        "projects": reverse("project_list"),
        "commitments": reverse("commitment_list", args=[commitment.project_id]),
        "commitment": reverse("commitment_detail", args=[commitment.project_id, commitment.pk]),
        "commitment-edit": reverse("commitment_edit", args=[commitment.project_id, commitment.pk]),
        "invoice": reverse("invoice_detail", args=[invoice.project_id, invoice.pk]),
        "invoice-edit": reverse("invoice_edit", args=[invoice.project_id, invoice.pk]),
        "sync-history": reverse("erp_sync", args=[company]),
        "audit-trail": reverse("erp_audit", args=[company]),
    }
    page = sign_in(new_context(viewport={"width": 820, "height": 1180}), "approver")
    wider = {}
    for name, url in pages.items():
        page.goto(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 820:
            wider[name] = width
        shots(page, name)
    assert wider == {}


def _history_and_audit_with_long_values() -> int:
    """A failed sync with the ERP's long error, and audit entries with the longest number,
    ERP id and message; the company's id."""
    commitment = Commitment.objects.get(project__name="Harbor Tower", number="SC-002")
    connection = commitment.company.erp_connection
    approver = User.objects.get(username="approver")
    started = timezone.now() - timedelta(minutes=5)
    SyncRun.objects.create(
        connection=connection,
        trigger=SyncRun.Trigger.MANUAL,
        requested_by=approver,
        status=SyncRun.Status.FAILED,
        started_at=started,
        finished_at=started + timedelta(seconds=12),
        links_total=1_902_248,
        links_checked=1_902_248,
        missing_found=54_616,
        reappeared=1_204,
        error="Sage 300 CRE® did not answer within 10 seconds (erp.example.com:1433 timed out).",
    )
    Commitment.objects.filter(pk=commitment.pk).update(number=LONG_NUMBER)
    commitment.refresh_from_db()
    for outcome in ("success", "refused", "failed"):
        audit_record(
            user=approver,
            action="unlink",
            record=commitment,
            erp_system=connection.erp_system,
            outcome=outcome,
            erp_id=LONG_ERP_ID,
            message=STILL_IN_SAGE_300 + " The last sync completed 5 minutes ago; the next runs on the hour.",
        )
    return commitment.company_id


def _cells_overflowing(page: Page, table: str) -> list[str]:
    return page.evaluate(
        """(table) => [...document.querySelectorAll(table + ' td, ' + table + ' th')]
            .filter(cell => cell.offsetWidth > 0 && cell.scrollWidth > cell.clientWidth + 1)
            .map(cell => cell.textContent.trim().slice(0, 60))""",
        table,
    )


@pytest.mark.parametrize("width", [820, 1440])
def test_the_sync_history_and_audit_trail_fit_a_tablet_in_portrait(width, demo, new_context, shots):
    company = _history_and_audit_with_long_values()
    page = sign_in(new_context(viewport={"width": width, "height": 1180}), "approver")
    for name, url, table in (
        ("sync-history", reverse("erp_sync", args=[company]), "table.runs"),
        ("audit-trail", reverse("erp_audit", args=[company]), "table.audit"),
    ):
        page.goto(url)
        expect(page.locator(f"{table} tbody tr").first).to_be_visible()
        shots(page, f"{name}-{width}")

        # Nothing hidden to the right of the table, nothing running out of its cell.
        assert _tables_scrolling_sideways(page) == 0, name
        assert _cells_overflowing(page, table) == [], name
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        right = page.locator(table).evaluate("table => table.getBoundingClientRect().right")
        assert right <= width, name


def _outside_the_window(links: Locator) -> list[str]:
    """Those of ``links`` that a person cannot see without scrolling sideways."""
    return links.evaluate_all(
        """(links) => {
          const width = document.documentElement.clientWidth;
          return links
            .filter(link => {
              const box = link.getBoundingClientRect();
              return box.left < 0 || box.right > width;
            })
            .map(link => link.textContent.trim());
        }"""
    )


@pytest.mark.parametrize("width", [1440, 1366, 820, 390])
def test_every_tab_of_the_tool_is_on_screen_without_scrolling_the_tab_bar(width, demo, new_context, shots):
    """Eleven tabs (three record kinds, three of master data, then the tool's other pages)
    are wider than a laptop's window: they wrap to another line rather than hide behind a
    sideways scroll, where the tab a person is on could be out of sight."""
    company = Commitment.objects.get(project__name="Harbor Tower", number="SC-002").company_id
    page = sign_in(new_context(viewport={"width": width, "height": 900}), "approver")
    tabs = page.get_by_role("navigation", name="ERP Integrations")
    for name, url in (
        ("Commitments", reverse("erp_tab", args=[company, "commitments"])),
        ("Audit trail", reverse("erp_audit", args=[company])),
    ):
        page.goto(url)
        expect(tabs.get_by_role("link", name=name, exact=True)).to_have_attribute("aria-current", "page")
        assert tabs.get_by_role("link").count() == 11
        assert _outside_the_window(tabs.get_by_role("link")) == [], name
        assert tabs.evaluate("bar => bar.scrollWidth <= bar.clientWidth + 1"), name
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        shots(page, f"{name.lower().replace(' ', '-')}-{width}")
