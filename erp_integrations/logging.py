"""Log lines that say which request and which user they belong to."""

from __future__ import annotations

import logging


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` and ``user`` to every record ("-" outside a request).

    The user is named only if the request has already loaded it: logging never costs
    a query (nor fails when the database is what failed).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        from erp_integrations.middleware import current_request

        # Django's own request log lines carry their request (written after the
        # middleware finished); the others are told by the middleware.
        request = getattr(record, "request", None) or current_request.get()
        record.request_id = getattr(request, "request_id", "-") if request is not None else "-"
        user = getattr(request, "_cached_user", None) if request is not None else None
        record.user = user.get_username() if user is not None and user.is_authenticated else "-"
        return True
