"""A directory entry's company and user never change, and the privilege moves only
through the service that records it: by every route, down to the database itself."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse

from accounts.models import (
    DirectoryEntryMoved,
    DirectoryMembership,
    PermissionLevel,
    PrivilegeChange,
    PrivilegeChangeNotRecorded,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def northwind():
    return factories.company(name="Northwind Builders")


@pytest.fixture
def lakeshore():
    return factories.company(name="Lakeshore Contracting")


@pytest.fixture
def approver_entry(northwind):
    """An entry holding a granted privilege: what an attacker would like to move."""
    approver = factories.approver(northwind, username="approver")
    return DirectoryMembership.objects.get(user=approver, company=northwind)


def _stored(entry) -> tuple:
    return DirectoryMembership.objects.filter(pk=entry.pk).values_list(
        "company_id", "user_id", "can_push_to_accounting"
    )[0]


def test_save_refuses_another_company(approver_entry, lakeshore):
    before = _stored(approver_entry)
    approver_entry.company = lakeshore

    with pytest.raises(DirectoryEntryMoved):
        approver_entry.save()

    assert _stored(approver_entry) == before


def test_save_refuses_another_user(approver_entry):
    before = _stored(approver_entry)
    approver_entry.user = factories.user("someone-else")

    with pytest.raises(DirectoryEntryMoved):
        approver_entry.save()

    assert _stored(approver_entry) == before


def test_refresh_from_db_of_other_fields_then_save_cannot_grant(northwind):
    pm = factories.user("pm", company=northwind, erp_level=PermissionLevel.STANDARD)
    entry = DirectoryMembership.objects.get(user=pm)
    entry.can_push_to_accounting = True
    entry.refresh_from_db(fields=["erp_integrations_level"])

    with pytest.raises(PrivilegeChangeNotRecorded):
        entry.save()

    assert _stored(entry)[2] is False


def test_refresh_from_db_then_save_cannot_move_an_entry(approver_entry, lakeshore):
    approver_entry.company = lakeshore
    approver_entry.refresh_from_db(fields=["erp_integrations_level"])

    with pytest.raises(DirectoryEntryMoved):
        approver_entry.save()


def test_a_stale_copy_cannot_undo_a_revoke(approver_entry):
    stale = DirectoryMembership.objects.get(pk=approver_entry.pk)
    staff = factories.platform_staff()
    from accounts.services import membership_set_privilege

    membership_set_privilege(membership=approver_entry, granted=False, changed_by=staff)
    stale.erp_integrations_level = PermissionLevel.READ_ONLY

    # The copy still says True; saving it would grant again without a record.
    with pytest.raises(PrivilegeChangeNotRecorded):
        stale.save()
    assert _stored(approver_entry)[2] is False


@pytest.mark.parametrize(
    "values",
    [
        {"company": "lakeshore"},
        {"company_id": "lakeshore"},
        {"user_id": "other"},
    ],
    ids=["company", "company_id", "user_id"],
)
def test_queryset_update_refuses_company_and_user(approver_entry, lakeshore, values):
    other = factories.user("other")
    resolved = {
        name: {"lakeshore": lakeshore if name == "company" else lakeshore.pk, "other": other.pk}[value]
        for name, value in values.items()
    }
    before = _stored(approver_entry)

    with pytest.raises(DirectoryEntryMoved):
        DirectoryMembership.objects.filter(pk=approver_entry.pk).update(**resolved)

    assert _stored(approver_entry) == before


def test_queryset_update_and_bulk_update_refuse_the_privilege(northwind):
    pm = factories.user("pm", company=northwind)
    entry = DirectoryMembership.objects.get(user=pm)

    with pytest.raises(PrivilegeChangeNotRecorded):
        DirectoryMembership.objects.filter(pk=entry.pk).update(can_push_to_accounting=True)
    entry.can_push_to_accounting = True
    with pytest.raises(PrivilegeChangeNotRecorded), transaction.atomic():
        DirectoryMembership.objects.bulk_update([entry], ["can_push_to_accounting"])

    assert _stored(entry)[2] is False
    # Fields that carry no privilege still update in bulk.
    assert DirectoryMembership.objects.filter(pk=entry.pk).update(erp_integrations_level=2) == 1


def test_bulk_create_refuses_entries_with_the_privilege(northwind):
    user = factories.user("newcomer")

    with pytest.raises(PrivilegeChangeNotRecorded):
        DirectoryMembership.objects.bulk_create(
            [DirectoryMembership(company=northwind, user=user, can_push_to_accounting=True)]
        )

    assert not DirectoryMembership.objects.filter(user=user).exists()


# --- the database's own guard -------------------------------------------------------------
def _raw(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_the_database_refuses_moving_an_entry(approver_entry, lakeshore):
    with pytest.raises(IntegrityError, match="company and user never change"):
        _raw(
            "UPDATE accounts_directorymembership SET company_id = %s WHERE id = %s",
            [lakeshore.pk, approver_entry.pk],
        )
    other = factories.user("other")
    with pytest.raises(IntegrityError, match="company and user never change"):
        _raw(
            "UPDATE accounts_directorymembership SET user_id = %s WHERE id = %s",
            [other.pk, approver_entry.pk],
        )
    assert _stored(approver_entry)[:2] == (approver_entry.company_id, approver_entry.user_id)


def test_the_database_refuses_a_privilege_change_without_its_record(northwind, approver_entry):
    pm = factories.user("pm", company=northwind)
    entry = DirectoryMembership.objects.get(user=pm)
    staff = factories.platform_staff()

    with pytest.raises(IntegrityError, match="PrivilegeChange"):
        _raw(
            "UPDATE accounts_directorymembership SET can_push_to_accounting = true, "
            "privilege_changed_by_id = %s, privilege_changed_at = now() WHERE id = %s",
            [staff.pk, entry.pk],
        )
    # Nor by reusing the approver's old grant record with another timestamp or for a revoke.
    with pytest.raises(IntegrityError, match="PrivilegeChange"):
        _raw(
            "UPDATE accounts_directorymembership SET can_push_to_accounting = false WHERE id = %s",
            [approver_entry.pk],
        )
    assert _stored(entry)[2] is False and _stored(approver_entry)[2] is True


def test_the_database_refuses_a_new_entry_with_the_privilege(northwind):
    user = factories.user("newcomer")
    staff = factories.platform_staff()

    with pytest.raises(IntegrityError, match="starts without"):
        _raw(
            "INSERT INTO accounts_directorymembership (company_id, user_id, erp_integrations_level, "
            "can_push_to_accounting, privilege_changed_by_id, privilege_changed_at, created_at) "
            "VALUES (%s, %s, 3, true, %s, now(), now())",
            [northwind.pk, user.pk, staff.pk],
        )


def test_the_service_still_grants_and_revokes_with_the_guard_in_place(northwind):
    from accounts.services import membership_set_privilege

    pm = factories.user("pm", company=northwind)
    entry = DirectoryMembership.objects.get(user=pm)
    staff = factories.platform_staff()

    assert membership_set_privilege(membership=entry, granted=True, changed_by=staff) is not None
    assert membership_set_privilege(membership=entry, granted=False, changed_by=staff) is not None
    assert list(PrivilegeChange.objects.filter(user=pm).values_list("action", flat=True)) == [
        "revoked",
        "granted",
    ]


# --- the admin ----------------------------------------------------------------------------
def test_the_user_pages_inline_cannot_move_an_entry_to_another_company(approver_entry, lakeshore):
    # Staff with every permission but the grant: the route the probe used.
    from django.contrib.auth.models import Permission

    staff = factories.user("plain-staff", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(
            codename__in=[
                "view_user",
                "change_user",
                "view_directorymembership",
                "change_directorymembership",
            ]
        )
    )
    client = Client()
    client.force_login(staff)
    user = approver_entry.user
    url = reverse("admin:accounts_user_change", args=[user.pk])
    page = client.get(url)
    assert page.status_code == 200

    response = client.post(
        url,
        {
            "username": user.username,
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "is_active": "on",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "1",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-id": approver_entry.pk,
            "memberships-0-user": user.pk,
            "memberships-0-company": lakeshore.pk,
            "memberships-0-erp_integrations_level": "3",
            "project_permissions-TOTAL_FORMS": "0",
            "project_permissions-INITIAL_FORMS": "0",
            "project_permissions-MIN_NUM_FORMS": "0",
            "project_permissions-MAX_NUM_FORMS": "1000",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert _stored(approver_entry) == (approver_entry.company_id, user.pk, True)
    assert not DirectoryMembership.objects.filter(company=lakeshore).exists()
