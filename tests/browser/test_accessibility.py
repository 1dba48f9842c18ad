"""axe-core on every page of the tool: no serious or critical violation anywhere.

axe-core comes from the ``axe-playwright-python`` package (its wheel ships axe.min.js);
nothing is fetched from the network. Each page is checked as the person who uses it:
the approver for the tool and the project's Commitments tool, staff for the sandbox
console, nobody for the sign-in page.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from playwright.sync_api import Page, expect

from erp_integrations.models import Commitment, CommitmentChangeOrder, Company, SubcontractorInvoice
from tests.browser.steps import click_row_action, record_list, record_row, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

AXE = Axe()
#: The impacts that fail a page.
BLOCKING = {"serious", "critical"}


def violations(page: Page) -> list[str]:
    """Each serious or critical axe violation of the page as it is now, with where it is."""
    results = AXE.run(page)
    assert results.response["testEngine"]["name"] == "axe-core"
    assert results.response["passes"] or results.response["violations"] is not None
    return [
        f"{page.url}: {violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING
    ]


def check(page: Page, url: str) -> list[str]:
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url}: {response and response.status}"
    return violations(page)


def approver_pages() -> list[str]:
    company = Company.objects.get(name="Northwind Builders")
    commitment = Commitment.objects.get(project__name="Harbor Tower", number="SC-001")
    draft = Commitment.objects.filter(project__company=company, export_state="draft").first()
    invoice = SubcontractorInvoice.objects.filter(commitment=commitment).first()
    change_order = CommitmentChangeOrder.objects.filter(commitment=commitment).first()
    assert draft and invoice and change_order
    project = commitment.project_id
    return [
        *(reverse("erp_tab", args=[company.pk, tab]) for tab in ("commitments", "subcontractor-invoices")),
        reverse("erp_tab", args=[company.pk, "change-orders"]),
        *(
            reverse("erp_master_tab", args=[company.pk, tab])
            for tab in ("projects", "companies", "cost-codes")
        ),
        reverse("erp_sync", args=[company.pk]),
        reverse("erp_audit", args=[company.pk]),
        reverse("erp_settings", args=[company.pk]),
        reverse("erp_accountants", args=[company.pk]),
        reverse("account_settings"),
        reverse("erp_reconciliation", args=[company.pk]),
        reverse("erp_reconciliation", args=[company.pk]) + f"?project={project}",
        reverse("company_list"),
        reverse("project_list"),
        reverse("commitment_list", args=[project]),
        reverse("commitment_create", args=[project]),
        reverse("commitment_detail", args=[project, commitment.pk]),
        reverse("commitment_edit", args=[project, commitment.pk]),
        reverse("commitment_detail", args=[draft.project_id, draft.pk]),
        reverse("commitment_edit", args=[draft.project_id, draft.pk]),
        reverse("invoice_detail", args=[project, invoice.pk]),
        reverse("invoice_create", args=[project, commitment.pk]),
        reverse("cco_detail", args=[project, change_order.pk]),
        reverse("cco_create", args=[project, commitment.pk]),
    ]


def test_no_page_of_the_tool_has_a_serious_or_critical_axe_violation(demo, new_context):
    found: list[str] = []

    anonymous = new_context().new_page()
    found += check(anonymous, reverse("login"))

    approver = sign_in(new_context(), "approver")
    urls = approver_pages()
    assert len(urls) == 25
    for url in urls:
        found += check(approver, url)

    # A row's message after an HTMX action, with its Sync now and blocking links.
    approver.goto(urls[0])
    synced = record_list(approver, "Commitments - Synced with Sage 300 CRE®")
    first = Commitment.objects.get(project__name="Harbor Tower", number="SC-001")
    row = record_row(synced, first.pk)
    assert click_row_action(approver, row, "Unlink").status == 409
    expect(row.get_by_test_id("row-message")).to_be_visible()
    found += violations(approver)

    staff = sign_in(new_context(), "staff")
    found += check(staff, reverse("sandbox_index"))
    found += check(staff, reverse("sandbox_records", args=["sage300"]))
    found += check(staff, reverse("sandbox_records", args=["sage100"]))

    assert found == [], "\n".join(found)
