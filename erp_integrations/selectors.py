"""Read queries of the ERP Integrations tool: its lists, sync history and audit trail.

Every list is paged by *keyset*: a page asks for the rows after (or before) the last
row it showed, by the list's sort key and the id, so it is one index range scan
whatever the table's size. Nothing here counts rows or skips them with OFFSET: a page
costs the same at ten rows as at a million.

A cursor is the sort it belongs to, the row's sort key and its id, as URL-safe base64
JSON, and the row's position in the list as it was when the cursor was made, so that a
page can say "rows 26–50" without counting. A cursor that does not parse, or belongs to
another sort, means "the first page" rather than an error: cursors travel in URLs that
people edit and share. (A cursor without a position, made before positions were kept,
still pages; the page just does not say which rows it shows.)

How many rows a list has is an estimate from PostgreSQL's planner
(``record_list_estimate``), never a COUNT.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Count,
    DateTimeField,
    DecimalField,
    Exists,
    Expression,
    ExpressionWrapper,
    F,
    Lookup,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.fields.tuple_lookups import (
    Tuple,
    TupleGreaterThan,
    TupleGreaterThanOrEqual,
    TupleLessThan,
    TupleLessThanOrEqual,
)
from django.db.models.functions import Concat
from django.db.models.lookups import Exact

from accounts.models import (
    Company,
    DirectoryMembership,
    PermissionLevel,
    PrivilegeChange,
    Project,
    ProjectPermission,
    User,
)
from accounts.permissions import companies_of, level_opens_tool
from erp_integrations.kinds import BY_SLUG, RECONCILED_VALUES, RecordKind, SortColumn
from erp_integrations.models import (
    AuditEntry,
    Discrepancy,
    ErpLink,
    ExportState,
    JobCostTransaction,
    LinkedRecord,
    ReconciliationTotal,
    SyncRun,
    Vendor,
)
from erp_integrations.services import data_version

#: Rows per page of the record lists.
RECORD_PAGE_SIZE = 25
SYNC_RUN_PAGE_SIZE = 20
AUDIT_PAGE_SIZE = 50
#: Longest search term we take; longer input is cut, not refused.
MAX_SEARCH_LENGTH = 100
#: The lists of the tool: the export states a tab shows, in the order it shows them.
LIST_STATES: tuple[str, ...] = (ExportState.READY, ExportState.FAILED, ExportState.SYNCED)


# --- search ------------------------------------------------------------------------------
class _ContainsIgnoringCase(Lookup):
    """``column ILIKE '%term%'`` as PostgreSQL's trigram GIN indexes can serve it.

    Django's ``icontains`` compiles to ``UPPER(column::text) LIKE UPPER(...)`` on
    PostgreSQL, which no index on the bare column can answer. Used as an expression in
    ``filter()``, not registered on any field.
    """

    lookup_name = "contains_ignoring_case"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs_sql} ILIKE {rhs_sql}", (*lhs_params, *rhs_params)
        # SQLite's LIKE ignores case for ASCII; it needs the escape character spelled out.
        return f"{lhs_sql} LIKE {rhs_sql} ESCAPE '\\'", (*lhs_params, *rhs_params)


class _InSmallSubquery(Lookup):
    """``column = ANY(ARRAY(subquery))`` for a subquery that returns a few ids.

    ``IN (subquery)`` inside an OR makes PostgreSQL test every row against a hashed
    subplan; an array computed once is a plain index condition, so the OR of the
    search's terms stays a BitmapOr of index scans.
    """

    lookup_name = "in_small_subquery"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs_sql} = ANY(ARRAY{rhs_sql})", (*lhs_params, *rhs_params)
        return f"{lhs_sql} IN {rhs_sql}", (*lhs_params, *rhs_params)


def _contains(field: str, term: str) -> _ContainsIgnoringCase:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return _ContainsIgnoringCase(F(field), Value(f"%{escaped}%"))


def clean_search(value: str | None) -> str:
    """The search term as we use it: trimmed, bounded, without NUL characters."""
    return (value or "").replace("\x00", "").strip()[:MAX_SEARCH_LENGTH]


def _record_search(kind: RecordKind, company_id: int, export_state: str, term: str) -> Q:
    # Number, ERP id and the kind's own text columns through their trigram indexes; the
    # vendor through the few vendors whose names match, not a join over every row.
    matching_vendors = (
        Vendor.objects.filter(_contains("name", term), company_id=company_id).order_by().values("id")
    )
    condition = Q(_contains("number", term)) | Q(_InSmallSubquery(F("vendor_id"), Subquery(matching_vendors)))
    if export_state == ExportState.SYNCED:
        # Only a synced record has an ERP id (the ``*_state_matches_link`` constraint).
        # Elsewhere the planner, which does not read constraints, would fetch every
        # record whose ERP id matches (all synced: 100,000 for 'JC-00') to drop them
        # for their state.
        condition |= Q(_contains("erp_id", term))
    for field in kind.search_fields:
        condition |= Q(_contains(field, term))
    return condition


# --- sorting -----------------------------------------------------------------------------
_SYNCED = SortColumn("synced", "linked_at", "Synced", descending_first=True)
_UPDATED = SortColumn("updated", "updated_at", "Updated", descending_first=True)


def sort_keys(kind: RecordKind, export_state: str) -> dict[str, SortColumn]:
    """The sort keys a list offers; each has an index (company, export_state, key, id)."""
    # A ready or failed record has no link yet, so its list sorts by when it last
    # changed (sent, failed) instead of when it was synced.
    when = _SYNCED if export_state == ExportState.SYNCED else _UPDATED
    return {key.name: key for key in (when, *kind.sort_columns)}


def default_sort(export_state: str) -> str:
    return "-synced" if export_state == ExportState.SYNCED else "-updated"


def clean_sort(kind: RecordKind, export_state: str, value: str | None) -> str:
    """The sort as given if the list offers it, else the list's default."""
    value = value or ""
    if value.removeprefix("-") in sort_keys(kind, export_state):
        return value
    return default_sort(export_state)


# --- cursors -----------------------------------------------------------------------------
def encode_cursor(sort: str, key: Any, pk: int, position: int | None = None) -> str:
    """A cursor at a row; ``position``: how many rows of the list come before the page it
    starts (after=) or, for a cursor back (before=), before the row itself."""
    if isinstance(key, datetime):
        key = key.isoformat()
    elif isinstance(key, Decimal):
        key = str(key)
    parts = [sort, key, pk] if position is None else [sort, key, pk, position]
    raw = json.dumps(parts, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_MAX_CURSOR_LENGTH = 2000


def _decode_cursor(
    value: str, sort: str, parse_key: Callable[[Any], Any]
) -> tuple[tuple[Any, int], int | None] | None:
    """((key, id), position or None) from a cursor of this sort, or None for anything else."""
    if not value or len(value) > _MAX_CURSOR_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        cursor_sort, key, pk, *rest = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        return None
    if cursor_sort != sort or type(pk) is not int or not 0 < pk < 2**63 or len(rest) > 1:
        return None
    # A position that is not a plain count is dropped, not the cursor: the rows still page.
    position = rest[0] if rest and type(rest[0]) is int and 0 <= rest[0] < 2**63 else None
    try:
        parsed = parse_key(key)
    except (TypeError, ValueError, InvalidOperation, OverflowError):
        return None
    return None if parsed is None else ((parsed, pk), position)


def _parse_text(key: Any) -> str | None:
    # PostgreSQL refuses NUL in text, and no text has a lone surrogate (JSON can spell
    # one, UTF-8 cannot), so a cursor carrying either is not ours.
    if not isinstance(key, str) or len(key) > 300 or "\x00" in key:
        return None
    return key if key.encode("utf-8", "surrogatepass").decode("utf-8", "ignore") == key else None


#: A decimal as str(Decimal) writes an amount: no exponent, within NUMERIC(14, 2) and then some.
_DECIMAL = re.compile(r"-?\d{1,20}(\.\d{1,10})?")


def _parse_decimal(key: Any) -> Decimal | None:
    if not isinstance(key, str) or not _DECIMAL.fullmatch(key):
        return None
    return Decimal(key)


def _parse_datetime(key: Any) -> datetime | None:
    if not isinstance(key, str) or len(key) > 40:
        return None
    value = datetime.fromisoformat(key)
    # Only the aware datetimes we write; a naive one would compare at the server's whim.
    # In UTC, as we write them: an offset that pushes the moment out of the years a
    # database holds raises OverflowError here, which means "not our cursor".
    return value.astimezone(UTC) if value.tzinfo is not None else None


def _key_parser(model: type[Model], field: str) -> Callable[[Any], Any]:
    internal_type = model._meta.get_field(field).get_internal_type()
    if internal_type == "DecimalField":
        return _parse_decimal
    if internal_type == "DateTimeField":
        return _parse_datetime
    return _parse_text


# --- pages -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Page[T: Model]:
    """One page of a list and the cursors to its neighbours (None where there is none)."""

    rows: list[T]
    sort: str
    next_cursor: str | None
    prev_cursor: str | None
    #: How many rows of the list come before this page (0 on the first page), carried in
    #: the cursor; None when the cursor did not say.
    start: int | None = 0
    #: The id of the row read past the page, which says there is a next page (read
    #: forward only; None when there is none).
    following: int | None = None

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_prev(self) -> bool:
        return self.prev_cursor is not None


def _keyset_page[T: Model](
    queryset: QuerySet[T],
    *,
    sort: str,
    field: str,
    descending: bool,
    after: str,
    before: str,
    page_size: int,
    search: Q | None = None,
    learnt: tuple = (),
    company_id: int | None = None,
) -> Page[T]:
    """One page of ``queryset`` ordered by (field, id), both in the same direction.

    Queries: one, ``LIMIT page_size + 1``: the extra row only says whether there is a
    next (or previous) page. With ``search`` (a common term, see ``_searched_rows``):
    one, or two when the newest SEARCH_WINDOW rows hold too few matches.
    """
    parse_key = _key_parser(queryset.model, field)
    after_cursor = _decode_cursor(after, sort, parse_key)
    before_cursor = None if after_cursor else _decode_cursor(before, sort, parse_key)
    after_key = after_cursor[0] if after_cursor else None
    before_key = before_cursor[0] if before_cursor else None
    row_key = Tuple(F(field), F("id"))

    backwards = before_key is not None
    # Walking back from `before` reads the index the other way and flips the rows after.
    read_descending = descending != backwards
    ordering = (f"-{field}", "-id") if read_descending else (field, "id")
    boundary = after_key or before_key
    if boundary is not None:
        comparison = TupleLessThan if read_descending else TupleGreaterThan
        queryset = queryset.filter(comparison(row_key, boundary))
    if search is None:
        rows = list(queryset.order_by(*ordering)[: page_size + 1])
    else:
        rows = _searched_rows(
            queryset,
            search,
            field=field,
            read_descending=read_descending,
            limit=page_size + 1,
            learnt=learnt,
            company_id=company_id,
        )
    more = len(rows) > page_size
    following = rows[page_size].pk if more and not backwards else None
    rows = rows[:page_size]
    if backwards:
        rows.reverse()

    # Where this page starts in the list: the rows before it, as the cursor carried them.
    if after_cursor:
        start = after_cursor[1]
    elif before_cursor:
        # Back from a page that started at `position`; with nothing earlier, this is the top.
        position = before_cursor[1]
        start = 0 if not more else (max(position - len(rows), 0) if position is not None else None)
    else:
        start = 0

    def cursor(row: T, position: int | None) -> str:
        return encode_cursor(sort, getattr(row, field), row.pk, position)

    if not rows:
        return Page(rows=[], sort=sort, next_cursor=None, prev_cursor=None, start=start)
    # The next page starts after this one's rows; the previous one ends where this starts.
    after_this = start + len(rows) if start is not None else None
    if backwards:
        # We came back from a later page, so there is one; earlier ones only if the
        # extra row was there.
        return Page(
            rows,
            sort,
            next_cursor=cursor(rows[-1], after_this),
            prev_cursor=cursor(rows[0], start) if more else None,
            start=start,
        )
    return Page(
        rows,
        sort,
        next_cursor=cursor(rows[-1], after_this) if more else None,
        prev_cursor=cursor(rows[0], start) if after_key else None,
        start=start,
        following=following,
    )


@dataclass(frozen=True, slots=True)
class PageShape:
    """What decides whether a page of a list reads the same again (``page_still_shown``):
    its rows' ids and the row read past it (``ids``), and its last row's sort key and
    id (``last``; None when it has no rows or nothing follows it)."""

    ids: frozenset[int]
    last: tuple[Any, int] | None

    @classmethod
    def of(cls, kind: RecordKind, export_state: str, sort: str, page: Page) -> PageShape:
        field = sort_keys(kind, export_state)[clean_sort(kind, export_state, sort).removeprefix("-")].field
        ids = frozenset(row.pk for row in page.rows) | ({page.following} if page.following else frozenset())
        last = (getattr(page.rows[-1], field), page.rows[-1].pk) if page.rows and page.has_next else None
        return cls(ids, last)


def page_still_shown(
    *,
    kind: RecordKind,
    company_id: int,
    export_state: str,
    sort: str,
    after: str,
    shape: PageShape,
    changed: frozenset[int],
) -> bool:
    """Whether a page of one of the tool's lists, without a search and read forward
    (the first page, or one after a cursor), would show the same rows if read again, when
    ``changed`` names every record of the kind that can have changed since it was read.

    It would, unless a changed record was on it or was the row read past it (the next
    page hangs on that one), or is in the list now where the page would show it: after
    the cursor, and no later than the page's last row (anywhere, when nothing followed
    the page). The comparison is the database's, as the page's own (text sorts by its
    collation). Queries: none when nothing changed or a changed record was on the page;
    else one.
    """
    if not changed:
        return True
    if changed & shape.ids:
        return False
    sort = clean_sort(kind, export_state, sort)
    field = sort_keys(kind, export_state)[sort.removeprefix("-")].field
    descending = sort.startswith("-")
    row_key = Tuple(F(field), F("id"))
    entering = kind.model.objects.filter(company_id=company_id, export_state=export_state, pk__in=changed)
    after_cursor = _decode_cursor(after, sort, _key_parser(kind.model, field))
    if after_cursor:
        past_cursor = TupleLessThan if descending else TupleGreaterThan
        entering = entering.filter(past_cursor(row_key, after_cursor[0]))
    if shape.last is not None:
        at_or_before = TupleGreaterThanOrEqual if descending else TupleLessThanOrEqual
        entering = entering.filter(at_or_before(row_key, shape.last))
    return not entering.exists()


def record_list_page(
    *,
    kind: RecordKind,
    company_id: int,
    export_state: str,
    search: str = "",
    sort: str = "",
    after: str = "",
    before: str = "",
    page_size: int = RECORD_PAGE_SIZE,
) -> Page:
    """A page of one of the tool's lists, e.g. *Commitments - Synced with Sage 300 CRE®*.

    Rows come with the kind's related rows (project, vendor, the parent) joined, and
    a synced list's with their link.
    Queries: one; two when searching for a term the trigram indexes can serve (see
    ``_search_probe``): the probe and the page. A common term (more than
    SEARCH_PROBE_LIMIT matches) whose matches are scarce among the SEARCH_WINDOW rows
    next in the list's order costs more: the page again, sorted from the trigram
    indexes' matches, which are kept and follow changes (see ``_searched_rows``).
    """
    sort = clean_sort(kind, export_state, sort)
    key = sort_keys(kind, export_state)[sort.removeprefix("-")]
    queryset = kind.objects()
    if export_state == ExportState.SYNCED:
        # The row says when the last completed sync found the ERP record gone.
        queryset = queryset.select_related("link")
    search = clean_search(search)
    learnt = (connection.settings_dict["NAME"], kind.slug, company_id, export_state, search)
    few = _search_probe(kind, company_id, export_state, search, learnt=learnt) if search else None
    if few is not None:
        # A rare term: page over its few matches, found by id. The company is fenced
        # off from the lists' indexes so that the planner cannot walk one of them
        # looking for ids it does not know are rare.
        queryset = queryset.filter(_fenced_company(company_id), pk__in=few, export_state=export_state)
    else:
        queryset = queryset.filter(company_id=company_id, export_state=export_state)
        if len(search) >= _TRIGRAM_LENGTH:
            # A common term: walk a bounded stretch of the sort key's index testing each
            # row, and sort the term's matches only when that stretch holds too few.
            return _keyset_page(
                queryset,
                sort=sort,
                field=key.field,
                descending=sort.startswith("-"),
                after=after,
                before=before,
                page_size=page_size,
                search=_record_search(kind, company_id, export_state, search),
                learnt=(*learnt, sort, after, before),
                company_id=company_id,
            )
        if search:
            # One or two characters say too little for a substring search (and no
            # trigram index can serve one): they match a record number exactly, as
            # when looking for invoice 7.
            queryset = queryset.filter(number__in={search, search.upper()})
    return _keyset_page(
        queryset,
        sort=sort,
        field=key.field,
        descending=sort.startswith("-"),
        after=after,
        before=before,
        page_size=page_size,
    )


def record_list_estimate(*, kind: RecordKind, company_id: int, export_state: str) -> int | None:
    """About how many rows one of the tool's lists has, from the planner's statistics.

    PostgreSQL: the planner's row estimate for the list's own condition (``EXPLAIN``
    plans the query, it does not run it), as fresh as the table's last ANALYZE, which
    autovacuum keeps up. A COUNT would read the whole list: a second at a million rows.
    Other databases (the embedded default's SQLite): None; the list says which rows a
    page shows, and the total only on its last page, where it is known.

    An estimate is kept in this process for ESTIMATE_SECONDS: it is a rounded figure from
    statistics that change only with ANALYZE, and planning it is a round trip per list
    on every page. Queries: one on PostgreSQL when not kept, none elsewhere.
    """
    db = connection
    if db.vendor != "postgresql":
        return None
    key = (db.settings_dict["NAME"], kind.slug, company_id, export_state)
    kept = _ESTIMATES.get(key)
    now = time.monotonic()
    if kept is not None and now - kept[0] < ESTIMATE_SECONDS:
        return kept[1]
    sql, params = (
        kind.model.objects.filter(company_id=company_id, export_state=export_state)
        .order_by()
        .values("pk")
        .query.sql_with_params()
    )
    with db.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()
    if isinstance(plan, str):
        plan = json.loads(plan)
    estimate = max(int(plan[0]["Plan"]["Plan Rows"]), 0)
    if len(_ESTIMATES) > 10_000:
        _ESTIMATES.clear()
    _ESTIMATES[key] = (now, estimate)
    return estimate


#: How long a list's estimate is kept (see ``record_list_estimate``).
ESTIMATE_SECONDS = 60
#: (database, kind, company, state) -> (when, estimate).
_ESTIMATES: dict[tuple, tuple[float, int]] = {}


#: Up to this many matches a search term counts as rare (see ``_search_probe``).
SEARCH_PROBE_LIMIT = 1000
#: Trigram indexes need three characters to narrow anything down.
_TRIGRAM_LENGTH = 3
#: A common term's page is first looked for among this many rows next in the list's
#: order (see ``_searched_rows``).
SEARCH_WINDOW = 5_000


def _searched_rows(
    queryset: QuerySet,
    search: Q,
    *,
    field: str,
    read_descending: bool,
    limit: int,
    learnt: tuple = (),
    company_id: int | None = None,
) -> list:
    """The first ``limit`` rows of ``queryset`` matching a common ``search``, in key order.

    ``queryset`` is a list of one company and state, already past the page's cursor.
    A common term's matches are usually dense among the newest rows, but not always:
    'SC-0001' matches thousands of records, all of them years old, and walking the sort
    index from the newest row tests most of the list before it finds a page (a second
    at a million rows). So:

    1. Walk the index over the SEARCH_WINDOW rows next in order only (the window's
       last row, found in the index alone, bounds the range scan), testing each row.
       Enough matches there are the page: no row beyond the window comes before them.
    2. Otherwise let the trigram indexes find every match and sort their ids (a bitmap
       scan and a top-N sort: tens of milliseconds for thousands of matches), then read
       the page's rows by id. The sort key and the id are sorted as expressions no
       index serves, so the planner cannot walk the list again instead.

    A window found too sparse for this page (``learnt``: the term, sort and cursor) is
    remembered for SEARCH_VERDICT_SECONDS and not walked again meanwhile: step 2 alone
    gives the same rows, whatever changed since, only at its own cost. Step 2's sorted
    matches are kept too, and follow later changes (``_sorted_matches``).

    Queries: one when the window holds a page. Otherwise the window (unless known to be
    too sparse), the sorted matches (``_sorted_matches``: one query, two on PostgreSQL
    under a date or amount sort, fewer and smaller when kept) and the page's rows by id
    (none when nothing matches).
    """
    ordering = (f"-{field}", "-id") if read_descending else (field, "id")
    model = queryset.model
    window_sql, window_params = (
        queryset.order_by(*ordering).values_list(field, "pk")[:SEARCH_WINDOW].query.sql_with_params()
    )
    quote = connection.ops.quote_name
    column = f"{quote(model._meta.db_table)}.{quote(model._meta.get_field(field).column)}"
    row_id = f"{quote(model._meta.db_table)}.{quote(model._meta.pk.column)}"
    # The window's last row in the walk's order is the first in the other one.
    last, operator = ("ASC", ">=") if read_descending else ("DESC", "<=")
    # Django has no row comparison with a subquery; every value here is a parameter,
    # every name the model's own.
    within_window = RawSQL(  # noqa: S611
        f"({column}, {row_id}) {operator} "  # noqa: S608
        f"(SELECT * FROM ({window_sql}) window_rows ORDER BY 1 {last}, 2 {last} LIMIT 1)",
        window_params,
        output_field=BooleanField(),
    )
    sparse = ("sparse", *learnt) if learnt else None
    if not _recall(sparse):
        rows = list(queryset.filter(search, within_window).order_by(*ordering)[:limit])
        if len(rows) == limit:
            return rows
        _learn(sparse)
    # The window's rows are the first of the list, so its matches lead the page; the
    # rest are further on. Sort them all out of the trigram indexes' matches.
    # Sorted as ids and keys alone (a top-N sort of narrow rows, in memory), then the
    # page's rows read by id: sorting whole rows with their joins would carry every
    # match's columns through the sort (and to disk, at a hundred thousand matches).
    ids = _sorted_matches(
        queryset,
        search,
        company_id=company_id,
        field=field,
        read_descending=read_descending,
        limit=limit,
        learnt=learnt,
    )
    if not ids:
        return []
    return list(queryset.filter(pk__in=ids).order_by(*ordering))


def _sorted_matches(
    queryset: QuerySet,
    search: Q,
    *,
    company_id: int | None,
    field: str,
    read_descending: bool,
    limit: int,
    learnt: tuple,
) -> list[int]:
    """The ids of the first ``limit`` matches of ``search`` in ``queryset``, in key order.

    Sorted out of the trigram indexes' matches: every match is read and rechecked, so a
    term with a hundred thousand matches costs tens of milliseconds each time (``JC-00``
    at a million rows). On PostgreSQL the result is kept in the process (``learnt``:
    the term, sort and cursor) with the snapshot it was read in, and served again after
    changes to the company by reading only what changed (``_kept_matches``). Only under
    a date or amount sort, which Python orders as PostgreSQL does (text follows the
    database's collation).
    Queries: one; two when it is kept (the snapshot first); when it was kept, one or
    two small ones (see ``_kept_matches``), or those and the two again.
    """
    model = queryset.model
    unindexed = _unindexed_key(model, field)
    id_key = ExpressionWrapper(F("id") + 0, output_field=BigIntegerField())
    sort_ordering = (unindexed.desc(), id_key.desc()) if read_descending else (unindexed.asc(), id_key.asc())
    matches = queryset.filter(search).order_by(*sort_ordering)
    keeps = (
        connection.vendor == "postgresql"
        and bool(learnt)
        and company_id is not None
        and model._meta.get_field(field).get_internal_type() in _ORDERED_IN_PYTHON
    )
    if not keeps:
        return list(matches.values_list("pk", flat=True)[:limit])
    key = ("matches", *learnt, limit)
    kept = _KEPT_MATCHES.get(key)
    if kept is not None:
        found = _kept_matches(
            kept,
            queryset,
            search,
            company_id=company_id,
            field=field,
            read_descending=read_descending,
            limit=limit,
        )
        if found is not None:
            _KEPT_MATCHES[key] = found
            return [pk for _, pk in found.pairs[:limit]]
    # The snapshot first, in a statement of its own: the matches, read after, see
    # everything it sees, so a mark not visible in it names every row they can have
    # missed (what they saw as well is only read again).
    seen = data_version.snapshot(company_id)
    # More than the page: a change that takes a few rows out leaves enough to serve it.
    pairs = list(matches.values_list(field, "pk")[: limit + KEPT_SPARE])
    if seen.writing or any(value is None for value, _ in pairs):
        # (A NULL key sorts in SQL but not in Python; no list sorts by one today.)
        return [pk for _, pk in pairs[:limit]]
    pairs = _in_order(pairs, read_descending)
    complete = len(pairs) < limit + KEPT_SPARE
    found = KeptMatches(snapshot=seen.text, base=seen.base, pairs=pairs, last=None if complete else pairs[-1])
    if len(_KEPT_MATCHES) > 2_000:
        _KEPT_MATCHES.clear()
    _KEPT_MATCHES[key] = found
    return [pk for _, pk in pairs[:limit]]


@dataclass(frozen=True, slots=True)
class KeptMatches:
    """A common search's first matches as (key, id), read in ``snapshot`` when the
    company's folded version was ``base``. ``last``: the last match read, beyond which
    unread matches may lie (None: every match was read)."""

    snapshot: str
    base: int
    pairs: list[tuple[Any, int]]
    last: tuple[Any, int] | None


def _in_order(pairs: list[tuple[Any, int]], read_descending: bool) -> list[tuple[Any, int]]:
    return sorted(pairs, reverse=read_descending)


def _kept_matches(
    kept: KeptMatches,
    queryset: QuerySet,
    search: Q,
    *,
    company_id: int,
    field: str,
    read_descending: bool,
    limit: int,
) -> KeptMatches | None:
    """``kept`` brought up to date, or None when it must be read again.

    The marks of the transactions not visible in ``kept.snapshot`` name every row that
    can have entered or left the result since (migration 0012). Their rows are read
    again (still matching, still in the list, past the cursor) and merged with the kept
    ones; the rest of the kept result stands. It is read again instead when the marks
    were folded meanwhile (the base moved), when this transaction wrote already (see
    ``_sorted_matches``), when a mark is another table's (a vendor's name decides
    matches too; links and project levels do not, so their marks are passed over) or
    names no rows (a statement over more than 1,000), or when what is left no longer
    covers the page.
    Queries: one (the marks), two when they name rows of this list's table.
    """
    unseen = data_version.changes_since(
        company_id, kept.snapshot, table=queryset.model._meta.db_table, passed_over=_MARKS_PASSED_OVER
    )
    now = unseen.now
    if now.writing or now.base != kept.base or unseen.elsewhere:
        return None
    if not unseen.rows:
        return KeptMatches(snapshot=now.text, base=now.base, pairs=kept.pairs, last=kept.last)
    changed = unseen.rows
    fresh = list(queryset.filter(search, pk__in=changed).values_list(field, "pk"))
    if any(value is None for value, _ in fresh):
        return None
    pairs = _in_order([pair for pair in kept.pairs if pair[1] not in changed] + fresh, read_descending)
    last = kept.last
    if last is not None:
        # Unread matches lie beyond the last one read: only what comes before it is sure.
        pairs = [pair for pair in pairs if (pair >= last if read_descending else pair <= last)]
        if len(pairs) < limit:
            return None
    if len(pairs) > limit + KEPT_SPARE:
        # Kept no longer than when read: what is let go lies beyond the new last.
        pairs = pairs[: limit + KEPT_SPARE]
        last = pairs[-1]
    return KeptMatches(snapshot=now.text, base=now.base, pairs=pairs, last=last)


#: Marks no search depends on: links (a list's search and sort read the record's own
#: copy of its ERP id and link time) and project levels (0011's marks name no table).
_MARKS_PASSED_OVER = (ErpLink._meta.db_table, "")
#: Sort keys Python orders as PostgreSQL does (text follows the database's collation).
_ORDERED_IN_PYTHON = frozenset({"DateTimeField", "DecimalField", "BigIntegerField", "IntegerField"})
#: A common search keeps this many matches beyond its page (see ``_sorted_matches``).
KEPT_SPARE = 100
#: (kind of result, database, term, sort, cursor..., limit) -> KeptMatches.
_KEPT_MATCHES: dict[tuple, KeptMatches] = {}


def _unindexed_key(model: type[Model], field: str) -> Expression:
    """The sort key's value in a form no index serves, to sort matches rather than walk."""
    internal_type = model._meta.get_field(field).get_internal_type()
    if internal_type == "DateTimeField":
        return ExpressionWrapper(F(field) + Value(timedelta(0)), output_field=DateTimeField())
    if internal_type == "DecimalField":
        return ExpressionWrapper(F(field) + Value(Decimal(0)), output_field=DecimalField())
    return Concat(F(field), Value(""))


def _fenced_company(company_id: int) -> Exact:
    """``company_id + 0 = X``: the same condition, but no index on the company can serve it."""
    return Exact(ExpressionWrapper(F("company_id") + 0, output_field=BigIntegerField()), company_id)


def _search_probe(
    kind: RecordKind, company_id: int, export_state: str, term: str, *, learnt: tuple = ()
) -> list[int] | None:
    """The ids of every match when there are at most SEARCH_PROBE_LIMIT, else None.

    PostgreSQL cannot tell how many rows ``ILIKE '%term%'`` matches, so for a list
    sorted by an index it would walk that index testing every row, which costs the
    whole list when the term is rare (an ERP id: one match in a million). This probe
    asks only the trigram indexes (the company is fenced off from its indexes): it
    stops after SEARCH_PROBE_LIMIT + 1 matches, so it is cheap whether the term is rare
    or common. A term found common (``learnt``: the database, kind, company, list and
    term) is remembered for SEARCH_VERDICT_SECONDS and not probed again meanwhile: the
    common term's path lists any term right, a rare one only at a higher cost. A rare
    term is probed every time, since its page is made of what the probe found.
    Query: one (none for a term shorter than a trigram, or known to be common).
    """
    if len(term) < _TRIGRAM_LENGTH:
        return None
    common = ("common", *learnt) if learnt else None
    if _recall(common):
        return None
    ids = list(
        kind.model.objects.filter(
            _fenced_company(company_id),
            _record_search(kind, company_id, export_state, term),
            export_state=export_state,
        )
        .order_by()
        .values_list("pk", flat=True)[: SEARCH_PROBE_LIMIT + 1]
    )
    if len(ids) <= SEARCH_PROBE_LIMIT:
        return ids
    _learn(common)
    return None


#: How long a search term is remembered as common, or a window as too sparse for a page
#: (see ``_search_probe`` and ``_searched_rows``).
SEARCH_VERDICT_SECONDS = 60
#: What searches have shown this process: key -> when.
_SEARCH_VERDICTS: dict[tuple, float] = {}


def _recall(key: tuple | None) -> bool:
    learnt = _SEARCH_VERDICTS.get(key) if key else None
    return learnt is not None and time.monotonic() - learnt < SEARCH_VERDICT_SECONDS


def _learn(key: tuple | None) -> None:
    if key is None:
        return
    if len(_SEARCH_VERDICTS) > 10_000:
        _SEARCH_VERDICTS.clear()
    _SEARCH_VERDICTS[key] = time.monotonic()


def record_ids_matching(
    *, kind: RecordKind, company_id: int, export_state: str, search: str = "", limit: int
) -> list[int]:
    """The ids of a list's records that match its search, in id order, at most ``limit``
    (the bulk actions' "all N matching this search"; ask for one more than the cap to
    know that there are more). Queries: one."""
    queryset = kind.model.objects.filter(company_id=company_id, export_state=export_state)
    search = clean_search(search)
    if search:
        queryset = queryset.filter(_record_search(kind, company_id, export_state, search))
    return list(queryset.order_by("pk").values_list("pk", flat=True)[:limit])


def record_for_company(*, kind: RecordKind, company_id: int, record_id: int) -> LinkedRecord | None:
    """One record of the company with what its row shows, or None. Queries: one."""
    return kind.objects().select_related("link").filter(company_id=company_id, pk=record_id).first()


def record_link_history(*, kind: RecordKind, record: LinkedRecord) -> list[ErpLink]:
    """Every link the record has had, newest first: the live one and those unlinked since,
    with who linked and unlinked each and the sync run that found its ERP record missing.

    Queries: one, on the link table's history index (kind, record, linked at).
    """
    return list(
        ErpLink.objects.select_related("linked_by", "unlinked_by", "missing_since")
        .filter(kind=kind.slug, record_id=record.pk, company_id=record.company_id)
        .order_by("-linked_at", "-id")
    )


def sync_run_page(
    *, connection_id: int, after: str = "", before: str = "", page_size: int = SYNC_RUN_PAGE_SIZE
) -> Page:
    """The connection's sync runs, newest first, with who asked for a manual one. Queries: one."""
    queryset = SyncRun.objects.select_related("requested_by").filter(connection_id=connection_id)
    return _keyset_page(
        queryset,
        sort="-started",
        field="started_at",
        descending=True,
        after=after,
        before=before,
        page_size=page_size,
    )


@dataclass(frozen=True)
class AuditFilters:
    record_type: str = ""
    user_id: int | None = None
    outcome: str = ""
    action: str = ""

    @classmethod
    def parse(cls, data) -> AuditFilters:
        """Filters from query parameters; a value that is not one we know is ignored."""
        record_type = data.get("record_type", "")
        outcome = data.get("outcome", "")
        action = data.get("action", "")
        user = data.get("user", "")
        return cls(
            record_type=record_type if record_type in AuditEntry.RecordType.values else "",
            outcome=outcome if outcome in AuditEntry.Outcome.values else "",
            action=action if action in AuditEntry.Action.values else "",
            # isdigit() alone accepts "²", which int() refuses.
            user_id=int(user) if user.isascii() and user.isdigit() and len(user) < 19 else None,
        )

    def as_query(self) -> dict[str, str]:
        query = {"record_type": self.record_type, "outcome": self.outcome, "action": self.action}
        query["user"] = str(self.user_id) if self.user_id else ""
        return {name: value for name, value in query.items() if value}


def audit_entry_page(
    *,
    company_id: int,
    filters: AuditFilters = AuditFilters(),  # noqa: B008 - frozen, so sharing it is safe
    after: str = "",
    before: str = "",
    page_size: int = AUDIT_PAGE_SIZE,
) -> Page:
    """The company's audit trail, newest first, with who made each attempt. Queries: one."""
    queryset = AuditEntry.objects.select_related("user", "project").filter(company_id=company_id)
    if filters.record_type:
        queryset = queryset.filter(record_type=filters.record_type)
    if filters.outcome:
        queryset = queryset.filter(outcome=filters.outcome)
    if filters.action:
        queryset = queryset.filter(action=filters.action)
    if filters.user_id:
        queryset = queryset.filter(user_id=filters.user_id)
    return _keyset_page(
        queryset,
        sort="-created",
        field="created_at",
        descending=True,
        after=after,
        before=before,
        page_size=page_size,
    )


def directory_users(*, company_id: int) -> list[User]:
    """The people in the company's directory, by name, for the audit trail's user filter. Queries: one."""
    return list(
        User.objects.filter(memberships__company_id=company_id)
        .order_by("username")
        .only("id", "username", "first_name", "last_name")
    )


# --- companies -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CompanyChoice:
    id: int
    name: str
    #: The user's level on the company's ERP Integrations tool.
    erp_level: int

    @property
    def can_view_tool(self) -> bool:
        return level_opens_tool(self.erp_level)


def companies_for_user(
    *, user: User, limit: int | None = None, openable_only: bool = False, company_id: int | None = None
) -> Sequence[CompanyChoice]:
    """The user's companies: their directory entries (superusers too: is_superuser grants nothing here).

    ``openable_only``: only those whose ERP Integrations tool the user may open.
    ``company_id``: only that company (empty when the user is not in it).
    Queries: one.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    rows = companies_of(user, openable_only=openable_only, company_id=company_id, limit=limit)
    return [CompanyChoice(pk, name, level) for pk, name, level in rows]


# --- master data: jobs, vendors, cost codes ---------------------------------------------------
#: Rows per page of a master-data list.
MASTER_PAGE_SIZE = 25
#: Near matches shown per ERP entry.
SUGGESTIONS_PER_ENTRY = 3
#: How alike two names must be to be suggested (difflib's ratio, on the embedded default;
#: PostgreSQL uses pg_trgm's own threshold, 0.3 by default).
PORTABLE_SIMILARITY = 0.6
#: Platform records the embedded default compares an ERP entry's name with.
PORTABLE_CANDIDATES = 5_000


@dataclass(frozen=True)
class MasterPage:
    rows: list
    #: The cursor of the next page, or "".
    next_cursor: str
    #: Whether this is a later page (a "First page" link is offered).
    paged: bool


@dataclass(frozen=True)
class Suggestion:
    record_id: int
    name: str
    #: 1.0 for the same name ignoring case; else the similarity of the two names.
    score: float
    exact: bool


def _master_cursor(name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([name, pk]).encode()).decode().rstrip("=")


def _master_after(cursor: str) -> tuple[str, int] | None:
    if not cursor or len(cursor) > 1000:
        return None
    try:
        name, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(name, str) or not isinstance(pk, int) or isinstance(pk, bool) or abs(pk) >= 2**63:
        return None
    return name, pk


def _master_page(queryset: QuerySet, *, name_field: str, after: str) -> MasterPage:
    """A page of ``queryset`` by (name, id), after the cursor. Queries: one."""
    key = _master_after(after)
    if key is not None:
        queryset = queryset.filter(
            TupleGreaterThan(Tuple(F(name_field), F("pk")), Tuple(Value(key[0]), Value(key[1])))
        )
    rows = list(queryset.order_by(name_field, "pk")[: MASTER_PAGE_SIZE + 1])
    more = len(rows) > MASTER_PAGE_SIZE
    rows = rows[:MASTER_PAGE_SIZE]
    cursor = _master_cursor(getattr(rows[-1], name_field), rows[-1].pk) if more else ""
    return MasterPage(rows, cursor, key is not None)


def _platform_unlinked(kind, company_id: int) -> QuerySet:
    return kind.records(company_id).filter(**{f"{kind.erp_id_field}__isnull": True})


def _states(kind, company_id: int, state: str) -> QuerySet:
    from erp_integrations.models import MasterExportState

    return MasterExportState.objects.filter(company_id=company_id, kind=kind.slug, state=state)


def master_ready_to_export(*, kind, company_id: int, search: str = "", after: str = "") -> MasterPage:
    """The platform's records of the kind that are not in the ERP and not failed or rejected."""
    from erp_integrations.models import MasterExportState

    held = MasterExportState.objects.filter(kind=kind.slug, record_id=OuterRef("pk"))
    records = _platform_unlinked(kind, company_id).exclude(Exists(held))
    if search:
        records = records.filter(**{f"{kind.name_field}__icontains": clean_search(search)})
    return _master_page(records, name_field=kind.name_field, after=after)


def master_failed(*, kind, company_id: int, search: str = "", after: str = "") -> MasterPage:
    """Records whose export failed, each with the ERP's words (``export_message``)."""
    from erp_integrations.models import MasterExportState

    failed = _states(kind, company_id, MasterExportState.State.FAILED)
    records = (
        _platform_unlinked(kind, company_id)
        .filter(pk__in=failed.values("record_id"))
        .annotate(export_message=Subquery(failed.filter(record_id=OuterRef("pk")).values("message")[:1]))
    )
    if search:
        records = records.filter(**{f"{kind.name_field}__icontains": clean_search(search)})
    return _master_page(records, name_field=kind.name_field, after=after)


def master_unlinked_entries(*, kind, company_id: int) -> QuerySet:
    """ERP entries of the kind no live link holds and nobody archived: Ready to Import."""
    from erp_integrations.models import ErpMasterEntry

    links = ErpLink.objects.filter(
        company_id=company_id, kind=kind.slug, erp_id=OuterRef("erp_id"), unlinked_at__isnull=True
    )
    return ErpMasterEntry.objects.filter(
        company_id=company_id, kind=kind.slug, archived_at__isnull=True
    ).exclude(Exists(links))


def master_ready_to_import(*, kind, company_id: int, search: str = "", after: str = "") -> MasterPage:
    entries = master_unlinked_entries(kind=kind, company_id=company_id)
    if search:
        term = clean_search(search)
        entries = entries.filter(Q(name__icontains=term) | Q(erp_id__icontains=term))
    return _master_page(entries, name_field="name", after=after)


def master_ready_to_update(*, kind, company_id: int, search: str = "", after: str = "") -> MasterPage:
    """Linked ERP entries whose name differs from their platform record's now.

    Each row carries ``record_id`` and ``platform_name`` (the platform's name).
    """
    from erp_integrations.models import ErpMasterEntry

    links = ErpLink.objects.filter(
        company_id=company_id, kind=kind.slug, erp_id=OuterRef("erp_id"), unlinked_at__isnull=True
    )
    names = kind.model.objects.filter(pk=OuterRef("record_id")).values(kind.name_field)[:1]
    entries = (
        ErpMasterEntry.objects.filter(company_id=company_id, kind=kind.slug)
        .annotate(record_id=Subquery(links.values("record_id")[:1]))
        .filter(record_id__isnull=False)
        .annotate(platform_name=Subquery(names))
        .exclude(name=F("platform_name"))
    )
    if search:
        entries = entries.filter(name__icontains=clean_search(search))
    return _master_page(entries, name_field="name", after=after)


def master_synced(*, kind, company_id: int, search: str = "", after: str = "") -> MasterPage:
    """The kind's linked records, each with ``erp_missing``: the last completed sync found
    the ERP record gone (so Unlink may go ahead)."""
    missing = ErpLink.objects.filter(
        kind=kind.slug, record_id=OuterRef("pk"), unlinked_at__isnull=True, missing_since__isnull=False
    )
    records = (
        kind.records(company_id)
        .filter(**{f"{kind.erp_id_field}__isnull": False})
        .annotate(erp_missing=Exists(missing))
    )
    if search:
        term = clean_search(search)
        records = records.filter(
            Q(**{f"{kind.name_field}__icontains": term}) | Q(**{f"{kind.erp_id_field}__icontains": term})
        )
    return _master_page(records, name_field=kind.name_field, after=after)


def master_suggestions(*, kind, company_id: int, entries: Sequence) -> dict[int, list[Suggestion]]:
    """Platform records to link each ERP entry to: the same name ignoring case, and near
    matches ranked by similarity (trigrams on PostgreSQL, difflib on the embedded default).

    Queries: one.
    """
    if not entries:
        return {}
    if connection.vendor == "postgresql":
        return _suggestions_postgresql(kind, company_id, entries)
    return _suggestions_portable(kind, company_id, entries)


def _suggestions_postgresql(kind, company_id: int, entries: Sequence) -> dict[int, list[Suggestion]]:
    meta = kind.model._meta
    table = connection.ops.quote_name(meta.db_table)
    name = connection.ops.quote_name(meta.get_field(kind.name_field).column)
    linked = connection.ops.quote_name(meta.get_field(kind.erp_id_field).column)
    # One query for the page: for each entry, its best matches by the trigram index
    # (``%`` is pg_trgm's similarity operator).
    sql = (
        "SELECT q.entry_id, r.id, r.name, r.score, r.exact "  # noqa: S608 - names from the model
        "FROM unnest(%s::bigint[], %s::text[]) AS q(entry_id, name) "
        "CROSS JOIN LATERAL ("
        f"  SELECT p.id, p.{name} AS name, similarity(p.{name}, q.name) AS score, "
        f"         lower(p.{name}) = lower(q.name) AS exact "
        f"  FROM {table} AS p WHERE p.company_id = %s AND p.{linked} IS NULL "
        f"  AND (lower(p.{name}) = lower(q.name) OR p.{name} %% q.name) "
        "  ORDER BY 4 DESC, 3 DESC, 1 LIMIT %s"
        ") AS r ORDER BY q.entry_id, r.exact DESC, r.score DESC, r.id"
    )
    found: dict[int, list[Suggestion]] = {entry.pk: [] for entry in entries}
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [[e.pk for e in entries], [e.name for e in entries], company_id, SUGGESTIONS_PER_ENTRY],
        )
        for entry_id, record_id, record_name, score, exact in cursor.fetchall():
            found[entry_id].append(
                Suggestion(record_id, record_name, 1.0 if exact else round(score, 2), exact)
            )
    return found


def _suggestions_portable(kind, company_id: int, entries: Sequence) -> dict[int, list[Suggestion]]:
    from difflib import SequenceMatcher

    candidates = list(
        _platform_unlinked(kind, company_id)
        .order_by("pk")
        .values_list("pk", kind.name_field)[:PORTABLE_CANDIDATES]
    )
    found: dict[int, list[Suggestion]] = {}
    for entry in entries:
        wanted = entry.name.lower()
        scored = []
        for pk, name in candidates:
            exact = name.lower() == wanted
            score = 1.0 if exact else SequenceMatcher(None, wanted, name.lower()).ratio()
            if exact or score >= PORTABLE_SIMILARITY:
                scored.append(Suggestion(pk, name, round(score, 2), exact))
        scored.sort(key=lambda s: (not s.exact, -s.score, s.record_id))
        found[entry.pk] = scored[:SUGGESTIONS_PER_ENTRY]
    return found


def master_exact_pairs(*, kind, company_id: int, limit: int) -> list[tuple[Any, list]]:
    """ERP entries of Ready to Import whose name is an unlinked platform record's, ignoring
    case, each with every such record (Link All links those with exactly one).

    Queries: two.
    """
    from django.db.models.functions import Lower

    records = _platform_unlinked(kind, company_id).annotate(lowered=Lower(kind.name_field))
    entries = list(
        master_unlinked_entries(kind=kind, company_id=company_id)
        .annotate(lowered=Lower("name"))
        .filter(lowered__in=records.values("lowered"))
        .order_by("name", "pk")[:limit]
    )
    by_name: dict[str, list] = {}
    for record in records.filter(lowered__in={entry.lowered for entry in entries}).order_by("pk"):
        by_name.setdefault(record.lowered, []).append(record)
    return [(entry, by_name.get(entry.lowered, [])) for entry in entries]


# --- reconciliation -------------------------------------------------------------------------
RECONCILIATION_PAGE_SIZE = 25
#: The Reconciliation page's lists, in its order: what should be in the ERP and is not
#: (CCOs first), then what the ERP holds that nothing links, then values that differ.
RECONCILIATION_CATEGORIES = (
    Discrepancy.Category.ABSENT,
    Discrepancy.Category.ORPHAN,
    Discrepancy.Category.DRIFT,
)


@dataclass(frozen=True)
class ReconciliationFilters:
    project_id: int | None = None
    kind: str = ""
    category: str = ""
    field: str = ""

    @classmethod
    def parse(cls, data) -> ReconciliationFilters:
        """Filters from query parameters; a value that is not one we know is ignored."""
        project = data.get("project", "")
        kind = data.get("kind", "")
        category = data.get("category", "")
        field = data.get("field", "")
        return cls(
            project_id=int(project)
            if project.isascii() and project.isdigit() and len(project) < 19
            else None,
            kind=kind if kind in BY_SLUG else "",
            category=category if category in Discrepancy.Category.values else "",
            field=field if field in RECONCILED_VALUES else "",
        )

    def as_query(self) -> dict[str, str]:
        query = {
            "project": str(self.project_id) if self.project_id else "",
            "kind": self.kind,
            "category": self.category,
            "field": self.field,
        }
        return {name: value for name, value in query.items() if value}


def parse_id(value: str) -> int | None:
    # isdigit() alone accepts "²", which int() refuses.
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


def _discrepancies(*, company_id: int, filters: ReconciliationFilters) -> QuerySet[Discrepancy]:
    queryset = Discrepancy.objects.filter(company_id=company_id)
    if filters.project_id:
        queryset = queryset.filter(project_id=filters.project_id)
    if filters.kind:
        queryset = queryset.filter(kind=filters.kind)
    if filters.field:
        # A field filter is about drift; the other lists have no fields.
        queryset = queryset.filter(Q(field=filters.field) | ~Q(category=Discrepancy.Category.DRIFT))
    return queryset


def discrepancy_page(
    *,
    company_id: int,
    filters: ReconciliationFilters,
    category: str,
    after: str = "",
    before: str = "",
    page_size: int = RECONCILIATION_PAGE_SIZE,
) -> Page[Discrepancy]:
    """One list of the Reconciliation page, CCOs first. Queries: one.

    The rows' projects are not joined: the page has them already (its project filter),
    and the plain query walks its index and stops after a page, however many rows the
    list has and whatever the planner's statistics say of them.
    """
    queryset = _discrepancies(company_id=company_id, filters=filters).filter(category=category)
    return _keyset_page(
        queryset,
        sort=f"rank-{category}",
        field="rank",
        descending=False,
        after=after,
        before=before,
        page_size=page_size,
    )


def discrepancy_counts(*, company_id: int, filters: ReconciliationFilters) -> dict[str, int]:
    """How many rows each list of the Reconciliation page has, as the sync counted them.

    Read from the totals (a few rows per project), never counted over the findings.
    Queries: one.
    """
    totals = ReconciliationTotal.objects.filter(company_id=company_id)
    if filters.project_id:
        totals = totals.filter(project_id=filters.project_id)
    if filters.kind:
        totals = totals.filter(measure=BY_SLUG[filters.kind].measure[0])
    counts = dict.fromkeys(Discrepancy.Category.values, 0)
    for absent, orphans, drift, fields in totals.values_list(
        "absent_count", "orphan_count", "drift_count", "drift_fields"
    ):
        counts[Discrepancy.Category.ABSENT] += absent
        counts[Discrepancy.Category.ORPHAN] += orphans
        counts[Discrepancy.Category.DRIFT] += (fields or {}).get(filters.field, 0) if filters.field else drift
    return counts


def discrepancy_rows(*, company_id: int, filters: ReconciliationFilters):
    """Every row the filters select, for the CSV export: read in chunks, never all at once."""
    return (
        _discrepancies(company_id=company_id, filters=filters)
        .filter(category=filters.category)
        .select_related("project", "found_by")
        .order_by("rank", "id")
        if filters.category
        else _discrepancies(company_id=company_id, filters=filters)
        .select_related("project", "found_by")
        .order_by("category", "rank", "id")
    )


@dataclass(frozen=True)
class TotalRow:
    measure: str
    label: str
    #: None where the platform keeps no figure of its own (payments, job costs).
    platform_count: int | None
    platform_total: Decimal | None
    erp_count: int
    erp_total: Decimal
    absent_count: int
    absent_total: Decimal

    @property
    def difference(self) -> Decimal | None:
        if self.platform_total is None:
            return None
        return self.erp_total - self.platform_total


def reconciliation_totals(
    *, company_id: int, project_id: int | None, measures: Sequence[tuple[str, str]]
) -> list[TotalRow]:
    """Platform and ERP totals per measure, of the company or one project. Queries: one."""
    queryset = ReconciliationTotal.objects.filter(company_id=company_id)
    if project_id:
        queryset = queryset.filter(project_id=project_id)
    sums = {
        row["measure"]: row
        for row in queryset.order_by()
        .values("measure")
        .annotate(
            platform_count=Sum("platform_count"),
            platform_total=Sum("platform_total"),
            erp_count=Sum("erp_count"),
            erp_total=Sum("erp_total"),
            absent_count=Sum("absent_count"),
            absent_total=Sum("absent_total"),
        )
    }
    zero = Decimal("0.00")
    rows = []
    for measure, label in measures:
        found = sums.get(measure, {})
        platform_total = found.get("platform_total")
        platform_count = found.get("platform_count")
        # A kind's measure has a platform side even when no record is linked yet.
        has_platform_side = measure in {kind.measure[0] for kind in BY_SLUG.values()}
        rows.append(
            TotalRow(
                measure=measure,
                label=label,
                platform_count=(platform_count or 0) if has_platform_side else None,
                platform_total=(platform_total or zero) if has_platform_side else None,
                erp_count=found.get("erp_count") or 0,
                erp_total=found.get("erp_total") or zero,
                absent_count=found.get("absent_count") or 0,
                absent_total=found.get("absent_total") or zero,
            )
        )
    return rows


def company_projects(*, company_id: int) -> list[Project]:
    """The company's projects by number, for the Reconciliation page's project filter. Queries: one."""
    return list(Project.objects.filter(company_id=company_id).order_by("number").only("id", "number", "name"))


def last_succeeded_run(*, connection_id: int) -> SyncRun | None:
    """The run whose findings the Reconciliation page shows. Queries: one."""
    return (
        SyncRun.objects.filter(connection_id=connection_id, status=SyncRun.Status.SUCCEEDED)
        .order_by("-finished_at", "-id")
        .first()
    )


JOB_COST_TRANSACTIONS_SHOWN = 25


def job_cost_by_cost_code(*, project_id: int) -> list[dict]:
    """The project's job-to-date cost per cost code, as the ERP posted it. Queries: one."""
    return list(
        JobCostTransaction.objects.filter(project_id=project_id)
        .order_by("cost_code")
        .values("cost_code")
        .annotate(total=Sum("amount"), count=Count("id"))
    )


def job_cost_transactions(*, project_id: int, limit: int = JOB_COST_TRANSACTIONS_SHOWN) -> list:
    """The project's latest cost transactions in the ERP. Queries: one."""
    return list(
        JobCostTransaction.objects.filter(project_id=project_id).order_by("-posted_on", "-id")[:limit]
    )


SYNC_CHART_RUNS = 48


def sync_runs_for_chart(*, connection_id: int, limit: int = SYNC_CHART_RUNS) -> list[SyncRun]:
    """The connection's last finished runs, oldest first, for the history's chart. Queries: one."""
    runs = list(
        SyncRun.objects.filter(connection_id=connection_id)
        .exclude(status=SyncRun.Status.RUNNING)
        .order_by("-started_at", "-id")
        .only(
            "id",
            "status",
            "started_at",
            "finished_at",
            "links_checked",
            "missing_found",
            "drift_found",
            "orphans_found",
        )[:limit]
    )
    runs.reverse()
    return runs


# --- the Accountant report -------------------------------------------------------------------
@dataclass
class AccountantRow:
    """One holder of 'Can Push to Accounting', with their levels and grant history."""

    user: User
    erp_level_label: str
    #: (project, level label) for each project where they have a Commitments level.
    project_levels: list[tuple[Project, str]]
    #: Grants and revokes of the privilege in this company, newest first.
    history: list[PrivilegeChange]

    @property
    def project_levels_text(self) -> str:
        return "; ".join(f"{project.name}: {label}" for project, label in self.project_levels)


def accountant_report(*, company: Company) -> list[AccountantRow]:
    """Who in the company holds 'Can Push to Accounting', by username. Queries: three
    (the holders, their project levels, their grant history)."""
    entries = list(
        DirectoryMembership.objects.filter(company=company, can_push_to_accounting=True)
        .select_related("user")
        .order_by("user__username")
    )
    user_ids = [entry.user_id for entry in entries]
    levels: dict[int, list] = {}
    for permission in (
        ProjectPermission.objects.filter(project__company=company, user_id__in=user_ids)
        .exclude(commitments_level=PermissionLevel.NONE)
        .select_related("project")
        .order_by("project__number")
    ):
        levels.setdefault(permission.user_id, []).append(
            (permission.project, permission.get_commitments_level_display())
        )
    history: dict[int, list] = {}
    for change in PrivilegeChange.objects.filter(company=company, user_id__in=user_ids).select_related(
        "changed_by"
    ):
        history.setdefault(change.user_id, []).append(change)
    return [
        AccountantRow(
            user=entry.user,
            erp_level_label=entry.get_erp_integrations_level_display(),
            project_levels=levels.get(entry.user_id, []),
            history=history.get(entry.user_id, []),
        )
        for entry in entries
    ]
