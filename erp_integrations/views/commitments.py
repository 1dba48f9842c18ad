"""The project's Commitments tool: list, create, edit, delete and send to accounting.

Views parse the request, load the record through the services' access helpers (404 to
outsiders, 403 naming the missing permission to members), call one service and render.
Locked records (waiting for export, or synced) are shown read-only with the reason.
"""

from __future__ import annotations

from functools import wraps
from http import HTTPStatus
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import PermissionLevel, Project
from accounts.permissions import AccessDenied, Action, CompanyAccess
from erp_integrations.forms import (
    CommitmentForm,
    LineItemFormSet,
    apply_errors,
    line_item_initial,
)
from erp_integrations.models import SENDABLE_STATES, Commitment, company_erp_name
from erp_integrations.services import records
from erp_integrations.services.records import ChangeRefused

PAGE_SIZE = 50


def project_tool_view(view):
    """The project's Commitments tool: signed-in users only; a refusal answers 403 with its reason.

    (The company's ERP Integrations tool has its own, ``common.tool_view``, which also loads
    the company; these views load their record and its access through ``services.records``.)
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except AccessDenied as denied:
            return forbidden(request, denied.decision.reason)

    return login_required(wrapper)


def forbidden(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "commitments/forbidden.html", {"reason": reason}, status=HTTPStatus.FORBIDDEN)


def _detail_url(commitment: Commitment) -> str:
    return reverse("commitment_detail", args=[commitment.project_id, commitment.pk])


# --- project picker and list ---------------------------------------------------------


@project_tool_view
@require_GET
def project_list(request: HttpRequest) -> HttpResponse:
    """The projects whose Commitments tool the user may open."""
    user = request.user
    projects = Project.objects.select_related("company").order_by("company__name", "number")
    # A directory entry in the project's company and at least Read Only on its tool.
    projects = projects.filter(
        permissions__user=user,
        permissions__commitments_level__gte=PermissionLevel.READ_ONLY,
        company__directory__user=user,
    )
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
        },
    )


def _query(**params: str) -> str:
    return urlencode({k: v for k, v in params.items() if v})


# --- detail ---------------------------------------------------------------------------


def _commitment_context(commitment: Commitment, access: CompanyAccess) -> dict:
    project = commitment.project
    invoices = list(commitment.subcontractor_invoices.order_by("number", "id"))
    edit = access.check(Action.EDIT_COMMITMENTS, project)
    send = access.check(Action.SEND_TO_ACCOUNTING, project)
    lock_reason = records.record_lock_reason(commitment)
    return {
        "company": project.company,
        "project": project,
        "commitment": commitment,
        "erp_name": company_erp_name(commitment.company),
        "line_items": list(commitment.line_items.all()),
        "invoices": invoices,
        "lock_reason": lock_reason,
        "edit_decision": edit,
        "can_edit": bool(edit) and not lock_reason,
        "delete_refusal": records.commitment_delete_refusal(commitment, invoice_count=len(invoices)),
        "send_decision": send,
        "can_send_state": commitment.export_state in SENDABLE_STATES,
        "can_add_invoice": bool(edit) and commitment.kind == Commitment.Kind.SUBCONTRACT,
    }


@project_tool_view
@require_GET
def commitment_detail(request: HttpRequest, project_id: int, pk: int) -> HttpResponse:
    commitment, access = records.commitment_get_for_user(
        user=request.user, commitment_id=pk, project_id=project_id
    )
    return render(request, "commitments/detail.html", _commitment_context(commitment, access))


def _render_locked(request, commitment, access, message: str) -> HttpResponse:
    messages.error(request, message)
    return render(
        request,
        "commitments/detail.html",
        _commitment_context(commitment, access),
        status=HTTPStatus.CONFLICT,
    )


# --- create and edit -------------------------------------------------------------------


@project_tool_view
@require_http_methods(["GET", "POST"])
def commitment_create(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = records.project_get_for_user(
        user=request.user, project_id=project_id, action=Action.EDIT_COMMITMENTS
    )
    data = request.POST if request.method == "POST" else None
    form = CommitmentForm(data, company_id=project.company_id)
    formset = LineItemFormSet(data, prefix="lines")
    if data is not None and form.is_valid() and formset.is_valid():
        try:
            commitment = records.commitment_create(
                user=request.user,
                project_id=project.pk,
                kind=form.cleaned_data["kind"],
                number=form.cleaned_data["number"],
                title=form.cleaned_data["title"],
                vendor_id=form.cleaned_data["vendor"].pk,
                status=form.cleaned_data["status"],
                line_items=formset.line_items(),
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"Commitment {commitment.number} created.")
            return redirect(_detail_url(commitment))
    return render(
        request,
        "commitments/form.html",
        {
            "company": project.company,
            "project": project,
            "form": form,
            "formset": formset,
            "commitment": None,
        },
    )


@project_tool_view
@require_http_methods(["GET", "POST"])
def commitment_edit(request: HttpRequest, project_id: int, pk: int) -> HttpResponse:
    commitment, access = records.commitment_get_for_user(
        user=request.user, commitment_id=pk, project_id=project_id, action=Action.EDIT_COMMITMENTS
    )
    lock_reason = records.record_lock_reason(commitment)
    if lock_reason and request.method == "POST":
        return _render_locked(request, commitment, access, lock_reason)

    data = request.POST if request.method == "POST" else None
    initial = {field: getattr(commitment, field) for field in ("kind", "number", "title", "status")}
    initial["vendor"] = commitment.vendor_id
    form = CommitmentForm(data, initial=initial, company_id=commitment.company_id)
    formset = LineItemFormSet(data, initial=line_item_initial(commitment), prefix="lines")
    if lock_reason:
        form.disable_all()
        formset.disable_all()
    elif data is not None and form.is_valid() and formset.is_valid():
        try:
            records.commitment_update(
                user=request.user,
                commitment_id=commitment.pk,
                kind=form.cleaned_data["kind"],
                number=form.cleaned_data["number"],
                title=form.cleaned_data["title"],
                vendor_id=form.cleaned_data["vendor"].pk,
                status=form.cleaned_data["status"],
                line_items=formset.line_items(),
            )
        except ValidationError as error:
            apply_errors(form, error)
        except ChangeRefused as refused:
            # Sent or exported by someone else while this form was open.
            commitment.refresh_from_db()
            return _render_locked(request, commitment, access, refused.message)
        else:
            messages.success(request, f"Commitment {form.cleaned_data['number']} saved.")
            return redirect(_detail_url(commitment))
    return render(
        request,
        "commitments/form.html",
        {
            "company": commitment.company,
            "project": commitment.project,
            "form": form,
            "formset": formset,
            "commitment": commitment,
            "lock_reason": lock_reason,
        },
    )


# --- delete and send -------------------------------------------------------------------


@project_tool_view
@require_http_methods(["GET", "POST"])
def commitment_delete(request: HttpRequest, project_id: int, pk: int) -> HttpResponse:
    commitment, access = records.commitment_get_for_user(
        user=request.user, commitment_id=pk, project_id=project_id, action=Action.EDIT_COMMITMENTS
    )
    if request.method == "POST":
        try:
            records.commitment_delete(user=request.user, commitment_id=commitment.pk)
        except ChangeRefused as refused:
            commitment.refresh_from_db()
            return _render_locked(request, commitment, access, refused.message)
        messages.success(request, f"Commitment {commitment.number} deleted.")
        return redirect("commitment_list", project_id=commitment.project_id)
    refusal = records.commitment_delete_refusal(
        commitment, invoice_count=commitment.subcontractor_invoices.count()
    )
    return render(
        request,
        "commitments/confirm_delete.html",
        {
            "company": commitment.company,
            "project": commitment.project,
            "commitment": commitment,
            "refusal": refusal,
        },
    )


@project_tool_view
@require_POST
def commitment_send(request: HttpRequest, project_id: int, pk: int) -> HttpResponse:
    from erp_integrations.services import exports

    # Checks the project in the URL (404 otherwise); the service decides the rest.
    commitment, _ = records.commitment_get_for_user(
        user=request.user, commitment_id=pk, project_id=project_id
    )
    result = exports.commitment_send_to_accounting(user=request.user, commitment_id=commitment.pk)
    (messages.success if result.ok else messages.error)(request, result.message)
    return redirect(_detail_url(commitment))
