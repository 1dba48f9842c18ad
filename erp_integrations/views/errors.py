"""The one place where the domain's refusals become HTTP answers.

Services and the permission module raise domain errors (``NotFound``,
``AccessDenied``, ``SignInRequired``, ``ChangeRefused``) and return outcomes
(``ActionResult.outcome``); nothing below the views knows of HTTP. Here:

- ``NotFound`` → 404 (outsiders learn nothing, not even that the thing exists);
- ``AccessDenied`` → 403 with the reason, which names what is missing;
- ``SignInRequired`` → the sign-in page (a whole-page redirect for HTMX);
- ``ChangeRefused`` → 409 with why;
- an action's outcome → 200 / 403 / 409 / 422 / 502 / 503 (``status_of``).
"""

from __future__ import annotations

from http import HTTPStatus

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from accounts.permissions import AccessDenied, NotFound, SignInRequired
from erp_integrations.models import AuditEntry
from erp_integrations.services.audit import audit_access_denied
from erp_integrations.services.records import ChangeRefused
from erp_integrations.services.results import ActionResult, Outcome

STATUS: dict[Outcome, int] = {
    Outcome.DONE: HTTPStatus.OK,
    Outcome.FORBIDDEN: HTTPStatus.FORBIDDEN,
    Outcome.CONFLICT: HTTPStatus.CONFLICT,
    Outcome.INVALID: HTTPStatus.UNPROCESSABLE_ENTITY,
    Outcome.ERP_FAILED: HTTPStatus.BAD_GATEWAY,
    Outcome.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
}


def status_of(result: ActionResult) -> int:
    """The HTTP status an action's outcome is answered with."""
    return STATUS[result.outcome]


def login_redirect(request: HttpRequest) -> HttpResponse:
    """Send a signed-out user to the sign-in page, then back to where they were.

    An HTMX request would otherwise swap the sign-in page into a table row, so it is
    told to load the sign-in page as a whole page instead.
    """
    if getattr(request, "htmx", False):
        current = request.htmx.current_url_abs_path or "/"
        return HttpResponseClientRedirect(redirect_to_login(current).url)
    return redirect_to_login(request.get_full_path())


def flash_response(request: HttpRequest, message: str, *, ok: bool, status: int) -> HttpResponse:
    """A message for the page's message area, whatever element made the request."""
    response = render(request, "base.html#flash_message", {"message": message, "ok": ok}, status=status)
    return reswap(retarget(response, "#flash"), "innerHTML")


def denied_response(request: HttpRequest, denied: AccessDenied) -> HttpResponse:
    """403 with the reason: which requirement is missing."""
    from erp_integrations.views.common import switcher_context

    reason = denied.decision.reason
    if getattr(request, "htmx", False):
        return flash_response(request, reason, ok=False, status=HTTPStatus.FORBIDDEN)
    match = getattr(request, "resolver_match", None)
    company_id = match.kwargs.get("company_id") if match else None
    # The company's tool offers the user's other companies; the project's Commitments
    # tool and the staff pages, their projects.
    template = "erp/denied.html" if company_id is not None else "commitments/forbidden.html"
    context = {"reason": reason, "company_id": company_id, **switcher_context(request)}
    return render(request, template, context, status=HTTPStatus.FORBIDDEN)


def _attempted(request: HttpRequest) -> str | None:
    """What a refused POST tried, in the audit trail's words, when its URL says (an
    ``action`` of the tool: a crafted Unlink is an Unlink whatever refused it)."""
    match = getattr(request, "resolver_match", None)
    action = match.kwargs.get("action") if match else None
    return action if action in AuditEntry.Action.values else None


class DomainErrorMiddleware:
    """Answers the domain errors a view lets through (see the module's docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotFound):
            # Django's own 404 page and handler, with the same words.
            raise Http404(str(exception)) from exception
        if isinstance(exception, SignInRequired):
            return login_redirect(request)
        if isinstance(exception, AccessDenied):
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                # An attempt to change something, refused: kept in the company's audit
                # trail (once; a service that refused it has kept it already).
                audit_access_denied(user=request.user, denied=exception, action=_attempted(request))
            return denied_response(request, exception)
        if isinstance(exception, ChangeRefused):
            if getattr(request, "htmx", False):
                return flash_response(request, exception.message, ok=False, status=HTTPStatus.CONFLICT)
            return render(
                request,
                "commitments/forbidden.html",
                {"reason": exception.message},
                status=HTTPStatus.CONFLICT,
            )
        return None
