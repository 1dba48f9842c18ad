"""Middleware of the whole site: who is acting, for the records that name them."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
