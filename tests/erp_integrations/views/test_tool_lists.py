"""Searching, sorting and paging the lists, and what a page costs.

A page costs the same number of queries at 3 rows as at 60: the lists are paged by
keyset (no COUNT, no OFFSET), and every row's buttons are decided from the access
loaded once per request.
"""

import base64
import json
import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import permissions
from erp_integrations import selectors
from erp_integrations.kinds import KINDS
from erp_integrations.models import Commitment, ExportState, SubcontractorInvoice
from erp_integrations.selectors import RECORD_PAGE_SIZE, Page, encode_cursor, record_list_estimate
from erp_integrations.views.tool import LIST_CACHE, rows_shown
from tests import factories
from tests.erp_integrations.views.tool_world import (
    build_world,
    client_for,
    htmx_get,
    list_url,
    row_numbers,
    tab_url,
    text,
)

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


def bulk_commitments(world, count: int, *, state: str = ExportState.SYNCED, vendor=None) -> list[Commitment]:
    """Many commitments at once: SC-001, SC-002, … synced one minute apart (SC-001 last)."""
    now = timezone.now()
    synced = state == ExportState.SYNCED
    records = Commitment.objects.bulk_create(
        Commitment(
            company=world.company,
            project=world.project,
            vendor=vendor or world.vendor,
            number=f"SC-{i:03d}",
            title=f"Package {count - i:03d}",
            amount=Decimal(1000 + (i * 37) % 101),
            status=Commitment.Status.APPROVED,
            export_state=ExportState.DRAFT if synced else state,
        )
        for i in range(1, count + 1)
    )
    if synced:
        factories.bulk_link(
            records,
            erp_ids=[f"JC-{i:07d}" for i in range(1, count + 1)],
            linked_ats=[now - timedelta(minutes=i) for i in range(1, count + 1)],
        )
    return records


def next_link(response, list_slug: str) -> str | None:
    section = response.content.decode().split(f'data-testid="list-{list_slug}"')[-1]
    match = re.search(r'rel="next" href="([^"]+)"', section)
    return match.group(1).replace("&amp;", "&") if match else None


def prev_link(response, list_slug: str) -> str | None:
    section = response.content.decode().split(f'data-testid="list-{list_slug}"')[-1]
    match = re.search(r'rel="prev" href="([^"]+)"', section)
    return match.group(1).replace("&amp;", "&") if match else None


def estimates() -> int:
    """Queries a list spends on its estimated size: one EXPLAIN on PostgreSQL, none on SQLite."""
    return 1 if connection.vendor == "postgresql" else 0


def versions() -> int:
    """Queries a page spends on the company's data version: one on PostgreSQL, none on SQLite
    (no version there: its lists are made afresh every time)."""
    return 1 if connection.vendor == "postgresql" else 0


# --- what a page costs -----------------------------------------------------------------------
@pytest.mark.parametrize("rows_per_list", [3, 60])
def test_the_tab_page_costs_the_same_queries_at_3_rows_as_at_60(rows_per_list, django_assert_num_queries):
    world = build_world()
    bulk_commitments(world, rows_per_list)
    Commitment.objects.bulk_create(
        Commitment(
            company=world.company,
            project=world.project,
            vendor=world.vendor,
            number=f"{state[0].upper()}-{i}",
            title="Ready",
            export_state=state,
        )
        for i in range(rows_per_list)
        for state in (ExportState.READY, ExportState.FAILED)
    )
    client = client_for(world.pm)
    # Opening a company's tool notes it in the session (written on the first page only).
    client.get(tab_url(world.company))
    LIST_CACHE.clear()
    permissions._KEPT_LEVELS_KEYS.clear()

    # 1) session, 2) user, 3) directory entry with its company and ERP connection,
    # 4) project levels (for the rows' buttons), 5)-6) sync status: last completed run
    # and run in progress (one UNION), last successful run, 7) the switcher's companies,
    # 8)-10) one page of each list; on PostgreSQL also the company's data version and the
    # key of the user's project levels (made in the database, without the rows). Each
    # list's estimated size (on PostgreSQL an EXPLAIN, not a COUNT) was planned by the
    # first page and is kept for a minute.
    with django_assert_num_queries(10 + 2 * versions()):
        response = client.get(tab_url(world.company))
    # The same page again: on PostgreSQL every list is kept by the data version (no
    # page of rows, no project levels), and so is the levels' key: 1)-3), 5)-7) and the
    # data version.
    with django_assert_num_queries(7 if versions() else 10):
        again = client.get(tab_url(world.company))

    assert len(row_numbers(response, "synced")) == min(rows_per_list, RECORD_PAGE_SIZE)
    assert len(row_numbers(response, "ready")) == min(rows_per_list, RECORD_PAGE_SIZE)
    for slug in ("ready", "failed", "synced"):
        assert row_numbers(again, slug) == row_numbers(response, slug)


@pytest.mark.parametrize("rows", [3, 60])
def test_the_invoices_tab_costs_the_same_queries_at_3_rows_as_at_60(rows, django_assert_num_queries):
    world = build_world(erp_system="sage100")
    [commitment] = bulk_commitments(world, 1)
    invoices = SubcontractorInvoice.objects.bulk_create(
        SubcontractorInvoice(
            company=world.company,
            project=world.project,
            vendor=world.vendor,
            commitment=commitment,
            number=str(i),
            billing_period_start="2026-10-01",
            billing_period_end="2026-10-31",
            amount=Decimal(100),
        )
        for i in range(rows)
    )
    factories.bulk_link(
        invoices, erp_ids=[f"RQ{i:06d}" for i in range(rows)], linked_ats=[timezone.now()] * rows
    )
    client = client_for(world.approver)
    # Opening a company's tool notes it in the session (written on the first page only).
    client.get(tab_url(world.company, "subcontractor-invoices"))

    LIST_CACHE.clear()
    permissions._KEPT_LEVELS_KEYS.clear()

    # 1) session, 2) user, 3) directory entry with its company and connection, 4) project
    # levels, 5)-6) sync status, 7) switcher, 8)-10) one page of each list (each with
    # the invoice's project, vendor and commitment joined); on PostgreSQL the data
    # version and the key of the project levels. The lists' estimated sizes were planned
    # by the first page and are kept for a minute.
    with django_assert_num_queries(10 + 2 * versions()):
        response = client.get(tab_url(world.company, "subcontractor-invoices"))

    assert len(row_numbers(response, "synced")) == min(rows, RECORD_PAGE_SIZE)


@pytest.mark.parametrize("rows", [3, 60])
def test_a_list_fragment_costs_the_same_searched_sorted_or_paged(rows, django_assert_num_queries):
    world = build_world()
    bulk_commitments(world, rows)
    client = client_for(world.approver)
    url = list_url(world.company, "commitments", "synced")

    # 1) session, 2) user, 3) directory entry with its company and connection, 4) one
    # page of rows, 5) project levels (for its buttons); on PostgreSQL the company's
    # data version, the key of the project levels and the list's estimated size.
    with django_assert_num_queries(5 + 2 * versions() + estimates()):
        first = htmx_get(client, url)
    # A search asks the trigram indexes first: 4) the matching ids (at most 1001),
    # 5) the page of them (the vendor search is a subquery of the first), 6) project
    # levels. No estimate: the planner cannot count a search's matches either. On
    # PostgreSQL the data version; the levels' key is kept by it from the first page.
    with django_assert_num_queries(6 + versions()):
        searched = htmx_get(client, url + "?synced-q=granite&synced-sort=-amount")

    assert first.status_code == searched.status_code == 200
    assert len(row_numbers(searched, "synced")) == min(rows, RECORD_PAGE_SIZE)
    if rows > RECORD_PAGE_SIZE:
        # The estimate is kept from the first page.
        with django_assert_num_queries(5 + versions()):
            second = htmx_get(client, next_link(first, "synced").replace(tab_url(world.company), url))
        assert len(row_numbers(second, "synced")) == RECORD_PAGE_SIZE
    # Asked again, the list is kept on PostgreSQL (1-3 and the data version: no page, no
    # levels, and their key kept too); elsewhere it is made again (1-5).
    with django_assert_num_queries(4 if versions() else 5):
        again = htmx_get(client, url)
    assert row_numbers(again, "synced") == row_numbers(first, "synced")


def test_no_page_counts_rows_or_skips_them_with_offset():
    world = build_world()
    bulk_commitments(world, 60)
    client = client_for(world.approver)

    with CaptureQueriesContext(connection) as queries:
        first = client.get(tab_url(world.company))
        client.get(next_link(first, "synced"))

    # (The company's data version counts its change marks, a handful of rows of their own.)
    sql = " ".join(
        query["sql"].upper()
        for query in queries.captured_queries
        if "erp_integrations_datachange" not in query["sql"]
    )
    assert "COUNT(" not in sql and "OFFSET" not in sql


# --- paging ------------------------------------------------------------------------------------
def test_paging_forward_and_back_visits_every_row_once_in_order():
    world = build_world()
    bulk_commitments(world, 60)
    client = client_for(world.viewer)

    seen = []
    pages = []
    response = client.get(tab_url(world.company))
    while True:
        pages.append(response)
        seen += row_numbers(response, "synced")
        link = next_link(response, "synced")
        if not link:
            break
        response = client.get(link)

    # Newest link first: SC-001 was synced last.
    assert seen == [f"SC-{i:03d}" for i in range(1, 61)]
    assert [len(row_numbers(page, "synced")) for page in pages] == [25, 25, 10]
    assert prev_link(pages[0], "synced") is None
    back = client.get(prev_link(pages[2], "synced"))
    assert row_numbers(back, "synced") == row_numbers(pages[1], "synced")
    first_again = client.get(prev_link(back, "synced"))
    assert row_numbers(first_again, "synced") == row_numbers(pages[0], "synced")
    assert prev_link(first_again, "synced") is None
    assert 'data-testid="page-first"' in pages[1].content.decode()


def page_range(response, list_slug: str) -> str:
    section = response.content.decode().split(f'data-testid="list-{list_slug}"')[-1]
    match = re.search(r'data-testid="page-range">([^<]*)<', section)
    return match.group(1) if match else ""


def analyze(model) -> None:
    """What autovacuum does after a table changes: fresh statistics for the planner."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def test_each_page_says_which_rows_it_shows_and_of_about_how_many():
    world = build_world()
    bulk_commitments(world, 60)
    if connection.vendor == "postgresql":
        analyze(Commitment)
    client = client_for(world.viewer)

    first = client.get(tab_url(world.company))
    second = client.get(next_link(first, "synced"))
    last = client.get(next_link(second, "synced"))
    back = client.get(prev_link(last, "synced"))

    if connection.vendor == "postgresql":
        # The planner's estimate, not a count: 60 rows analyzed, 60 estimated.
        assert page_range(first, "synced") == "Rows 1–25 of about 60"
        assert page_range(second, "synced") == "Rows 26–50 of about 60"
        assert page_range(back, "synced") == "Rows 26–50 of about 60"
    else:
        # SQLite keeps no such statistics: the rows, and the total only where it is known.
        assert page_range(first, "synced") == "Rows 1–25"
        assert page_range(second, "synced") == "Rows 26–50"
        assert page_range(back, "synced") == "Rows 26–50"
    # The last page knows the total: nothing follows it.
    assert page_range(last, "synced") == "Rows 51–60 of 60"
    assert row_numbers(back, "synced") == row_numbers(second, "synced")


@pytest.mark.postgresql
def test_the_estimate_is_the_planners_and_rounded_as_people_say_it(django_assert_num_queries, monkeypatch):
    world = build_world()
    bulk_commitments(world, 60)
    analyze(Commitment)

    with django_assert_num_queries(1) as captured:
        estimate = record_list_estimate(kind=KINDS[0], company_id=world.company.pk, export_state="synced")
    assert captured.captured_queries[0]["sql"].startswith("EXPLAIN (FORMAT JSON) SELECT")
    assert estimate == 60
    # Kept for ESTIMATE_SECONDS: the next page plans nothing; then it is planned again.
    with django_assert_num_queries(0):
        assert record_list_estimate(kind=KINDS[0], company_id=world.company.pk, export_state="synced") == 60
    monkeypatch.setattr(selectors, "ESTIMATE_SECONDS", 0)
    with django_assert_num_queries(1):
        assert record_list_estimate(kind=KINDS[0], company_id=world.company.pk, export_state="synced") == 60
    # A million-row list as the planner sees it, on its second page.
    second_page = Page(rows=[object()] * 25, sort="-synced", next_cursor="x", prev_cursor=None, start=25)
    assert rows_shown(second_page, 949_873) == "rows 26–50 of about 950,000"


def test_a_cursor_from_before_positions_still_pages_without_saying_which_rows():
    world = build_world()
    records = bulk_commitments(world, 60)
    # SC-025's cursor as it was written before cursors carried a position.
    sc_025 = Commitment.objects.get(pk=records[24].pk)
    cursor = encode_cursor("-synced", sc_025.linked_at, sc_025.pk)

    response = client_for(world.viewer).get(tab_url(world.company) + f"?synced-after={cursor}")

    assert row_numbers(response, "synced")[0] == "SC-026"
    assert page_range(response, "synced") == ""


@pytest.mark.parametrize("position", [-1, 2**63, "25", 2.5, True, None])
def test_a_cursor_with_a_position_that_is_not_a_count_pages_all_the_same(position):
    world = build_world()
    records = bulk_commitments(world, 60)
    sc_025 = Commitment.objects.get(pk=records[24].pk)
    raw = json.dumps(["-synced", sc_025.linked_at.isoformat(), sc_025.pk, position]).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")

    response = client_for(world.viewer).get(tab_url(world.company) + f"?synced-after={cursor}")

    assert response.status_code == 200
    assert row_numbers(response, "synced")[0] == "SC-026"
    assert page_range(response, "synced") == ""


def test_paging_one_list_keeps_the_others_where_they_are():
    world = build_world()
    bulk_commitments(world, 30)
    Commitment.objects.bulk_create(
        Commitment(
            company=world.company,
            project=world.project,
            vendor=world.vendor,
            number=f"R-{i:02d}",
            title="R",
            export_state="ready",
        )
        for i in range(30)
    )
    client = client_for(world.viewer)

    page = client.get(tab_url(world.company) + "?ready-sort=number")
    second = client.get(next_link(page, "synced"))

    query = parse_qs(urlsplit(next_link(page, "synced")).query)
    assert query["ready-sort"] == ["number"] and "synced-after" in query
    assert row_numbers(second, "ready")[:2] == ["R-00", "R-01"]
    assert len(row_numbers(second, "synced")) == 5


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        "eyJ4IjoxfQ",
        "WyItc3luY2VkIiwibm90IGEgZGF0ZSIsMV0",
        "WyJudW1iZXIiLCJTQy0wMDEiLDFd",
        "a" * 5000,
        "%00",
    ],
)
def test_a_malformed_or_foreign_cursor_shows_the_first_page(cursor):
    world = build_world()
    bulk_commitments(world, 30)
    client = client_for(world.viewer)

    response = client.get(tab_url(world.company) + f"?synced-after={cursor}&synced-before={cursor}")

    assert response.status_code == 200
    assert row_numbers(response, "synced")[0] == "SC-001"


def test_the_list_fragment_keeps_the_address_bar_in_step():
    world = build_world()
    bulk_commitments(world, 3)
    client = client_for(world.viewer)
    current = tab_url(world.company) + "?ready-sort=number&synced-q=old"

    response = htmx_get(
        client,
        list_url(world.company, "commitments", "synced") + "?synced-q=SC-00&synced-sort=number",
        current=current,
    )

    replaced = parse_qs(urlsplit(response["HX-Replace-Url"]).query)
    assert urlsplit(response["HX-Replace-Url"]).path == tab_url(world.company)
    # The other list's state comes from the address bar; this list's from the request.
    assert replaced == {"ready-sort": ["number"], "synced-q": ["SC-00"], "synced-sort": ["number"]}
    assert row_numbers(response, "synced") == ["SC-001", "SC-002", "SC-003"]


# --- sorting -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("number", lambda c: (c.number, c.pk)),
        ("-number", lambda c: (c.number, c.pk)),
        ("title", lambda c: (c.title, c.pk)),
        ("amount", lambda c: (c.amount, c.pk)),
        ("-amount", lambda c: (c.amount, c.pk)),
        ("synced", lambda c: (c.linked_at, c.pk)),
    ],
)
def test_each_sort_key_orders_every_page(sort, key):
    world = build_world()
    commitments = bulk_commitments(world, 40)
    expected = [c.number for c in sorted(commitments, key=key, reverse=sort.startswith("-"))]
    client = client_for(world.viewer)

    response = client.get(tab_url(world.company) + f"?synced-sort={sort}")
    numbers = row_numbers(response, "synced")
    numbers += row_numbers(client.get(next_link(response, "synced")), "synced")

    assert numbers == expected


@pytest.mark.parametrize("sort", ["vendor", "-", "id", "linked_at; DROP TABLE x", "title--", ""])
def test_an_unknown_sort_falls_back_to_newest_synced_first(sort):
    world = build_world()
    bulk_commitments(world, 3)

    response = client_for(world.viewer).get(tab_url(world.company) + f"?synced-sort={sort}")

    assert response.status_code == 200
    assert row_numbers(response, "synced") == ["SC-001", "SC-002", "SC-003"]


def test_sort_links_toggle_direction_and_say_which_is_active():
    world = build_world()
    bulk_commitments(world, 3)

    body = client_for(world.viewer).get(tab_url(world.company) + "?synced-sort=amount").content.decode()
    synced = body.split('data-testid="list-synced"')[1]

    assert re.search(
        r'aria-sort="ascending"><a class="sort is-sorted" href="[^"]*synced-sort=-amount"', synced
    )
    assert 'data-testid="sort-title"' in synced


def test_invoices_cannot_be_sorted_by_title():
    world = build_world()
    body = client_for(world.viewer).get(
        tab_url(world.company, "subcontractor-invoices") + "?synced-sort=title"
    )

    assert body.status_code == 200
    assert 'data-testid="sort-title"' not in body.content.decode()


# --- searching -------------------------------------------------------------------------------------
def test_search_matches_number_title_vendor_and_erp_id_ignoring_case():
    world = build_world()
    acme = factories.vendor(company=world.company, name="ACME Steel Erectors")
    bulk_commitments(world, 12)
    Commitment.objects.filter(number="SC-004").update(vendor=acme)
    client = client_for(world.viewer)

    def search(term):
        return row_numbers(
            client.get(tab_url(world.company) + f"?synced-q={term}&synced-sort=number"), "synced"
        )

    assert search("sc-01") == ["SC-010", "SC-011", "SC-012"]
    assert search("package 005") == ["SC-007"]
    assert search("acme steel") == ["SC-004"]
    assert search("jc-0000009") == ["SC-009"]
    assert search("nothing-like-this") == []


def test_search_treats_percent_and_underscore_literally_and_says_when_nothing_matches():
    world = build_world()
    bulk_commitments(world, 3)
    Commitment.objects.filter(number="SC-002").update(title="50% retainage_held")
    client = client_for(world.viewer)

    assert row_numbers(client.get(tab_url(world.company) + "?synced-q=50%25"), "synced") == ["SC-002"]
    assert row_numbers(client.get(tab_url(world.company) + "?synced-q=e_h"), "synced") == ["SC-002"]
    assert row_numbers(client.get(tab_url(world.company) + "?synced-q=%25%25%25"), "synced") == []
    empty = client.get(tab_url(world.company) + "?synced-q=%3Cnone%3E")
    assert "Nothing in this list matches “<none>”." in text(empty)
    assert "&lt;none&gt;" in empty.content.decode()


def test_a_vendor_search_stays_inside_the_company():
    world = build_world()
    bulk_commitments(world, 2)
    factories.vendor(company=world.other_company, name="Granite Ridge Concrete")

    response = client_for(world.viewer).get(tab_url(world.company) + "?synced-q=granite")

    assert row_numbers(response, "synced") == ["SC-001", "SC-002"]


def test_a_very_long_or_odd_search_is_cut_not_refused():
    world = build_world()
    bulk_commitments(world, 2)

    response = client_for(world.viewer).get(tab_url(world.company) + "?synced-q=" + "SC" * 400 + "%00")

    assert response.status_code == 200
    assert row_numbers(response, "synced") == []


def test_searching_keeps_the_sort_and_the_other_lists():
    world = build_world()
    bulk_commitments(world, 3)

    body = (
        client_for(world.viewer)
        .get(tab_url(world.company) + "?synced-sort=number&ready-q=x")
        .content.decode()
    )
    form = body.split('data-testid="list-synced"')[1].split("</form>")[0]

    assert '<input type="hidden" name="synced-sort" value="number">' in form
    assert '<input type="hidden" name="ready-q" value="x">' in form
    assert (
        'name="synced-q"' in form
        and 'hx-get="' + list_url(world.company, "commitments", "synced") + '"' in form
    )
