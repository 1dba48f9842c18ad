"""The permission matrix of the help articles, asked of accounts.permissions.

Unlink, Export and Reject each need three things: 'Admin' on the Commitments tool of
the record's project, 'Standard' or 'Admin' on ERP Integrations, and the 'Can Push to
Accounting' privilege. A refusal names exactly what is missing.
"""

import pytest
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.utils import timezone

from accounts.models import DirectoryMembership, PermissionLevel, ProjectPermission
from accounts.permissions import (
    ACCOUNTING_ACTIONS,
    ERP_ADMIN_MISSING,
    ERP_READ_MISSING,
    ERP_STANDARD_MISSING,
    PRIVILEGE_MISSING,
    AccessDenied,
    Action,
    CompanyAccess,
    check,
    require,
)
from tests import factories

pytestmark = pytest.mark.django_db

ADMIN = PermissionLevel.ADMIN
STANDARD = PermissionLevel.STANDARD
READ_ONLY = PermissionLevel.READ_ONLY

COMMITMENTS_ADMIN_MISSING = "'Admin' on the Commitments tool of project 'Harbor Tower'"

accounting_actions = pytest.mark.parametrize("action", sorted(ACCOUNTING_ACTIONS))


@pytest.fixture
def company():
    return factories.company(name="Northwind Builders")


@pytest.fixture
def harbor_tower(company):
    return factories.project(company=company, name="Harbor Tower")


def member(company, project, username, *, commitments=ADMIN, erp=STANDARD, privilege=True, **extra):
    return factories.user(
        username,
        company=company,
        erp_level=erp,
        privilege=privilege,
        projects={project: commitments},
        **extra,
    )


@accounting_actions
def test_allowed_with_all_three_requirements(company, harbor_tower, action):
    approver = member(company, harbor_tower, "approver")

    decision = check(approver, action, company=company, project=harbor_tower)

    assert decision.allowed
    assert decision.missing == ()
    assert decision.reason == ""


@accounting_actions
def test_admin_on_erp_integrations_is_enough_too(company, harbor_tower, action):
    approver = member(company, harbor_tower, "approver", erp=ADMIN)

    assert check(approver, action, company=company, project=harbor_tower).allowed


@accounting_actions
@pytest.mark.parametrize("commitments_level", [PermissionLevel.NONE, READ_ONLY, STANDARD])
def test_refused_without_admin_on_commitments(company, harbor_tower, action, commitments_level):
    pm = member(company, harbor_tower, "pm", commitments=commitments_level)

    decision = check(pm, action, company=company, project=harbor_tower)

    assert not decision.allowed
    assert decision.is_member
    assert decision.missing == (COMMITMENTS_ADMIN_MISSING,)
    assert decision.reason == f"{action.value} needs {COMMITMENTS_ADMIN_MISSING}."


@accounting_actions
@pytest.mark.parametrize("erp_level", [PermissionLevel.NONE, READ_ONLY])
def test_refused_without_standard_on_erp_integrations(company, harbor_tower, action, erp_level):
    pm = member(company, harbor_tower, "pm", erp=erp_level)

    decision = check(pm, action, company=company, project=harbor_tower)

    assert not decision.allowed
    assert decision.missing == (ERP_STANDARD_MISSING,)
    assert "'Standard' or 'Admin' on the ERP Integrations tool" in decision.reason


@accounting_actions
def test_refused_without_the_privilege(company, harbor_tower, action):
    pm = member(company, harbor_tower, "pm", privilege=False)

    decision = check(pm, action, company=company, project=harbor_tower)

    assert not decision.allowed
    assert decision.missing == (PRIVILEGE_MISSING,)
    assert "'Can Push to Accounting' privilege in the Company Directory" in decision.reason


@accounting_actions
def test_refusal_names_every_missing_requirement(company, harbor_tower, action):
    viewer = member(company, harbor_tower, "viewer", commitments=READ_ONLY, erp=READ_ONLY, privilege=False)

    decision = check(viewer, action, company=company, project=harbor_tower)

    assert decision.missing == (COMMITMENTS_ADMIN_MISSING, ERP_STANDARD_MISSING, PRIVILEGE_MISSING)


@accounting_actions
def test_superuser_without_a_directory_entry_is_refused(company, harbor_tower, action):
    # is_superuser opens the Django admin; the product's permissions come from the directory.
    staff = factories.user("staff", is_staff=True, is_superuser=True)

    decision = check(staff, action, company=company, project=harbor_tower)

    assert not decision.allowed
    assert decision.is_member is False


@accounting_actions
def test_superuser_in_the_directory_needs_the_three_requirements_like_anyone(company, harbor_tower, action):
    staff = factories.user("staff", is_staff=True, is_superuser=True, company=company)

    decision = check(staff, action, company=company, project=harbor_tower)

    assert decision.missing == (COMMITMENTS_ADMIN_MISSING, ERP_STANDARD_MISSING, PRIVILEGE_MISSING)


@accounting_actions
def test_member_of_another_company_is_refused(company, harbor_tower, action):
    other_company = factories.company(name="Summit Contracting", erp_system="sage100")
    other_project = factories.project(company=other_company, name="Airport Terminal B")
    outsider = member(other_company, other_project, "outsider", erp=ADMIN)

    decision = check(outsider, action, company=company, project=harbor_tower)

    assert not decision.allowed
    assert decision.is_member is False
    assert decision.reason == "You are not in this company's directory."
    # All three requirements, but in their own company only.
    assert check(outsider, action, company=other_company, project=other_project).allowed


@accounting_actions
def test_requirements_count_in_the_records_company_only(company, harbor_tower, action):
    other_company = factories.company(name="Summit Contracting", erp_system="sage100")
    airport = factories.project(company=other_company, name="Airport Terminal B")
    approver = member(company, harbor_tower, "approver")
    DirectoryMembership.objects.create(company=other_company, user=approver)

    decision = check(approver, action, company=other_company, project=airport)

    assert decision.is_member
    assert decision.missing == (
        "'Admin' on the Commitments tool of project 'Airport Terminal B'",
        ERP_STANDARD_MISSING,
        PRIVILEGE_MISSING,
    )


@accounting_actions
def test_project_of_another_company_is_refused(company, harbor_tower, action):
    approver = member(company, harbor_tower, "approver")
    other_company = factories.company(name="Summit Contracting", erp_system="sage100")
    airport = factories.project(company=other_company, name="Airport Terminal B")

    decision = check(approver, action, company=company, project=airport)

    assert not decision.allowed
    assert decision.is_member is False


@accounting_actions
def test_inactive_user_is_refused_even_with_all_three(company, harbor_tower, action):
    approver = member(company, harbor_tower, "approver", is_active=False)

    decision = check(approver, action, company=company, project=harbor_tower)

    assert not decision.allowed
    assert decision.is_member is False


@accounting_actions
def test_inactive_superuser_is_refused(company, harbor_tower, action):
    staff = factories.user("staff", is_staff=True, is_superuser=True, is_active=False)

    assert not check(staff, action, company=company, project=harbor_tower).allowed


def test_anonymous_user_is_not_a_member(company, harbor_tower):
    from django.contrib.auth.models import AnonymousUser

    decision = check(AnonymousUser(), Action.UNLINK, company=company, project=harbor_tower)

    assert not decision.allowed
    assert decision.is_member is False


def test_require_raises_access_denied_carrying_the_decision(company, harbor_tower):
    pm = member(company, harbor_tower, "pm", privilege=False)

    with pytest.raises(AccessDenied) as raised:
        require(pm, Action.UNLINK, company=company, project=harbor_tower)

    assert raised.value.decision.missing == (PRIVILEGE_MISSING,)
    assert str(raised.value) == raised.value.decision.reason


def test_accounting_actions_are_judged_per_project(company):
    approver = factories.user("approver", company=company, erp_level=ADMIN)

    with pytest.raises(ValueError, match="per project"):
        check(approver, Action.EXPORT, company=company)


@pytest.mark.parametrize(
    ("erp_level", "allowed"),
    [(PermissionLevel.NONE, False), (READ_ONLY, True), (STANDARD, True), (ADMIN, True)],
)
def test_view_tool_needs_read_only_on_erp_integrations(company, erp_level, allowed):
    viewer = factories.user("viewer", company=company, erp_level=erp_level)

    decision = check(viewer, Action.VIEW_TOOL, company=company)

    assert decision.allowed is allowed
    assert decision.missing == (() if allowed else (ERP_READ_MISSING,))


@pytest.mark.parametrize(
    ("erp_level", "allowed"),
    [(PermissionLevel.NONE, False), (READ_ONLY, False), (STANDARD, False), (ADMIN, True)],
)
def test_sync_now_needs_admin_on_erp_integrations(company, erp_level, allowed):
    pm = factories.user("pm", company=company, erp_level=erp_level)

    decision = check(pm, Action.SYNC_NOW, company=company)

    assert decision.allowed is allowed
    assert decision.missing == (() if allowed else (ERP_ADMIN_MISSING,))


def test_company_access_loads_in_two_queries_and_answers_from_memory(
    company, harbor_tower, django_assert_num_queries
):
    projects = [harbor_tower, *(factories.project(company=company) for _ in range(5))]
    approver = factories.user(
        "approver",
        company=company,
        erp_level=ADMIN,
        privilege=True,
        projects={p: ADMIN for p in projects},
    )

    # 1) the directory entry, 2) the user's Commitments levels on the company's projects.
    with django_assert_num_queries(2):
        access = CompanyAccess.load(approver, company)
        decisions = [access.check(action, p) for p in projects for action in ACCOUNTING_ACTIONS]
        decisions.append(access.check(Action.VIEW_TOOL))

    assert all(decisions)


@pytest.mark.django_db
def test_reuse_or_load_keeps_an_access_only_for_the_same_user_and_company(django_assert_num_queries):
    from accounts.permissions import CompanyAccess

    company, other = factories.company(), factories.company()
    approver = factories.approver(company)
    viewer = factories.user("viewer-reuse", company=company, erp_level=PermissionLevel.READ_ONLY)
    access = CompanyAccess.load(approver, company)

    with django_assert_num_queries(0):
        assert CompanyAccess.reuse_or_load(access, approver, company) is access
    # Another user's or another company's access is loaded afresh (the directory entry;
    # the project levels when a question needs them).
    with django_assert_num_queries(1):
        assert CompanyAccess.reuse_or_load(access, viewer, company).user == viewer
    with django_assert_num_queries(1):
        assert CompanyAccess.reuse_or_load(access, approver, other).company == other
    with django_assert_num_queries(1):
        fresh = CompanyAccess.reuse_or_load(None, approver, company)
    assert fresh.user == approver


def test_project_levels_are_read_once_when_first_needed_and_their_key_matches_either_way(
    django_assert_num_queries,
):
    from accounts.permissions import CompanyAccess

    company = factories.company()
    first, second = factories.project(company=company), factories.project(company=company)
    approver = factories.approver(company, first, second)
    access = CompanyAccess.load(approver, company)

    # On PostgreSQL the key is made from the rows without sending them; elsewhere they are read.
    unloaded_key = access.levels_key()
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 0):
        assert access.check(Action.EXPORT, first)
    with django_assert_num_queries(0):
        assert access.check(Action.EXPORT, second)
        assert access.project_levels == {first.pk: PermissionLevel.ADMIN, second.pk: PermissionLevel.ADMIN}
    # Made from the loaded levels in Python, the key is the one the database made.
    loaded = CompanyAccess.load(approver, company)
    assert loaded.project_levels
    assert loaded.levels_key() == unloaded_key
    # Levels read after the key was made (a change in between) make the key again. (Off
    # PostgreSQL the key is made from the levels read, so nothing can come between.)
    changing = CompanyAccess.load(approver, company)
    assert changing.levels_key() == unloaded_key
    ProjectPermission.objects.filter(user=approver, project=second).update(
        commitments_level=PermissionLevel.READ_ONLY
    )
    if connection.vendor == "postgresql":
        assert changing.project_levels[second.pk] == PermissionLevel.READ_ONLY
        assert changing.levels_key() != unloaded_key
        assert changing.levels_key() == CompanyAccess.load(approver, company).levels_key()
    ProjectPermission.objects.filter(user=approver, project=second).update(
        commitments_level=PermissionLevel.ADMIN
    )
    # Other levels, another key.
    viewer = factories.user("viewer-key", company=company, projects={first: PermissionLevel.READ_ONLY})
    assert CompanyAccess.load(viewer, company).levels_key() != unloaded_key
    nobody = factories.user("nobody-key", company=company)
    assert (
        CompanyAccess.load(nobody, company).levels_key()
        == CompanyAccess(user=nobody, company=company, membership=None, levels={}).levels_key()
    )


@pytest.mark.postgresql
def test_a_levels_key_is_kept_by_the_companys_data_version(django_assert_num_queries):
    """Every change to a level moves the company's data version (a trigger), so a key made
    under a version serves the same user, company and version without a query."""
    from accounts.permissions import CompanyAccess
    from erp_integrations.services.data_version import company_data_version

    company, other = factories.company(), factories.company()
    first, second = factories.project(company=company), factories.project(company=company)
    approver = factories.approver(company, first, second)

    def key_now():
        version = company_data_version(company.pk)
        return version, CompanyAccess.load(approver, company).levels_key(version)

    version, key = key_now()
    access = CompanyAccess.load(approver, company)
    with django_assert_num_queries(0):
        assert access.levels_key(version) == key
    # Each write to the levels (update, insert, delete) moves the version and the key.
    other_project = factories.project(company=other)
    other_version = company_data_version(other.pk)
    writes = [
        lambda: ProjectPermission.objects.filter(user=approver, project=second).update(
            commitments_level=PermissionLevel.READ_ONLY
        ),
        lambda: ProjectPermission.objects.filter(user=approver, project=second).delete(),
        lambda: ProjectPermission.objects.create(
            user=approver, project=second, commitments_level=PermissionLevel.ADMIN
        ),
    ]
    seen = {key}
    for write in writes:
        write()
        moved, new_key = key_now()
        assert moved > version
        loaded = CompanyAccess.load(approver, company)
        assert new_key == loaded.levels_key() == loaded._make_levels_key()
        version = moved
        seen.add(new_key)
    # Read Only, none, then Admin again: the first and last keys are the same levels.
    assert len(seen) == 3
    assert company_data_version(other.pk) == other_version
    # A level on another company's project moves only that company's version.
    ProjectPermission.objects.create(
        user=approver, project=other_project, commitments_level=PermissionLevel.ADMIN
    )
    assert company_data_version(company.pk) == version
    assert company_data_version(other.pk) > other_version


# --- master data: jobs, vendors, cost codes ----------------------------------------------
@pytest.mark.parametrize(
    ("erp_level", "privilege", "missing"),
    [
        (STANDARD, True, ()),
        (ADMIN, True, ()),
        (READ_ONLY, True, (ERP_STANDARD_MISSING,)),
        (STANDARD, False, (PRIVILEGE_MISSING,)),
        (PermissionLevel.NONE, False, (ERP_STANDARD_MISSING, PRIVILEGE_MISSING)),
    ],
)
def test_master_data_needs_standard_on_erp_integrations_and_the_privilege_only(
    company, erp_level, privilege, missing
):
    # No Commitments level at all: master data is the company's, not a project's.
    user = factories.user("someone", company=company, erp_level=erp_level, privilege=privilege)

    decision = check(user, Action.MASTER_DATA, company=company)

    assert decision.allowed is (not missing)
    assert decision.missing == missing
    if missing:
        assert decision.reason == (
            "Importing, exporting or linking jobs, vendors and cost codes needs "
            + ", and ".join(missing)
            + "."
        )


@pytest.mark.embedded
@pytest.mark.django_db(databases="__all__")
def test_load_company_reads_the_entry_company_and_connection_as_the_orm_does(django_assert_num_queries):
    from accounts.permissions import load_company

    company = factories.company()
    approver = factories.approver(company, factories.project(company=company))
    entry = DirectoryMembership.objects.get(user=approver, company=company)
    entry.privilege_changed_at = timezone.now()
    entry.save(update_fields=["privilege_changed_at"])
    bare = factories.company(name="No connection yet", erp_system=None)
    DirectoryMembership.objects.create(
        user=approver, company=bare, erp_integrations_level=PermissionLevel.ADMIN
    )

    def fields(instance):
        return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}

    with django_assert_num_queries(1):
        access = load_company(approver, company.pk)
    expected = DirectoryMembership.objects.select_related("company__erp_connection").get(pk=entry.pk)
    with django_assert_num_queries(0):
        assert fields(access.membership) == fields(expected)
        assert access.membership.company is access.company
        assert fields(access.company) == fields(expected.company)
        assert fields(access.company.erp_connection) == fields(expected.company.erp_connection)
        assert access.company.erp_connection.company is access.company
    # A company without a connection: the relation reads as missing, without a query.
    with django_assert_num_queries(1):
        access = load_company(approver, bare.pk)
    with django_assert_num_queries(0), pytest.raises(ObjectDoesNotExist):
        access.company.erp_connection  # noqa: B018 - the access is the point


def test_load_company_hides_the_company_from_outsiders_and_inactive_members(django_assert_num_queries):
    from accounts.permissions import NotFound, load_company

    company = factories.company()
    approver = factories.approver(company, factories.project(company=company))
    outsider = factories.user("outsider-load", company=factories.company())

    # One query: the directory entry with its company and connection.
    with django_assert_num_queries(1):
        assert load_company(approver, company.pk).company == company
    for user, company_id in ((outsider, company.pk), (approver, company.pk + 10_000)):
        with pytest.raises(NotFound, match="No such company."):
            load_company(user, company_id)
    approver.is_active = False
    with pytest.raises(NotFound, match="No such company."):
        load_company(approver, company.pk)
