"""Subcontractor invoices under their subcontract, in the project's Commitments tool."""

from __future__ import annotations

from http import HTTPStatus

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import Action, CompanyAccess
from erp_integrations import kinds
from erp_integrations.forms import SubcontractorInvoiceForm, apply_errors
from erp_integrations.models import SENDABLE_STATES, Commitment, SubcontractorInvoice, company_erp_name
from erp_integrations.services import records
from erp_integrations.services.records import ChangeRefused
from erp_integrations.views.commitments import project_tool_view

FORM_FIELDS = ("number", "billing_period_start", "billing_period_end", "amount", "retainage", "status")


def _detail_url(invoice: SubcontractorInvoice) -> str:
    return reverse("invoice_detail", args=[invoice.project_id, invoice.pk])


def _invoice_context(invoice: SubcontractorInvoice, access: CompanyAccess) -> dict:
    project = invoice.project
    edit = access.check(Action.EDIT_COMMITMENTS, project)
    lock_reason = records.record_lock_reason(invoice)
    return {
        "company": project.company,
        "project": project,
        "invoice": invoice,
        "commitment": invoice.commitment,
        "erp_name": company_erp_name(invoice.company),
        "lock_reason": lock_reason,
        "edit_decision": edit,
        "can_edit": bool(edit) and not lock_reason,
        "send_decision": access.check(Action.SEND_TO_ACCOUNTING, project),
        "can_send_state": invoice.export_state in SENDABLE_STATES,
    }


def _render_locked(request, invoice, access, message: str) -> HttpResponse:
    messages.error(request, message)
    return render(
        request, "invoices/detail.html", _invoice_context(invoice, access), status=HTTPStatus.CONFLICT
    )


@project_tool_view
@require_http_methods(["GET", "POST"])
def invoice_create(request: HttpRequest, project_id: int, pk: int) -> HttpResponse:
    commitment, _ = records.commitment_get_for_user(
        user=request.user, commitment_id=pk, project_id=project_id, action=Action.EDIT_COMMITMENTS
    )
    context = {
        "company": commitment.company,
        "project": commitment.project,
        "commitment": commitment,
        "invoice": None,
    }
    if commitment.kind != Commitment.Kind.SUBCONTRACT:
        context["refusal"] = (
            "Subcontractor invoices can only be created under a subcontract; "
            f"{commitment.number} is a {commitment.get_kind_display().lower()}."
        )
        return render(request, "invoices/form.html", context, status=HTTPStatus.CONFLICT)

    data = request.POST if request.method == "POST" else None
    form = SubcontractorInvoiceForm(data)
    if data is not None and form.is_valid():
        try:
            invoice = records.subcontractor_invoice_create(
                user=request.user,
                commitment_id=commitment.pk,
                **{field: form.cleaned_data[field] for field in FORM_FIELDS},
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"Subcontractor invoice {invoice.number} created.")
            return redirect(_detail_url(invoice))
    context["form"] = form
    return render(request, "invoices/form.html", context)


@project_tool_view
@require_GET
def invoice_detail(request: HttpRequest, project_id: int, iid: int) -> HttpResponse:
    invoice, access = records.subcontractor_invoice_get_for_user(
        user=request.user, invoice_id=iid, project_id=project_id
    )
    return render(request, "invoices/detail.html", _invoice_context(invoice, access))


@project_tool_view
@require_http_methods(["GET", "POST"])
def invoice_edit(request: HttpRequest, project_id: int, iid: int) -> HttpResponse:
    invoice, access = records.subcontractor_invoice_get_for_user(
        user=request.user, invoice_id=iid, project_id=project_id, action=Action.EDIT_COMMITMENTS
    )
    lock_reason = records.record_lock_reason(invoice)
    if lock_reason and request.method == "POST":
        return _render_locked(request, invoice, access, lock_reason)

    data = request.POST if request.method == "POST" else None
    form = SubcontractorInvoiceForm(data, initial={field: getattr(invoice, field) for field in FORM_FIELDS})
    if lock_reason:
        form.disable_all()
    elif data is not None and form.is_valid():
        try:
            records.subcontractor_invoice_update(
                user=request.user,
                invoice_id=invoice.pk,
                **{field: form.cleaned_data[field] for field in FORM_FIELDS},
            )
        except ValidationError as error:
            apply_errors(form, error)
        except ChangeRefused as refused:
            invoice.refresh_from_db()
            return _render_locked(request, invoice, access, refused.message)
        else:
            messages.success(request, f"Subcontractor invoice {form.cleaned_data['number']} saved.")
            return redirect(_detail_url(invoice))
    return render(
        request,
        "invoices/form.html",
        {
            "company": invoice.company,
            "project": invoice.project,
            "commitment": invoice.commitment,
            "invoice": invoice,
            "form": form,
            "lock_reason": lock_reason,
        },
    )


@project_tool_view
@require_http_methods(["GET", "POST"])
def invoice_delete(request: HttpRequest, project_id: int, iid: int) -> HttpResponse:
    invoice, access = records.subcontractor_invoice_get_for_user(
        user=request.user, invoice_id=iid, project_id=project_id, action=Action.EDIT_COMMITMENTS
    )
    if request.method == "POST":
        try:
            records.subcontractor_invoice_delete(user=request.user, invoice_id=invoice.pk)
        except ChangeRefused as refused:
            invoice.refresh_from_db()
            return _render_locked(request, invoice, access, refused.message)
        messages.success(request, f"Subcontractor invoice {invoice.number} deleted.")
        return redirect("commitment_detail", project_id=invoice.project_id, pk=invoice.commitment_id)
    return render(
        request,
        "invoices/confirm_delete.html",
        {
            "company": invoice.company,
            "project": invoice.project,
            "commitment": invoice.commitment,
            "invoice": invoice,
            "refusal": records.record_lock_reason(invoice),
        },
    )


@project_tool_view
@require_POST
def invoice_send(request: HttpRequest, project_id: int, iid: int) -> HttpResponse:
    from erp_integrations.services import exports

    invoice, _ = records.subcontractor_invoice_get_for_user(
        user=request.user, invoice_id=iid, project_id=project_id
    )
    result = exports.record_send_to_accounting(kind=kinds.INVOICE, user=request.user, record_id=invoice.pk)
    (messages.success if result.ok else messages.error)(request, result.message)
    return redirect(_detail_url(invoice))
