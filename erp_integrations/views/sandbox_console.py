"""The sandbox ERP console, for platform staff: what a user would do in Sage itself.

List a sandbox ERP's records, delete or restore them, and flip its fault switch
(normal, offline, slow). It speaks the ERP's words: "Requisition", "Delete in Sage 300 CRE®".
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import SANDBOX_CONSOLE_MISSING, NotFound, may_use_sandbox_console, staff_view
from erp_integrations.forms import SandboxModeForm
from erp_integrations.models import ErpSystem
from erp_integrations.sandbox import services as sandbox
from erp_integrations.sandbox.models import SandboxRecord
from erp_integrations.sandbox.services import SandboxError

PAGE_SIZE = 50


def _console_switched_on(view):
    """The console exists only where switched on (DEBUG, or SANDBOX_CONSOLE_ENABLED): a 404
    to everyone elsewhere, before anything else is asked."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not settings.SANDBOX_CONSOLE_ENABLED:
            raise NotFound("No such page.")
        return view(request, *args, **kwargs)

    return wrapper


def staff_only(view):
    """Switched on, then signed in, then the console's own permission (403 with the reason)."""
    return _console_switched_on(staff_view(may_use_sandbox_console, SANDBOX_CONSOLE_MISSING)(view))


def _erp(erp_system: str) -> ErpSystem:
    if erp_system not in sandbox.STORES:
        raise NotFound("No such sandbox ERP.")
    return ErpSystem(erp_system)


def _records_url(erp_system: str, q: str = "") -> str:
    url = reverse("sandbox_records", args=[erp_system])
    return f"{url}?{urlencode({'q': q})}" if q else url


def _describe(switch) -> str:
    if switch.mode == switch.Mode.OFFLINE:
        return "offline: every call fails as unreachable"
    if switch.mode == switch.Mode.SLOW:
        return f"slow: it answers after {switch.latency_ms} ms"
    return "working normally"


@staff_only
@require_GET
def sandbox_index(request: HttpRequest) -> HttpResponse:
    erps = [{"erp": ErpSystem(code), "switch": sandbox.sandbox_switch(code)} for code in sandbox.STORES]
    return render(request, "sandbox/index.html", {"erps": erps})


@staff_only
@require_GET
def sandbox_records(request: HttpRequest, erp_system: str) -> HttpResponse:
    erp = _erp(erp_system)
    q = request.GET.get("q", "").strip()[:80]
    before = request.GET.get("before", "")
    records = sandbox.sandbox_records(erp_system).order_by("-id")
    if q:
        # The ERP id (as typed, any case), or the number the platform sent.
        records = records.filter(Q(erp_id__iexact=q) | Q(erp_id__istartswith=q) | Q(data__number__iexact=q))
    if before.isascii() and before.isdigit() and len(before) < 19:
        records = records.filter(id__lt=int(before))
    rows = list(records[: PAGE_SIZE + 1])
    next_query = ""
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        next_query = "?" + urlencode({k: v for k, v in {"q": q, "before": rows[-1].pk}.items() if v})
    switch = sandbox.sandbox_switch(erp_system)
    return render(
        request,
        "sandbox/records.html",
        {
            "erp": erp,
            "records": rows,
            "q": q,
            "before": before,
            "next_query": next_query,
            "switch": switch,
            "mode_form": SandboxModeForm(initial={"mode": switch.mode, "latency_ms": switch.latency_ms}),
        },
    )


def _record_action(request: HttpRequest, erp_system: str, erp_id: str, *, restore: bool) -> HttpResponse:
    erp = _erp(erp_system)
    kind = request.POST.get("kind", "")
    q = request.POST.get("q", "")[:80]
    if kind not in SandboxRecord.Kind.values:
        messages.error(request, f"Unknown record kind {kind!r}.")
        return redirect(_records_url(erp_system, q))
    label = SandboxRecord.Kind(kind).label
    try:
        if restore:
            sandbox.sandbox_restore(erp_system=erp_system, kind=kind, erp_id=erp_id)
        else:
            sandbox.sandbox_delete(erp_system=erp_system, kind=kind, erp_id=erp_id)
    except SandboxError as error:
        messages.error(request, str(error))
    else:
        if restore:
            messages.success(request, f"{label} {erp_id} restored in {erp.label}.")
        else:
            messages.success(
                request,
                f"{label} {erp_id} deleted in {erp.label}. The platform sees it gone after the next sync.",
            )
    return redirect(_records_url(erp_system, q))


@staff_only
@require_POST
def sandbox_delete(request: HttpRequest, erp_system: str, erp_id: str) -> HttpResponse:
    return _record_action(request, erp_system, erp_id, restore=False)


@staff_only
@require_POST
def sandbox_restore(request: HttpRequest, erp_system: str, erp_id: str) -> HttpResponse:
    return _record_action(request, erp_system, erp_id, restore=True)


@staff_only
@require_POST
def sandbox_mode(request: HttpRequest, erp_system: str) -> HttpResponse:
    erp = _erp(erp_system)
    form = SandboxModeForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())
        messages.error(request, f"The fault switch was not changed ({problems}).")
        return redirect(_records_url(erp_system))
    try:
        switch = sandbox.sandbox_set_mode(
            erp_system=erp_system, mode=form.cleaned_data["mode"], latency_ms=form.cleaned_data["latency_ms"]
        )
    except SandboxError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{erp.label} is now {_describe(switch)}.")
    return redirect(_records_url(erp_system))
