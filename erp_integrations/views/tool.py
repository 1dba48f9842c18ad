"""The company's ERP Integrations tool: one tab per record type, its lists and actions.

Each tab shows three lists in the articles' words ("Commitments - Ready to Export",
"Commitments - Failed to Export", "Commitments - Synced with Sage 300 CRE®"). Rows
carry Export / Reject (ready and failed) or Unlink (synced) as HTMX buttons that are
also plain forms, so they work without JavaScript too.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC
from functools import cached_property
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.messages.storage.base import Message
from django.http import HttpRequest, HttpResponse, QueryDict
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.defaultfilters import floatformat, linebreaksbr
from django.template.loader import get_template, render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateformat import DateFormat
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import replace_url, trigger_client_event

from accounts.permissions import AccessDenied, Action, Decision, NotFound
from erp_integrations import selectors
from erp_integrations.kinds import BY_TAB, KINDS, RecordKind
from erp_integrations.master_kinds import unlinked_prerequisites
from erp_integrations.models import ExportState, LinkedRecord
from erp_integrations.services import data_version, exports, unlink
from erp_integrations.services.results import ActionResult, Outcome
from erp_integrations.services.sync import sync_status
from erp_integrations.views.common import (
    LAST_COMPANY_KEY,
    HtmxHttpRequest,
    Tool,
    panel_context,
    safe_next,
    signed_in,
    switcher_context,
    tool_view,
)
from erp_integrations.views.errors import status_of

# --- what the tool shows -------------------------------------------------------------------
#: The tabs: one per record kind, by its slug in URLs.
TABS: dict[str, RecordKind] = BY_TAB
FIRST_TAB = KINDS[0].tab_slug

#: Action name -> the service it calls, each taking (kind, user, record id, access[, reason]).
ACTION_SERVICES: dict[str, Callable[..., ActionResult]] = {
    "unlink": unlink.record_unlink,
    "export": exports.record_export,
    "reject": exports.record_reject,
}

#: List slug in URLs -> export state, in the order a tab shows them.
LISTS: dict[str, str] = {
    "ready": ExportState.READY,
    "failed": ExportState.FAILED,
    "synced": ExportState.SYNCED,
}
STATE_TO_LIST = {state: slug for slug, state in LISTS.items()}
#: The actions a row of each list offers, in button order.
LIST_ACTIONS: dict[str, tuple[str, ...]] = {
    "ready": ("export", "reject"),
    "failed": ("export", "reject"),
    "synced": ("unlink",),
}
ACTION_PERMISSIONS = {"unlink": Action.UNLINK, "export": Action.EXPORT, "reject": Action.REJECT}
#: The list an action's button is on, when the record is in none of them any more.
ACTION_LIST = {"unlink": "synced", "export": "ready", "reject": "ready"}
#: What a successful unlink leads to: editing the record (the articles' last step).
NEXT_STEP_LABEL = "Edit in the Commitments tool"

#: Extra tags of a plain form's message: the element of the tab it is about (a row or a
#: list) and, after an unlink, the record's page in the project's Commitments tool.
AT_TAG = "erp-at:"
NEXT_TAG = "erp-next:"
#: A record standing in the way, linked: "erp-blocking:<url>|<label>", the label's spaces
#: kept as no-break spaces (extra tags are split on spaces).
BLOCKING_TAG = "erp-blocking:"


def list_title(tab: RecordKind, list_slug: str, erp_name: str) -> str:
    """The articles' list titles, with the ERP's own name."""
    words = {
        "ready": "Ready to Export",
        "failed": "Failed to Export",
        "synced": f"{tab.synced_words} {erp_name}",
    }
    return f"{tab.list_title} - {words[list_slug]}"


@dataclass
class RowAction:
    name: str
    label: str
    #: Relative to the tab's address: "<record id>/<action>/"; Reject's is its form's
    #: ("<record id>/reject/form/", see ``record_row``).
    url: str
    decision: Decision
    #: The button's accessible name, with its record: "Unlink SC-001, Harbor Tower". A
    #: screen reader listing a page's buttons otherwise hears "Unlink" fifty times.
    aria_label: str = ""


@dataclass(frozen=True)
class PlacedMessage:
    """A plain form's outcome, shown by the row or at the top of the list it is about."""

    text: str
    ok: bool
    next_url: str = ""
    #: (label, url) of each record that stands in the way.
    blocking: tuple[tuple[str, str], ...] = ()


def _tag(message: Message, prefix: str) -> str:
    tags = (message.extra_tags or "").split()
    return next((tag.removeprefix(prefix) for tag in tags if tag.startswith(prefix)), "")


def _take_messages(request: HtmxHttpRequest) -> tuple[dict[str, list[Message]], list[Message]]:
    """This request's messages: those about an element of the tab (by its id), and the rest."""
    anchored: dict[str, list[Message]] = {}
    rest: list[Message] = []
    for message in messages.get_messages(request):
        at = _tag(message, AT_TAG)
        if at:
            anchored.setdefault(at, []).append(message)
        else:
            rest.append(message)
    return anchored, rest


def _placed(message: Message) -> PlacedMessage:
    blocking = tuple(
        tuple(reversed(tag.removeprefix(BLOCKING_TAG).replace("\xa0", " ").split("|", 1)))
        # Split on spaces only: str.split() would split on the labels' no-break spaces too.
        for tag in (message.extra_tags or "").split(" ")
        if tag.startswith(BLOCKING_TAG)
    )
    return PlacedMessage(str(message), message.level == messages.SUCCESS, _tag(message, NEXT_TAG), blocking)


@dataclass
class RecordRow:
    kind: RecordKind
    record: LinkedRecord
    list_slug: str
    actions: list[RowAction] = field(default_factory=list)
    #: True when the list says once, above its rows, why these buttons are disabled.
    reason_in_list: bool = False
    #: A plain form's outcome for this row, shown under it after the redirect.
    flash: PlacedMessage | None = None
    #: The id of the element saying why the disabled buttons are disabled.
    denied_id: str = ""
    #: The row's HTML when it was rendered ahead of the page (see ``_render_rows``).
    html: str = ""

    @property
    def dom_id(self) -> str:
        return f"{self.list_slug}-{self.kind.slug}-{self.record.pk}"

    @cached_property
    def show(self) -> RowDisplay:
        """What the row shows, worked out once in Python (see ``_display``): the template
        reads plain values instead of walking the record and applying filters per cell.
        Only worked out when the row is rendered (not when it comes from the cache)."""
        return _display(self.kind, self.record, self.list_slug)

    # The flash's words for the template, without failed lookups on a row that has none.
    @property
    def flash_text(self) -> str:
        return self.flash.text if self.flash else ""

    @property
    def flash_ok(self) -> bool:
        return self.flash.ok if self.flash else False

    @property
    def flash_blocking(self) -> tuple[tuple[str, str], ...]:
        return self.flash.blocking if self.flash else ()

    @property
    def can_bulk(self) -> bool:
        """Whether the row has a checkbox for the list's bulk actions (one allowed action)."""
        return any(action.decision for action in self.actions)

    @cached_property
    def denied_reasons(self) -> list[str]:
        """Why the disabled buttons are disabled, once for buttons missing the same things."""
        denied = [action for action in self.actions if not action.decision]
        if not denied:
            return []
        missing = {action.decision.missing for action in denied}
        if len(denied) > 1 and len(missing) == 1 and all(a.decision.is_member for a in denied):
            names = " and ".join(action.label for action in denied)
            return [f"{names} need " + ", and ".join(denied[0].decision.missing) + "."]
        return [action.decision.reason for action in denied]


@dataclass
class RowDisplay:
    """A row's cells as text, the same the template's lookups and filters would give."""

    pk: int
    number: str
    title: str
    sub: str
    vendor: str
    project_name: str
    project_number: str
    amount: str
    status: str
    erp_missing: bool
    erp_id: str
    when_iso: str
    when_date: str
    when_time: str
    when_zone: str
    when_utc: str
    export_error: str
    #: (label, url) of the rows that fix a failed export: the unlinked vendor or job.
    fixes: tuple[tuple[str, str], ...] = ()


def _dates(value) -> tuple[str, str, str, str, str]:
    """An aware datetime as the row shows it: ISO in UTC to the second ("2026-10-01T14:05:09Z"),
    "1 Oct 2026", "10:05", "EDT" in the user's zone (as the date filter formats), and
    "1 Oct 2026, 14:05 UTC" for the hover (as the ``local_time`` tag does elsewhere)."""
    if value is None:
        return "", "", "", "", ""
    # One formatter for the local parts, as the date filter formats: in the user's zone.
    here = template_localtime(value)
    formatter = DateFormat(here)
    in_utc = value.astimezone(UTC)
    return (
        in_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        formatter.format("j M Y"),
        formatter.format("H:i"),
        here.tzname() or formatter.format("O"),
        DateFormat(in_utc).format("j M Y, H:i") + " UTC",
    )


def _label(record, field_name: str) -> str:
    """``get_<field>_display()`` without building the choices' dict on every call."""
    labels = _LABELS.get((type(record), field_name))
    if labels is None:
        labels = _LABELS[(type(record), field_name)] = dict(record._meta.get_field(field_name).flatchoices)
    value = getattr(record, field_name)
    return str(labels.get(value, value))


#: (model, field name) -> {value: label}, filled on first use.
_LABELS: dict[tuple[type, str], dict] = {}


def _row_facts(record, list_slug: str) -> tuple:
    """What ``_display`` (and the record partial) read: the record's own fields, its
    project's and vendor's, and its link's state. A row's cache key is made of these."""
    project, vendor = record.project, record.vendor
    return (
        list_slug,
        tuple(getattr(record, f.attname) for f in record._meta.concrete_fields),
        (project.pk, project.name, project.number, project.erp_job_id),
        (vendor.pk, vendor.name, vendor.erp_vendor_id),
        record.erp_missing if list_slug == "synced" else None,
    )


def _display(kind: RecordKind, record, list_slug: str) -> RowDisplay:
    title = kind.row_title(record)
    sub = kind.row_sub(record)
    synced = list_slug == "synced"
    when_iso, when_date, when_time, when_zone, when_utc = _dates(
        record.linked_at if synced else record.updated_at
    )
    project = record.project
    error = record.export_error if list_slug == "failed" else ""
    # Escaped here, once: the narrow-screen copies and the reject label show them again.
    return RowDisplay(
        pk=record.pk,
        number=escape(record.number),
        title=escape(title),
        sub=escape(sub),
        vendor=escape(record.vendor.name),
        project_name=escape(project.name),
        project_number=escape(project.number),
        amount=floatformat(record.amount, "2g"),
        status=escape(_label(record, "status")),
        erp_missing=synced and record.erp_missing,
        erp_id=escape(record.erp_id or ""),
        when_iso=when_iso,
        when_date=when_date,
        when_time=when_time,
        when_zone=when_zone,
        when_utc=when_utc,
        export_error=linebreaksbr(error, autoescape=True) if error else "",
        fixes=tuple(
            (f"Link {master.label(target)}", master.detail_url(target))
            for master, target in (unlinked_prerequisites(record) if error else [])
        ),
    )


def record_row(tool: Tool, tab: RecordKind, record, list_slug: str, *, here: str) -> RecordRow:
    """A record's row in ``list_slug``, shown on the page at ``here`` (the tab's address,
    with the lists' query if any)."""
    # Decisions come from the access loaded once for the request: no query per row.
    named = f"{tab.button_label(record)}, {record.project.name}"
    # Reject's form goes back to the tab by default; to any other page of it by name.
    back = f"?next={quote(here, safe='/')}" if "?" in here else ""
    actions = [
        RowAction(
            name=name,
            label=name.capitalize(),
            # Relative to the tab's address, where every row is shown ("erp_action";
            # Reject fetches its reason's form, "erp_reject_form").
            url=f"{record.pk}/reject/form/{back}" if name == "reject" else f"{record.pk}/{name}/",
            decision=tool.access.check(ACTION_PERMISSIONS[name], record.project),
            aria_label=f"{name.capitalize()} {named}",
        )
        for name in LIST_ACTIONS[list_slug]
    ]
    row = RecordRow(kind=tab, record=record, list_slug=list_slug, actions=actions)
    row.denied_id = f"{row.dom_id}-denied"
    return row


# --- rows rendered once ----------------------------------------------------------------------
class KeptHtml[V]:
    """HTML already rendered, in this process, by a key of everything it shows: a tuple of
    plain values kept as it is in a dict kept in order (no pickling and no hashing to
    text, which a cache backend would add to every row of every page); ``V``: the HTML,
    or the HTML with what it was read from. The least recently used go once there are
    ``size``. Nothing kept holds a secret (see ``ROW_CACHE`` and ``LIST_CACHE``), so
    what one user's request kept may serve another's.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._rows: OrderedDict[tuple, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def get_many(self, keys: Iterable[tuple]) -> dict[tuple, V]:
        found = {}
        with self._lock:
            for key in keys:
                html = self._rows.get(key)
                if html is not None:
                    self._rows.move_to_end(key)
                    found[key] = html
        return found

    def set_many(self, rows: dict[tuple, V]) -> None:
        with self._lock:
            self._rows.update(rows)
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)


#: Rows by everything they show (``_row_key``). Most of a tab's cost would be rendering
#: its 75 rows, and most rows look the same from one request to the next: the same
#: record, link, buttons and page give the same HTML, whoever asks. Keyed by content, a
#: row cannot be served stale: a change to the record, its link, the user's access or
#: the page makes a new key. A row holds no CSRF token: its buttons post their list's form.
ROW_CACHE = KeptHtml[str](20_000)
#: Where a kept list body takes this response's CSRF input (see ``_list_body``).
CSRF_SLOT = mark_safe("<!--erp:csrf-->")  # noqa: S308 - a constant of ours
#: The templates' indentation: a line break and the spaces around it, which the browser shows
#: as one space (nothing in a list preserves spaces) and between a row's cells as nothing.
_INDENT = re.compile(r"\s*\n\s*")
_INDENT_BETWEEN_TAGS = re.compile(r">\s*\n\s*<")


def _row_key(row: RecordRow, *, here: str, erp_name: str) -> tuple:
    """Everything the record partial reads for a row without a message."""
    return (
        row.list_slug,
        row.kind.slug,
        _row_facts(row.record, row.list_slug),
        tuple(
            (action.name, action.label, action.url, action.aria_label, bool(action.decision))
            for action in row.actions
        ),
        row.reason_in_list,
        row.denied_id,
        tuple(row.denied_reasons),
        # A row without a message names its page only in Reject's address (above), off
        # the tab's first page. Kept whole, so each address renders its rows afresh: the
        # load test's "nothing kept" measures that; without it, the synced rows (no
        # Reject) would be shared between a list's sorts, searches and pages.
        here,
        erp_name,
        timezone.get_current_timezone_name(),
        translation.get_language(),
    )


def _render_rows(list_: dict, *, tab: RecordKind, erp_name: str) -> None:
    """Give each row without a message its HTML (``row.html``), from the cache or rendered,
    and the list all its rows' HTML at once (``rows_html``) when none has a message.

    A row with a message (after a plain form's action) is rendered in the page as before.
    Queries: none.
    """
    rows, here = list_["rows"], list_["here"]
    keyed = {_row_key(row, here=here, erp_name=erp_name): row for row in rows if not row.flash}
    found = ROW_CACHE.get_many(keyed)
    missing = {}
    template = None
    for key, row in keyed.items():
        html = found.get(key)
        if html is None:
            template = template or get_template("erp/tab.html#record")
            # Rendered without the request: the partial reads nothing from context
            # processors and nothing secret.
            context = {"row": row, "here": here, "erp_name": erp_name, "tab": tab}
            # The template's line breaks fall between the row's elements (its cells, its
            # rows): gone, as the browser would drop them.
            html = missing[key] = _INDENT_BETWEEN_TAGS.sub("><", template.render(context))
        row.html = SafeString(html)
    if missing:
        ROW_CACHE.set_many(missing)
    if len(keyed) == len(rows):
        list_["rows_html"] = SafeString("".join(row.html for row in rows))


def _query_without(query: QueryDict, *names: str) -> QueryDict:
    copy = query.copy()
    for name in names:
        copy.pop(name, None)
    return copy


def _estimate(tool: Tool, tab: RecordKind, list_slug: str, search: str) -> int | None:
    """How many rows the list has, about: one EXPLAIN on PostgreSQL (kept a minute). Not
    for a search, whose matches the planner cannot count either."""
    if search:
        return None
    return selectors.record_list_estimate(kind=tab, company_id=tool.company.pk, export_state=LISTS[list_slug])


def _list_head(tool: Tool, tab: RecordKind, list_slug: str, query: QueryDict) -> dict:
    """What a list's section shows around its body (title, search form): no query."""
    prefix = f"{list_slug}-"
    tab_url = reverse("erp_tab", kwargs={"company_id": tool.company.pk, "tab": tab.tab_slug})
    base = _query_without(query, prefix + "after", prefix + "before")
    return {
        "slug": list_slug,
        "prefix": prefix,
        "title": list_title(tab, list_slug, tool.erp_name),
        "dom_id": f"{tab.tab_slug}-{list_slug}",
        "search": selectors.clean_search(query.get(prefix + "q", "")),
        "tab_url": tab_url,
        "list_url": reverse(
            "erp_list", kwargs={"company_id": tool.company.pk, "tab": tab.tab_slug, "list_slug": list_slug}
        ),
        "query": query.urlencode(),
        # The search form carries the rest of the state: a search keeps the sort and
        # the other lists as they are.
        "hidden": [
            (name, value) for name, values in base.lists() if name != prefix + "q" for value in values
        ],
        "here": f"{tab_url}?{query.urlencode()}" if query else tab_url,
    }


#: Lists' bodies by the company's data version and everything else they depend on
#: (``_list_body``), with a slot where each response's CSRF input goes.
LIST_CACHE = KeptHtml[str](400)


@dataclass(frozen=True, slots=True)
class KeptList:
    """A list's body (as ``LIST_CACHE`` keeps it) with what it was read from: what the
    statement that read the data version before its rows saw (``seen``), and the shape
    of its page."""

    body: str
    seen: data_version.Snapshot
    shape: selectors.PageShape


#: Lists' bodies by everything they depend on but the data version (``_list_body``),
#: served again after changes to the company that cannot have touched them.
LIST_SINCE = KeptHtml[KeptList](400)


def _list_body(
    request: HtmxHttpRequest,
    tool: Tool,
    tab: RecordKind,
    list_slug: str,
    query: QueryDict,
    *,
    version: int | None,
    seen: data_version.Snapshot | None = None,
    csrf: str,
    anchored: dict[str, list[Message]] | None = None,
) -> dict:
    """One list of a tab with its body rendered (``body_html``): kept, or made afresh.

    A list's body (its rows, sort links, pager and bulk bar) is a function of the
    company's data (``version``, read before anything else of the page), the list's own
    query, the user's access, the estimate of its size, the ERP's name, the time zone and
    the language; it is kept under exactly those, with a slot where this response's CSRF
    input goes. A list with a message for one of its rows (a plain form's outcome, in
    ``anchored`` by the row's id; taken from there when the row is shown) is made
    afresh, as is every list where the database keeps no version (SQLite).

    Under a newer version, a list without a search read forward (see
    ``_kept_since``) is served again when the changes since it was read touched none of
    its records and brought none into its page: ``seen`` is the snapshot the version
    was read in.
    Queries: none when kept; one or two when kept since (the marks, and the changed
    records that are in the list now); else the page of rows (and the estimate, see
    ``selectors.record_list_estimate``).
    """
    head = _list_head(tool, tab, list_slug, query)
    estimate = _estimate(tool, tab, list_slug, head["search"])
    anchored = {} if anchored is None else anchored
    row_prefix = f"{list_slug}-{tab.slug}-"
    key = None
    if version is not None and not any(dom_id.startswith(row_prefix) for dom_id in anchored):
        key = (
            version,
            tool.company.pk,
            tool.erp_name,
            tab.slug,
            list_slug,
            head["query"],
            tool.access.decisions_key(version),
            estimate,
            timezone.get_current_timezone_name(),
            translation.get_language(),
        )
        kept = LIST_CACHE.get_many([key]).get(key)
        if kept is None and seen is not None:
            kept = _kept_since(tool, tab, head, query, key)
        if kept is not None:
            head["body_html"] = SafeString(kept.replace(CSRF_SLOT, csrf))
            return head
    context = _list_context(request, tool, tab, head, query, estimate=estimate)
    for row in context["rows"]:
        if row.dom_id in anchored:
            row.flash = _placed(anchored.pop(row.dom_id)[-1])
    _render_rows(context, tab=tab, erp_name=tool.erp_name)
    body = render_to_string(
        "erp/tab.html#list_body",
        {"list": context, "tab": tab, "erp_name": tool.erp_name, "csrf_input": CSRF_SLOT if key else csrf},
    )
    # The template's indentation, as one line break (the browser shows the same).
    body = _INDENT.sub("\n", body)
    if key is not None:
        # Kept under the access the rows were judged with (read after the key was made).
        kept_key = (*key[:6], tool.access.decisions_key(), *key[7:])
        LIST_CACHE.set_many({kept_key: body})
        if _read_forward(head, query) and seen is not None and not seen.writing:
            shape = selectors.PageShape.of(tab, LISTS[list_slug], context["sort"], context["page"])
            LIST_SINCE.set_many({_since_key(kept_key): KeptList(body, seen, shape)})
        body = body.replace(CSRF_SLOT, csrf)
    context["body_html"] = SafeString(body)
    return context


def _since_key(key: tuple) -> tuple:
    """A ``LIST_CACHE`` key without its version (its first part), for ``LIST_SINCE``."""
    return key[1:]


def _read_forward(head: dict, query: QueryDict) -> bool:
    """A list without a search, on its first page or one after a cursor: what
    ``selectors.page_still_shown`` can judge."""
    return not head["search"] and not query.get(head["prefix"] + "before")


def _kept_since(tool: Tool, tab: RecordKind, head: dict, query: QueryDict, key: tuple) -> str | None:
    """The list's body kept under an older version, if it still shows what the list
    would show now, kept again under this version (``key``); else None.

    It does when every mark committed since its snapshot names records of the list's
    own kind (a mark of anything else it shows, a project, a vendor, a link, a level,
    or one that names no rows, makes it afresh), the marks were not folded meanwhile,
    and ``selectors.page_still_shown`` says none of those records is, or comes, on its
    page. Queries: one (the marks), two when they name records.
    """
    if not _read_forward(head, query):
        return None
    since_key = _since_key(key)
    kept = LIST_SINCE.get_many([since_key]).get(since_key)
    if kept is None:
        return None
    unseen = data_version.changes_since(
        tool.company.pk, kept.seen.text, table=tab.model._meta.db_table, passed_over=()
    )
    now = unseen.now
    if now.writing or now.base != kept.seen.base or unseen.elsewhere:
        return None
    export_state = LISTS[head["slug"]]
    if not selectors.page_still_shown(
        kind=tab,
        company_id=tool.company.pk,
        export_state=export_state,
        sort=query.get(head["prefix"] + "sort", ""),
        after=query.get(head["prefix"] + "after", ""),
        shape=kept.shape,
        changed=unseen.rows,
    ):
        return None
    # As read now: later changes are judged from here.
    LIST_SINCE.set_many({since_key: replace(kept, seen=now)})
    LIST_CACHE.set_many({key: kept.body})
    return kept.body


def _list_context(
    request: HtmxHttpRequest,
    tool: Tool,
    tab: RecordKind,
    head: dict,
    query: QueryDict,
    *,
    estimate: int | None,
) -> dict:
    """One list of a tab (``head``, see ``_list_head``, with its ``estimate``): its page
    of rows and the links that search, sort and page it.

    Each list reads its own prefixed parameters (``synced-q``, ``synced-sort``,
    ``synced-after``, ``synced-before``), so the three lists of a tab keep their state
    side by side in one URL. Queries: one (the page of rows).
    """
    list_slug, prefix, search = head["slug"], head["prefix"], head["search"]
    page = selectors.record_list_page(
        kind=tab,
        company_id=tool.company.pk,
        export_state=LISTS[list_slug],
        search=search,
        sort=query.get(prefix + "sort", ""),
        after=query.get(prefix + "after", ""),
        before=query.get(prefix + "before", ""),
    )
    # Links keep the other lists' state and this list's search and sort.
    base = _query_without(query, prefix + "after", prefix + "before")

    def link(**changes: str) -> str:
        params = base.copy()
        for name, value in changes.items():
            params[prefix + name] = value
        return params.urlencode()

    columns = []
    for key in selectors.sort_keys(tab, LISTS[list_slug]).values():
        active = page.sort.removeprefix("-") == key.name
        descending = page.sort.startswith("-")
        if active:
            next_sort = key.name if descending else f"-{key.name}"
        else:
            next_sort = f"-{key.name}" if key.descending_first else key.name
        columns.append(
            {
                "key": key.name,
                "label": key.label,
                "active": active,
                "descending": descending,
                "query": link(sort=next_sort),
            }
        )
    rows = [record_row(tool, tab, record, list_slug, here=head["here"]) for record in page.rows]
    # When every row is refused for the same reason (the user lacks the privilege, or
    # the level on ERP Integrations), say it once above the list, not on every row:
    # a list of one row too.
    reasons = {tuple(row.denied_reasons) for row in rows}
    denied_note = ""
    if len(reasons) == 1 and rows[0].denied_reasons:
        denied_note = " ".join(rows[0].denied_reasons)
        for row in rows:
            row.reason_in_list = True
            row.denied_id = f"{tab.tab_slug}-{list_slug}-denied"
    bulk = None
    if rows and any(row.can_bulk for row in rows):
        bulk = {
            "url": reverse(
                "erp_bulk",
                kwargs={"company_id": tool.company.pk, "tab": tab.tab_slug, "list_slug": list_slug},
            ),
            "actions": LIST_ACTIONS[list_slug],
            "all_label": _all_label(page, estimate, search),
        }
    return head | {
        "denied_note": denied_note,
        "bulk": bulk,
        "page": page,
        "rows": rows,
        "sort": page.sort,
        # "when" is the first column's key: synced at, or updated at for unsynced lists.
        "columns": {"when": columns[0]} | {column["key"]: column for column in columns},
        "next_query": link(after=page.next_cursor) if page.next_cursor else "",
        "prev_query": link(before=page.prev_cursor) if page.prev_cursor else "",
        "first_query": base.urlencode()
        if (query.get(prefix + "after") or query.get(prefix + "before"))
        else None,
        "range": rows_shown(page, estimate),
    }


def _all_label(page: selectors.Page, estimate: int | None, search: str) -> str:
    """ "All 3 rows", "All about 950,000 rows (the first 1,000)": what "all" would take,
    from what the page knows already (no count query)."""
    cap = settings.BULK_MAX_ROWS
    matching = " matching this search" if search else ""
    if not page.has_next and not page.has_prev:
        return f"All {len(page.rows):,} row{'s' if len(page.rows) != 1 else ''}{matching}"
    if estimate is not None and not search:
        about = max(_about(estimate), len(page.rows))
        capped = f" (the first {cap:,})" if about > cap else ""
        return f"All about {about:,} rows{capped}"
    return f"All rows{matching} (the first {cap:,} at most)"


def _about(count: int) -> int:
    """An estimate as people say it: two significant figures from 1,000 up (949,873: 950,000)."""
    if count < 1000:
        return count
    return round(count, 2 - len(str(count)))


def rows_shown(page: selectors.Page, estimate: int | None) -> str:
    """ "rows 26–50 of about 950,000": where the page is in its list, from its cursor.

    The total is exact on the last page (nothing follows it), else the planner's
    estimate (never fewer than the rows known to exist), else left out.
    """
    if not page.rows or page.start is None:
        return ""
    first, last = page.start + 1, page.start + len(page.rows)
    shown = f"rows {first:,}–{last:,}"
    if not page.has_next:
        return f"{shown} of {last:,}"
    if estimate is None:
        return shown
    return f"{shown} of about {max(_about(estimate), last + 1):,}"


def _merged_query(request: HtmxHttpRequest, *, prefix: str) -> QueryDict:
    """The page's own query with this list's parameters as the request gives them.

    The other lists' state comes from the address bar (HX-Current-URL), which is
    always current, rather than from links rendered before they last changed.
    """
    current = request.htmx.current_url or ""
    merged = QueryDict(urlsplit(current).query, mutable=True)
    for name in list(merged):
        if name.startswith(prefix):
            del merged[name]
    for name, values in request.GET.lists():
        if name.startswith(prefix):
            merged.setlist(name, values)
    return merged


def _tool_context(request: HtmxHttpRequest, tool: Tool, *, active: str) -> dict:
    return {
        "tool": tool,
        "company": tool.company,
        "erp_name": tool.erp_name,
        "tabs": TABS.values(),
        "active": active,
        **switcher_context(request),
    }


def csrf_input(request: HttpRequest) -> str:
    """The hidden input ``{% csrf_token %}`` renders, made once for a page's many row forms."""
    return format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request))


def names_record(record, message: str) -> bool:
    """Whether the message already names the record ("Commitment SC-8 was rejected")."""
    # The number as a word of its own: invoice 4 is not named by "RQ000043".
    return re.search(rf"(?<![\w-]){re.escape(record.number)}(?![\w-])", message) is not None


def record_ref(kind: RecordKind, record, message: str) -> str:
    """What a message about a record starts with: the record and its project.

    Numbers repeat across projects (every project has an SC-001), and an invoice's
    number means little without its commitment: "Subcontractor invoice 1 on SC-001,
    Harbor Tower". A message that names the record already gets its project only.
    """
    if names_record(record, message):
        return record.project.name
    return f"{kind.label(record)}, {record.project.name}"


def message_about(kind: RecordKind, record, message: str) -> str:
    """The message with the record (and its project) in front of it, for a plain form."""
    return f"{record_ref(kind, record, message)} — {message}"


def sync_note(status) -> str:
    """When the last sync completed and when the next one runs, for a red "still in the ERP".

    The red words come from what the platform last saw of the ERP, so the user needs
    to know when it last looked and when it looks again.
    """
    if status is None:
        return ""
    upcoming = DateFormat(template_localtime(status.next_run_at)).format("H:i")
    last = status.last_completed
    if last is None:
        return f"No sync has completed yet; the next one runs at {upcoming} UTC."
    finished = DateFormat(template_localtime(last.finished_at)).format("j M Y, H:i")
    outcome = "" if status.last_completed_ok else " (it failed)"
    return f"The last sync completed {finished} UTC{outcome}; the next one runs at {upcoming} UTC."


# --- pages ---------------------------------------------------------------------------------------
@require_GET
@signed_in
def home(request: HtmxHttpRequest) -> HttpResponse:
    """After sign-in: the ERP Integrations tool of the company the user last opened.

    That is the company remembered in the session, while the user may still open its
    tool; otherwise the first company (by name) whose tool they may open. The header's
    switcher moves between companies; a user who may open no company's tool sees the
    list of their companies and why.
    """
    last = request.session.get(LAST_COMPANY_KEY)
    if isinstance(last, int):
        openable = selectors.companies_for_user(
            user=request.user, limit=1, openable_only=True, company_id=last
        )
        if openable:
            return redirect("erp_tab", company_id=openable[0].id, tab=FIRST_TAB)
    openable = selectors.companies_for_user(user=request.user, limit=1, openable_only=True)
    if openable:
        return redirect("erp_tab", company_id=openable[0].id, tab=FIRST_TAB)
    return redirect("company_list")


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """The icon in the project's static files (browsers ask for /favicon.ico regardless)."""
    return redirect(static("favicon.svg"))


@require_GET
@signed_in
def company_list(request: HtmxHttpRequest) -> HttpResponse:
    """Every company the user can switch to, and what they may do in each."""
    companies = selectors.companies_for_user(user=request.user)
    return render(request, "erp/companies.html", {"companies": companies, **switcher_context(request)})


@require_GET
@tool_view
def tool_home(request: HtmxHttpRequest, tool: Tool) -> HttpResponse:
    return redirect("erp_tab", company_id=tool.company.pk, tab=FIRST_TAB)


@require_GET
@tool_view
def tab(request: HtmxHttpRequest, tool: Tool, tab: str) -> HttpResponse:
    """A tab with its three lists and the sync status.

    Queries: session, user, company with its connection, directory entry, project
    levels, the switcher's companies, the sync status (see services.sync.sync_status),
    and one per list.

    After a plain form's action (no JavaScript) its message is shown where the address's
    #fragment scrolls to: under the record's row, or at the top of the list it left.
    """
    spec = TABS[tab]
    # First: every list read after it shows nothing older than this version.
    version, seen = data_version.company_data_version_seen(tool.company.pk)
    status = sync_status(connection=tool.connection) if tool.connection else None
    context = _tool_context(request, tool, active=spec.tab_slug)
    context.update(panel_context(tool, status, here=request.get_full_path(), tab=spec))
    anchored, rest = _take_messages(request)
    context["csrf_input"] = csrf = csrf_input(request)
    # A plain form's outcome for a row is shown under the row (taken from ``anchored``).
    lists = [
        _list_body(
            request, tool, spec, slug, request.GET, version=version, seen=seen, csrf=csrf, anchored=anchored
        )
        for slug in LISTS
    ]
    for list_ in lists:
        list_["messages"] = [_placed(message) for message in anchored.pop(list_["dom_id"], [])]
    # A row on another page of its list than the one shown: its message goes to the top.
    context["page_messages"] = rest + [message for left in anchored.values() for message in left]
    context["lists"] = lists
    return render(request, "erp/tab.html", context)


@require_GET
@tool_view
def record_list(request: HtmxHttpRequest, tool: Tool, tab: str, list_slug: str) -> HttpResponse:
    """One list of a tab, searched, sorted or paged: the fragment HTMX swaps.

    Without HTMX (a bookmarked or shared link) it is the whole tab.
    """
    spec = TABS[tab]
    if not request.htmx:
        url = reverse("erp_tab", kwargs={"company_id": tool.company.pk, "tab": spec.tab_slug})
        return redirect(f"{url}?{request.GET.urlencode()}" if request.GET else url)
    # First: the list read after it shows nothing older than this version.
    version, seen = data_version.company_data_version_seen(tool.company.pk)
    query = _merged_query(request, prefix=f"{list_slug}-")
    list_ = _list_body(
        request, tool, spec, list_slug, query, version=version, seen=seen, csrf=csrf_input(request)
    )
    response = HttpResponse(list_["body_html"])
    # The address bar follows the list's search, sort and page, so reload and share work.
    return replace_url(response, list_["here"])


@require_GET
@tool_view
def reject_form(request: HtmxHttpRequest, tool: Tool, tab: str, record_id: int) -> HttpResponse:
    """The form that asks for a rejection's reason, fetched when Reject is opened.

    A row does not carry this form (it is most of a row's weight): with HTMX it comes
    as a dialog next to the row's Reject link, which the page's script opens; without
    JavaScript the link leads here, to a small page with the same form. Either way it
    posts to the record's reject action, which checks the permission again.
    """
    spec = TABS[tab]
    record = selectors.record_for_company(kind=spec, company_id=tool.company.pk, record_id=record_id)
    if record is None:
        raise NotFound("No such record in this company.")
    tab_url = reverse("erp_tab", kwargs={"company_id": tool.company.pk, "tab": spec.tab_slug})
    list_slug = STATE_TO_LIST.get(record.export_state)
    context = {
        **_tool_context(request, tool, active=spec.tab_slug),
        "tab": spec,
        "record": record,
        "record_title": spec.row_title(record),
        # Only a ready or failed record can be rejected; the service says so too.
        "rejectable": list_slug in ("ready", "failed"),
        "decision": tool.access.check(ACTION_PERMISSIONS["reject"], record.project),
        "url": reverse("erp_action", args=[tool.company.pk, spec.tab_slug, record.pk, "reject"]),
        "dom_id": f"{list_slug}-{spec.slug}-{record.pk}",
        "here": safe_next(request, tab_url),
        "tab_url": tab_url,
    }
    if request.htmx:
        return render(request, "erp/reject.html#reject_dialog", context)
    return render(request, "erp/reject.html", context)


@require_POST
@tool_view
def record_action(
    request: HtmxHttpRequest, tool: Tool, tab: str, record_id: int, action: str
) -> HttpResponse:
    """Unlink, Export or Reject one record, then show the outcome where the row was.

    HTMX: the row is swapped for its new self with the message under it (green or
    red), or for the message alone when the record left the list; the response's
    status is the outcome's (403, 409, 422, 502). The sync panel comes along out of
    band, so the page never says less about the sync than the outcome implies.
    Plain form: back to the page at the row (or its list), with the message there.
    """
    spec = TABS[tab]
    extra = {"reason": request.POST.get("reason", "")} if action == "reject" else {}
    try:
        # The service reads the record, of this company only (unknown ids and other
        # companies' records alike are NotFound: 404), and checks the permission with
        # the access this request loaded already.
        result = ACTION_SERVICES[action](
            kind=spec,
            user=request.user,
            record_id=record_id,
            company_id=tool.company.pk,
            access=tool.access,
            **extra,
        )
    except AccessDenied as denied:
        # Refused before it acted: the record as the permission check read it.
        result = ActionResult(
            False, denied.decision.reason, Outcome.FORBIDDEN, denied.record, was=denied.record.export_state
        )
    record = result.record
    # The list the record was in when the action read it, before it acted.
    shown_in = STATE_TO_LIST.get(result.was)

    if action == "unlink" and result.ok:
        # Unlinked: the service's record, read under its lock, is the record as it is now.
        fresh = result.record
    else:
        # Read the record again: the service may have moved it to another list.
        fresh = selectors.record_for_company(kind=spec, company_id=tool.company.pk, record_id=record.pk)
    now_in = STATE_TO_LIST.get(fresh.export_state) if fresh else None
    list_slug = shown_in or now_in or ACTION_LIST[action]
    stays = now_in is not None and now_in == shown_in
    # After an unlink the record can be edited: say where.
    next_url = spec.detail_url(record) if result.ok and action == "unlink" else ""
    here = safe_next(
        request, reverse("erp_tab", kwargs={"company_id": tool.company.pk, "tab": spec.tab_slug})
    )
    # What stands in the way (a commitment's linked invoices and CCOs), each linked.
    blocking = [(kind.label(child), kind.detail_url(child)) for kind, child in result.blocking]

    if not request.htmx:
        # The row while it is still in its list, else the list it left: the browser
        # scrolls there, and the tab shows the message there.
        anchor = f"{list_slug}-{spec.slug}-{record.pk}" if stays else f"{spec.tab_slug}-{list_slug}"
        tags = " ".join(
            [
                AT_TAG + anchor,
                *([NEXT_TAG + next_url] if next_url else []),
                *(f"{BLOCKING_TAG}{url}|{label.replace(' ', chr(0xA0))}" for label, url in blocking),
            ]
        )
        level = messages.SUCCESS if result.ok else messages.ERROR
        # Under its row the row names the record; at the top of a list the message does.
        text = result.message if stays else message_about(spec, record, result.message)
        messages.add_message(request, level, text, extra_tags=tags)
        return redirect(f"{here.partition('#')[0]}#{anchor}")

    context = {
        "tab": spec,
        "tool": tool,
        "erp_name": tool.erp_name,
        "record": record if fresh is None else fresh,
        # The row itself while the record is still in the list it was shown in; else
        # only the message, where the row was.
        "row": record_row(tool, spec, fresh, list_slug, here=here) if stays else None,
        "list_slug": list_slug,
        "message": result.message,
        "record_ref": record_ref(spec, record if fresh is None else fresh, result.message),
        "ok": result.ok,
        "next_url": next_url,
        "next_label": NEXT_STEP_LABEL,
        "blocking": blocking,
        "here": here,
        "csrf_input": csrf_input(request),
    }
    status = sync_status(connection=tool.connection) if tool.connection else None
    if tool.connection and result.message == spec.still_in_erp_message(
        tool.connection.erp_system, tool.erp_name
    ):
        # The articles' words stay first and whole; when the sync looks next comes after,
        # with Sync now for who may start one.
        context["sync_note"] = sync_note(status)
        context["can_sync_now"] = tool.access.check(Action.SYNC_NOW)
        context["company"] = tool.company
    panel = panel_context(tool, status, here=here, tab=spec) | {"oob": True}
    body = render_to_string("erp/tab.html#record", context, request) + render_to_string(
        "erp/sync.html#sync_panel", panel, request
    )
    response = HttpResponse(body, status=status_of(result))
    if now_in and now_in != shown_in:
        # The record joined another list of this tab (exported: synced; export failed:
        # failed); that list shows it after a refresh of its own.
        trigger_client_event(response, f"erp:refresh-{now_in}")
    return response
