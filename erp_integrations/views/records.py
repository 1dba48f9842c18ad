"""A record's pages in the project's Commitments tool, once for every kind.

Commitments, subcontractor invoices and commitment change orders share these views:
detail, create, edit, delete and send to accounting. The kind (``erp_integrations.kinds``)
says the rest: its form, its parent, its children, its nouns. Only where a kind truly
looks different does it have a template of its own (``records/<slug>/_detail.html``).

Views parse the request, load the record through ``accounts.permissions`` (404 to
outsiders, 403 naming the missing permission to members, answered by ``views.errors``),
call one service and render. Locked records (waiting for export, or synced) are shown
read-only with the reason; the services check the lock again on the locked row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from http import HTTPStatus

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import capfirst
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import Action, CompanyAccess, signed_in
from erp_integrations import selectors
from erp_integrations.forms import apply_errors
from erp_integrations.kinds import RecordKind
from erp_integrations.models import NO_ERP_NAME, SENDABLE_STATES, LinkedRecord, company_erp_connection
from erp_integrations.services import exports, records
from erp_integrations.services.records import ChangeRefused, record_title


def for_kind(view: Callable, kind: RecordKind, id_name: str = "") -> Callable:
    """``view`` for records of ``kind``, its URL's id parameter (``id_name``) as ``record_id``."""

    @signed_in
    @wraps(view)
    def bound(request: HttpRequest, project_id: int, **url) -> HttpResponse:
        ids = {"record_id": url.pop(id_name)} if id_name else {}
        return view(request, kind, project_id, **ids, **url)

    return bound


def url_of(kind: RecordKind, action: str, record: LinkedRecord) -> str:
    """A record's page: ``<slug>_detail`` / ``_edit`` / ``_delete`` / ``_send``."""
    return reverse(f"{kind.slug}_{action}", args=[record.project_id, record.pk])


@dataclass(frozen=True)
class Crumb:
    label: str
    url: str
    testid: str


def _trail(kind: RecordKind, record: LinkedRecord | None, parent: LinkedRecord | None) -> list[Crumb]:
    """The breadcrumbs after the project: the parent, then the record."""
    trail = []
    if parent is not None:
        parent_kind = kind.parent_kind
        trail.append(Crumb(parent.number, parent_kind.detail_url(parent), f"{parent_kind.slug}-link"))
    if record is not None:
        trail.append(Crumb(record_title(kind, record), kind.detail_url(record), f"{kind.slug}-crumb"))
    return trail


def _page(kind: RecordKind, project, parent: LinkedRecord | None, record: LinkedRecord | None) -> dict:
    # A record's company comes loaded with its ERP connection (its project's does not).
    company = record.company if record is not None else project.company
    connection = company_erp_connection(company)
    erp_noun = kind.erp_noun(connection.erp_system) if connection else kind.noun
    return {
        "kind": kind,
        "company": company,
        "project": project,
        "parent": parent,
        "record": record,
        "trail": _trail(kind, record, parent),
        "erp_name": connection.erp_name if connection else NO_ERP_NAME,
        # What the ERP calls the record, where its word differs ("a requisition there").
        "erp_noun": erp_noun if erp_noun != kind.noun else "",
        "detail_url": kind.detail_url(record) if record is not None else "",
    }


# --- detail ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildList:
    """A list of the record's children of one kind on its page (a commitment's invoices)."""

    kind: RecordKind
    rows: list
    create_url: str
    create_refusal: str


def _children(kind: RecordKind, record: LinkedRecord, *, can_edit: bool) -> list[ChildList]:
    lists = []
    for child, rows in records.record_children(kind, record):
        refusal = records.record_create_refusal(child, record)
        if refusal and not rows:
            continue  # nothing to show and nothing to add (no invoices under a PO)
        create_url = reverse(f"{child.slug}_create", args=[record.project_id, record.pk]) if can_edit else ""
        lists.append(ChildList(child, [(row, child.row_title(row)) for row in rows], create_url, refusal))
    return lists


def _detail_context(kind: RecordKind, record: LinkedRecord, access: CompanyAccess) -> dict:
    project = record.project
    edit = access.check(Action.EDIT_COMMITMENTS, project)
    lock_reason = records.record_lock_reason(record)
    children = _children(kind, record, can_edit=bool(edit))
    child_counts = {child.slug: 0 for child in kind.child_kinds}
    child_counts.update({children_of.kind.slug: len(children_of.rows) for children_of in children})
    page = _page(kind, project, kind.parent(record), record)
    return {
        **page,
        **records.record_page(kind, record),
        "title": kind.row_title(record),
        "detail_template": f"records/{kind.slug}/_detail.html",
        "edit_url": url_of(kind, "edit", record),
        "delete_url": url_of(kind, "delete", record),
        "send_url": url_of(kind, "send", record),
        "retrieve_url": url_of(kind, "retrieve", record),
        "retrieve_decision": access.check(Action.RETRIEVE, project),
        "can_retrieve_state": record.export_state in exports.EXPORTABLE_STATES,
        "lock_reason": lock_reason,
        "edit_decision": edit,
        "can_edit": bool(edit) and not lock_reason,
        "delete_refusal": records.record_delete_refusal(kind, record, child_counts=child_counts),
        "send_decision": access.check(Action.SEND_TO_ACCOUNTING, project),
        "can_send_state": record.export_state in SENDABLE_STATES,
        "erp_warnings": kind.erp_warnings(record, page["erp_name"]),
        "children": children,
        "link_history": selectors.record_link_history(kind=kind, record=record),
    }


def _render_detail(request, kind, record, access, *, status: int = HTTPStatus.OK) -> HttpResponse:
    return render(request, "records/detail.html", _detail_context(kind, record, access), status=status)


def _refused(request, kind, record, access, message: str) -> HttpResponse:
    """The record's page again, with why the change was refused (409)."""
    messages.error(request, message)
    record.refresh_from_db()
    return _render_detail(request, kind, record, access, status=HTTPStatus.CONFLICT)


@require_GET
def record_detail(request: HttpRequest, kind: RecordKind, project_id: int, record_id: int) -> HttpResponse:
    record, access = records.record_get_for_user(
        kind=kind, user=request.user, record_id=record_id, project_id=project_id
    )
    return _render_detail(request, kind, record, access)


def _editable(request, kind: RecordKind, project_id: int, record_id: int):
    """The record of the URL's project, if the user may edit it (lock aside)."""
    return records.record_get_for_user(
        kind=kind,
        user=request.user,
        record_id=record_id,
        project_id=project_id,
        action=Action.EDIT_COMMITMENTS,
    )


# --- create and edit -------------------------------------------------------------------


def _render_form(request, context: dict, form, *, status: int = HTTPStatus.OK) -> HttpResponse:
    context.update(form=form, formset=form.lines if form is not None else None)
    return render(request, "records/form.html", context, status=status)


@require_http_methods(["GET", "POST"])
def record_create(
    request: HttpRequest, kind: RecordKind, project_id: int, pk: int | None = None
) -> HttpResponse:
    """A new record in the project, or under its parent (``pk``: a commitment's id)."""
    project, parent, _ = records.record_parent_for_user(
        kind=kind, user=request.user, project_id=project_id, parent_id=pk
    )
    context = _page(kind, project, parent, None)
    refusal = records.record_create_refusal(kind, parent)
    if refusal:
        context["refusal"] = refusal
        return _render_form(request, context, None, status=HTTPStatus.CONFLICT)

    data = request.POST if request.method == "POST" else None
    form = kind.form(data, project=project, parent=parent)
    if data is not None and form.is_valid():
        try:
            record = records.record_create(
                kind=kind,
                user=request.user,
                project_id=project.pk,
                parent_id=parent.pk if parent is not None else None,
                fields=form.service_fields(),
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"{record_title(kind, record)} created.")
            return redirect(kind.detail_url(record))
    return _render_form(request, context, form)


@require_http_methods(["GET", "POST"])
def record_edit(request: HttpRequest, kind: RecordKind, project_id: int, record_id: int) -> HttpResponse:
    record, access = _editable(request, kind, project_id, record_id)
    lock_reason = records.record_lock_reason(record)
    if lock_reason and request.method == "POST":
        return _refused(request, kind, record, access, lock_reason)

    parent = kind.parent(record)
    data = request.POST if request.method == "POST" else None
    form = kind.form(data, project=record.project, parent=parent, record=record)
    if lock_reason:
        form.disable_all()
    elif data is not None and form.is_valid():
        try:
            records.record_update(
                kind=kind, user=request.user, record_id=record.pk, fields=form.service_fields()
            )
        except ValidationError as error:
            apply_errors(form, error)
        except ChangeRefused as refused:
            # Sent or exported by someone else while this form was open.
            return _refused(request, kind, record, access, refused.message)
        else:
            messages.success(request, f"{capfirst(kind.tool_noun)} {form.cleaned_data['number']} saved.")
            return redirect(kind.detail_url(record))
    context = {**_page(kind, record.project, parent, record), "lock_reason": lock_reason}
    return _render_form(request, context, form)


# --- delete and send -------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def record_delete(request: HttpRequest, kind: RecordKind, project_id: int, record_id: int) -> HttpResponse:
    record, access = _editable(request, kind, project_id, record_id)
    parent = kind.parent(record)
    if request.method == "POST":
        try:
            records.record_delete(kind=kind, user=request.user, record_id=record.pk)
        except ChangeRefused as refused:
            return _refused(request, kind, record, access, refused.message)
        messages.success(request, f"{record_title(kind, record)} deleted.")
        if parent is not None:
            return redirect(kind.parent_kind.detail_url(parent))
        return redirect("commitment_list", project_id=record.project_id)
    context = {
        **_page(kind, record.project, parent, record),
        "title": kind.row_title(record),
        "refusal": records.record_delete_refusal(kind, record),
    }
    return render(request, "records/confirm_delete.html", context)


@require_POST
def record_send(request: HttpRequest, kind: RecordKind, project_id: int, record_id: int) -> HttpResponse:
    # Checks the project in the URL (404 otherwise); the service decides the rest.
    record, _ = records.record_get_for_user(
        kind=kind, user=request.user, record_id=record_id, project_id=project_id
    )
    result = exports.record_send_to_accounting(kind=kind, user=request.user, record_id=record.pk)
    (messages.success if result.ok else messages.error)(request, result.message)
    return redirect(kind.detail_url(record))


@require_POST
def record_retrieve(request: HttpRequest, kind: RecordKind, project_id: int, record_id: int) -> HttpResponse:
    """Pull a record that waits for an approver back to draft (the sender's Retrieve)."""
    record, _ = records.record_get_for_user(
        kind=kind, user=request.user, record_id=record_id, project_id=project_id
    )
    result = exports.record_retrieve(kind=kind, user=request.user, record_id=record.pk)
    (messages.success if result.ok else messages.error)(request, result.message)
    return redirect(kind.detail_url(record))
