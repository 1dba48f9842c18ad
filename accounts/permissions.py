"""The one place that answers "may this user do this?" and, when not, says why.

Views and services ask only here:

- ``CompanyAccess`` decides, per user and company, each ``Action``; a refusal names
  every requirement that is missing, in the words of the help articles;
- ``load_company``, ``load_project`` and ``load_record`` fetch what a request is about
  for a user: ``NotFound`` for outsiders (who learn nothing, not even that it exists),
  ``AccessDenied`` with the ``Decision`` for members who lack a requirement;
- ``signed_in``, ``company_view`` and ``project_view`` are the views' decorators;
- ``projects_visible_to`` and ``companies_of`` filter what a user may see;
- ``may_change_privilege`` says who may grant 'Can Push to Accounting'.

These raise domain errors, never HTTP ones; ``erp_integrations.views.errors`` turns
them into 404 / 403 / a sign-in redirect in one place.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import wraps
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Model, QuerySet, StringAgg, TextField, Value
from django.db.models.functions import MD5, Cast, Concat

from accounts import rows
from accounts.models import (
    Company,
    DirectoryMembership,
    PermissionLevel,
    Project,
    ProjectPermission,
    User,
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
    RETRIEVE = "Retrieve"
    CHANGE_SETTINGS = "change the ERP Integrations settings"
    VIEW_REPORT = "see the Accountant report"
    STAFF_CONSOLE = "use the sandbox ERP console"
    GRANT_PRIVILEGE = "grant or revoke 'Can Push to Accounting'"
    MASTER_DATA = "Importing, exporting or linking jobs, vendors and cost codes"


#: Levels keys made unloaded, kept by (database, company, user, data version); see
#: ``CompanyAccess.levels_key``. Emptied when it holds KEPT_LEVELS_KEYS.
_KEPT_LEVELS_KEYS: dict[tuple, str] = {}
KEPT_LEVELS_KEYS = 10_000

#: Actions that need all three requirements of the help articles.
ACCOUNTING_ACTIONS = frozenset({Action.UNLINK, Action.EXPORT, Action.REJECT})
#: Actions judged per project (on its Commitments tool).
PROJECT_ACTIONS = ACCOUNTING_ACTIONS | {
    Action.VIEW_COMMITMENTS,
    Action.EDIT_COMMITMENTS,
    Action.SEND_TO_ACCOUNTING,
    Action.RETRIEVE,
}
#: Actions about the company's tool as a whole that need 'Admin' on it.
TOOL_ADMIN_ACTIONS = frozenset({Action.SYNC_NOW, Action.CHANGE_SETTINGS, Action.VIEW_REPORT})


if TYPE_CHECKING:
    from erp_integrations.kinds import RecordKind


class AccessDenied(PermissionDenied):
    """PermissionDenied that carries the decision, so the reason can be shown.

    It also carries what the refused attempt was about, where known (the company, the
    project, the record), so the audit trail can keep the attempt; ``audited`` says it
    has been kept already, so no refusal is recorded twice.
    """

    def __init__(self, decision: Decision, *, company: Company | None = None, project: Project | None = None):
        super().__init__(decision.reason)
        self.decision = decision
        self.company = company
        self.project = project
        self.record = None
        self.audited = False


class NotFound(Exception):  # noqa: N818 - the domain's word, as Django's Http404
    """No such thing for this user: it does not exist, or the user is not in its company."""


class SignInRequired(Exception):  # noqa: N818
    """The request needs a signed-in user."""


@dataclass(frozen=True)
class Decision:
    action: Action
    allowed: bool
    missing: tuple[str, ...] = ()
    #: False when the user is not in the company directory at all (an outsider).
    is_member: bool = True
    #: The whole reason, for refusals that are not about missing tool levels.
    reason_text: str = ""

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def reason(self) -> str:
        if self.allowed:
            return ""
        if self.reason_text:
            return self.reason_text
        if not self.is_member:
            return "You are not in this company's directory."
        return f"{self.action.value} needs " + ", and ".join(self.missing) + "."


def _commitments_missing(project: Project, *levels: PermissionLevel) -> str:
    names = " or ".join(f"'{level.label}'" for level in levels)
    return f"{names} on the Commitments tool of project '{project.name}'"


@dataclass
class CompanyAccess:
    """What one user may do in one company; loaded once per request.

    Queries: the directory entry when loaded, and the user's levels on the company's
    projects the first time a question needs them (a question about a project). A page
    that asks none (the sync panel's poll, a kept list: see ``levels_key``) does without
    them: a company-wide approver's levels are hundreds of rows.
    """

    user: object
    company: Company
    membership: DirectoryMembership | None
    #: The user's Commitments level per project id; None until first needed.
    levels: dict[int, int] | None = None
    #: ``levels_key()`` once made.
    _levels_key: str | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def load(cls, user, company: Company) -> CompanyAccess:
        if not getattr(user, "is_authenticated", False):
            return cls(user=user, company=company, membership=None, levels={})
        # Query: the directory entry (the levels come when a question needs them).
        membership = DirectoryMembership.objects.filter(user=user, company=company).first()
        return cls(user=user, company=company, membership=membership, levels=None if membership else {})

    def _levels_query(self) -> QuerySet:
        return ProjectPermission.objects.filter(user=self.user, project__company=self.company)

    @property
    def project_levels(self) -> dict[int, int]:
        """The user's Commitments level per project of the company. Query: one, the first time."""
        if self.levels is None:
            self.levels = dict(self._levels_query().values_list("project_id", "commitments_level"))
            # A key made before is made again from what was read.
            self._levels_key = None
        return self.levels

    def decisions_key(self, version: int | None = None) -> tuple:
        """Everything ``check`` reads of this access, as a key: two accesses with the same
        key answer every question the same (what a kept page may be shared by).
        ``version``: the company's data version, read before (see ``levels_key``)."""
        return (self.is_member, self.erp_level(), self.has_privilege(), self.levels_key(version))

    def levels_key(self, version: int | None = None) -> str:
        """A digest of ``project_levels``, the same whether they are loaded or not; unloaded,
        PostgreSQL makes it from the rows without sending them. Made once.

        With the company's data ``version`` (read before; it moves with every change to a
        level on one of the company's projects, migration erp_integrations/0011), a digest
        made unloaded is kept in this process under the user, the company and that
        version: any change to the user's levels since makes a new version.
        Query: none when loaded, kept, or not on PostgreSQL (then they are loaded); else one.
        """
        if self._levels_key is None:
            kept_as = None
            if version is not None and self.levels is None:
                kept_as = (connection.settings_dict["NAME"], self.company.pk, self.user.pk, version)
                self._levels_key = _KEPT_LEVELS_KEYS.get(kept_as)
            if self._levels_key is None:
                self._levels_key = self._make_levels_key()
                if kept_as is not None:
                    if len(_KEPT_LEVELS_KEYS) >= KEPT_LEVELS_KEYS:
                        _KEPT_LEVELS_KEYS.clear()
                    _KEPT_LEVELS_KEYS[kept_as] = self._levels_key
        return self._levels_key

    def _make_levels_key(self) -> str:
        if self.levels is None and connection.vendor == "postgresql":
            # The same text as below, joined and hashed by the database.
            as_text = TextField()
            entry = Concat(
                Cast("project_id", as_text),
                Value(":"),
                Cast("commitments_level", as_text),
                output_field=as_text,
            )
            joined = StringAgg(
                entry, delimiter=Value(","), order_by="project_id", default="", output_field=as_text
            )
            return self._levels_query().aggregate(key=MD5(joined))["key"]
        text = ",".join(f"{project_id}:{level}" for project_id, level in sorted(self.project_levels.items()))
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

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
        elif action == Action.MASTER_DATA:
            # Master data is the company's, not a project's: no Commitments level applies.
            if self.erp_level() < PermissionLevel.STANDARD:
                missing.append(ERP_STANDARD_MISSING)
            if not self.has_privilege():
                missing.append(PRIVILEGE_MISSING)
        elif action == Action.VIEW_TOOL:
            if not level_opens_tool(self.erp_level()):
                missing.append(ERP_READ_MISSING)
        elif action in TOOL_ADMIN_ACTIONS:
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
        elif action in (Action.SEND_TO_ACCOUNTING, Action.RETRIEVE):
            if self.commitments_level(project) < PermissionLevel.ADMIN:
                missing.append(_commitments_missing(project, PermissionLevel.ADMIN))
        else:  # pragma: no cover - every Action is handled above
            raise ValueError(f"Unknown action {action!r}")
        return Decision(action, not missing, tuple(missing))

    def require(self, action: Action, project: Project | None = None) -> Decision:
        decision = self.check(action, project)
        if not decision:
            raise AccessDenied(decision, company=self.company if self.is_member else None, project=project)
        return decision


def check(user, action: Action, *, company: Company, project: Project | None = None) -> Decision:
    """One-off question; for many rows load a CompanyAccess once and reuse it."""
    return CompanyAccess.load(user, company).check(action, project)


def require(user, action: Action, *, company: Company, project: Project | None = None) -> Decision:
    return CompanyAccess.load(user, company).require(action, project)


# --- loaders: what a request is about, for this user ------------------------------------------


def _member_access(user, company: Company, access: CompanyAccess | None, what: str) -> CompanyAccess:
    access = CompanyAccess.reuse_or_load(access, user, company)
    if not access.is_member:
        # Outsiders learn nothing, not even that it exists.
        raise NotFound(what)
    return access


def _erp_connection_model() -> type[Model]:
    # The ERP connection's model, by the relation (accounts does not import erp_integrations).
    return Company._meta.get_field("erp_connection").related_model


@functools.cache
def _entry_sql() -> str:
    """The user's directory entry in a company, with the company and its ERP connection
    (``load_company``): written once, not compiled by the ORM on every page."""
    erp_connection = _erp_connection_model()
    return (
        f"SELECT {rows.columns(DirectoryMembership, 'm')}, {rows.columns(Company, 'c')},"  # noqa: S608 - names from the models
        f" {rows.columns(erp_connection, 'e')}"
        f' FROM "{DirectoryMembership._meta.db_table}" m'
        f' JOIN "{Company._meta.db_table}" c ON c."id" = m."company_id"'
        f' LEFT JOIN "{erp_connection._meta.db_table}" e ON e."company_id" = c."id"'
        ' WHERE m."user_id" = %s AND m."company_id" = %s'
    )


def load_company(user, company_id: int, action: Action = Action.VIEW_TOOL) -> CompanyAccess:
    """The user's access to the company (loaded with its ERP connection), if ``action`` is allowed.

    Query: one, the user's directory entry with its company and the company's ERP
    connection (the user's levels on the company's projects come when a question needs
    them). No entry and no company look the same: outsiders learn nothing, not even
    that the company exists.
    """
    models = (DirectoryMembership, Company, _erp_connection_model())
    found = rows.fetch(_entry_sql(), [user.pk, company_id], *models)
    if not found:
        raise NotFound("No such company.")
    membership, company, erp_connection = found[0]
    # As select_related("company", "company__erp_connection") would leave them.
    DirectoryMembership._meta.get_field("company").set_cached_value(membership, company)
    Company._meta.get_field("erp_connection").set_cached_value(company, erp_connection)
    if erp_connection is not None:
        erp_connection._meta.get_field("company").set_cached_value(erp_connection, company)
    access = CompanyAccess(user=user, company=company, membership=membership, levels=None)
    if not access.is_member:
        raise NotFound("No such company.")
    access.require(action)
    return access


def load_project(
    user, project_id: int, action: Action = Action.VIEW_COMMITMENTS
) -> tuple[Project, CompanyAccess]:
    """The project (with its company and ERP connection) and the user's access, if ``action`` is allowed."""
    project = (
        Project.objects.select_related("company", "company__erp_connection").filter(pk=project_id).first()
    )
    if project is None:
        raise NotFound("No such project.")
    access = _member_access(user, project.company, None, "No such project.")
    access.require(action, project)
    return project, access


def load_record(
    kind: RecordKind,
    *,
    user,
    record_id: int,
    action: Action,
    access: CompanyAccess | None = None,
    project_id: int | None = None,
    company_id: int | None = None,
    queryset: QuerySet | None = None,
) -> tuple:
    """One record of ``kind`` and the user's access, if the user may ``action`` it.

    ``project_id`` / ``company_id``: only a record of that project / company (else
    ``NotFound``, as for an unknown id). ``queryset``: where to look (a locking one, say);
    by default the kind's records with what their pages show. ``access``: the user's
    access to the company, when the caller loaded it already.
    Queries: 1) the record, and 2)-3) the user's access unless given.
    """
    what = f"No {kind.noun} with id {record_id}."
    records = (
        kind.objects().select_related("company", "company__erp_connection") if queryset is None else queryset
    )
    if project_id is not None:
        records = records.filter(project_id=project_id)
    if company_id is not None:
        records = records.filter(company_id=company_id)
    record = records.filter(pk=record_id).first()
    if record is None:
        raise NotFound(what)
    access = _member_access(user, record.company, access, what)
    try:
        access.require(action, record.project)
    except AccessDenied as denied:
        denied.record = record
        raise
    return record, access


# --- what a user may see --------------------------------------------------------------------


def projects_visible_to(user) -> QuerySet[Project]:
    """The projects whose Commitments tool the user may open: a directory entry in the
    project's company and at least Read Only on the project's Commitments tool."""
    projects = Project.objects.select_related("company")
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return projects.none()
    # Superusers too: the product's permissions come only from directory entries and levels.
    return projects.filter(
        permissions__user=user,
        permissions__commitments_level__gte=PermissionLevel.READ_ONLY,
        company__directory__user=user,
    )


def level_opens_tool(erp_level: int) -> bool:
    """Whether this ERP Integrations level lets a member open the tool at all."""
    return erp_level >= PermissionLevel.READ_ONLY


def companies_of(
    user, *, openable_only: bool = False, company_id: int | None = None, limit: int | None = None
) -> list[tuple[int, str, int]]:
    """The user's directory entries as (company id, company name, ERP Integrations level),
    by name. ``openable_only``: those whose ERP Integrations tool they may open;
    ``company_id``: only that company (empty when the user is not in it); ``limit``: the
    first so many. Superusers too: being one opens no company. Query: one, written once
    per shape rather than compiled by the ORM (the switcher is on every page)."""
    params = [user.pk]
    if openable_only:
        params.append(PermissionLevel.READ_ONLY)
    if company_id is not None:
        params.append(company_id)
    if limit:
        params.append(limit)
    sql = _companies_sql(openable_only, company_id is not None, bool(limit))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@functools.cache
def _companies_sql(openable_only: bool, one_company: bool, limited: bool) -> str:
    where = ['m."user_id" = %s']
    if openable_only:
        where.append('m."erp_integrations_level" >= %s')
    if one_company:
        where.append('m."company_id" = %s')
    return (
        'SELECT m."company_id", c."name", m."erp_integrations_level"'  # noqa: S608 - names from the models
        f' FROM "{DirectoryMembership._meta.db_table}" m'
        f' JOIN "{Company._meta.db_table}" c ON c."id" = m."company_id"'
        f' WHERE {" AND ".join(where)} ORDER BY c."name", m."company_id"{" LIMIT %s" if limited else ""}'
    )


GRANT_PERMISSION = "accounts.grant_push_to_accounting"


def may_change_privilege(user) -> bool:
    """Only active platform staff with the grant permission may grant or revoke the privilege."""
    return bool(
        getattr(user, "is_active", False)
        and getattr(user, "is_staff", False)
        and user.has_perm(GRANT_PERMISSION)
    )


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


# --- the views' decorators ----------------------------------------------------------------


def signed_in(view: Callable) -> Callable:
    """The view needs a signed-in user (else ``SignInRequired``)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            raise SignInRequired
        return view(request, *args, **kwargs)

    return wrapper


def company_view(view: Callable) -> Callable:
    """Signed in, then the user's access to ``company_id``'s ERP Integrations tool
    (``Action.VIEW_TOOL``), passed to the view in place of the id."""

    @wraps(view)
    def wrapper(request, company_id: int, *args, **kwargs):
        if not request.user.is_authenticated:
            raise SignInRequired
        return view(request, load_company(request.user, company_id), *args, **kwargs)

    return wrapper


def staff_view(check: Callable[[object], bool], reason: str) -> Callable[[Callable], Callable]:
    """Signed in, then ``check(user)``, else ``AccessDenied`` with ``reason``."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                raise SignInRequired
            if not check(request.user):
                raise AccessDenied(Decision(Action.STAFF_CONSOLE, False, (reason,), reason_text=reason))
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


# --- who approves ---------------------------------------------------------------------------


def approvers_of(company: Company, project: Project | None = None) -> QuerySet:
    """The company's approvers: members who may Export and Reject (the privilege and
    'Standard' or 'Admin' on ERP Integrations), active and with an e-mail address;
    ``project``: only those who are also 'Admin' on its Commitments tool (the three
    requirements of ``ACCOUNTING_ACTIONS``). Users, ordered by username."""
    users = User.objects.filter(
        is_active=True,
        memberships__company=company,
        memberships__can_push_to_accounting=True,
        memberships__erp_integrations_level__gte=PermissionLevel.STANDARD,
    ).exclude(email="")
    if project is not None:
        users = users.filter(
            project_permissions__project=project,
            project_permissions__commitments_level__gte=PermissionLevel.ADMIN,
        )
    return users.distinct().order_by("username")


def approver_projects(user, company: Company) -> list[int]:
    """The ids of the company's projects whose records ``user`` may Export (and Reject).

    Decided by ``CompanyAccess.check`` like every other question. Queries: two.
    """
    access = CompanyAccess.load(user, company)
    return [
        project_id
        for project_id in access.project_levels
        if access.check(Action.EXPORT, Project(pk=project_id, company_id=company.pk, name=""))
    ]
