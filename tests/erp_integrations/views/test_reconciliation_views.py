"""The Reconciliation page: totals, the three lists, filters, CSV and Link again."""

import csv
import html
import io
import re
from datetime import date
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse

from erp_integrations.kinds import COMMITMENT
from erp_integrations.models import Discrepancy, ExportState
from erp_integrations.sandbox.services import (
    sandbox_edit,
    sandbox_issue_payment,
    sandbox_post_cost,
    sandbox_records,
    sandbox_set_mode,
)
from erp_integrations.services.exports import record_export, record_reject
from erp_integrations.services.reconciliation import project_job_id
from erp_integrations.services.sync import connection_sync
from tests import factories
from tests.erp_integrations.views.tool_world import (
    build_world,
    client_for,
    csrf_token,
    htmx_get,
    post,
    synced_change_order,
    synced_commitment,
    text,
)

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


def page_url(world, **query):
    url = reverse("erp_reconciliation", kwargs={"company_id": world.company.pk})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def sync(world):
    return connection_sync(connection_id=world.company.erp_connection.pk, trigger="command")


def rows(response, category):
    body = response.content.decode()
    section = re.search(rf'data-category="{category}">(.*?)</section>', body, re.S)
    assert section, f"no {category} list on the page"
    return re.findall(
        r'<tr id="discrepancy-\d+"[^>]*data-kind="(\w+)" data-erp-id="([^"]*)"', section.group(1)
    )


def list_count(response, category):
    """The count a list's title shows (the sync's, not the page's)."""
    body = response.content.decode()
    found = re.search(rf'data-category="{category}">.*?data-testid="list-count">(\d+)<', body, re.S)
    assert found, f"no {category} count on the page"
    return int(found.group(1))


def totals(response):
    body = response.content.decode()
    found = {}
    for measure, cells in re.findall(r'data-measure="(\w+)">(.*?)</tr>', body, re.S):
        values = re.findall(r'data-testid="total-(\w+)">(.*?)</td>', cells, re.S)
        found[measure] = {name: " ".join(re.sub(r"<[^>]+>", " ", v).split()) for name, v in values}
    assert found, "no totals on the page"
    return found


def timed_out_then_rejected(world, settings):
    commitment = factories.commitment(
        project=world.project, vendor=world.vendor, export_state=ExportState.READY
    )
    settings.ERP_TIMEOUT_SECONDS = 0.1
    sandbox_set_mode(erp_system="sage300", mode="slow", latency_ms=110)
    assert not record_export(kind=COMMITMENT, user=world.approver, record_id=commitment.pk).ok
    sandbox_set_mode(erp_system="sage300", mode="normal")
    record_reject(kind=COMMITMENT, user=world.approver, record_id=commitment.pk, reason="Wrong vendor")
    return commitment, sandbox_records("sage300").get(external_reference=f"commitment-{commitment.pk}").erp_id


def test_the_page_shows_totals_drift_orphans_and_absent_records_ccos_first(settings):
    world = build_world()
    drifted = synced_commitment(world, amount=Decimal("1000.00"), title="Concrete package")
    sandbox_edit(erp_system="sage300", kind="commitment", erp_id=drifted.erp_id, changes={"amount": "1200"})
    synced_change_order(world, drifted)
    absent_cco = factories.change_order(commitment=drifted, amount=Decimal("40.00"))
    absent_commitment = factories.commitment(
        project=world.project, vendor=world.vendor, amount=Decimal("10.00")
    )
    orphaned, orphan_erp_id = timed_out_then_rejected(world, settings)
    sync(world)

    response = client_for(world.viewer).get(page_url(world))

    assert response.status_code == HTTPStatus.OK
    assert rows(response, "absent") == [("cco", ""), ("commitment", "")]
    assert rows(response, "orphan") == [("commitment", orphan_erp_id)]
    assert rows(response, "drift") == [("commitment", drifted.erp_id)]
    body = text(response)
    assert "Amount 1,000.00 1,200.00 200.00" in body
    committed = totals(response)["committed"]
    assert committed == {
        "platform": "1,000.00 1 record",
        "erp": "2,200.00 2 records",
        "difference": "1,200.00",
        "absent": "10.00 1 record",
    }
    assert totals(response)["change_orders"]["absent"] == "40.00 1 record"
    assert totals(response)["paid"]["platform"] == "—"
    assert absent_cco.pk and absent_commitment.pk and orphaned.pk


def test_an_orphan_whose_record_exists_offers_link_again_to_who_may_export(settings):
    world = build_world()
    orphaned, erp_id = timed_out_then_rejected(world, settings)
    sync(world)

    approver_page = client_for(world.approver).get(page_url(world)).content.decode()
    pm_page = client_for(world.pm).get(page_url(world)).content.decode()

    assert 'data-testid="relink-button"' in approver_page
    assert 'data-testid="relink-button"' not in pm_page
    assert "Can Push to Accounting" in pm_page.split('data-testid="relink-denied"')[1][:400]


def test_link_again_links_the_orphan_in_place_with_htmx(settings):
    world = build_world()
    orphaned, erp_id = timed_out_then_rejected(world, settings)
    sync(world)
    orphan = Discrepancy.objects.get(category="orphan")
    client = client_for(world.approver)
    url = reverse("erp_reconciliation_relink", kwargs={"company_id": world.company.pk})

    response = post(client, url, {"orphan": orphan.pk}, htmx=True, token=csrf_token(client, page_url(world)))

    assert response.status_code == HTTPStatus.OK
    assert f"is linked to {erp_id} again" in text(response)
    orphaned.refresh_from_db()
    assert (orphaned.export_state, orphaned.erp_id) == (ExportState.SYNCED, erp_id)


def test_link_again_is_refused_with_the_reason_and_changes_nothing(settings):
    world = build_world()
    orphaned, _erp_id = timed_out_then_rejected(world, settings)
    sync(world)
    orphan = Discrepancy.objects.get(category="orphan")
    client = client_for(world.pm)
    url = reverse("erp_reconciliation_relink", kwargs={"company_id": world.company.pk})

    response = post(client, url, {"orphan": orphan.pk}, htmx=False, token=csrf_token(client, page_url(world)))

    assert response.status_code == HTTPStatus.FOUND
    orphaned.refresh_from_db()
    assert orphaned.link_id is None
    assert "Can Push to Accounting" in text(client.get(response["Location"]))


def test_an_orphan_of_another_company_is_404():
    world = build_world()
    client = client_for(world.approver)
    url = reverse("erp_reconciliation_relink", kwargs={"company_id": world.company.pk})
    other = Discrepancy.objects.create(
        company=world.other_company, category="orphan", kind="commitment", erp_id="JC-1", relinkable=True
    )

    for orphan in (str(other.pk), "x", ""):
        response = post(
            client, url, {"orphan": orphan}, htmx=False, token=csrf_token(client, page_url(world))
        )
        assert response.status_code == HTTPStatus.NOT_FOUND, orphan


def test_an_orphan_whose_record_is_gone_says_to_delete_it_in_the_erp():
    world = build_world()
    Discrepancy.objects.create(
        company=world.company, category="orphan", kind="cco", erp_id="CCO-0000009", number="CO-07"
    )

    body = text(client_for(world.approver).get(page_url(world)))

    assert "Delete CCO CCO-0000009 in Sage 300 CRE® if it should not be there." in body


def test_filters_narrow_the_lists_and_a_project_shows_its_own_totals():
    world = build_world()
    other_project = factories.project(company=world.company, name="Riverside Clinic")
    here = synced_commitment(world, amount=Decimal("100.00"))
    there = factories.link(factories.commitment(project=other_project, amount=Decimal("300.00")))
    for record in (here, there):
        sandbox_edit(
            erp_system="sage300", kind="commitment", erp_id=record.erp_id, changes={"title": "Changed"}
        )
    sandbox_edit(erp_system="sage300", kind="commitment", erp_id=here.erp_id, changes={"amount": "1"})
    sync(world)
    client = client_for(world.viewer)

    project_page = client.get(page_url(world, project=other_project.pk))
    assert rows(project_page, "drift") == [("commitment", there.erp_id)]
    assert totals(project_page)["committed"]["platform"] == "300.00 1 record"

    amounts_only = client.get(page_url(world, category="drift", field="amount"))
    assert rows(amounts_only, "drift") == [("commitment", here.erp_id)]
    assert list_count(amounts_only, "drift") == 1
    assert list_count(client.get(page_url(world)), "drift") == 3
    assert list_count(project_page, "drift") == 1
    assert 'data-category="orphan"' not in amounts_only.content.decode()

    # Another company's project is no filter at all.
    company_page = client.get(page_url(world, project=world.other_project.pk))
    assert len(rows(company_page, "drift")) == 3


def test_the_csv_has_every_row_the_filters_select():
    world = build_world()
    record = synced_commitment(world, title="=HYPERLINK(1)")
    sandbox_edit(erp_system="sage300", kind="commitment", erp_id=record.erp_id, changes={"title": "Plain"})
    sync(world)

    response = client_for(world.viewer).get(
        reverse("erp_reconciliation_csv", kwargs={"company_id": world.company.pk}) + "?category=drift"
    )

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert table[0][:3] == ["List", "Kind", "Project"]
    assert [(r[1], r[4], r[5], r[6], r[7]) for r in table[1:]] == [
        ("commitment", record.erp_id, "Title", "'=HYPERLINK(1)", "Plain")
    ]


def test_htmx_filtering_answers_with_the_body_only():
    world = build_world()
    sync(world)

    response = htmx_get(client_for(world.viewer), page_url(world, kind="cco"), target="reconciliation-body")

    assert response.content.decode().strip().startswith('<div id="reconciliation-body"')


@pytest.mark.parametrize("count", [2, 40])
def test_the_page_costs_the_same_queries_whatever_the_numbers(count, django_assert_num_queries):
    world = build_world()
    for _ in range(count):
        record = synced_commitment(world)
        sandbox_edit(erp_system="sage300", kind="commitment", erp_id=record.erp_id, changes={"amount": "1"})
        factories.change_order(commitment=record)
    sync(world)
    client = client_for(world.viewer)
    client.get(page_url(world))

    # 1) session, 2) user, 3) directory entry with its company and connection, 4) the
    # projects for the filter (the rows' projects too), 5) the lists' counts, 6)-8) one
    # page of each list, 9) the totals, 10) the last successful run, 11) the switcher's
    # companies, 12) the sync status the header reads (the last completed run, which
    # succeeded, and a run in progress, one UNION). No project levels: no question
    # about a project.
    with django_assert_num_queries(12):
        response = client.get(page_url(world))

    assert len(rows(response, "drift")) == min(count, 25)


def test_outsiders_get_404_and_members_without_the_tool_403():
    world = build_world()

    for name in ("erp_reconciliation", "erp_reconciliation_csv"):
        url = reverse(name, kwargs={"company_id": world.company.pk})
        assert client_for(world.outsider).get(url).status_code == HTTPStatus.NOT_FOUND
        assert client_for(world.member).get(url).status_code == HTTPStatus.FORBIDDEN


def test_the_tool_header_links_to_the_page():
    world = build_world()

    body = client_for(world.viewer).get(reverse("erp_tab", args=[world.company.pk, "commitments"])).content
    assert page_url(world).encode() in body


def test_a_projects_page_shows_its_job_to_date_cost_by_cost_code():
    world = build_world()
    synced_commitment(world)
    for cost_code, amount in (("03-300", "400.00"), ("03-300", "100.00"), ("05-100", "50.00")):
        sandbox_post_cost(
            erp_system="sage300",
            company_id=world.company.pk,
            job=project_job_id(world.project),
            cost_code=cost_code,
            amount=Decimal(amount),
            posted_on=date(2026, 11, 2),
            description="Labour",
        )
    sync(world)
    client = client_for(world.viewer)

    body = client.get(page_url(world, project=world.project.pk)).content.decode()

    cells = r'data-cost-code="([^"]+)"><td>[^<]+</td><td class="num">(\d+)</td><td class="num">([^<]+)<'
    by_code = re.findall(cells, body)
    assert by_code == [("03-300", "2", "500.00"), ("05-100", "1", "50.00")]
    assert body.count('data-testid="cost-transaction"') == 3
    project_totals = totals(client.get(page_url(world, project=world.project.pk)))
    assert project_totals["job_cost"]["erp"] == "550.00 3 records"
    # The company's page has no job of its own to show.
    assert 'data-testid="job-costs"' not in client.get(page_url(world)).content.decode()


def test_an_invoice_shows_the_payments_the_erp_issued_against_it():
    world = build_world()
    commitment = synced_commitment(world)
    invoice = factories.link(factories.invoice(commitment=commitment, amount=Decimal("250.00")))
    for amount, day in (("100.00", 5), ("50.00", 20)):
        sandbox_issue_payment(
            erp_system="sage300",
            company_id=world.company.pk,
            requisition=invoice.erp_id,
            amount=Decimal(amount),
            paid_on=date(2026, 11, day),
        )
    sync(world)

    response = client_for(world.viewer).get(reverse("invoice_detail", args=[world.project.pk, invoice.pk]))

    body = text(response)
    assert response.content.decode().count('data-testid="payment"') == 2
    assert "Paid 150.00 of 250.00" in body


def test_values_from_the_erp_are_shown_as_text():
    world = build_world()
    record = synced_commitment(world)
    sandbox_edit(
        erp_system="sage300",
        kind="commitment",
        erp_id=record.erp_id,
        changes={"title": "<script>alert(1)</script>", "vendor": '"><img src=x>'},
    )
    sync(world)

    body = client_for(world.viewer).get(page_url(world)).content.decode()

    assert "<script>alert(1)" not in body and "<img src=x>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_the_projects_commitments_tool_links_to_its_reconciliation_for_who_may_open_it():
    world = build_world()
    url = reverse("commitment_list", args=[world.project.pk])
    link = f"{page_url(world)}?project={world.project.pk}"

    assert link in html.unescape(client_for(world.viewer).get(url).content.decode())
    # 'member' has the Commitments tool but not ERP Integrations.
    assert 'data-testid="project-reconciliation"' not in client_for(world.member).get(url).content.decode()
