"""The audit trail: every export, reject and unlink attempt, who made it and how it ended."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from erp_integrations import selectors
from erp_integrations.models import AuditEntry
from erp_integrations.services.sync import sync_status
from erp_integrations.views.common import HtmxHttpRequest, Tool, switcher_context, tool_view
from erp_integrations.views.tool import TABS


@require_GET
@tool_view
def audit_trail(request: HtmxHttpRequest, tool: Tool) -> HttpResponse:
    """Filterable by record type, user, action and outcome; paged by keyset.

    Queries: session, user, company with connection, directory entry, project levels,
    the switcher's companies, the directory's users (for the filter), one page of entries,
    and the sync status the header reads (whether the last sync failed).
    """
    filters = selectors.AuditFilters.parse(request.GET)
    page = selectors.audit_entry_page(
        company_id=tool.company.pk,
        filters=filters,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    base = filters.as_query()
    context = {
        "tool": tool,
        "company": tool.company,
        "erp_name": tool.erp_name,
        "tabs": TABS.values(),
        "active": "audit",
        "page": page,
        "filters": filters,
        "filter_query": base,
        "users": selectors.directory_users(company_id=tool.company.pk),
        "record_types": AuditEntry.RecordType.choices,
        "outcomes": AuditEntry.Outcome.choices,
        "actions": AuditEntry.Action.choices,
        "has_cursor": bool(request.GET.get("after") or request.GET.get("before")),
        **switcher_context(request),
    }
    if request.htmx and request.htmx.target == "audit-entries":
        return render(request, "erp/audit.html#entries", context)
    # The header says when the last sync failed, here as on every page of the tool.
    context["status"] = sync_status(connection=tool.connection) if tool.connection else None
    return render(request, "erp/audit.html", context)
