"""Middleware of the whole site: who is acting, and input no view should have to meet."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict

from accounts.models import acting_user


class RequestContextMiddleware:
    """Makes the request's signed-in user known to code that records who did something.

    The user is looked up only when asked (a staff status change), not on every request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        def acting_user_id() -> int | None:
            user = getattr(request, "user", None)
            return user.pk if user is not None and user.is_authenticated else None

        token = acting_user.set(acting_user_id)
        try:
            return self.get_response(request)
        finally:
            acting_user.reset(token)


#: Bodies Django parses into request.POST.
FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _without_nul(data: QueryDict) -> QueryDict | None:
    """``data`` with NUL characters removed from names and values, or None if it had none."""
    if not any("\x00" in name or any("\x00" in value for value in values) for name, values in data.lists()):
        return None
    clean = QueryDict(mutable=True, encoding=data.encoding)
    for name, values in data.lists():
        clean.setlist(name.replace("\x00", ""), [value.replace("\x00", "") for value in values])
    clean._mutable = False
    return clean


def _malformed_url(value: str) -> bool:
    if any(ord(char) < 0x20 or char == "\x7f" for char in unquote(value)):
        return True
    try:
        split = urlsplit(value)
        split.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return True
    return False


class CleanInputMiddleware:
    """Input no page of the product can mean is dealt with once, here, before any view.

    - A NUL character cannot be stored in PostgreSQL text and is never meaningful in
      a search, a reason or a cursor: it is removed from query and form parameters
      (their names and values), so "SC\\x00-1" is searched as "SC-1".
    - No URL of the product has a NUL in its path: 404.
    - HX-Current-URL is the browser's address bar; one that is not a URL (or carries
      control characters) did not come from htmx: 400.

    Other odd input (cursors, filters, ids) is judged where it is parsed and falls
    back to the first page or a 404 (see erp_integrations.selectors).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path_info:
            raise Http404("No such page.")
        current_url = request.headers.get("HX-Current-URL")
        if current_url is not None and _malformed_url(current_url):
            return HttpResponseBadRequest(
                "The HX-Current-URL header is not a URL.", content_type="text/plain; charset=utf-8"
            )
        clean = _without_nul(request.GET)
        if clean is not None:
            request.GET = clean
        if request.method == "POST" and request.content_type in FORM_CONTENT_TYPES:
            clean = _without_nul(request.POST)
            if clean is not None:
                request.POST = clean
        return self.get_response(request)
