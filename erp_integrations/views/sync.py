"""Sync status, the history of sync runs, Sync now and its live progress."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from accounts.permissions import AccessDenied
from erp_integrations import selectors
from erp_integrations.charts import sync_chart
from erp_integrations.middleware import revalidated
from erp_integrations.services.results import ActionResult, Outcome
from erp_integrations.services.sync import SyncStatus, sync_now_request, sync_status
from erp_integrations.views.common import (
    HtmxHttpRequest,
    Tool,
    panel_context,
    safe_next,
    switcher_context,
    tool_view,
)
from erp_integrations.views.errors import status_of
from erp_integrations.views.tool import TABS

#: HTMX stops polling when a response has this status.
STOP_POLLING = 286


def _parse_since(value: str) -> datetime | None:
    if not value or len(value) > 40:
        return None
    try:
        since = datetime.fromisoformat(value)
    except ValueError:
        return None
    return since if since.tzinfo is not None else None


def format_duration(delta: timedelta) -> str:
    seconds = max(0, round(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _status(tool: Tool) -> SyncStatus | None:
    return sync_status(connection=tool.connection) if tool.connection else None


@require_GET
@tool_view
def sync_history(request: HtmxHttpRequest, tool: Tool) -> HttpResponse:
    """The connection's sync runs with their counts, duration and errors, newest first.

    Queries: session, user, company with connection, directory entry, project levels,
    the switcher's companies, the sync status, one page of runs, and the chart's runs.
    """
    page = None
    if tool.connection:
        page = selectors.sync_run_page(
            connection_id=tool.connection.pk,
            after=request.GET.get("after", ""),
            before=request.GET.get("before", ""),
        )
        for run in page.rows:
            run.duration_text = format_duration(run.finished_at - run.started_at) if run.finished_at else ""
    context = {
        "page": page,
        "has_cursor": bool(request.GET.get("after") or request.GET.get("before")),
        "tool": tool,
        "company": tool.company,
        "erp_name": tool.erp_name,
    }
    if request.htmx and request.htmx.target == "sync-runs":
        return render(request, "erp/sync.html#runs", context)
    if tool.connection:
        context["chart"] = sync_chart(selectors.sync_runs_for_chart(connection_id=tool.connection.pk))
    here = reverse("erp_sync", kwargs={"company_id": tool.company.pk})
    context.update(panel_context(tool, _status(tool), here=here))
    context.update({"active": "sync", "tabs": TABS.values(), **switcher_context(request)})
    return render(request, "erp/sync.html", context)


@require_POST
@tool_view
def sync_now(request: HtmxHttpRequest, tool: Tool) -> HttpResponse:
    """Queue a sync now (Admin on ERP Integrations); refused politely while one runs."""
    requested_at = timezone.now()
    try:
        result = sync_now_request(user=request.user, company=tool.company, access=tool.access)
    except AccessDenied as denied:
        result = ActionResult(False, denied.decision.reason, Outcome.FORBIDDEN)
    here = safe_next(request, reverse("erp_sync", kwargs={"company_id": tool.company.pk}))
    if not request.htmx:
        messages.add_message(request, messages.SUCCESS if result.ok else messages.ERROR, result.message)
        return redirect(here)
    context = panel_context(
        tool,
        _status(tool),
        waiting_since=requested_at if result.ok else None,
        message=result.message,
        ok=result.ok,
        here=here,
        tab=TABS.get(request.POST.get("tab", "")),
    )
    return render(request, "erp/sync.html#sync_panel", context, status=status_of(result))


@require_GET
@tool_view
def sync_panel(request: HtmxHttpRequest, tool: Tool) -> HttpResponse:
    """The sync panel again, as it is now: the panel polls it every minute.

    A tab left open through the hourly sync would otherwise still say "No sync has
    completed yet" while Unlink already succeeds. Queries: session, user, company with
    its connection, directory entry, project levels, and the sync status (three).
    """
    if not request.htmx:
        return redirect("erp_sync", company_id=tool.company.pk)
    here = safe_next(request, reverse("erp_sync", kwargs={"company_id": tool.company.pk}))
    context = panel_context(tool, _status(tool), here=here, tab=TABS.get(request.GET.get("tab", "")))
    # Most polls find nothing new: answer them 304 from what the panel shows, before
    # rendering it. The relative times ("12 minutes ago") are kept current by the
    # page's script from their <time> elements, so they are not part of the tag.
    headers = HttpResponse()
    headers["ETag"] = panel_etag(request, context)
    # Django's helper gives back ``headers`` itself when the request's tag does not match.
    not_modified = get_conditional_response(request, etag=headers["ETag"], response=headers)
    if not_modified is not headers:
        return revalidated(not_modified)
    response = render(request, "erp/sync.html#sync_panel", context)
    response["ETag"] = headers["ETag"]
    return revalidated(response)


def panel_etag(request: HtmxHttpRequest, context: dict) -> str:
    """A tag for what the sync panel shows this user now (not its CSRF token or relative times)."""
    status: SyncStatus | None = context["status"]
    last = status.last_completed if status else None
    running = status.running if status else None
    can_sync_now = context["can_sync_now"]
    shown = (
        _panel_template_digest(),
        request.user.pk,
        context["company"].pk,
        context["erp_name"],
        context["erp_noun"],
        context["here"],
        context["tab"].tab_slug if context["tab"] else "",
        bool(can_sync_now),
        can_sync_now.reason,
        context["polling"],
        context["progress_url"],
        (last.pk, last.status, last.started_at, last.finished_at, last.error) if last else None,
        status.last_succeeded_at if status else None,
        status.next_run_at if status else None,
        (running.pk, running.links_checked, running.links_total) if running else None,
    )
    return '"' + hashlib.blake2b(repr(shown).encode(), digest_size=12).hexdigest() + '"'


@lru_cache(maxsize=1)
def _panel_template_digest() -> str:
    """The sync template's own version: a new release's panel is not answered 304."""
    source = (settings.BASE_DIR / "templates" / "erp" / "sync.html").read_bytes()
    return hashlib.blake2b(source, digest_size=8).hexdigest()


@require_GET
@tool_view
def sync_progress(request: HtmxHttpRequest, tool: Tool) -> HttpResponse:
    """A running sync's progress bar, polled every second.

    When the run has ended, the whole sync panel comes back in its place (last sync,
    outcome) with status 286, which tells HTMX to stop polling, and the lists are told
    to refresh: the run may have seen ERP records go or come back.
    """
    if not request.htmx:
        return redirect("erp_sync", company_id=tool.company.pk)
    here = safe_next(request, reverse("erp_sync", kwargs={"company_id": tool.company.pk}))
    context = panel_context(
        tool,
        _status(tool),
        waiting_since=_parse_since(request.GET.get("since", "")),
        here=here,
        tab=TABS.get(request.GET.get("tab", "")),
    )
    if context["polling"]:
        return render(request, "erp/sync.html#sync_progress", context)
    response = render(request, "erp/sync.html#sync_panel", context, status=STOP_POLLING)
    response = reswap(retarget(response, "#sync-panel"), "outerHTML")
    return trigger_client_event(response, "erp:sync-finished")
