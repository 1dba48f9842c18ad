"""Writes to accounts that carry a rule. The privilege is granted and revoked only here."""

from __future__ import annotations

from django.db import transaction

from accounts.models import DirectoryMembership, PrivilegeChange, User, validate_time_zone
from accounts.permissions import AccessDenied, Action, Decision, may_change_privilege
from erp_integrations.models import AuditEntry
from erp_integrations.services.audit import audit_privilege_change

#: Why anyone else is refused.
ONLY_STAFF = "Only platform staff can grant or revoke the 'Can Push to Accounting' privilege."


def membership_set_privilege(
    *, membership: DirectoryMembership, granted: bool, changed_by: User
) -> PrivilegeChange | None:
    """Grant or revoke 'Can Push to Accounting' on one directory entry and record it.

    Returns the PrivilegeChange that was recorded, or None when the entry already had
    that value (nothing changed, so nothing is recorded). ``membership`` is updated in
    memory too. Raises AccessDenied unless ``changed_by`` is staff allowed to do it.
    """
    if not may_change_privilege(changed_by):
        denied = AccessDenied(Decision(Action.GRANT_PRIVILEGE, False, (ONLY_STAFF,), reason_text=ONLY_STAFF))
        if getattr(changed_by, "pk", None) is not None:
            # The refused attempt is kept in the company's audit trail too.
            audit_privilege_change(
                company=membership.company,
                user=membership.user,
                changed_by=changed_by,
                granted=granted,
                outcome=AuditEntry.Outcome.REFUSED,
                message=ONLY_STAFF,
            )
            denied.audited = True
        raise denied
    with transaction.atomic():
        # Lock the entry so two staff members changing it at once record two honest
        # steps (grant, then a no-op) instead of two grants.
        locked = DirectoryMembership.objects.select_for_update().get(pk=membership.pk)
        if locked.can_push_to_accounting == granted:
            _copy_privilege(locked, membership)
            return None
        change = PrivilegeChange.objects.create(
            company_id=locked.company_id,
            user_id=locked.user_id,
            action=PrivilegeChange.Action.GRANTED if granted else PrivilegeChange.Action.REVOKED,
            changed_by=changed_by,
        )
        locked.can_push_to_accounting = granted
        locked.privilege_changed_by = changed_by
        locked.privilege_changed_at = change.changed_at
        locked._privilege_change_recorded = True
        locked.save(update_fields=["can_push_to_accounting", "privilege_changed_by", "privilege_changed_at"])
        audit_privilege_change(
            company=locked.company,
            user=locked.user,
            changed_by=changed_by,
            granted=granted,
            outcome=AuditEntry.Outcome.SUCCESS,
            message=f"'Can Push to Accounting' {'granted to' if granted else 'revoked from'} "
            f"{locked.user.username} by {changed_by.username}.",
        )
    _copy_privilege(locked, membership)
    return change


def _copy_privilege(source: DirectoryMembership, target: DirectoryMembership) -> None:
    target.can_push_to_accounting = source.can_push_to_accounting
    target.privilege_changed_by_id = source.privilege_changed_by_id
    target.privilege_changed_at = source.privilege_changed_at


def user_set_time_zone(*, user: User, time_zone: str) -> User:
    """The time zone the user's pages show times in (a name the IANA database knows)."""
    validate_time_zone(time_zone)
    user.time_zone = time_zone
    user.save(update_fields=["time_zone"])
    return user


def user_set_digest_emails(*, user: User, subscribed: bool) -> User:
    """Whether the user gets the daily ERP Integrations summary ('Subscribe to ERP digest emails')."""
    user.digest_emails = subscribed
    user.save(update_fields=["digest_emails"])
    return user
