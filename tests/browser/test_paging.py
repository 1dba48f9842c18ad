"""Paging a list in the browser: the list stays in view, focus moves to its first new
row, and the pager says which rows these are."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Project
from erp_integrations.models import Commitment, ExportState, Vendor
from tests import factories
from tests.browser.steps import open_erp_tool, open_tab, record_list, rows, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

SYNCED = "Commitments - Synced with Sage 300 CRE®"
#: The number of the record whose row has focus, or None.
FOCUSED_ROW = "() => document.activeElement.closest('table.records > tbody')?.id ?? null"


def sixty_more_synced_commitments() -> None:
    """Harbor Tower gets SC-101 … SC-160, synced before anything of the demo's."""
    project = Project.objects.get(name="Harbor Tower")
    vendor = Vendor.objects.filter(company=project.company).first()
    records = Commitment.objects.bulk_create(
        Commitment(
            company=project.company,
            project=project,
            vendor=vendor,
            number=f"SC-{100 + i}",
            title=f"Package {i}",
            export_state=ExportState.DRAFT,
        )
        for i in range(1, 61)
    )
    long_ago = timezone.now() - timedelta(days=30)
    factories.bulk_link(
        records,
        erp_ids=[f"JC-9{i:06d}" for i in range(1, 61)],
        linked_ats=[long_ago - timedelta(minutes=i) for i in range(1, 61)],
    )


def test_next_page_keeps_the_list_in_view_and_focus_on_its_first_new_row(demo, new_context, shots):
    sixty_more_synced_commitments()
    page = sign_in(new_context(viewport={"width": 1366, "height": 900}), "approver")
    open_erp_tool(page, "Northwind Builders")
    open_tab(page, "Commitments")
    synced = record_list(page, SYNCED)
    # "of about N": the planner's estimate, whatever its statistics say of this fresh table.
    expect(synced.get_by_test_id("page-range")).to_contain_text("Rows 1–25 of about ")
    first_page = rows(synced).first.get_attribute("id")

    synced.get_by_test_id("page-next").click()

    expect(synced.get_by_test_id("page-range")).to_contain_text("Rows 26–50")
    shown = rows(synced)
    expect(shown.first).not_to_have_attribute("id", first_page)
    # Focus is on the first new row, not dropped to the page.
    assert page.evaluate(FOCUSED_ROW) == shown.first.get_attribute("id")
    # The list's top is on screen (its title and the first row), not the page's top.
    top = synced.evaluate("list => list.getBoundingClientRect().top")
    assert 0 <= top < 100
    assert page.evaluate("window.scrollY") > 0
    shots(page, "paged")

    # And back: the same, from the bottom of the list.
    synced.get_by_test_id("page-prev").click()
    expect(synced.get_by_test_id("page-range")).to_contain_text("Rows 1–25")
    expect(shown.first).to_have_attribute("id", first_page)
    assert page.evaluate(FOCUSED_ROW) == first_page
