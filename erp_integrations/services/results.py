"""What an action did, in the domain's words; the views map outcomes to HTTP statuses."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    #: Done (green).
    DONE = "done"
    #: Refused by the state of things: the ERP record is still there, another user
    #: already unlinked it, linked children remain, an export is in flight.
    CONFLICT = "conflict"
    #: The input or the ERP's own limits refuse the record.
    INVALID = "invalid"
    #: The ERP could not be reached or failed.
    ERP_FAILED = "erp_failed"
    #: A service of ours (the task queue) is not reachable right now.
    UNAVAILABLE = "unavailable"
    #: The user lacks a requirement (set by the views from an ``AccessDenied``).
    FORBIDDEN = "forbidden"


@dataclass(frozen=True)
class ActionResult:
    """What an action did and the message to show.

    ``blocking``: the records that stand in the way (linked children of a commitment
    being unlinked), with their kinds, so a page can name and link each. ``was``: the
    record's export state when the action read it, before it acted (the list a page
    showed it in), where the service says.
    """

    ok: bool
    message: str
    outcome: Outcome = Outcome.DONE
    record: Any = None
    blocking: tuple[tuple[Any, Any], ...] = ()
    was: str | None = None

    @classmethod
    def success(cls, message: str, record=None) -> ActionResult:
        return cls(True, message, Outcome.DONE, record)

    @classmethod
    def conflict(cls, message: str, record=None, *, blocking=()) -> ActionResult:
        return cls(False, message, Outcome.CONFLICT, record, tuple(blocking))

    @classmethod
    def invalid(cls, message: str, record=None) -> ActionResult:
        return cls(False, message, Outcome.INVALID, record)

    @classmethod
    def erp_failed(cls, message: str, record=None) -> ActionResult:
        return cls(False, message, Outcome.ERP_FAILED, record)

    @classmethod
    def unavailable(cls, message: str, record=None) -> ActionResult:
        return cls(False, message, Outcome.UNAVAILABLE, record)
