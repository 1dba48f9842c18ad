from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from erp_integrations.models import Commitment, SubcontractorInvoice


@dataclass(frozen=True)
class ActionResult:
    """What an action did, the message to show and the HTTP status a view answers with.

    200: done (green). 409: refused by the state of things (the ERP record is still
    there, another user already unlinked it, linked invoices remain). 422: the ERP's own
    limits refuse the record. 502: the ERP could not be reached or failed.
    """

    ok: bool
    message: str
    status: int = HTTPStatus.OK
    record: Commitment | SubcontractorInvoice | None = None

    @classmethod
    def success(cls, message: str, record=None) -> ActionResult:
        return cls(True, message, HTTPStatus.OK, record)

    @classmethod
    def conflict(cls, message: str, record=None) -> ActionResult:
        return cls(False, message, HTTPStatus.CONFLICT, record)

    @classmethod
    def invalid(cls, message: str, record=None) -> ActionResult:
        return cls(False, message, HTTPStatus.UNPROCESSABLE_ENTITY, record)

    @classmethod
    def erp_failed(cls, message: str, record=None) -> ActionResult:
        return cls(False, message, HTTPStatus.BAD_GATEWAY, record)
