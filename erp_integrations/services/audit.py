"""The audit trail: every send, export, reject, retrieve and unlink attempt, with its
outcome; every attempt refused for want of a permission; every grant and revoke of
'Can Push to Accounting'; every change of a company's Direct Export setting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from accounts.models import Company
from accounts.permissions import AccessDenied, Action
from erp_integrations.kinds import kind_of
from erp_integrations.models import AuditEntry, ErpSystem, LinkedRecord, company_erp_connection

#: What a refused permission's action is called in the audit trail.
REFUSED_ACTIONS: dict[Action, str] = {
    Action.UNLINK: AuditEntry.Action.UNLINK,
    Action.EXPORT: AuditEntry.Action.EXPORT,
    Action.REJECT: AuditEntry.Action.REJECT,
    Action.SEND_TO_ACCOUNTING: AuditEntry.Action.SEND,
    Action.EDIT_COMMITMENTS: AuditEntry.Action.EDIT,
    Action.VIEW_COMMITMENTS: AuditEntry.Action.VIEW,
    Action.VIEW_TOOL: AuditEntry.Action.VIEW,
    Action.SYNC_NOW: AuditEntry.Action.SYNC,
    Action.CHANGE_SETTINGS: AuditEntry.Action.SETTINGS,
    Action.VIEW_REPORT: AuditEntry.Action.VIEW,
}


def audit_record(
    *,
    user,
    action: str,
    record: LinkedRecord,
    erp_system: str | ErpSystem,
    outcome: str,
    message: str = "",
    erp_id: str | None = None,
) -> AuditEntry:
    """Keep one attempt in the audit trail: who, when, which record, which ERP id, outcome."""
    return AuditEntry.objects.create(
        company_id=record.company_id,
        project_id=record.project_id,
        user=user,
        action=action,
        record_type=kind_of(record).slug,
        record_id=record.pk,
        record_number=record.number,
        erp_system=erp_system,
        erp_id=erp_id if erp_id is not None else (record.erp_id or ""),
        outcome=outcome,
        message=message,
    )


def _erp_system(company: Company) -> str:
    connection = company_erp_connection(company)
    return connection.erp_system if connection else ""


def audit_company(*, user, company: Company, action: str, outcome: str, message: str = "") -> AuditEntry:
    """An attempt about the company as a whole: Sync now, a setting, the tool itself."""
    return AuditEntry.objects.create(
        company=company,
        user=user,
        action=action,
        record_type=AuditEntry.RecordType.COMPANY,
        record_id=company.pk,
        record_number=company.name[:50],
        erp_system=_erp_system(company),
        outcome=outcome,
        message=message,
    )


def audit_master_record(
    *,
    kind,
    user,
    action: str,
    record_id: int,
    name: str,
    company: Company,
    erp_id: str,
    outcome: str,
    message: str = "",
) -> AuditEntry:
    """An attempt on a job, vendor or cost code (a ``MasterKind``), or on the ERP's entry
    for one: the record is named by its name, as master data has no number."""
    return AuditEntry.objects.create(
        company=company,
        user=user,
        action=action,
        record_type=kind.audit_type,
        record_id=record_id,
        record_number=name[:50],
        erp_system=_erp_system(company),
        erp_id=erp_id or "",
        outcome=outcome,
        message=message,
    )


def audit_access_denied(*, user, denied: AccessDenied, action: str | None = None) -> AuditEntry | None:
    """Keep an attempt refused for want of a permission, once.

    ``action``: what was attempted, in the audit trail's words, when the caller knows
    better than the refused permission (a crafted Unlink refused because the user may
    not even open the tool is still an Unlink). Refusals about no company (the staff
    pages) have no company's audit trail to go to and are not kept here.
    """
    if denied.audited:
        return None
    record = denied.record
    company = record.company if record is not None else denied.company
    if company is None or not getattr(user, "is_authenticated", False):
        return None
    action = action or REFUSED_ACTIONS.get(denied.decision.action, AuditEntry.Action.VIEW)
    denied.audited = True
    if record is not None:
        return audit_record(
            user=user,
            action=action,
            record=record,
            erp_system=_erp_system(company),
            outcome=AuditEntry.Outcome.REFUSED,
            message=denied.decision.reason,
        )
    project = denied.project
    return AuditEntry.objects.create(
        company=company,
        project=project,
        user=user,
        action=action,
        record_type=AuditEntry.RecordType.COMPANY,
        record_id=project.pk if project is not None else company.pk,
        record_number=(project.number if project is not None else company.name)[:50],
        erp_system=_erp_system(company),
        outcome=AuditEntry.Outcome.REFUSED,
        message=denied.decision.reason,
    )


@contextmanager
def refusals_audited(*, user, action: str) -> Iterator[None]:
    """Keep an ``AccessDenied`` raised inside in the audit trail, then let it go on.

    Put it outside any transaction the refusal rolls back, or the entry goes with it.
    """
    try:
        yield
    except AccessDenied as denied:
        audit_access_denied(user=user, denied=denied, action=action)
        raise


def audit_privilege_change(*, company: Company, user, changed_by, granted: bool, outcome: str, message: str):
    """A grant or revoke of 'Can Push to Accounting' (or a refused attempt at one)."""
    return AuditEntry.objects.create(
        company=company,
        user=changed_by,
        action=AuditEntry.Action.GRANT if granted else AuditEntry.Action.REVOKE,
        record_type=AuditEntry.RecordType.USER,
        record_id=user.pk,
        record_number=user.username[:50],
        erp_system=_erp_system(company),
        outcome=outcome,
        message=message,
    )
