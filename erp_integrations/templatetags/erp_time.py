"""Times as the pages show them: in the user's time zone, with UTC when pointed at.

``{% local_time value "j M Y, H:i" %}`` renders
``<time datetime="2026-10-01T14:05:00+00:00" title="1 Oct 2026, 14:05 UTC">1 Oct 2026, 10:05 EDT</time>``:
the zone activated for the request (erp_integrations.middleware.UserTimeZoneMiddleware)
in the text, the moment itself in UTC in ``datetime`` and ``title``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django import template
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.timezone import localtime

register = template.Library()


@dataclass(frozen=True)
class ShownTime:
    """One moment as a page shows it: ISO (UTC), local text with its zone, UTC text."""

    iso: str
    local: str
    zone: str
    utc: str


def shown_time(value: datetime, fmt: str = "j M Y, H:i") -> ShownTime:
    """``value`` formatted in the current time zone, and in UTC for the hover."""
    here = localtime(value)
    in_utc = value.astimezone(UTC)
    return ShownTime(
        iso=in_utc.isoformat(),
        local=date_format(here, fmt),
        # The zone's abbreviation ("EDT", "CET"), or its offset where it has none ("+0530").
        zone=here.tzname() or date_format(here, "O"),
        utc=f"{date_format(in_utc, fmt)} UTC",
    )


@register.simple_tag
def local_time(value: datetime | None, fmt: str = "j M Y, H:i") -> str:
    if value is None:
        return ""
    shown = shown_time(value, fmt)
    # A narrow column breaks the text after its comma only: "1 Oct 2026," / "10:05 EDT".
    text = ", ".join(part.replace(" ", "\xa0") for part in f"{shown.local} {shown.zone}".split(", "))
    return format_html('<time datetime="{}" title="{}">{}</time>', shown.iso, shown.utc, text)
