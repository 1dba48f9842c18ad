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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    DateTimeField,
    DecimalField,
    Expression,
    ExpressionWrapper,
    F,
    Lookup,
    Model,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
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
from erp_integrations.kinds import RecordKind, SortColumn
from erp_integrations.models import AuditEntry, ErpLink, ExportState, LinkedRecord, SyncRun, Vendor

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


def _record_search(kind: RecordKind, company_id: int, term: str) -> Q:
    # Number, ERP id and the kind's own text columns through their trigram indexes; the
    # vendor through the few vendors whose names match, not a join over every row.
    matching_vendors = (
        Vendor.objects.filter(_contains("name", term), company_id=company_id).order_by().values("id")
    )
    condition = (
        Q(_contains("number", term))
        | Q(_contains("erp_id", term))
        | Q(_InSmallSubquery(F("vendor_id"), Subquery(matching_vendors)))
    )
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
            queryset, search, field=field, read_descending=read_descending, limit=page_size + 1
        )
    more = len(rows) > page_size
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
    )


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
    next in the list's order costs a third: the page again, sorted from the trigram
    indexes' matches (see ``_searched_rows``).
    """
    sort = clean_sort(kind, export_state, sort)
    key = sort_keys(kind, export_state)[sort.removeprefix("-")]
    queryset = kind.objects()
    if export_state == ExportState.SYNCED:
        # The row says when the last completed sync found the ERP record gone.
        queryset = queryset.select_related("link")
    search = clean_search(search)
    few = _search_probe(kind, company_id, export_state, search) if search else None
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
                search=_record_search(kind, company_id, search),
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
    Queries: one on PostgreSQL, none elsewhere.
    """
    db = connection
    if db.vendor != "postgresql":
        return None
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
    return max(int(plan[0]["Plan"]["Plan Rows"]), 0)


#: Up to this many matches a search term counts as rare (see ``_search_probe``).
SEARCH_PROBE_LIMIT = 1000
#: Trigram indexes need three characters to narrow anything down.
_TRIGRAM_LENGTH = 3
#: A common term's page is first looked for among this many rows next in the list's
#: order (see ``_searched_rows``).
SEARCH_WINDOW = 20_000


def _searched_rows(queryset: QuerySet, search: Q, *, field: str, read_descending: bool, limit: int) -> list:
    """The first ``limit`` rows of ``queryset`` matching a common ``search``, in key order.

    ``queryset`` is a list of one company and state, already past the page's cursor.
    A common term's matches are usually dense among the newest rows, but not always:
    'SC-0001' matches thousands of records, all of them years old, and walking the sort
    index from the newest row tests most of the list before it finds a page (a second
    at a million rows). So:

    1. Walk the index over the SEARCH_WINDOW rows next in order only (the window's
       last row, found in the index alone, bounds the range scan), testing each row.
       Enough matches there are the page: no row beyond the window comes before them.
    2. Otherwise let the trigram indexes find every match and sort them (a bitmap scan
       and a top-N sort: tens of milliseconds for thousands of matches). The sort key
       and the id are sorted as expressions no index serves, so the planner cannot
       walk the list again instead.

    Queries: one, or two when the window holds fewer than ``limit`` matches.
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
    rows = list(queryset.filter(search, within_window).order_by(*ordering)[:limit])
    if len(rows) == limit:
        return rows
    # The window's rows are the first of the list, so its matches lead the page; the
    # rest are further on. Sort them all out of the trigram indexes' matches.
    unindexed = _unindexed_key(model, field)
    id_key = ExpressionWrapper(F("id") + 0, output_field=BigIntegerField())
    sort_ordering = (unindexed.desc(), id_key.desc()) if read_descending else (unindexed.asc(), id_key.asc())
    return list(queryset.filter(search).order_by(*sort_ordering)[:limit])


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


def _search_probe(kind: RecordKind, company_id: int, export_state: str, term: str) -> list[int] | None:
    """The ids of every match when there are at most SEARCH_PROBE_LIMIT, else None.

    PostgreSQL cannot tell how many rows ``ILIKE '%term%'`` matches, so for a list
    sorted by an index it would walk that index testing every row, which costs the
    whole list when the term is rare (an ERP id: one match in a million). This probe
    asks only the trigram indexes (the company is fenced off from its indexes): it
    stops after SEARCH_PROBE_LIMIT + 1 matches, so it is cheap whether the term is rare
    or common. Query: one (none for a term shorter than a trigram).
    """
    if len(term) < _TRIGRAM_LENGTH:
        return None
    ids = list(
        kind.model.objects.filter(
            _fenced_company(company_id),
            _record_search(kind, company_id, term),
            export_state=export_state,
        )
        .order_by()
        .values_list("pk", flat=True)[: SEARCH_PROBE_LIMIT + 1]
    )
    return ids if len(ids) <= SEARCH_PROBE_LIMIT else None


def record_ids_matching(
    *, kind: RecordKind, company_id: int, export_state: str, search: str = "", limit: int
) -> list[int]:
    """The ids of a list's records that match its search, in id order, at most ``limit``
    (the bulk actions' "all N matching this search"; ask for one more than the cap to
    know that there are more). Queries: one."""
    queryset = kind.model.objects.filter(company_id=company_id, export_state=export_state)
    search = clean_search(search)
    if search:
        queryset = queryset.filter(_record_search(kind, company_id, search))
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
    entries = companies_of(user, openable_only=openable_only)
    if company_id is not None:
        entries = entries.filter(company_id=company_id)
    entries = entries.order_by("company__name", "company_id").values_list(
        "company_id", "company__name", "erp_integrations_level"
    )
    rows = entries[:limit] if limit else entries
    return [CompanyChoice(pk, name, level) for pk, name, level in rows]


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
