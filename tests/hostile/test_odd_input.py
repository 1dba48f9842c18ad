"""Odd search strings, malformed cursors and sort keys: never a 500, never a surprise.

LIKE's own characters (%, _, \\) are searched for literally, so '%' does not match
every row; NUL bytes, quotes, very long and non-Latin input are answered normally;
a cursor or sort key that is not ours means the list's first page or default sort.
"""

import base64
import json

import pytest
from django.urls import reverse

from tests.erp_integrations.views.tool_world import rows

pytestmark = [pytest.mark.hostile, pytest.mark.django_db(databases="__all__")]

SEARCHES = [
    "%",
    "_",
    "\\",
    "%%",
    "_%_",
    "\\%",
    "'",
    '"',
    "' OR 1=1 --",
    "'); DROP TABLE erp_integrations_commitment; --",
    "\x00",
    "abc\x00def",
    "x" * 10_000,
    "💥🏗️",
    "שלום",
    "Ünïcödé",
    "   ",
    "\t\n",
    "{{ 7*7 }}",
    "%(x)s",
    "?synced-q=",
]


def _b64(value) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


CURSORS = [
    "",
    "not-base64!!",
    "====",
    "A" * 5000,
    "%00",
    "\x00",
    _b64(b"\xff\xfe"),
    _b64("just a string"),
    _b64([]),
    _b64(["-synced"]),
    _b64(["-synced", "2026-01-01T00:00:00+00:00", -1]),
    _b64(["-synced", "2026-01-01T00:00:00+00:00", 2**70]),
    _b64(["-synced", "2026-01-01T00:00:00", 1]),
    _b64(["-synced", "not a date", 1]),
    _b64(["-synced", None, 1]),
    _b64(["-synced", "2026-01-01T00:00:00+00:00", "1"]),
    _b64(["-synced", "2026-01-01T00:00:00+00:00", 1.5]),
    _b64(["number", "\x00", 1]),
    _b64(["amount", "1e400", 1]),
    _b64(["amount", "NaN", 1]),
    _b64(["amount", "-99999999999999999999999", 1]),
    _b64(["title", "x" * 100_000, 1]),
    _b64(["-updated", {"nested": True}, 1]),
    _b64(["other-sort", "x", 1]),
]
SORTS = [
    "",
    "-",
    "--number",
    "number;",
    "id",
    "-id",
    "password",
    "erp_id",
    "x" * 5000,
    "\x00",
    "amount,title",
]


@pytest.fixture
def tool(alpha, signed_in):
    client = signed_in(alpha.approver)
    company = alpha.company.pk
    tab = reverse("erp_tab", kwargs={"company_id": company, "tab": "commitments"})
    return {
        "client": client,
        "tab": tab,
        "htmx": {"HX-Request": "true", "HX-Current-URL": f"http://testserver{tab}"},
        "lists": [
            reverse("erp_list", kwargs={"company_id": company, "tab": tab_slug, "list_slug": list_slug})
            for tab_slug in ("commitments", "subcontractor-invoices")
            for list_slug in ("ready", "failed", "synced")
        ],
        "sync": reverse("erp_sync", kwargs={"company_id": company}),
        "audit": reverse("erp_audit", kwargs={"company_id": company}),
    }


def _rows(response) -> int:
    return len(rows(response.text))


def test_odd_search_strings_are_answered_and_like_wildcards_are_literal(tool):
    client, htmx = tool["client"], tool["htmx"]
    for term in SEARCHES:
        assert client.get(tool["tab"], {"synced-q": term, "ready-q": term}).status_code == 200, repr(term)
        for url in tool["lists"]:
            slug = url.rstrip("/").rsplit("/", 1)[1]
            response = client.get(url, {f"{slug}-q": term}, headers=htmx)
            assert response.status_code == 200, (url, repr(term))
            # Whitespace and NUL alone are no search at all (NUL is dropped: PostgreSQL refuses it).
            if term.replace("\x00", "").strip() and term != "?synced-q=":
                # No record has any of these characters: a wildcard that leaked would match them all.
                assert _rows(response) == 0, (url, repr(term))
    # The same lists without a search do have rows, so the zeros above mean something.
    assert _rows(client.get(tool["lists"][2], headers=htmx)) == 2


def test_malformed_cursors_and_sort_keys_fall_back_to_the_first_page(tool):
    client, htmx = tool["client"], tool["htmx"]
    first = _rows(client.get(tool["lists"][2], headers=htmx))
    for cursor in CURSORS:
        for param in ("after", "before"):
            page = client.get(tool["tab"], {f"synced-{param}": cursor, f"ready-{param}": cursor})
            assert page.status_code == 200, (param, cursor[:80])
            fragment = client.get(tool["lists"][2], {f"synced-{param}": cursor}, headers=htmx)
            assert fragment.status_code == 200 and _rows(fragment) in (0, first), (param, cursor[:80])
            for url in (tool["sync"], tool["audit"]):
                assert client.get(url, {param: cursor}).status_code == 200, (url, param, cursor[:80])
    for sort in SORTS:
        assert client.get(tool["tab"], {"synced-sort": sort, "failed-sort": sort}).status_code == 200, sort[
            :80
        ]
        fragment = client.get(tool["lists"][2], {"synced-sort": sort}, headers=htmx)
        assert fragment.status_code == 200 and _rows(fragment) == first, sort[:80]


def test_odd_filters_and_ids_in_the_audit_trail_and_urls(tool, alpha):
    client = tool["client"]
    for user in ("", "x", "-1", "0", "9" * 30, "1.5", "\x00"):
        for outcome in ("", "nope", "\x00"):
            response = client.get(
                tool["audit"], {"user": user, "outcome": outcome, "action": "x", "record_type": "'"}
            )
            assert response.status_code == 200, (user, outcome)
    for path in (
        f"/companies/{'9' * 30}/erp/",
        f"/companies/{alpha.company.pk}/erp/commitments/{'9' * 30}/unlink/",
        f"/projects/{'9' * 30}/commitments/",
        f"/projects/{alpha.project.pk}/commitments/{'9' * 30}/",
        "/companies/-1/erp/",
        "/sandbox/%00/",
    ):
        response = client.get(path)
        assert response.status_code in (403, 404, 405), (path, response.status_code)
        assert client.post(path).status_code in (403, 404, 405), path


def test_the_master_data_tabs_answer_odd_searches_and_cursors_with_their_first_page(alpha, signed_in):
    client = signed_in(alpha.approver)
    url = reverse("erp_master_tab", kwargs={"company_id": alpha.company.pk, "master_tab": "companies"})
    for term in SEARCHES:
        response = client.get(
            url, {f"{name}-q": term for name in ("ready", "import", "update", "synced", "failed")}
        )
        assert response.status_code == 200, repr(term)
    for cursor in CURSORS:
        response = client.get(url, {"import-after": cursor, "ready-after": cursor})
        assert response.status_code == 200, repr(cursor)
        # The ERP's vendor is on the first page of Ready to Import whatever the cursor.
        assert alpha.erp_vendor.name in response.text, repr(cursor)


def test_odd_export_ids_are_refused_by_the_erps_format_not_with_an_error(alpha, signed_in):
    client = signed_in(alpha.approver)
    url = reverse(
        "erp_master_action",
        kwargs={
            "company_id": alpha.company.pk,
            "master_tab": "companies",
            "master_id": alpha.new_vendor.pk,
            "master_action": "export",
        },
    )
    for odd in ("\x00", "x" * 10_000, "١٢٣", "' OR 1=1 --", ""):
        response = client.post(url, {"id": odd, "type": "Supplier"}, headers={"HX-Request": "true"})
        assert response.status_code == 422, repr(odd)
        assert "Vendor id:" in response.text
