"""Direct Export: a company setting per record kind. When it is on, Send to Accounting
exports the record at once, with no approver in between (``exports.record_send_to_accounting``),
and the audit trail says so. Changing it needs 'Admin' on ERP Integrations, and every
change is kept in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from accounts.models import Company
from accounts.permissions import Action, CompanyAccess
from erp_integrations.kinds import KINDS, RecordKind
from erp_integrations.models import AuditEntry, DirectExportSetting
from erp_integrations.services.audit import audit_company, refusals_audited


@dataclass(frozen=True)
class KindSetting:
    kind: RecordKind
    enabled: bool
    setting: DirectExportSetting | None


def direct_export_settings(*, company: Company) -> list[KindSetting]:
    """Each kind's Direct Export in the company, in tab order. Queries: one."""
    stored = {
        setting.kind: setting
        for setting in DirectExportSetting.objects.filter(company=company).select_related("changed_by")
    }
    return [
        KindSetting(kind, bool(stored.get(kind.slug) and stored[kind.slug].enabled), stored.get(kind.slug))
        for kind in KINDS
    ]


def direct_export_set(
    *, company: Company, user, enabled: set[str], access: CompanyAccess | None = None
) -> int:
    """Turn Direct Export on for the kinds in ``enabled`` (slugs) and off for the rest.

    Returns how many kinds changed; each change is an audit entry. Raises AccessDenied
    (kept in the audit trail) without 'Admin' on ERP Integrations.
    """
    access = CompanyAccess.reuse_or_load(access, user, company)
    with refusals_audited(user=user, action=AuditEntry.Action.SETTINGS):
        access.require(Action.CHANGE_SETTINGS)
    changed = 0
    with transaction.atomic():
        for kind in KINDS:
            want = kind.slug in enabled
            setting, _ = DirectExportSetting.objects.select_for_update().get_or_create(
                company=company, kind=kind.slug
            )
            if setting.enabled == want:
                continue
            setting.enabled, setting.changed_by = want, user
            setting.save(update_fields=["enabled", "changed_by", "changed_at"])
            audit_company(
                user=user,
                company=company,
                action=AuditEntry.Action.SETTINGS,
                outcome=AuditEntry.Outcome.SUCCESS,
                message=f"Direct Export of {kind.nouns} turned {'on' if want else 'off'}: "
                + (
                    "a sent record is exported at once, with no approver."
                    if want
                    else "sent records wait for an approver again."
                ),
            )
            changed += 1
    return changed
