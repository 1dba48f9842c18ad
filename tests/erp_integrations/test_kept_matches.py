"""A common search's sorted matches, kept across changes to the company (PostgreSQL).

``selectors._sorted_matches`` keeps the first matches of a term whose matches must be
sorted (too many for the probe, too few among the newest rows), with the snapshot they
were read in; after a change it reads only the rows the change's marks name (migration
0012). Every page here is compared with the same page read straight from the table.
These tests commit (``transaction=True``): a kept result is told apart from later
changes by their transactions, which a test's one wrapping transaction would hide.
"""

from datetime import timedelta

import psycopg
import pytest
from django.db import connection, transaction
from django.db.models import F, Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from erp_integrations import selectors
from erp_integrations.kinds import COMMITMENT
from erp_integrations.models import Commitment, ErpLink
from erp_integrations.services import data_version
from tests import factories
from tests.erp_integrations.views.tool_world import other_session_conninfo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgresql]

PAGE = 5
TERM = "glazing"


@pytest.fixture
def world(monkeypatch):
    """40 synced commitments, a minute apart; the oldest 20 match TERM, so the newest
    rows hold no page of it and its matches are sorted. The page is 5 rows and 3 more
    are kept beyond it (the page's extra row makes 6 + 3)."""
    monkeypatch.setattr(selectors, "SEARCH_PROBE_LIMIT", 5)
    monkeypatch.setattr(selectors, "SEARCH_WINDOW", 5)
    monkeypatch.setattr(selectors, "KEPT_SPARE", 3)
    company = factories.company()
    project = factories.project(company=company)
    vendor = factories.vendor(company=company, name="Harbor Supply")
    records = Commitment.objects.bulk_create(
        Commitment(
            company=company,
            project=project,
            vendor=vendor,
            number=f"SC-{i:03d}",
            title=f"Curtain wall {TERM} {i}" if i >= 20 else f"Concrete {i}",
            amount=10 + i,
        )
        for i in range(40)
    )
    now = timezone.now().replace(microsecond=0)
    factories.bulk_link(
        records,
        erp_ids=[f"JC-{i:07d}" for i in range(40)],
        linked_ats=[now - timedelta(minutes=i) for i in range(40)],
    )
    return company, vendor


def search(company, term=TERM):
    page = selectors.record_list_page(
        kind=COMMITMENT, company_id=company.pk, export_state="synced", search=term, page_size=PAGE
    )
    return [row.pk for row in page.rows]


def straight(company, term=TERM):
    """The same page read straight from the table, newest link first."""
    return list(
        Commitment.objects.filter(company=company, export_state="synced", title__icontains=term)
        .order_by("-linked_at", "-id")
        .values_list("pk", flat=True)[:PAGE]
    )


def searched(company):
    """The page, and whether the matches were sorted afresh (their whole sort ran)."""
    with CaptureQueriesContext(connection) as queries:
        rows = search(company)
    sql = [query["sql"] for query in queries.captured_queries]
    return rows, any(q.endswith(f"LIMIT {PAGE + 1 + selectors.KEPT_SPARE}") for q in sql), len(sql)


def matching(company):
    return list(
        Commitment.objects.filter(company=company, title__icontains=TERM)
        .order_by("-linked_at", "-id")
        .values_list("pk", flat=True)
    )


def test_kept_matches_follow_every_change_reading_only_what_changed(world):
    company, _ = world
    first, afresh, _ = searched(company)
    assert afresh and first == straight(company)

    # Nothing changed: the marks (none) and the page by id.
    rows, afresh, count = searched(company)
    assert (rows, afresh, count) == (first, False, 2)

    # A change to a record that does not match: read again, still no match.
    Commitment.objects.filter(company=company, number="SC-000").update(amount=99)
    rows, afresh, count = searched(company)
    assert (rows, afresh, count) == (straight(company), False, 3)

    # The newest record comes to match: it leads the page.
    Commitment.objects.filter(company=company, number="SC-000").update(title=f"Lobby {TERM}")
    rows, afresh, _ = searched(company)
    assert not afresh and rows == straight(company)
    assert rows[0] == Commitment.objects.get(company=company, number="SC-000").pk

    # A kept match stops matching: the next one, kept beyond the page, comes in.
    Commitment.objects.filter(pk=first[1]).update(title="Storefront")
    rows, afresh, _ = searched(company)
    assert not afresh and rows == straight(company) and first[1] not in rows

    # An old match is linked again now (its link and its copy move together): first.
    oldest = matching(company)[-1]
    now = timezone.now()
    with transaction.atomic():
        ErpLink.objects.filter(record_id=oldest, kind="commitment").update(linked_at=now)
        Commitment.objects.filter(pk=oldest).update(linked_at=now)
    rows, afresh, _ = searched(company)
    assert not afresh and rows == straight(company) and rows[0] == oldest

    # A match leaves the list (no longer synced, as after an unlink).
    leaving = rows[0]
    with transaction.atomic():
        Commitment.objects.filter(pk=leaving).update(
            export_state="ready", link=None, erp_id=None, linked_at=None
        )
        ErpLink.objects.filter(record_id=leaving, kind="commitment").delete()
    rows, afresh, _ = searched(company)
    assert not afresh and rows == straight(company) and leaving not in rows


def test_what_is_kept_is_read_again_when_the_marks_cannot_say_enough(world):
    company, vendor = world
    first, afresh, _ = searched(company)
    assert afresh

    # More of the kept matches go than were kept beyond the page: read again.
    Commitment.objects.filter(pk__in=matching(company)[:4]).update(title="Storefront")
    rows, afresh, _ = searched(company)
    assert afresh and rows == straight(company)

    # A vendor's name decides matches too: another table's mark reads everything again.
    factories.vendor(company=company, name=f"{TERM.title()} Works")
    rows, afresh, _ = searched(company)
    assert afresh and rows == straight(company)
    vendor.save()  # an update, not only an insert
    assert searched(company)[1]

    # The sync folds the marks into the version's base: read again.
    assert not searched(company)[1]
    Commitment.objects.filter(company=company, number="SC-001").update(amount=7)
    data_version.fold(company.pk)
    rows, afresh, _ = searched(company)
    assert afresh and rows == straight(company)


def test_a_statement_over_more_than_a_thousand_rows_names_none_and_is_read_again(world):
    company, _ = world
    project = factories.project(company=company)
    assert searched(company)[1]
    Commitment.objects.bulk_create(
        Commitment(
            company=company,
            project=project,
            vendor_id=world[1].pk,
            number=f"PO-{i:04d}",
            title=f"Mullion {TERM} {i}",
            amount=1,
        )
        for i in range(1001)
    )
    # Drafts: not in the synced list, but a statement of 1,001 rows names none of them.
    rows, afresh, _ = searched(company)
    assert afresh and rows == straight(company)
    # A thousand are named, and read again alone.
    Commitment.objects.filter(pk__in=Commitment.objects.filter(project=project).values("pk")[:1000]).update(
        amount=2
    )
    rows, afresh, count = searched(company)
    assert (rows, afresh, count) == (straight(company), False, 3)


def test_a_change_committed_after_the_kept_snapshot_is_seen_whenever_it_began(world):
    """A transaction that began (and wrote) before the matches were kept but commits
    after: its change was not in what was kept, and its mark is not visible in the kept
    snapshot, so it is read. Ordering marks by id or time would miss it."""
    company, _ = world
    newest_plain = Commitment.objects.get(company=company, number="SC-000").pk
    with psycopg.connect(other_session_conninfo()) as other:
        other.execute(
            "UPDATE erp_integrations_commitment SET title = %s WHERE id = %s",
            [f"Atrium {TERM}", newest_plain],
        )
        first, afresh, _ = searched(company)
        assert afresh and newest_plain not in first
        other.commit()
    rows, afresh, _ = searched(company)
    assert not afresh and rows[0] == newest_plain and rows == straight(company)


def test_a_transaction_that_wrote_keeps_nothing(world):
    """Its own writes are missing from its snapshots' in-progress list, so a result kept
    in it could not tell them: it is read afresh every time, and not kept."""
    company, _ = world
    with transaction.atomic():
        Commitment.objects.filter(company=company, number="SC-001").update(amount=3)
        assert searched(company)[1]
        Commitment.objects.filter(company=company, number="SC-000").update(title=f"Lobby {TERM}")
        rows, afresh, _ = searched(company)
        assert afresh and rows == straight(company)
    assert not selectors._KEPT_MATCHES
    # Afterwards it is kept again, and follows the next change.
    assert searched(company)[1]
    Commitment.objects.filter(company=company, number="SC-002").update(title=f"Canopy {TERM}")
    rows, afresh, _ = searched(company)
    assert not afresh and rows == straight(company)


def test_a_text_sort_is_not_kept(world):
    """Text sorts follow the database's collation, which Python's order need not match."""
    company, _ = world
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            selectors.record_list_page(
                kind=COMMITMENT,
                company_id=company.pk,
                export_state="synced",
                search=TERM,
                sort="title",
                page_size=PAGE,
            )
        sql = [q["sql"] for q in queries.captured_queries]
        # The matches were sorted (the newest titles hold none of them)...
        assert any(q.endswith(f"LIMIT {PAGE + 1}") and "window_rows" not in q and "ILIKE" in q for q in sql)
        # ...and not kept: no snapshot was read for them.
        assert not any("pg_current_snapshot" in q for q in sql)
    assert not selectors._KEPT_MATCHES


def test_a_key_without_a_value_is_not_kept(world):
    """NULL sorts in SQL (first when descending) but not in Python: such a result is
    given as the database sorted it, and not kept."""
    company, _ = world
    matches = matching(company)
    Commitment.objects.filter(pk__in=matches[:3]).update(sent_at=timezone.now())
    queryset = Commitment.objects.filter(company=company, export_state="synced")
    ids = selectors._sorted_matches(
        queryset,
        Q(title__icontains=TERM),
        company_id=company.pk,
        field="sent_at",
        read_descending=True,
        limit=6,
        learnt=("sent", company.pk),
    )

    expected = queryset.filter(title__icontains=TERM).order_by(F("sent_at").desc(nulls_first=True), "-id")
    assert ids == list(expected.values_list("pk", flat=True)[:6])
    assert not set(ids) & set(matches[:3])
    assert not selectors._KEPT_MATCHES


def test_what_is_kept_stays_as_long_as_when_it_was_read(world):
    """Every match read (7, fewer than the 9 kept), then ten more at once: the result
    is kept as long as when read, and the rest stays right as it changes again."""
    company, _ = world
    Commitment.objects.filter(pk__in=matching(company)[7:]).update(title="Storefront")
    assert searched(company)[1]
    (kept,) = selectors._KEPT_MATCHES.values()
    assert len(kept.pairs) == 7 and kept.last is None

    newest = Commitment.objects.filter(company=company, number__in=[f"SC-{i:03d}" for i in range(10)])
    newest.update(title=f"Soffit {TERM}")
    rows, afresh, _ = searched(company)
    assert not afresh and rows == straight(company)
    (kept,) = selectors._KEPT_MATCHES.values()
    assert len(kept.pairs) == PAGE + 1 + selectors.KEPT_SPARE and kept.last == kept.pairs[-1]

    Commitment.objects.filter(pk__in=matching(company)[:2]).update(title="Storefront")
    rows, afresh, _ = searched(company)
    assert rows == straight(company)


def test_a_random_walk_of_changes_always_lists_what_the_table_holds(world):
    """Sixty random changes, each committed on its own, each followed by the page: it is
    always the page read straight from the table, and mostly without sorting afresh."""
    import random

    company, _ = world
    project = Commitment.objects.filter(company=company).first().project
    rng = random.Random(13)
    kept_paths = 0

    def synced_ids():
        return list(
            Commitment.objects.filter(company=company, export_state="synced").values_list("pk", flat=True)
        )

    def retitle():
        Commitment.objects.filter(pk=rng.choice(synced_ids())).update(
            title=rng.choice([f"Sill {TERM}", "Sill flashing", f"{TERM.upper()} bay"])
        )

    def relink():
        pk, now = rng.choice(synced_ids()), timezone.now()
        with transaction.atomic():
            ErpLink.objects.filter(record_id=pk, kind="commitment").update(linked_at=now)
            Commitment.objects.filter(pk=pk).update(linked_at=now)

    def unlink():
        pk = rng.choice(synced_ids())
        with transaction.atomic():
            Commitment.objects.filter(pk=pk).update(
                export_state="ready", link=None, erp_id=None, linked_at=None
            )
            ErpLink.objects.filter(record_id=pk, kind="commitment").delete()

    def export():
        record = factories.commitment(project=project, title=rng.choice([f"Jamb {TERM}", "Jamb"]))
        factories.bulk_link([record], erp_ids=[f"JC-9{record.pk:06d}"], linked_ats=[timezone.now()])

    def elsewhere():
        factories.vendor(company=company)

    changes = [retitle] * 5 + [relink] * 2 + [unlink] * 2 + [export] * 2 + [elsewhere]
    for _ in range(60):
        rng.choice(changes)()
        rows, afresh, _ = searched(company)
        assert rows == straight(company)
        kept_paths += not afresh
    assert kept_paths >= 30, kept_paths
