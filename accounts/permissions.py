"""The one place that answers "may this user do this?" and, when not, says why.

Views and services ask only here. A refusal names every requirement that is missing,
in the words of the help articles, so a user who lacks one sees which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from django.core.exceptions import PermissionDenied

from accounts.models import (
    Company,
    DirectoryMembership,
    PermissionLevel,
    Project,
    ProjectPermission,
)

PRIVILEGE_MISSING = (
    "the 'Can Push to Accounting' privilege in the Company Directory "
    "(this must be enabled for you by platform staff)"
)
ERP_STANDARD_MISSING = "'Standard' or 'Admin' on the ERP Integrations tool"
ERP_ADMIN_MISSING = "'Admin' on the ERP Integrations tool"
ERP_READ_MISSING = "'Read Only' or higher on the ERP Integrations tool"


class Action(StrEnum):
    VIEW_TOOL = "view the ERP Integrations tool"
    UNLINK = "Unlink"
    EXPORT = "Export"
    REJECT = "Reject"
    SYNC_NOW = "Sync now"
    VIEW_COMMITMENTS = "view commitments"
    EDIT_COMMITMENTS = "create, edit or delete commitments"
    SEND_TO_ACCOUNTING = "Send to Accounting"


#: Actions that need all three requirements of the help articles.
ACCOUNTING_ACTIONS = frozenset({Action.UNLINK, Action.EXPORT, Action.REJECT})
#: Actions judged per project (on its Commitments tool).
PROJECT_ACTIONS = ACCOUNTING_ACTIONS | {
    Action.VIEW_COMMITMENTS,
    Action.EDIT_COMMITMENTS,
    Action.SEND_TO_ACCOUNTING,
}


class AccessDenied(PermissionDenied):
    """PermissionDenied that carries the decision, so the reason can be shown."""

    def __init__(self, decision: Decision):
        super().__init__(decision.reason)
        self.decision = decision


@dataclass(frozen=True)
class Decision:
    action: Action
    allowed: bool
    missing: tuple[str, ...] = ()
    #: False when the user is not in the company directory at all (an outsider).
    is_member: bool = True

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def reason(self) -> str:
        if self.allowed:
            return ""
        if not self.is_member:
            return "You are not in this company's directory."
        return f"{self.action.value} needs " + ", and ".join(self.missing) + "."


def _commitments_missing(project: Project, *levels: PermissionLevel) -> str:
    names = " or ".join(f"'{level.label}'" for level in levels)
    return f"{names} on the Commitments tool of project '{project.name}'"


@dataclass
class CompanyAccess:
    """What one user may do in one company; loaded once per request (two queries)."""

    user: object
    company: Company
    membership: DirectoryMembership | None
    project_levels: dict[int, int] = field(default_factory=dict)

    @classmethod
    def load(cls, user, company: Company) -> CompanyAccess:
        if not getattr(user, "is_authenticated", False):
            return cls(user=user, company=company, membership=None)
        # Queries: 1) the directory entry, 2) the user's levels on the company's projects.
        membership = DirectoryMembership.objects.filter(user=user, company=company).first()
        levels = dict(
            ProjectPermission.objects.filter(user=user, project__company=company).values_list(
                "project_id", "commitments_level"
            )
        )
        return cls(user=user, company=company, membership=membership, project_levels=levels)

    @classmethod
    def reuse_or_load(cls, access: CompanyAccess | None, user, company: Company) -> CompanyAccess:
        """``access`` if a caller loaded it for this user and company already, else load it.

        Views load the access once per request; a service they call reuses it instead of
        asking the database again, and loads its own when handed another user's or
        another company's.
        """
        if (
            access is not None
            and getattr(access.user, "pk", None) == getattr(user, "pk", None)
            and access.company.pk == company.pk
        ):
            return access
        return cls.load(user, company)

    # The product's permissions come from the directory and the tool levels only;
    # is_superuser opens the Django admin, nothing here.
    @property
    def is_member(self) -> bool:
        return self.membership is not None and self.user.is_active

    def erp_level(self) -> int:
        return self.membership.erp_integrations_level if self.membership else PermissionLevel.NONE

    def commitments_level(self, project: Project) -> int:
        return self.project_levels.get(project.pk, PermissionLevel.NONE)

    def has_privilege(self) -> bool:
        return bool(self.membership and self.membership.can_push_to_accounting)

    def check(self, action: Action, project: Project | None = None) -> Decision:
        if not self.is_member:
            return Decision(action, False, ("a place in the Company Directory",), is_member=False)
        if project is not None and project.company_id != self.company.pk:
            return Decision(action, False, ("a place in that project's company",), is_member=False)
        if action in PROJECT_ACTIONS and project is None:
            raise ValueError(f"{action!r} is judged per project; pass the project.")

        missing: list[str] = []
        if action in ACCOUNTING_ACTIONS:
            if self.commitments_level(project) < PermissionLevel.ADMIN:
                missing.append(_commitments_missing(project, PermissionLevel.ADMIN))
            if self.erp_level() < PermissionLevel.STANDARD:
                missing.append(ERP_STANDARD_MISSING)
            if not self.has_privilege():
                missing.append(PRIVILEGE_MISSING)
        elif action == Action.VIEW_TOOL:
            if self.erp_level() < PermissionLevel.READ_ONLY:
                missing.append(ERP_READ_MISSING)
        elif action == Action.SYNC_NOW:
            if self.erp_level() < PermissionLevel.ADMIN:
                missing.append(ERP_ADMIN_MISSING)
        elif action == Action.VIEW_COMMITMENTS:
            if self.commitments_level(project) < PermissionLevel.READ_ONLY:
                missing.append(
                    _commitments_missing(
                        project,
                        PermissionLevel.READ_ONLY,
                        PermissionLevel.STANDARD,
                        PermissionLevel.ADMIN,
                    )
                )
        elif action == Action.EDIT_COMMITMENTS:
            if self.commitments_level(project) < PermissionLevel.STANDARD:
                missing.append(_commitments_missing(project, PermissionLevel.STANDARD, PermissionLevel.ADMIN))
        elif action == Action.SEND_TO_ACCOUNTING:
            if self.commitments_level(project) < PermissionLevel.ADMIN:
                missing.append(_commitments_missing(project, PermissionLevel.ADMIN))
        else:  # pragma: no cover - every Action is handled above
            raise ValueError(f"Unknown action {action!r}")
        return Decision(action, not missing, tuple(missing))

    def require(self, action: Action, project: Project | None = None) -> Decision:
        decision = self.check(action, project)
        if not decision:
            raise AccessDenied(decision)
        return decision


def check(user, action: Action, *, company: Company, project: Project | None = None) -> Decision:
    """One-off question; for many rows load a CompanyAccess once and reuse it."""
    return CompanyAccess.load(user, company).check(action, project)


def require(user, action: Action, *, company: Company, project: Project | None = None) -> Decision:
    return CompanyAccess.load(user, company).require(action, project)


# --- the sandbox ERP console ---------------------------------------------------------------
SANDBOX_CONSOLE_PERMISSION = "sandbox.use_sandbox_console"
SANDBOX_CONSOLE_MISSING = (
    "The sandbox ERP console is for platform staff with its own permission, Can use the sandbox ERP console."
)


def may_use_sandbox_console(user) -> bool:
    """Active platform staff who hold the console's own permission (superusers hold every one).

    Whether the console exists at all is the deployment's choice (SANDBOX_CONSOLE_ENABLED);
    this says who may use it where it does.
    """
    return bool(
        getattr(user, "is_active", False)
        and getattr(user, "is_staff", False)
        and user.has_perm(SANDBOX_CONSOLE_PERMISSION)
    )
