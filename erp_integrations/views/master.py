"""The master-data tabs of the ERP Integrations tool: Projects, Companies, Cost Codes.

Each tab lists, for one master kind (``master_kinds``): Ready to Export (platform
records not in the ERP), Ready to Import (ERP records not in the platform, each with
its suggested matches), Ready to Update (linked, and the ERP's name differs), Synced,
and Failed to Export. Its buttons are plain forms that HTMX posts in place: the row is
swapped for the outcome (green or red, with the status of ``views.errors``); without
JavaScript the page comes back with the message at the top.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import AccessDenied, Action
from erp_integrations import selectors
from erp_integrations.master_kinds import BY_TAB, MasterKind
from erp_integrations.sandbox.formats import FORMATS
from erp_integrations.services import master
from erp_integrations.services.results import ActionResult, Outcome
from erp_integrations.services.sync import sync_status
from erp_integrations.views.common import (
    HtmxHttpRequest,
    Tool,
    panel_context,
    safe_next,
    switcher_context,
    tool_view,
)
from erp_integrations.views.errors import status_of
from erp_integrations.views.tool import TABS, csrf_input

#: The lists of a master tab, in the order it shows them: slug -> (title words, selector).
LISTS = {
    "ready": ("Ready to Export", selectors.master_ready_to_export),
    "import": ("Ready to Import", selectors.master_ready_to_import),
    "update": ("Ready to Update", selectors.master_ready_to_update),
    "synced": ("Synced with", selectors.master_synced),
    "failed": ("Failed to Export", selectors.master_failed),
}
#: The lists whose rows are platform records (the others list the ERP's entries).
PLATFORM_LISTS = ("ready", "synced", "failed")
#: Platform records offered in a row's "Link to…" choice besides its suggestions.
LINK_CHOICES = 200


@dataclass(frozen=True)
class ShownRecord:
    """A platform record's row: its name, number, ERP id and what the lists add."""

    pk: int
    name: str
    number: str
    erp_id: str
    erp_missing: bool
    export_message: str


def _shown(kind: MasterKind, record) -> ShownRecord:
    return ShownRecord(
        pk=record.pk,
        name=kind.name_of(record),
        number=kind.number(record),
        erp_id=kind.erp_id_of(record) or "",
        erp_missing=getattr(record, "erp_missing", False),
        export_message=getattr(record, "export_message", ""),
    )


def _int_or_none(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**63 else None


def _tab_url(tool: Tool, kind: MasterKind) -> str:
    return reverse("erp_master_tab", kwargs={"company_id": tool.company.pk, "master_tab": kind.tab_slug})


def _list_title(kind: MasterKind, slug: str, erp_name: str) -> str:
    words = LISTS[slug][0]
    return f"{kind.tab_title} - {words} {erp_name}" if slug == "synced" else f"{kind.tab_title} - {words}"


@require_GET
@tool_view
def master_tab(request: HtmxHttpRequest, tool: Tool, master_tab: str) -> HttpResponse:
    """A master-data tab with its five lists.

    Queries: session, user, company with its connection, directory entry, project levels,
    the switcher's companies, the sync status, one per list, the suggestions of the
    Ready to Import page (one), the "Link to…" choices (one) and, on Projects, the
    templates (one).
    """
    kind = BY_TAB[master_tab]
    status = sync_status(connection=tool.connection) if tool.connection else None
    erp_system = tool.connection.erp_system if tool.connection else ""
    lists = []
    for slug in LISTS:
        page = LISTS[slug][1](
            kind=kind,
            company_id=tool.company.pk,
            search=request.GET.get(f"{slug}-q", "")[: selectors.MAX_SEARCH_LENGTH],
            after=request.GET.get(f"{slug}-after", ""),
        )
        lists.append(
            {
                "slug": slug,
                "title": _list_title(kind, slug, tool.erp_name),
                "dom_id": f"{kind.tab_slug}-{slug}",
                "page": page,
                "search": request.GET.get(f"{slug}-q", "")[: selectors.MAX_SEARCH_LENGTH],
                "next_query": f"{slug}-after={page.next_cursor}" if page.next_cursor else "",
            }
        )
    for list_ in lists:
        if list_["slug"] in PLATFORM_LISTS:
            list_["page"] = replace(
                list_["page"], rows=[_shown(kind, record) for record in list_["page"].rows]
            )
    by_slug = {list_["slug"]: list_ for list_ in lists}
    entries = by_slug["import"]["page"].rows
    suggestions = selectors.master_suggestions(kind=kind, company_id=tool.company.pk, entries=entries)
    for entry in entries:
        entry.suggestions = suggestions.get(entry.pk, [])
        entry.details = kind.entry_details(entry, erp_system)
    # The "Link to…" choice of each Ready to Import row: unlinked records, by name.
    choices = (
        list(
            kind.records(tool.company.pk)
            .filter(**{f"{kind.erp_id_field}__isnull": True})
            .order_by(kind.name_field, "pk")[:LINK_CHOICES]
        )
        if entries
        else []
    )
    context = {
        "tool": tool,
        "company": tool.company,
        "erp_name": tool.erp_name,
        "tabs": TABS.values(),
        "active": kind.tab_slug,
        "kind": kind,
        "lists": lists,
        "link_choices": [(record.pk, kind.name_of(record)) for record in choices],
        "templates": list(kind.templates(tool.company.pk)[:LINK_CHOICES])
        if kind.templates and entries
        else [],
        "vendor_types": _vendor_types(tool),
        "decision": tool.access.check(Action.MASTER_DATA),
        "here": request.get_full_path(),
        "tab_url": _tab_url(tool, kind),
        "csrf_input": csrf_input(request),
        **switcher_context(request),
    }
    context.update(panel_context(tool, status, here=request.get_full_path()))
    context["active"] = kind.tab_slug
    return render(request, "erp/master_tab.html", context)


def _answer(
    request: HtmxHttpRequest, tool: Tool, kind: MasterKind, result: ActionResult, *, dom_id: str
) -> HttpResponse:
    """HTMX: the row's place shows the outcome, with the outcome's status. Plain form:
    back to the tab, the message at its top."""
    if not request.htmx:
        level = messages.SUCCESS if result.ok else messages.ERROR
        messages.add_message(request, level, result.message)
        return redirect(safe_next(request, _tab_url(tool, kind)))
    # What stands in the way (the synced records of a vendor or job), each linked.
    blocking = [
        (record_kind.label(child), record_kind.detail_url(child)) for record_kind, child in result.blocking
    ]
    context = {
        "message": result.message,
        "ok": result.ok,
        "dom_id": dom_id,
        "kind": kind,
        "blocking": blocking,
    }
    return render(request, "erp/master_tab.html#outcome", context, status=status_of(result))


def _run(call) -> ActionResult:
    try:
        return call()
    except AccessDenied as denied:
        return ActionResult(False, denied.decision.reason, Outcome.FORBIDDEN)


@require_POST
@tool_view
def entry_action(
    request: HtmxHttpRequest, tool: Tool, master_tab: str, entry_id: int, entry_action: str
) -> HttpResponse:
    """Add to the platform, Link or Archive one ERP entry (Ready to Import)."""
    kind = BY_TAB[master_tab]
    entry = master.master_entry_for_company(kind=kind, company_id=tool.company.pk, entry_id=entry_id)
    common = {"kind": kind, "user": request.user, "company": tool.company, "entry_id": entry.pk}
    if entry_action == "import":
        template_id = _int_or_none(request.POST.get("template"))
        result = _run(
            lambda: master.master_entry_import(**common, template_id=template_id, access=tool.access)
        )
    elif entry_action == "link":
        record_id = _int_or_none(request.POST.get("record"))
        if record_id is None:
            result = ActionResult.invalid(
                f"Choose the {kind.noun} to link {kind.erp_noun} {entry.erp_id} to."
            )
        else:
            result = _run(lambda: master.master_entry_link(**common, record_id=record_id, access=tool.access))
    else:
        result = _run(lambda: master.master_entry_archive(**common, access=tool.access))
    return _answer(request, tool, kind, result, dom_id=f"import-{kind.slug}-{entry.pk}")


@require_POST
@tool_view
def record_action(
    request: HtmxHttpRequest, tool: Tool, master_tab: str, master_id: int, master_action: str
) -> HttpResponse:
    """Export, Reject, Unlink or Update one platform record of the tab."""
    kind = BY_TAB[master_tab]
    record = master.master_record_for_company(kind=kind, company_id=tool.company.pk, record_id=master_id)
    common = {"kind": kind, "user": request.user, "company": tool.company, "record_id": record.pk}
    if master_action == "export":
        values = {field.name: request.POST.get(field.name, "")[:100] for field in kind.export_inputs}
        result = _run(lambda: master.master_record_export(**common, values=values, access=tool.access))
    elif master_action == "reject":
        reason = request.POST.get("reason", "")
        result = _run(lambda: master.master_record_reject(**common, reason=reason, access=tool.access))
    elif master_action == "unlink":
        result = _run(lambda: master.master_record_unlink(**common, access=tool.access))
    else:
        result = _run(lambda: master.master_record_update(**common, access=tool.access))
    where = request.POST.get("list", "ready")
    where = where if where in PLATFORM_LISTS else "ready"
    fresh = kind.records(tool.company.pk).filter(pk=record.pk).first()
    if request.htmx and not result.ok and fresh is not None and not kind.erp_id_of(fresh):
        # Refused or failed: the row stays, with why under it, so the approver can
        # correct the id and export again without reloading.
        context = {
            "kind": kind,
            "list": {"slug": where},
            "row": _shown(kind, fresh),
            "message": result.message,
            "ok": False,
            "erp_name": tool.erp_name,
            "company": tool.company,
            "here": safe_next(request, _tab_url(tool, kind)),
            "csrf_input": csrf_input(request),
            "decision": tool.access.check(Action.MASTER_DATA),
            "vendor_types": _vendor_types(tool),
        }
        return render(request, "erp/master_tab.html#record_row", context, status=status_of(result))
    return _answer(request, tool, kind, result, dom_id=f"{where}-{kind.slug}-{record.pk}")


def _vendor_types(tool: Tool) -> tuple[str, ...]:
    rules = FORMATS.get(tool.connection.erp_system) if tool.connection else None
    return rules.vendor_types if rules else ()


@require_POST
@tool_view
def link_all(request: HtmxHttpRequest, tool: Tool, master_tab: str) -> HttpResponse:
    """Link every ERP entry with exactly one platform record of the same name; a result per row."""
    kind = BY_TAB[master_tab]
    try:
        results = master.master_link_all(
            kind=kind, user=request.user, company=tool.company, access=tool.access
        )
    except AccessDenied as denied:
        return _answer(
            request,
            tool,
            kind,
            ActionResult(False, denied.decision.reason, Outcome.FORBIDDEN),
            dom_id=f"{kind.tab_slug}-link-all",
        )
    linked = sum(1 for row in results if row.result.ok)
    summary = (
        f"Link All linked {linked} of {len(results)} {kind.erp_nouns} with a matching name."
        if results
        else f"No {kind.erp_noun} in Ready to Import has the same name as an unlinked {kind.noun}."
    )
    if not request.htmx:
        messages.add_message(
            request, messages.SUCCESS if linked == len(results) else messages.WARNING, summary
        )
        for row in results:
            level = messages.SUCCESS if row.result.ok else messages.ERROR
            messages.add_message(request, level, f"{row.entry.erp_id} {row.entry.name}: {row.result.message}")
        return redirect(safe_next(request, _tab_url(tool, kind)))
    context = {"kind": kind, "results": results, "summary": summary, "linked": linked}
    return render(request, "erp/master_tab.html#link_all_results", context)
