"""What every view of the ERP Integrations tool shares: the company's tool, the panel.

The access decorator, ``tool_view``, is the permission module's ``company_view``: it
loads the company with its ERP connection and what the user may do there
(``CompanyAccess``, loaded once per request) before the view runs. Outsiders get 404,
members who may not open the tool 403 with the reason (``views.errors``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from http import HTTPStatus
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.timesince import timesince
from django.views import defaults
from django_htmx.middleware import HtmxDetails

from accounts.models import Company
from accounts.permissions import Action, CompanyAccess, company_view
from accounts.permissions import signed_in as signed_in
from erp_integrations import selectors
from erp_integrations.models import NO_ERP_NAME, ErpConnection, company_erp_connection
from erp_integrations.services.sync import SyncStatus
from erp_integrations.views.errors import flash_response

#: Companies listed in the header's switcher; the rest are one click away.
SWITCHER_LIMIT = 20
#: How long the page waits for a worker to pick up a requested sync before it stops
#: polling (the sync stays queued and runs when a worker is free).
QUEUED_PATIENCE = timedelta(minutes=2)
#: The session key of the company whose tool the user last opened; home goes back there.
LAST_COMPANY_KEY = "erp_last_company_id"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@dataclass
class Tool:
    """The company's ERP Integrations tool as this request's user sees it."""

    company: Company
    connection: ErpConnection | None
    access: CompanyAccess

    @property
    def erp_name(self) -> str:
        return self.connection.erp_name if self.connection else NO_ERP_NAME

    @property
    def shows_admin_pages(self) -> bool:
        """Whether the header links the settings and the Accountant report (tool admins)."""
        return bool(self.access.check(Action.CHANGE_SETTINGS))


def tool_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Sign-in, then the tool of ``company_id`` for the view as its second argument."""

    @company_view
    @wraps(view)
    def wrapper(request: HtmxHttpRequest, access: CompanyAccess, *args, **kwargs) -> HttpResponse:
        tool = Tool(company=access.company, connection=company_erp_connection(access.company), access=access)
        if request.method == "GET" and not request.htmx:
            remember_company(request, tool.company)
        return view(request, tool, *args, **kwargs)

    return wrapper


def remember_company(request: HttpRequest, company: Company) -> None:
    """Note the company whose tool a page of was opened, so home lands there next time.

    Written only when it changes: the session is saved (one query) on the first page
    of a company, not on every page.
    """
    if request.session.get(LAST_COMPANY_KEY) != company.pk:
        request.session[LAST_COMPANY_KEY] = company.pk


def csrf_failure(request: HtmxHttpRequest, reason: str = "") -> HttpResponse:
    """CSRF refusals in words a user can act on; an HTMX one goes to the message area."""
    message = (
        "Your session changed since this page was loaded (for example, you signed in again). "
        "Reload the page and try again."
    )
    if getattr(request, "htmx", False):
        return flash_response(request, message, ok=False, status=HTTPStatus.FORBIDDEN)
    return render(request, "erp/csrf_failure.html", {"message": message}, status=HTTPStatus.FORBIDDEN)


def switcher_context(request: HttpRequest) -> dict:
    """The companies for the header's switcher. Queries: one (none when signed out)."""
    companies = selectors.companies_for_user(user=request.user, limit=SWITCHER_LIMIT + 1, openable_only=True)
    return {
        "switcher_companies": companies[:SWITCHER_LIMIT],
        "switcher_more": len(companies) > SWITCHER_LIMIT,
    }


def panel_context(
    tool: Tool,
    status: SyncStatus | None,
    *,
    waiting_since: datetime | None = None,
    message: str = "",
    ok: bool = True,
    here: str = "",
    tab=None,
) -> dict:
    """What the sync panel shows: last and next run, a run's progress, Sync now.

    ``waiting_since``: a Sync now was accepted then and no run has picked it up yet;
    the progress bar keeps polling until one has, or its patience runs out.
    """
    polling = False
    progress_query: dict[str, str] = {}
    if status is not None and status.running is not None:
        polling = True
        progress_query["run"] = str(status.running.pk)
    elif waiting_since is not None and status is not None:
        last = status.last_completed
        picked_up = last is not None and last.started_at >= waiting_since
        polling = not picked_up and timezone.now() - waiting_since < QUEUED_PATIENCE
        if polling:
            progress_query["since"] = waiting_since.isoformat()
    if here:
        progress_query["next"] = here
    if tab is not None:
        progress_query["tab"] = tab.tab_slug
    # The panel refreshes itself from the same place, keeping the page and tab it is on.
    panel_query = {name: progress_query[name] for name in ("next", "tab") if name in progress_query}
    last = status.last_completed if status is not None else None
    return {
        "tab": tab,
        "tool": tool,
        "last_completed_ago": _ago(last.finished_at) if last is not None else "",
        "company": tool.company,
        "erp_name": tool.erp_name,
        "status": status,
        "can_sync_now": tool.access.check(Action.SYNC_NOW),
        # What the user deletes in the ERP before an unlink, in the ERP's own noun.
        "erp_noun": tab.erp_noun(tool.connection.erp_system)
        if tab is not None and tool.connection
        else "record",
        "polling": polling,
        "progress_url": reverse("erp_sync_progress", kwargs={"company_id": tool.company.pk})
        + "?"
        + urlencode(progress_query),
        "panel_url": reverse("erp_sync_panel", kwargs={"company_id": tool.company.pk})
        + ("?" + urlencode(panel_query) if panel_query else ""),
        "panel_message": message,
        "panel_ok": ok,
        "here": here,
    }


def _ago(moment: datetime) -> str:
    seconds = (timezone.now() - moment).total_seconds()
    if seconds < 60:
        return "just now"
    return f"{timesince(moment)} ago"


def safe_next(request: HttpRequest, default: str) -> str:
    """Where a plain form goes back to: ``next`` if it stays on this site, else ``default``."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    # A path of this site only: redirect() would take a bare word for a URL name.
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


# --- sign-in throttling (django-axes calls these; see settings) ------------------------------
def signin_locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The sign-in page, refusing for now: what happened and when to try again (429)."""
    minutes = round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    message = (
        f"Too many failed sign-ins for this username from this computer. Try again in {minutes} minutes, "
        "or ask platform staff to reset your password."
    )
    response = render(
        request,
        "registration/login.html",
        {"form": AuthenticationForm(request), "locked_out": message, "next": safe_next(request, "")},
        status=HTTPStatus.TOO_MANY_REQUESTS,
    )
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response


def client_ip_address(request: HttpRequest) -> str:
    """The client's address: the connection's, or behind a trusted TLS proxy (the
    SECURE_PROXY_SSL_HEADER setting) the last address that proxy put in X-Forwarded-For."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
        if forwarded[-1]:
            return forwarded[-1][:45]
    return request.META.get("REMOTE_ADDR", "")


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: 503 with Retry-After when the database pool had no connection to spare
    (raised outside a view, e.g. saving the session), Django's own 500 page otherwise."""
    from erp_integrations.middleware import pool_exhausted, service_unavailable

    if pool_exhausted(sys.exc_info()[1]):
        return service_unavailable(request)
    return defaults.server_error(request)
