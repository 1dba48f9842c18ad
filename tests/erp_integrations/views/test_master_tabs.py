"""The Projects, Companies and Cost Codes tabs: their lists, buttons and answers."""

import re

import pytest
from django.urls import reverse

from accounts.models import PermissionLevel
from erp_integrations.models import ExportState, Vendor
from tests import factories
from tests.erp_integrations.services.master_support import entry, in_erp, sync
from tests.erp_integrations.views.tool_world import client_for, csrf_token, post, text

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


def master_url(company, tab: str = "companies") -> str:
    return reverse("erp_master_tab", kwargs={"company_id": company.pk, "master_tab": tab})


def entry_url(company, erp_entry, action: str, tab: str = "companies") -> str:
    return reverse(
        "erp_master_entry_action",
        kwargs={
            "company_id": company.pk,
            "master_tab": tab,
            "entry_id": erp_entry.pk,
            "entry_action": action,
        },
    )


def record_url(company, record, action: str, tab: str = "companies") -> str:
    return reverse(
        "erp_master_action",
        kwargs={"company_id": company.pk, "master_tab": tab, "master_id": record.pk, "master_action": action},
    )


def list_titles(response) -> list[str]:
    return re.findall(r'data-testid="list-title">([^<]*)<', response.content.decode())


@pytest.fixture
def company():
    return factories.company(name="Northwind")


@pytest.fixture
def approver(company):
    return factories.approver(company)


def test_companies_tab_has_the_five_lists_in_the_erps_name(company, approver):
    response = client_for(approver).get(master_url(company))

    assert response.status_code == 200
    assert list_titles(response) == [
        "Companies - Ready to Export",
        "Companies - Ready to Import",
        "Companies - Ready to Update",
        "Companies - Synced with Sage 300 CRE®",
        "Companies - Failed to Export",
    ]
    tabs = re.findall(r'data-testid="tab-([a-z-]+)">([^<]*)<', response.content.decode())
    assert [title for _slug, title in tabs][3:6] == ["Projects", "Companies", "Cost Codes"]


def test_ready_to_import_rows_show_the_suggested_matches_with_their_score(company, approver):
    factories.vendor(company=company, name="acme concrete", synced=False)
    in_erp(company, "vendor", id="ACME", name="Acme Concrete", type="Subcontractor")
    sync(company)

    response = client_for(approver).get(master_url(company))

    page = text(response)
    assert "ACME Acme Concrete Vendor type: Subcontractor" in page
    assert "Same name acme concrete Link" in page


def test_the_companies_tab_takes_a_fixed_number_of_queries_whatever_the_number_of_vendors(
    company, approver, django_assert_num_queries
):
    for n in range(30):
        factories.vendor(company=company, name=f"Vendor {n:02d}", synced=False)
        in_erp(company, "vendor", id=f"V{n:02d}", name=f"Vendor {n:02d} Inc", type="Supplier")
    sync(company)
    client = client_for(approver)
    client.get(master_url(company))  # the session is written once

    # session, user, directory entry with its company and connection, the sync status
    # (last completed run and running run, one UNION), the five lists, the suggestions of the Ready to Import
    # page (one), the "Link to" choices, the switcher's companies. (Master data is the
    # company's: no project levels.)
    with django_assert_num_queries(12):
        response = client.get(master_url(company))
    assert response.content.decode().count('data-testid="suggestion"') == 25 * 3


def test_import_with_htmx_answers_with_the_row_in_green(company, approver):
    in_erp(company, "vendor", id="ACME", name="Acme Concrete", type="Subcontractor")
    sync(company)
    client = client_for(approver)
    token = csrf_token(client, master_url(company))

    response = post(
        client, entry_url(company, entry(company, "vendor", "ACME"), "import"), htmx=True, token=token
    )

    assert response.status_code == 200
    assert "msg-success" in response.content.decode()
    assert (
        text(response)
        == "Vendor Acme Concrete was added to the platform from Sage 300 CRE® and linked to ACME."
    )
    assert Vendor.objects.get(company=company).erp_vendor_id == "ACME"


def test_export_with_a_bad_vendor_id_answers_422_naming_the_field(company, approver):
    vendor = factories.vendor(company=company, name="Granite Ridge", synced=False)
    client = client_for(approver)
    token = csrf_token(client, master_url(company))

    response = post(
        client, record_url(company, vendor, "export"), {"id": "x", "type": "Supplier"}, htmx=True, token=token
    )

    assert response.status_code == 422
    assert "Vendor id: 'x' is not a vendor id of Sage 300 CRE®" in text(response)
    # The row stays, with its Export form, so the approver can correct the id.
    assert 'data-testid="export-button"' in response.content.decode()


def test_without_javascript_export_goes_back_to_the_tab_with_the_message(company, approver):
    vendor = factories.vendor(company=company, name="Granite Ridge", synced=False)
    client = client_for(approver)
    token = csrf_token(client, master_url(company))

    response = post(
        client,
        record_url(company, vendor, "export"),
        {"id": "GRANITE", "type": "Supplier"},
        htmx=False,
        token=token,
    )

    assert response.status_code == 302 and response.url == master_url(company)
    page = client.get(response.url)
    assert "Exported to Sage 300 CRE® as vendor GRANITE." in text(page)
    assert "Companies - Synced with Sage 300 CRE®" in text(page)


def test_a_member_without_the_privilege_sees_why_and_is_refused_with_403(company):
    pm = factories.user("pm", company=company, erp_level=PermissionLevel.STANDARD)
    vendor = factories.vendor(company=company, name="Granite Ridge", synced=False)
    client = client_for(pm)

    page = client.get(master_url(company))
    response = post(
        client,
        record_url(company, vendor, "export"),
        {"id": "GRANITE", "type": "Supplier"},
        htmx=True,
        token=csrf_token(client, master_url(company)),
    )

    assert "needs the 'Can Push to Accounting' privilege" in text(page)
    assert response.status_code == 403
    assert "the 'Can Push to Accounting' privilege" in text(response)
    vendor.refresh_from_db()
    assert vendor.erp_vendor_id is None


def test_link_all_answers_with_a_result_per_row(company, approver):
    factories.vendor(company=company, name="Acme Concrete", synced=False)
    in_erp(company, "vendor", id="ACME", name="ACME CONCRETE", type="Subcontractor")
    sync(company)
    client = client_for(approver)
    url = reverse("erp_master_link_all", kwargs={"company_id": company.pk, "master_tab": "companies"})

    response = post(client, url, htmx=True, token=csrf_token(client, master_url(company)))

    assert response.status_code == 200
    assert "Link All linked 1 of 1 vendors with a matching name." in text(response)
    assert "ACME ACME CONCRETE: Vendor Acme Concrete is linked to vendor ACME" in text(response)


def test_a_failed_commitment_links_to_the_row_that_fixes_its_vendor(company, approver):
    project = factories.project(company=company)
    approver_of_project = factories.approver(company, project, username="approver-2")
    vendor = factories.vendor(company=company, name="Granite Ridge", synced=False)
    commitment = factories.commitment(project=project, vendor=vendor, export_state=ExportState.READY)
    client = client_for(approver_of_project)
    tab = reverse("erp_tab", kwargs={"company_id": company.pk, "tab": "commitments"})
    action = reverse(
        "erp_action",
        kwargs={
            "company_id": company.pk,
            "tab": "commitments",
            "record_id": commitment.pk,
            "action": "export",
        },
    )

    response = post(client, action, htmx=True, token=csrf_token(client, tab))
    page = client.get(tab).content.decode()

    assert response.status_code == 422
    fix = f"{master_url(company)}?ready-q=Granite+Ridge#ready-vendor-{vendor.pk}"
    assert f'href="{fix}"' in response.content.decode()
    assert f'href="{fix}" data-testid="fix-link">Link Vendor Granite Ridge</a>' in page
    # The ERP was not asked, and the row does not say it answered.
    assert "Not sent to Sage 300 CRE®:</span> Vendor Granite Ridge is not linked" in page


def test_unlink_of_a_vendor_with_synced_commitments_answers_409_linking_them(company, approver):
    in_erp(company, "vendor", id="ACME", name="Acme Concrete", type="Subcontractor")
    sync(company)
    client = client_for(approver)
    token = csrf_token(client, master_url(company))
    post(client, entry_url(company, entry(company, "vendor", "ACME"), "import"), htmx=True, token=token)
    vendor = Vendor.objects.get(company=company, name="Acme Concrete")
    commitment = factories.link(
        factories.commitment(project=factories.project(company=company), vendor=vendor)
    )

    response = post(client, record_url(company, vendor, "unlink"), {"list": "synced"}, htmx=True, token=token)

    assert response.status_code == 409
    detail = reverse("commitment_detail", args=[commitment.project_id, commitment.pk])
    assert f'href="{detail}" data-testid="blocking-link">Commitment {commitment.number}</a>' in (
        response.content.decode()
    )
