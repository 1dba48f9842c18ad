"""Middleware of the whole site: who is acting and which request a log line belongs to,
input no view should have to meet, the headers every response needs, a 503 when the
database has no connection to spare, and gzip at a cheaper level than Django's."""

from __future__ import annotations

import gzip
import logging
import re
import secrets
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.middleware.gzip import GZipMiddleware as DjangoGZipMiddleware
from django.middleware.gzip import re_accepts_gzip
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.cache import patch_cache_control, patch_vary_headers
from django_htmx.middleware import HtmxDetails
from psycopg_pool import PoolTimeout

from accounts.models import acting_user

logger = logging.getLogger(__name__)

#: The request being served, for log lines (see erp_integrations.logging).
current_request: ContextVar[HttpRequest | None] = ContextVar("current_request", default=None)
#: A request id a proxy may hand us in X-Request-ID; anything else gets a fresh one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: Seconds a client is told to wait when the database has no connection to spare.
RETRY_AFTER_SECONDS = 5


class RequestContextMiddleware:
    """Gives each request an id (X-Request-ID, echoed in the response and in every log
    line) and makes its signed-in user known to code that records who did something.

    The user is looked up only when asked (a staff status change), not on every request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

        def acting_user_id() -> int | None:
            user = getattr(request, "user", None)
            return user.pk if user is not None and user.is_authenticated else None

        user_token = acting_user.set(acting_user_id)
        request_token = current_request.set(request)
        try:
            response = self.get_response(request)
        finally:
            acting_user.reset(user_token)
            current_request.reset(request_token)
        response["X-Request-ID"] = request.request_id
        return response


class _HtmxDetailsNoticed(HtmxDetails):
    """htmx's request details, noting whether the view asked if this was an htmx request."""

    def __bool__(self) -> bool:
        self.request._asked_htmx = True
        return super().__bool__()


#: Set (by ``revalidated``) on a response whose view carries an ETag and answers 304.
REVALIDATE = "_erp_revalidate"


def revalidated(response: HttpResponse) -> HttpResponse:
    """Mark ``response`` as one the browser may keep if it revalidates it every time."""
    setattr(response, REVALIDATE, True)
    return response


class ResponseHeadersMiddleware:
    """Caching headers that depend on the request:

    - ``Cache-Control: private, no-store`` on every response to a signed-in user: no
      proxy or browser cache keeps a page with someone's records. A response marked
      ``revalidated`` (the sync panel's poll, which has an ETag) gets ``private,
      no-cache`` instead: the browser keeps it and asks each time whether it changed.
    - ``Vary: HX-Request`` on every response whose view asked whether the request came
      from htmx: a row and the whole page never share a cache entry.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.htmx = _HtmxDetailsNoticed(request)
        response = self.get_response(request)
        if getattr(request, "_asked_htmx", False):
            patch_vary_headers(response, ["HX-Request"])
        # The user as the view loaded it: a response that never looked is not the
        # user's, and asking here would cost a query (or fail, with the database down).
        user = getattr(request, "_cached_user", None)
        if user is not None and user.is_authenticated:
            if getattr(response, REVALIDATE, False):
                # The view answers conditional GETs: the browser may keep this response
                # but must ask again before every use (and gets a 304 while it holds).
                patch_cache_control(response, private=True, no_cache=True)
            else:
                patch_cache_control(response, private=True, no_store=True)
        return response


def pool_exhausted(error: BaseException | None) -> bool:
    """Whether ``error`` (or what caused it) is the connection pool giving up waiting."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, PoolTimeout):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def service_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: the database is busy, not broken; try again shortly."""
    # Rendered without the request: its context processors could reach for the session.
    response = HttpResponse(render_to_string("503.html", {"retry_after": RETRY_AFTER_SECONDS}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseBusyMiddleware:
    """A request that found every pooled database connection taken gets 503 and
    Retry-After rather than a 500 (see also views.common.server_error for the same
    from middleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not pool_exhausted(exception):
            return None
        logger.warning("No database connection free for %s %s: answered 503.", request.method, request.path)
        return service_unavailable(request)


class UserTimeZoneMiddleware:
    """Shows the signed-in user's times in their own time zone (``User.time_zone``).

    The pages format every time in the zone activated here (the ``local_time`` tag puts
    the UTC time in its ``title``); anyone else, and the command line, sees UTC. Only a
    request with a session cookie asks who its user is: on a signed-in page that user is
    loaded for the view anyway (no extra query), and /healthz or a first visit asks
    nothing.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = None
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                zone = _zone(getattr(user, "time_zone", ""))
        if zone is None:
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def _zone(name: str) -> ZoneInfo | None:
    """The named zone, or None (UTC) for a name this machine does not know."""
    try:
        return ZoneInfo(name) if name and name != "UTC" else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


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


class GZipMiddleware(DjangoGZipMiddleware):
    """Django's GZipMiddleware at zlib level 3 rather than its fixed 6.

    A tab page (160 KB of HTML) compresses in 1.4 ms rather than 3 on a 2 GHz core, to
    18.8 KB rather than 16.3 KB: level 6 cost a tenth of the page's time for 2.5 KB that
    no one waits for. The BREACH mitigation is Django's, kept as it is: a random-length
    file name in each gzip header, so the same page is a different size every time.
    Streaming responses are Django's, unchanged.
    """

    compresslevel = 3

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if response.streaming or len(response.content) < 200 or response.has_header("Content-Encoding"):
            return super().process_response(request, response)
        patch_vary_headers(response, ("Accept-Encoding",))
        if not re_accepts_gzip.search(request.META.get("HTTP_ACCEPT_ENCODING", "")):
            return response
        packed = gzip.compress(response.content, compresslevel=self.compresslevel, mtime=0)
        # As django.utils.text.compress_string pads it: FNAME set, then the name.
        header = bytearray(packed[:10])
        header[3] = gzip.FNAME
        packed = bytes(header) + b"a" * secrets.randbelow(self.max_random_bytes) + b"\0" + packed[10:]
        if len(packed) >= len(response.content):
            return response
        response.content = packed
        response.headers["Content-Length"] = str(len(packed))
        etag = response.get("ETag")
        if etag and etag.startswith('"'):
            response.headers["ETag"] = "W/" + etag
        response.headers["Content-Encoding"] = "gzip"
        return response
