"""The project's Commitments tool: the projects a user may open, and a project's commitments.

A record's own pages (detail, create, edit, delete, send), for commitments, invoices and
change orders alike, are ``views.records``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.permissions import Action, projects_visible_to, signed_in
from erp_integrations.models import company_erp_name
from erp_integrations.services import records

PAGE_SIZE = 50


#: The project's Commitments tool: signed-in users only. Each view loads its project or
#: record for the user (``accounts.permissions``); refusals become 404 / 403 in ``views.errors``.
project_tool_view = signed_in


# --- project picker and list ---------------------------------------------------------


@project_tool_view
@require_GET
def project_list(request: HttpRequest) -> HttpResponse:
    """The projects whose Commitments tool the user may open."""
    projects = projects_visible_to(request.user).order_by("company__name", "number")
    q = request.GET.get("q", "").strip()[:100]
    if q:
        projects = projects.filter(Q(number__icontains=q) | Q(name__icontains=q))
    return render(request, "commitments/projects.html", {"projects": projects[:500], "q": q})


@project_tool_view
@require_GET
def commitment_list(request: HttpRequest, project_id: int) -> HttpResponse:
    project, access = records.project_get_for_user(user=request.user, project_id=project_id)
    q = request.GET.get("q", "").strip()[:100]
    after = request.GET.get("after", "")[:50]
    page = records.project_commitments_page(project=project, search=q, after=after, limit=PAGE_SIZE)
    next_query = ""
    if page.next_after is not None:
        next_query = "?" + _query(q=q, after=page.next_after)
    return render(
        request,
        "commitments/list.html",
        {
            "company": project.company,
            "project": project,
            "erp_name": company_erp_name(project.company),
            "commitments": page.rows,
            "q": q,
            "after": after,
            "next_query": next_query,
            "can_edit": access.check(Action.EDIT_COMMITMENTS, project),
            # The project's Reconciliation, for who may open the company's ERP tool.
            "can_reconcile": access.check(Action.VIEW_TOOL),
        },
    )


def _query(**params: str) -> str:
    return urlencode({k: v for k, v in params.items() if v})
