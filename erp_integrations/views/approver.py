"""The approver's pages: bulk actions and their progress, the Direct Export settings and
the Accountant report (with its CSV)."""

from __future__ import annotations

import csv
from http import HTTPStatus

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from accounts.permissions import AccessDenied, Action
from erp_integrations import selectors
from erp_integrations.kinds import KINDS
from erp_integrations.services import bulk, direct_export
from erp_integrations.views.common import HtmxHttpRequest, Tool, safe_next, switcher_context, tool_view
from erp_integrations.views.tool import (
    AT_TAG,
    LIST_ACTIONS,
    LISTS,
    STATE_TO_LIST,
    TABS,
    csrf_input,
    message_about,
    record_ref,
    record_row,
)

#: Rows of a finished bulk run listed per page of its results.
RESULTS_SHOWN = 1000


def _tab_url(tool: Tool, tab: str) -> str:
    return reverse("erp_tab", kwargs={"company_id": tool.company.pk, "tab": tab})


def _ids(values: list[str]) -> list[int]:
    return [int(value) for value in values if value.isascii() and value.isdigit() and len(value) < 19]


@require_POST
@tool_view
def bulk_action(request: HtmxHttpRequest, tool: Tool, tab: str, list_slug: str) -> HttpResponse:
    """Export, Reject or Unlink the selected rows of a list, or all that match its search.

    Each row goes through its own service (``services.bulk``). Up to BULK_INLINE_LIMIT
    rows: the results at once (HTMX: listed in the list's results area, and each ticked
    row's in place; a plain form: each under its row, or at the top of the list it
    left). More: the progress page.
    """
    spec = TABS[tab]
    action = request.POST.get("action", "")
    here = safe_next(request, _tab_url(tool, spec.tab_slug))
    if request.POST.get("all"):
        # Capped: the first BULK_MAX_ROWS that match, oldest first, as the checkbox says.
        ids = selectors.record_ids_matching(
            kind=spec,
            company_id=tool.company.pk,
            export_state=LISTS[list_slug],
            search=request.POST.get("q", ""),
            limit=settings.BULK_MAX_ROWS,
        )
    else:
        ids = _ids(request.POST.getlist("ids"))
    try:
        if action not in LIST_ACTIONS[list_slug]:
            offered = " or ".join(name.capitalize() for name in LIST_ACTIONS[list_slug])
            raise bulk.BulkRefused(f"Choose {offered} for the selected rows of this list.")
        outcome = bulk.bulk_start(
            kind=spec,
            action=action,
            user=request.user,
            company=tool.company,
            record_ids=ids,
            reason=request.POST.get("reason", ""),
            access=tool.access,
        )
    except bulk.BulkRefused as refused:
        if request.htmx:
            return render(
                request,
                "erp/bulk.html#results",
                {"results": [], "refusal": refused.message},
                status=HTTPStatus.UNPROCESSABLE_ENTITY,
            )
        messages.error(request, refused.message, extra_tags=AT_TAG + f"{spec.tab_slug}-{list_slug}")
        return redirect(f"{here.partition('#')[0]}#{spec.tab_slug}-{list_slug}")

    if not isinstance(outcome, list):
        progress = reverse(
            "erp_bulk_run", kwargs={"company_id": tool.company.pk, "tab": spec.tab_slug, "run_id": outcome.pk}
        )
        return HttpResponseClientRedirect(progress) if request.htmx else redirect(progress)

    records = {
        record.pk: record
        for record in spec.objects()
        .select_related("link")
        .filter(company_id=tool.company.pk, pk__in=[row.record_id for row in outcome])
    }
    rows = [(row, records.get(row.record_id)) for row in outcome]
    if request.htmx:
        body = render_to_string(
            "erp/bulk.html#results",
            {"results": [(row, _label(spec, record, row)) for row, record in rows], "list_slug": list_slug},
            request,
        )
        in_place = not request.POST.get("all")
        if in_place:
            # The rows ticked on this page: each row (or, when it left the list, its
            # message) is swapped in place, out of band, as after its own button.
            body += "".join(
                _row_in_place(request, tool, spec, list_slug, row, record, here)
                for row, record in rows
                if record is not None
            )
        response = HttpResponse(body)
        for slug in LISTS:
            if slug != list_slug or not in_place:
                trigger_client_event(response, f"erp:refresh-{slug}")
        return response
    for row, record in rows:
        # Under the row while it is still in the list, else at the top of the list it left.
        now_in = STATE_TO_LIST.get(record.export_state) if record is not None else None
        anchor = (
            f"{list_slug}-{spec.slug}-{row.record_id}"
            if now_in == list_slug
            else f"{spec.tab_slug}-{list_slug}"
        )
        text = (
            row.message if now_in == list_slug or record is None else message_about(spec, record, row.message)
        )
        level = messages.SUCCESS if row.ok else messages.ERROR
        messages.add_message(request, level, text, extra_tags=AT_TAG + anchor)
    return redirect(f"{here.partition('#')[0]}#{spec.tab_slug}-{list_slug}")


def _row_in_place(request, tool: Tool, spec, list_slug: str, row, record, here: str) -> str:
    """A row's new self with its message under it, or its message alone when it left
    the list, marked for an out-of-band swap (inside a <template>, as HTMX needs for
    table parts)."""
    stays = STATE_TO_LIST.get(record.export_state) == list_slug
    context = {
        "tab": spec,
        "tool": tool,
        "erp_name": tool.erp_name,
        "record": record,
        "row": record_row(tool, spec, record, list_slug, here=here) if stays else None,
        "list_slug": list_slug,
        "message": row.message,
        "record_ref": record_ref(spec, record, row.message),
        "ok": row.ok,
        "here": here,
        "csrf_input": csrf_input(request),
        "oob": True,
    }
    return "<template>" + render_to_string("erp/tab.html#record", context, request) + "</template>"


def _label(spec, record, row) -> str:
    if record is None:
        return f"#{row.record_id}"
    return f"{spec.label(record)}, {record.project.name}"


@require_GET
@tool_view
def bulk_run(request: HtmxHttpRequest, tool: Tool, tab: str, run_id: int) -> HttpResponse:
    """A bulk run's progress bar (polled while it runs), then each row's result."""
    spec = TABS[tab]
    run = bulk.bulk_run_for_user(company_id=tool.company.pk, user=request.user, bulk_run_id=run_id)
    results = []
    if run.status == run.Status.DONE:
        shown = run.results[:RESULTS_SHOWN]
        records = {
            record.pk: record
            for record in spec.objects().filter(company_id=tool.company.pk, pk__in=[row[0] for row in shown])
        }
        results = [
            (bulk.RowResult(*row), _label(spec, records.get(row[0]), bulk.RowResult(*row))) for row in shown
        ]
    context = {
        "tool": tool,
        "company": tool.company,
        "erp_name": tool.erp_name,
        "tabs": TABS.values(),
        "active": spec.tab_slug,
        "tab": spec,
        "run": run,
        "results": results,
        "ok_count": sum(1 for row in run.results if row[1]),
        "tab_url": _tab_url(tool, spec.tab_slug),
        **switcher_context(request),
    }
    if request.htmx:
        return render(request, "erp/bulk.html#progress", context)
    return render(request, "erp/bulk.html", context)


# --- settings ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@tool_view
def settings_page(request: HtmxHttpRequest, tool: Tool) -> HttpResponse:
    """Direct Export per record kind: a sent record is exported at once, with no approver."""
    decision = tool.access.check(Action.CHANGE_SETTINGS)
    if request.method == "POST":
        enabled = {kind.slug for kind in KINDS if request.POST.get(f"direct-{kind.slug}")}
        changed = direct_export.direct_export_set(
            company=tool.company, user=request.user, enabled=enabled, access=tool.access
        )
        messages.success(
            request,
            f"Direct Export saved ({changed} change{'s' if changed != 1 else ''})."
            if changed
            else "Nothing changed.",
        )
        return redirect("erp_settings", company_id=tool.company.pk)
    if not decision:
        raise AccessDenied(decision, company=tool.company)
    context = {
        "tool": tool,
        "company": tool.company,
        "erp_name": tool.erp_name,
        "tabs": TABS.values(),
        "active": "settings",
        "kinds": direct_export.direct_export_settings(company=tool.company),
        **switcher_context(request),
    }
    return render(request, "erp/settings.html", context)


# --- the Accountant report -----------------------------------------------------------------------


def _report(tool: Tool):
    tool.access.require(Action.VIEW_REPORT)
    return selectors.accountant_report(company=tool.company)


@require_GET
@tool_view
def accountant_report(request: HtmxHttpRequest, tool: Tool) -> HttpResponse:
    """Who holds 'Can Push to Accounting', their tool levels, and who granted it when."""
    rows = _report(tool)
    context = {
        "tool": tool,
        "company": tool.company,
        "erp_name": tool.erp_name,
        "tabs": TABS.values(),
        "active": "accountants",
        "rows": rows,
        **switcher_context(request),
    }
    return render(request, "erp/accountants.html", context)


@require_GET
@tool_view
def accountant_report_csv(request: HtmxHttpRequest, tool: Tool) -> HttpResponse:
    rows = _report(tool)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="accountants-{tool.company.slug}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["User", "Name", "E-mail", "ERP Integrations", "Commitments (projects)", "Event", "By", "When (UTC)"]
    )
    for row in rows:
        history = row.history or [None]
        for change in history:
            writer.writerow(
                [
                    _cell(row.user.username),
                    _cell(row.user.get_full_name()),
                    _cell(row.user.email),
                    row.erp_level_label,
                    _cell(row.project_levels_text),
                    change.get_action_display() if change else "",
                    _cell(change.changed_by.username) if change else "",
                    change.changed_at.strftime("%Y-%m-%d %H:%M:%S") if change else "",
                ]
            )
    return response


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
