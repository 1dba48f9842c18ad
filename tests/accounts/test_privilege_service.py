"""'Can Push to Accounting' changes only through membership_set_privilege, which records it."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from accounts.models import DirectoryMembership, PrivilegeChange, PrivilegeChangeNotRecorded
from accounts.services import membership_set_privilege
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def company():
    return factories.company(name="Northwind Builders")


@pytest.fixture
def staff():
    return factories.user("staff", is_staff=True, is_superuser=True)


@pytest.fixture
def pm_entry(company):
    pm = factories.user("pm", company=company)
    return DirectoryMembership.objects.get(user=pm, company=company)


def test_grant_records_who_to_whom_which_company_and_when(pm_entry, staff):
    change = membership_set_privilege(membership=pm_entry, granted=True, changed_by=staff)

    assert change.action == PrivilegeChange.Action.GRANTED
    assert (change.user, change.company, change.changed_by) == (pm_entry.user, pm_entry.company, staff)
    assert change.changed_at is not None
    pm_entry.refresh_from_db()
    assert pm_entry.can_push_to_accounting
    assert pm_entry.privilege_changed_by == staff
    assert pm_entry.privilege_changed_at == change.changed_at


def test_revoke_is_recorded_too(pm_entry, staff):
    membership_set_privilege(membership=pm_entry, granted=True, changed_by=staff)

    change = membership_set_privilege(membership=pm_entry, granted=False, changed_by=staff)

    assert change.action == PrivilegeChange.Action.REVOKED
    assert not DirectoryMembership.objects.get(pk=pm_entry.pk).can_push_to_accounting
    assert list(PrivilegeChange.objects.values_list("action", flat=True)) == ["revoked", "granted"]


def test_granting_what_is_already_granted_records_nothing(pm_entry, staff):
    membership_set_privilege(membership=pm_entry, granted=True, changed_by=staff)

    assert membership_set_privilege(membership=pm_entry, granted=True, changed_by=staff) is None
    assert PrivilegeChange.objects.count() == 1


@pytest.mark.parametrize(
    "who",
    [
        {"is_staff": False},
        {"is_staff": True},  # staff, but without the grant permission
        {"is_staff": True, "is_superuser": True, "is_active": False},
    ],
    ids=["member", "staff-without-grant-permission", "inactive-superuser"],
)
def test_only_active_staff_with_the_grant_permission_may_change_it(pm_entry, who):
    someone = factories.user("someone", **who)

    with pytest.raises(PermissionDenied):
        membership_set_privilege(membership=pm_entry, granted=True, changed_by=someone)

    assert not DirectoryMembership.objects.get(pk=pm_entry.pk).can_push_to_accounting
    assert not PrivilegeChange.objects.exists()


def test_staff_with_the_grant_permission_may_change_it(pm_entry):
    from django.contrib.auth.models import Permission

    accounting_staff = factories.user("accounting-staff", is_staff=True)
    accounting_staff.user_permissions.add(Permission.objects.get(codename="grant_push_to_accounting"))

    assert membership_set_privilege(membership=pm_entry, granted=True, changed_by=accounting_staff)


def test_a_save_that_changes_the_privilege_directly_is_refused(pm_entry):
    pm_entry.can_push_to_accounting = True

    with pytest.raises(PrivilegeChangeNotRecorded, match="membership_set_privilege"):
        pm_entry.save()

    assert not DirectoryMembership.objects.get(pk=pm_entry.pk).can_push_to_accounting


def test_creating_an_entry_that_already_holds_the_privilege_is_refused(company):
    viewer = factories.user("viewer")

    with pytest.raises(PrivilegeChangeNotRecorded):
        DirectoryMembership.objects.create(company=company, user=viewer, can_push_to_accounting=True)


def test_other_fields_save_normally_while_the_privilege_is_held(pm_entry, staff):
    membership_set_privilege(membership=pm_entry, granted=True, changed_by=staff)
    entry = DirectoryMembership.objects.get(pk=pm_entry.pk)

    entry.erp_integrations_level = 3
    entry.save()

    assert DirectoryMembership.objects.get(pk=pm_entry.pk).erp_integrations_level == 3


def test_the_database_refuses_a_privilege_without_who_granted_it(pm_entry):
    # QuerySet.update() refuses the field itself; _update() is the query under it.
    with pytest.raises(IntegrityError), transaction.atomic():
        field = DirectoryMembership._meta.get_field("can_push_to_accounting")
        DirectoryMembership.objects.filter(pk=pm_entry.pk)._update([(field, None, True)])


@pytest.mark.embedded
def test_grants_and_revokes_are_in_the_companys_audit_trail(pm_entry, staff):
    from erp_integrations.models import AuditEntry

    membership_set_privilege(membership=pm_entry, granted=True, changed_by=staff)
    membership_set_privilege(membership=pm_entry, granted=True, changed_by=staff)  # no change, no entry
    membership_set_privilege(membership=pm_entry, granted=False, changed_by=staff)

    entries = list(AuditEntry.objects.filter(company=pm_entry.company).order_by("id"))
    assert [(e.action, e.outcome, e.user, e.record_type, e.record_number) for e in entries] == [
        ("grant", "success", staff, "user", "pm"),
        ("revoke", "success", staff, "user", "pm"),
    ]
    assert entries[1].message == "'Can Push to Accounting' revoked from pm by staff."


@pytest.mark.embedded
def test_a_refused_grant_is_in_the_audit_trail_too(pm_entry, company):
    from erp_integrations.models import AuditEntry

    colleague = factories.user("colleague", company=company)
    with pytest.raises(PermissionDenied):
        membership_set_privilege(membership=pm_entry, granted=True, changed_by=colleague)

    entry = AuditEntry.objects.get(company=company)
    assert (entry.action, entry.outcome, entry.user, entry.record_number) == (
        "grant",
        "refused",
        colleague,
        "pm",
    )
    assert "Only platform staff" in entry.message
