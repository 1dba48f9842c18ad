"""The tool's read queries: keyset pages that are exact, cheap and served by the indexes."""

import base64
import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import DirectoryMembership, PermissionLevel
from erp_integrations import selectors
from erp_integrations.kinds import COMMITMENT, INVOICE
from erp_integrations.models import (
    AuditEntry,
    Commitment,
    ExportState,
    SyncRun,
)
from tests import factories

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


@pytest.fixture
def company():
    return factories.company()


@pytest.fixture
def project(company):
    return factories.project(company=company)


def make_synced(
    project, count, *, amounts=(Decimal("10"), Decimal("20"), Decimal("20"), Decimal("30")), vendor=None
):
    """Commitments with repeated amounts and link times, so ties must be broken by id."""
    vendor = vendor or factories.vendor(company=project.company, name="Granite Ridge Concrete")
    now = timezone.now().replace(microsecond=0)
    records = Commitment.objects.bulk_create(
        Commitment(
            company=project.company,
            project=project,
            vendor=vendor,
            number=f"SC-{i % 7}-{i:03d}",
            title=f"Title {i % 5}",
            amount=amounts[i % len(amounts)],
        )
        for i in range(count)
    )
    return factories.bulk_link(
        records,
        erp_ids=[f"JC-{i:07d}" for i in range(count)],
        linked_ats=[now - timedelta(minutes=i // 3) for i in range(count)],
    )


def walk(company, *, sort, page_size=7):
    """Every page forward from the first, then every page back from the last."""

    def page(**cursor):
        return selectors.record_list_page(
            kind=COMMITMENT,
            company_id=company.pk,
            export_state="synced",
            sort=sort,
            page_size=page_size,
            **cursor,
        )

    forward = [page()]
    while forward[-1].has_next:
        forward.append(page(after=forward[-1].next_cursor))
    backward = [forward[-1]]
    while backward[-1].has_prev:
        backward.append(page(before=backward[-1].prev_cursor))
    return [[row.pk for row in p.rows] for p in forward], [
        [row.pk for row in p.rows] for p in reversed(backward)
    ]


@pytest.mark.postgresql  # the query count or plan is PostgreSQL's
def test_a_common_term_and_a_sparse_window_are_remembered_a_minute_and_list_the_same(
    company, project, monkeypatch, django_assert_num_queries
):
    rows = make_synced(project, 30)
    newest_first = sorted(rows, key=lambda r: (r.linked_at, r.pk), reverse=True)
    old = newest_first[-12:]
    Commitment.objects.filter(pk__in=[r.pk for r in old]).update(title="Curtain wall glazing")
    monkeypatch.setattr(selectors, "SEARCH_PROBE_LIMIT", 5)
    monkeypatch.setattr(selectors, "SEARCH_WINDOW", 10)

    def search(term="glazing"):
        page = selectors.record_list_page(
            kind=COMMITMENT, company_id=company.pk, export_state="synced", search=term, page_size=5
        )
        return [row.pk for row in page.rows]

    # The matches sorted: on PostgreSQL after the snapshot they would be kept by (not
    # here: this test's transaction wrote already; see test_kept_matches.py).
    sorted_ = 2 if connection.vendor == "postgresql" else 1
    # The probe, the window (too sparse), the matches' ids sorted, the page by id.
    with django_assert_num_queries(3 + sorted_):
        first = search()
    # Within the minute: no probe, no window; the sorted matches give the same page.
    with django_assert_num_queries(1 + sorted_):
        assert search() == first == [r.pk for r in old][:5]
    # Whatever changed meanwhile is listed: the sort covers every match.
    Commitment.objects.filter(pk__in=[r.pk for r in newest_first[:6]]).update(title="Glazing, level 2")
    with django_assert_num_queries(1 + sorted_):
        assert search() == [r.pk for r in newest_first[:5]]
    # A minute on, the term is probed and the window walked again (it now holds a page).
    monkeypatch.setattr(selectors, "SEARCH_VERDICT_SECONDS", 0)
    with django_assert_num_queries(2):
        assert search() == [r.pk for r in newest_first[:5]]
    # A rare term is never remembered: its page is what the probe found.
    monkeypatch.setattr(selectors, "SEARCH_VERDICT_SECONDS", 60)
    Commitment.objects.filter(pk=newest_first[5].pk).update(title="Sealant")
    for _ in range(2):
        with django_assert_num_queries(2):
            assert search("sealant") == [newest_first[5].pk]


@pytest.mark.parametrize(
    "sort", ["-synced", "synced", "number", "-number", "title", "-title", "amount", "-amount"]
)
def test_every_sort_pages_through_every_row_once_forward_and_back(company, project, sort):
    rows = make_synced(project, 40)
    key = selectors.sort_keys(COMMITMENT, ExportState.SYNCED)[sort.removeprefix("-")].field
    expected = [
        r.pk for r in sorted(rows, key=lambda r: (getattr(r, key), r.pk), reverse=sort.startswith("-"))
    ]

    forward, backward = walk(company, sort=sort)

    assert [pk for page in forward for pk in page] == expected
    assert [len(page) for page in forward] == [7, 7, 7, 7, 7, 5]
    # Walking back from the last page meets the same pages, and stops at the first.
    assert backward == forward


def test_a_page_is_one_query_and_a_search_one_more(company, project, django_assert_num_queries):
    make_synced(project, 30)

    with django_assert_num_queries(1):
        selectors.record_list_page(
            kind=COMMITMENT, company_id=company.pk, export_state="synced", sort="-amount"
        )
    # 1) the trigram probe: the ids of the few matches, 2) the page of them.
    with django_assert_num_queries(2):
        page = selectors.record_list_page(
            kind=COMMITMENT, company_id=company.pk, export_state="synced", search="granite", sort="-amount"
        )

    assert len(page.rows) == 25 and page.has_next and not page.has_prev
    # Rows come with what they show: no query per row.
    with django_assert_num_queries(0):
        assert {row.vendor.name for row in page.rows} == {"Granite Ridge Concrete"}
        assert {row.project.name for row in page.rows} == {project.name}


@pytest.mark.parametrize("sort", ["-synced", "number", "-amount", "title"])
@pytest.mark.parametrize("term", ["granite", "title 3", "sc-4-", "jc-000001"])
def test_rare_and_common_terms_give_the_same_pages(company, project, sort, term, monkeypatch):
    """Below the probe's limit a term pages over its ids; above it, the list is walked."""
    make_synced(project, 60)

    def all_pages():
        pages, after = [], ""
        while True:
            page = selectors.record_list_page(
                kind=COMMITMENT,
                company_id=company.pk,
                export_state="synced",
                search=term,
                sort=sort,
                after=after,
                page_size=9,
            )
            pages.append([row.pk for row in page.rows])
            if not page.has_next:
                return pages
            after = page.next_cursor

    rare = all_pages()
    monkeypatch.setattr(selectors, "SEARCH_PROBE_LIMIT", 0)
    common = all_pages()

    assert rare == common and rare[0]


@pytest.mark.postgresql  # the query count or plan is PostgreSQL's
def test_a_common_term_is_walked_not_probed_further(company, project, monkeypatch, django_assert_num_queries):
    make_synced(project, 30)
    monkeypatch.setattr(selectors, "SEARCH_PROBE_LIMIT", 5)

    # 1) the probe finds more than 5 matches, 2) the page, walked with the search over
    # the window of rows next in order, which holds a full page.
    with django_assert_num_queries(2) as queries:
        page = selectors.record_list_page(
            kind=COMMITMENT, company_id=company.pk, export_state="synced", search="granite"
        )

    assert len(page.rows) == 25 and page.has_next
    assert "LIMIT 6" in queries.captured_queries[0]["sql"]
    assert "ILIKE" in queries.captured_queries[1]["sql"]
    assert f"LIMIT {selectors.SEARCH_WINDOW}" in queries.captured_queries[1]["sql"]


@pytest.mark.postgresql  # the query count or plan is PostgreSQL's
def test_a_common_term_scarce_in_the_window_is_sorted_from_its_matches(
    company, project, monkeypatch, django_assert_num_queries
):
    rows = make_synced(project, 30)
    # The only matches are the oldest rows: none among the newest 10.
    old = sorted(rows, key=lambda r: (r.linked_at, r.pk))[:12]
    Commitment.objects.filter(pk__in=[r.pk for r in old]).update(title="Curtain wall glazing")
    monkeypatch.setattr(selectors, "SEARCH_PROBE_LIMIT", 5)
    monkeypatch.setattr(selectors, "SEARCH_WINDOW", 10)

    # 1) the probe finds more than 5 matches, 2) the window of the newest 10 rows holds
    # none, 3) the snapshot the sorted matches are kept by (not kept here: this test's
    # transaction wrote already), 4) the matches' keys and ids, sorted with the sort key
    # out of its index's reach, 5) the page's rows by id.
    with django_assert_num_queries(5) as queries:
        page = selectors.record_list_page(
            kind=COMMITMENT, company_id=company.pk, export_state="synced", search="glazing", page_size=5
        )

    assert [row.pk for row in page.rows] == [r.pk for r in reversed(old)][:5]
    assert page.has_next and not page.has_prev
    assert "LIMIT 10" in queries.captured_queries[1]["sql"]
    assert "pg_current_snapshot()" in queries.captured_queries[2]["sql"]
    # Every match, not the window; the page and the spare kept beyond it (LIMIT 6 + 100).
    assert queries.captured_queries[3]["sql"].endswith(f"LIMIT {6 + selectors.KEPT_SPARE}")
    # Sorted by expressions no index serves, so the planner sorts the matches: their
    # keys and ids only, not whole rows with their joins.
    sorted_ids = queries.captured_queries[3]["sql"]
    table = '"erp_integrations_commitment"'
    columns = f'{table}."linked_at" AS "linked_at", {table}."id" AS "pk"'
    assert sorted_ids.startswith(f"SELECT {columns} FROM {table} WHERE")
    assert '"linked_at" + ' in sorted_ids.split("ORDER BY")[-1]
    assert '("erp_integrations_commitment"."id" + 0) DESC' in sorted_ids
    assert "ILIKE" not in queries.captured_queries[4]["sql"]


@pytest.mark.parametrize(
    "sort", ["-synced", "synced", "number", "-number", "title", "-title", "amount", "-amount"]
)
@pytest.mark.parametrize("window", [1, 4, 10, 100])
def test_windowed_and_sorted_searches_page_like_the_rare_term(company, project, sort, window, monkeypatch):
    """Through the window, the sorted fallback or both, forward and back, the same pages."""
    rows = make_synced(project, 60)
    # Matches spread unevenly: a run of them, then a gap wider than the small windows.
    matching = [r.pk for r in rows if r.pk % 11 in (1, 2, 3) or 20 <= rows.index(r) < 26]
    Commitment.objects.filter(pk__in=matching).update(
        vendor=factories.vendor(company=company, name="Glazing Co")
    )

    def pages():
        def page(**cursor):
            return selectors.record_list_page(
                kind=COMMITMENT,
                company_id=company.pk,
                export_state="synced",
                search="glazing",
                sort=sort,
                page_size=4,
                **cursor,
            )

        forward = [page()]
        while forward[-1].has_next:
            forward.append(page(after=forward[-1].next_cursor))
        backward = [forward[-1]]
        while backward[-1].has_prev:
            backward.append(page(before=backward[-1].prev_cursor))
        ids = [[row.pk for row in p.rows] for p in forward]
        assert [[row.pk for row in p.rows] for p in reversed(backward)] == ids
        return ids

    rare = pages()
    monkeypatch.setattr(selectors, "SEARCH_PROBE_LIMIT", 0)
    monkeypatch.setattr(selectors, "SEARCH_WINDOW", window)
    common = pages()

    assert common == rare
    assert sorted(pk for page in rare for pk in page) == sorted(matching)


def test_one_or_two_characters_match_a_record_number_exactly(company, project, django_assert_num_queries):
    rows = make_synced(project, 5)
    Commitment.objects.filter(pk=rows[2].pk).update(number="7")
    Commitment.objects.filter(pk=rows[3].pk).update(number="AB")

    def search(term):
        return [
            row.pk
            for row in selectors.record_list_page(
                kind=COMMITMENT, company_id=company.pk, export_state="synced", search=term
            ).rows
        ]

    with django_assert_num_queries(1):
        assert search("7") == [rows[2].pk]
    assert search("ab") == [rows[3].pk]
    assert search("SC") == []


def test_invoice_pages_join_the_commitment(company, project, django_assert_num_queries):
    commitment = factories.link(factories.commitment(project=project))
    factories.link(factories.invoice(commitment=commitment, number="1"))

    with django_assert_num_queries(1):
        page = selectors.record_list_page(kind=INVOICE, company_id=company.pk, export_state="synced")
        assert [row.commitment.number for row in page.rows] == [commitment.number]


def test_other_companies_rows_never_appear(company, project):
    make_synced(project, 3)
    other = factories.company()
    make_synced(factories.project(company=other), 3)

    page = selectors.record_list_page(
        kind=COMMITMENT, company_id=company.pk, export_state="synced", search="granite"
    )

    assert {row.company_id for row in page.rows} == {company.pk}
    assert len(page.rows) == 3


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("sc-3-", {3, 10, 17}),
        ("TITLE 4", {4, 9, 14, 19}),
        ("granite", set(range(20))),
        ("jc-0000012", {12}),
        ("%", set()),
        ("_", set()),
    ],
)
def test_search_matches_number_title_vendor_and_erp_id_literally(company, project, term, expected):
    rows = make_synced(project, 20)

    page = selectors.record_list_page(
        kind=COMMITMENT, company_id=company.pk, export_state="synced", search=term
    )

    assert {rows.index(row) for row in page.rows} == expected


def test_invoices_are_not_searched_by_title(company, project):
    page = selectors.record_list_page(
        kind=INVOICE, company_id=company.pk, export_state="synced", search="x", sort="title"
    )

    assert page.sort == "-synced" and page.rows == []


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(json.dumps({"a": 1}).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps(["-amount", "12.5", 3]).encode()).decode(),  # another sort
        base64.urlsafe_b64encode(json.dumps(["-synced", "yesterday", 3]).encode()).decode(),
        base64.urlsafe_b64encode(
            json.dumps(["-synced", "2026-01-01T00:00:00", 3]).encode()
        ).decode(),  # naive
        base64.urlsafe_b64encode(json.dumps(["-synced", "2026-01-01T00:00:00+00:00", -1]).encode()).decode(),
        base64.urlsafe_b64encode(
            json.dumps(["-synced", "2026-01-01T00:00:00+00:00", True]).encode()
        ).decode(),
        base64.urlsafe_b64encode(
            json.dumps(["-synced", "2026-01-01T00:00:00+00:00", 2**70]).encode()
        ).decode(),
        base64.urlsafe_b64encode(json.dumps(["-synced", None, 3]).encode()).decode(),
        "A" * 3000,
    ],
)
def test_a_cursor_that_does_not_parse_means_the_first_page(company, project, cursor):
    make_synced(project, 30)

    page = selectors.record_list_page(
        kind=COMMITMENT, company_id=company.pk, export_state="synced", after=cursor, before=cursor
    )

    assert not page.has_prev and len(page.rows) == 25


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e999999", "x" * 50])
def test_an_amount_cursor_must_be_a_finite_decimal(company, project, value):
    make_synced(project, 30)
    cursor = base64.urlsafe_b64encode(json.dumps(["amount", value, 5]).encode()).decode()

    page = selectors.record_list_page(
        kind=COMMITMENT, company_id=company.pk, export_state="synced", sort="amount", after=cursor
    )

    assert not page.has_prev and len(page.rows) == 25


def test_an_empty_list_has_no_neighbours(company):
    page = selectors.record_list_page(kind=COMMITMENT, company_id=company.pk, export_state="ready")

    assert page.rows == [] and not page.has_next and not page.has_prev


def _explain(sql: str, params=None) -> str:
    with connection.cursor() as cursor:
        # With a few test rows a sequential scan is cheapest; forbid it to see whether
        # an index can serve the query's shape at all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET LOCAL enable_seqscan = on")
    return plan


@pytest.mark.postgresql  # the query count or plan is PostgreSQL's
@pytest.mark.parametrize(
    ("sort", "index"),
    [
        ("-synced", "commitment_by_linked"),
        ("number", "commitment_by_number"),
        ("-amount", "commitment_by_amount"),
        ("title", "commitment_by_title"),
    ],
)
def test_each_sort_is_a_range_scan_of_its_index_with_no_sort_step(company, project, sort, index):
    make_synced(project, 10)
    first = selectors.record_list_page(
        kind=COMMITMENT, company_id=company.pk, export_state="synced", sort=sort, page_size=3
    )

    with CaptureQueriesContext(connection) as queries:
        selectors.record_list_page(
            kind=COMMITMENT,
            company_id=company.pk,
            export_state="synced",
            sort=sort,
            after=first.next_cursor,
            page_size=3,
        )
    plan = _explain(queries.captured_queries[0]["sql"])

    assert re.search(rf"Index Scan (Backward )?using {index}", plan), plan
    # The index gives the order: the page is read, not sorted.
    assert "Sort" not in plan, plan


@pytest.mark.postgresql  # the query count or plan is PostgreSQL's
def test_the_search_is_in_the_shape_the_trigram_indexes_serve(company):
    # Django's icontains compiles to UPPER(col) LIKE UPPER(...), which the trigram
    # indexes on the bare columns (migration 0002) cannot answer; the search uses
    # ILIKE on the columns, and the vendors as an array computed once, not a subplan
    # tested against every row.
    queryset = Commitment.objects.filter(
        selectors._record_search(COMMITMENT, company.pk, "synced", "gr_an%ite")
    ).values("id")
    sql = str(queryset.query)

    for column in ("number", "erp_id", "title"):
        assert f'"erp_integrations_commitment"."{column}" ILIKE' in sql
    assert 'U0."name" ILIKE' in sql  # the vendors' subquery
    assert "= ANY(ARRAY(SELECT" in sql and " IN (SELECT" not in sql and "UPPER(" not in sql
    assert r"%gr\_an\%ite%" in sql


@pytest.mark.parametrize("state", ["ready", "failed"])
def test_a_list_of_records_without_erp_ids_is_not_searched_by_erp_id(company, project, state):
    # Only a synced record has an ERP id (the *_state_matches_link constraint): testing
    # it elsewhere made PostgreSQL fetch every synced record whose ERP id matched (all
    # 100,000 of 'JC-00' at a million rows) only to drop them for their state.
    ready = factories.commitment(project=project, number="JC-77", export_state=state)
    factories.commitment(project=project, number="SC-1", export_state=state, title="JC-77 lookalike")
    make_synced(project, 3)
    with CaptureQueriesContext(connection) as queries:
        page = selectors.record_list_page(
            kind=COMMITMENT, company_id=company.pk, export_state=state, search="jc-77"
        )

    assert {row.number for row in page.rows} == {ready.number, "SC-1"}
    searched = [q["sql"] for q in queries.captured_queries]
    assert searched and all('"erp_id" ILIKE' not in sql and '"erp_id" LIKE' not in sql for sql in searched)
    synced = selectors._record_search(COMMITMENT, company.pk, "synced", "jc-77")
    assert '"erp_id" ' in str(Commitment.objects.filter(synced).query).split("WHERE", 1)[1]


# --- sync runs, audit trail, companies ----------------------------------------------------------------
def test_sync_runs_newest_first_in_one_query(company, django_assert_num_queries):
    now = timezone.now()
    runs = SyncRun.objects.bulk_create(
        SyncRun(
            connection=company.erp_connection,
            status="succeeded",
            started_at=now - timedelta(minutes=i),
            finished_at=now,
        )
        for i in range(5)
    )

    with django_assert_num_queries(1):
        page = selectors.sync_run_page(connection_id=company.erp_connection.pk, page_size=3)
        assert [run.pk for run in page.rows] == [r.pk for r in runs[:3]]
    rest = selectors.sync_run_page(
        connection_id=company.erp_connection.pk, page_size=3, after=page.next_cursor
    )
    assert [run.pk for run in rest.rows] == [r.pk for r in runs[3:]]


def test_audit_filters_parse_only_known_values():
    filters = selectors.AuditFilters.parse(
        {"record_type": "invoice", "outcome": "nope", "user": "12", "action": "unlink"}
    )

    assert filters == selectors.AuditFilters(record_type="invoice", user_id=12, outcome="", action="unlink")
    assert filters.as_query() == {"record_type": "invoice", "action": "unlink", "user": "12"}
    assert selectors.AuditFilters.parse({"user": "-3"}).user_id is None


def test_audit_entries_of_the_company_newest_first(company, project):
    approver = factories.approver(company, project)
    record = factories.link(factories.commitment(project=project))
    for outcome in ("refused", "success", "refused"):
        AuditEntry.objects.create(
            company=company,
            user=approver,
            action="unlink",
            record_type="commitment",
            record_id=record.pk,
            record_number=record.number,
            erp_system="sage300",
            outcome=outcome,
        )

    page = selectors.audit_entry_page(
        company_id=company.pk, filters=selectors.AuditFilters(outcome="refused")
    )

    assert [entry.outcome for entry in page.rows] == ["refused", "refused"]
    assert page.rows[0].pk > page.rows[1].pk


def test_companies_for_user(company):
    second = factories.company(name="AAA First by name")
    user = factories.user("u", company=company, erp_level=PermissionLevel.READ_ONLY)
    DirectoryMembership.objects.create(company=second, user=user, erp_integrations_level=PermissionLevel.NONE)
    root = factories.user("root", is_superuser=True)
    inactive = factories.user("gone", company=company, erp_level=PermissionLevel.ADMIN, is_active=False)

    assert [c.id for c in selectors.companies_for_user(user=user)] == [second.pk, company.pk]
    assert [c.id for c in selectors.companies_for_user(user=user, openable_only=True)] == [company.pk]
    assert [c.can_view_tool for c in selectors.companies_for_user(user=user)] == [False, True]
    assert [c.name for c in selectors.companies_for_user(user=user, limit=1)] == ["AAA First by name"]
    assert [c.id for c in selectors.companies_for_user(user=user, company_id=company.pk)] == [company.pk]
    assert selectors.companies_for_user(user=user, company_id=second.pk, openable_only=True) == []
    # is_superuser grants nothing in the product: no directory entry, no company.
    assert selectors.companies_for_user(user=root) == []
    assert selectors.companies_for_user(user=inactive) == []


def _audit_trail(company, rare_user, common_user, size=3000):
    """A trail where one value of each filter is rare, as refusals and invoices are."""
    AuditEntry.objects.bulk_create(
        AuditEntry(
            company=company,
            user=rare_user if i % 20 == 0 else common_user,
            action="unlink" if i % 20 == 1 else "export",
            record_type="invoice" if i % 20 == 2 else "commitment",
            record_id=i,
            record_number=f"SC-{i}",
            erp_system="sage300",
            outcome="refused" if i % 20 == 3 else "success",
        )
        for i in range(size)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE erp_integrations_auditentry")


@pytest.mark.postgresql  # the query count or plan is PostgreSQL's
@pytest.mark.parametrize(
    ("filters", "index"),
    [
        (selectors.AuditFilters(outcome="refused"), "audit_by_outcome"),
        (selectors.AuditFilters(record_type="invoice"), "audit_by_type"),
        (selectors.AuditFilters(action="unlink"), "audit_by_action"),
        ("rare user", "audit_by_user"),
    ],
)
def test_each_audit_filter_walks_its_index_newest_first_with_no_sort_step(company, filters, index):
    rare, common = factories.user("rare-auditor"), factories.user("busy-auditor")
    _audit_trail(company, rare, common)
    if filters == "rare user":
        filters = selectors.AuditFilters(user_id=rare.pk)

    with CaptureQueriesContext(connection) as queries:
        selectors.audit_entry_page(company_id=company.pk, filters=filters)
    plan = _explain(queries.captured_queries[0]["sql"])

    assert re.search(rf"Index Scan (Backward )?using {index}", plan), plan
    assert "Sort" not in plan, plan


@pytest.mark.postgresql  # the query count or plan is PostgreSQL's
def test_the_sync_history_walks_its_index_newest_first(company):
    with CaptureQueriesContext(connection) as queries:
        selectors.sync_run_page(connection_id=company.erp_connection.pk)
    with connection.cursor() as cursor:
        # A handful of runs make a bitmap scan and a sort cheapest; ask whether the
        # index can give the order at all, as it will at a year of hourly runs.
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        plan = _explain(queries.captured_queries[0]["sql"])
        cursor.execute("SET LOCAL enable_bitmapscan = on")

    assert re.search(r"Index Scan (Backward )?using sync_run_history", plan), plan
    assert "Sort" not in plan, plan
