"""A list kept under an older data version, served again when the changes since cannot
have touched it (PostgreSQL).

``views.tool._kept_since`` reads the change marks committed since the list was read
(migration 0012 names their table and rows) and serves the kept body again when they
name only records of the list's own kind, none of them on the page or the row read past
it, and none now in the list where the page would show it
(``selectors.page_still_shown``). Every page here is compared with the same page made
with nothing kept. These tests commit (``transaction=True``): a kept list is told apart
from later changes by their transactions, which a test's one wrapping transaction would
hide.
"""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from erp_integrations.models import Commitment, ErpLink, Vendor
from erp_integrations.views.tool import LIST_CACHE, LIST_SINCE, ROW_CACHE
from tests import factories
from tests.erp_integrations.views.tool_world import (
    build_world,
    client_for,
    htmx_get,
    list_url,
    ready_commitment,
    row_numbers,
    tab_url,
)

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True, databases="__all__")]

BODY = re.compile(r'<div class="list-body" id="commitments-(\w+)-body".*?(?=</section>)', re.S)
TOKEN = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+"')
#: A list's page of rows: 25 and the one that says there is a next page.
PAGE_READ = re.compile(r"\"export_state\" = '(\w+)'.*LIMIT 26", re.S)


@pytest.fixture
def world():
    """27 synced commitments a minute apart, SC-000 the oldest and the smallest: the
    first page (newest first) shows SC-026 to SC-002, SC-001 is read past it, SC-000
    lies beyond."""
    world = build_world()
    records = [
        factories.commitment(
            project=world.project, vendor=world.vendor, number=f"SC-{i:03d}", title=f"Wall {i}"
        )
        for i in range(27)
    ]
    now = timezone.now().replace(microsecond=0)
    factories.bulk_link(
        records,
        erp_ids=[f"JC-{i:07d}" for i in range(27)],
        linked_ats=[now - timedelta(minutes=27 - i) for i in range(27)],
    )
    world.records = records
    return world


def bodies(html: str) -> dict[str, str]:
    """Each list's body by its slug, CSRF tokens left out (each response masks its own)."""
    found = {match[1]: TOKEN.sub(r"\1", match[0]) for match in BODY.finditer(html)}
    assert set(found) == {"ready", "failed", "synced"}, set(found)
    return found


def get(client, url: str) -> tuple[dict[str, str], set[str]]:
    """The page's lists' bodies, and the lists whose rows it read from the table."""
    with CaptureQueriesContext(connection) as queries:
        html = client.get(url).content.decode()
    return bodies(html), {m[1] for q in queries.captured_queries if (m := PAGE_READ.search(q["sql"]))}


def made_afresh(client, url: str) -> dict[str, str]:
    LIST_CACHE.clear()
    LIST_SINCE.clear()
    ROW_CACHE.clear()
    return get(client, url)[0]


def _retitled(world, index):
    Commitment.objects.filter(pk=world.records[index].pk).update(title="Curtain wall")


def _beyond_retitled(world):
    _retitled(world, 0)


def _on_page_retitled(world):
    _retitled(world, 10)


def _read_past_retitled(world):
    _retitled(world, 1)


def _beyond_link_written(world):
    # The link beyond the page written again (as the sync marks one missing).
    ErpLink.objects.filter(pk=world.records[0].link_id).update(erp_id=F("erp_id"))


def _last_two_gone(world):
    # Nothing follows the page any more: its pager loses Next.
    Commitment.objects.filter(pk__in=[world.records[0].pk, world.records[1].pk]).delete()


def _beyond_gone(world):
    Commitment.objects.filter(pk=world.records[0].pk).delete()


def _vendor_renamed(world):
    Vendor.objects.filter(pk=world.vendor.pk).update(name="Harbor Glass")


def _ready_one_added(world):
    ready_commitment(world, number="RD-001")


@pytest.mark.parametrize(
    ("change", "made_again"),
    [
        (_beyond_retitled, set()),
        (_beyond_gone, set()),
        (_on_page_retitled, {"synced"}),
        (_read_past_retitled, {"synced"}),
        (_last_two_gone, {"synced"}),
        # A mark of another table (a link, a vendor shown in every list) makes lists afresh.
        (_beyond_link_written, {"ready", "failed", "synced"}),
        (_vendor_renamed, {"ready", "failed", "synced"}),
        # A record entering the ready list leaves the synced one as it was.
        (_ready_one_added, {"ready"}),
    ],
)
def test_a_list_is_kept_across_a_change_exactly_when_it_shows_the_same(world, change, made_again):
    client = client_for(world.approver)
    url = tab_url(world.company)
    client.get(url)

    change(world)
    served, read = get(client, url)

    assert served == made_afresh(client, url)
    assert read == made_again


def test_a_kept_list_is_judged_again_after_each_change_from_where_it_was_last_served(world):
    client = client_for(world.approver)
    url = tab_url(world.company)
    client.get(url)
    _beyond_retitled(world)
    assert "synced" not in get(client, url)[1]

    _on_page_retitled(world)
    served, read = get(client, url)

    assert "synced" in read
    assert "Curtain wall" in served["synced"]
    assert served == made_afresh(client, url)


def _amount(world, index, amount):
    Commitment.objects.filter(pk=world.records[index].pk).update(amount=amount)


@pytest.mark.parametrize(
    ("change", "kept"),
    [
        # On the first page, before the cursor: the second page stays as it was.
        (lambda world: _retitled(world, 20), True),
        (lambda world: _amount(world, 20, 1020.50), True),
        # Moved from the first page to past the cursor: it enters the second page.
        (lambda world: _amount(world, 20, 1), False),
        (_beyond_retitled, False),
    ],
)
def test_a_page_after_a_cursor_is_kept_unless_a_change_reaches_it(world, change, kept):
    client = client_for(world.approver)
    first = f"{tab_url(world.company)}?synced-sort=-amount"
    (query,) = re.findall(r'rel="next" href="[^"?]*\?([^"]+)"', client.get(first).content.decode())
    url = f"{tab_url(world.company)}?{query.replace('&amp;', '&')}"
    assert row_numbers(client.get(url), "synced") == ["SC-001", "SC-000"]

    change(world)
    served, read = get(client, url)

    assert served == made_afresh(client, url)
    assert ("synced" not in read) is kept


def test_a_list_sorted_by_number_takes_a_record_renumbered_into_its_page(world):
    client = client_for(world.approver)
    url = f"{tab_url(world.company)}?synced-sort=number"
    assert row_numbers(client.get(url), "synced")[-1] == "SC-024"

    Commitment.objects.filter(pk=world.records[26].pk).update(number="SC-0105")
    served, read = get(client, url)

    assert "synced" in read
    assert served == made_afresh(client, url)
    assert "SC-0105" in served["synced"]


def test_the_list_fragment_is_kept_across_a_change_off_its_page(world):
    client = client_for(world.approver)
    fragment = list_url(world.company, "commitments", "synced")
    htmx_get(client, fragment, current=tab_url(world.company))

    _beyond_retitled(world)
    with CaptureQueriesContext(connection) as queries:
        served = htmx_get(client, fragment, current=tab_url(world.company)).content.decode()

    assert not any(PAGE_READ.search(q["sql"]) for q in queries.captured_queries)
    LIST_CACHE.clear()
    LIST_SINCE.clear()
    afresh = htmx_get(client, fragment, current=tab_url(world.company)).content.decode()
    assert TOKEN.sub(r"\1", served) == TOKEN.sub(r"\1", afresh)


def test_a_tab_after_a_change_off_its_pages_reads_the_marks_not_the_rows(world, django_assert_num_queries):
    client = client_for(world.approver)
    url = tab_url(world.company)
    client.get(url)
    _beyond_retitled(world)

    # 1) session, 2) user, 3) directory entry, 4) the data version with its snapshot,
    # 5-6) the sync status (no run has completed: when one last finished, too), 7) the
    # switcher's companies, 8) the levels' key (kept by version: read again under the
    # new one); per list, the marks since it was read and, as they name a record of its
    # kind off its page, whether that one comes on it now (9-14). No page of rows.
    with django_assert_num_queries(14):
        client.get(url)
