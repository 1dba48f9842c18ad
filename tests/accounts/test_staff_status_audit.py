"""Every change of is_staff or is_superuser is recorded, whichever way it is made, and
only a superuser can make someone a superuser in the admin."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import StaffStatusChange, User
from tests import factories

pytestmark = pytest.mark.django_db


def _changes(user) -> list[tuple]:
    return list(
        StaffStatusChange.objects.filter(user=user)
        .order_by("id")
        .values_list("field", "old_value", "new_value", "changed_by")
    )


def _user_form(user, **flags) -> dict:
    data = {
        "username": user.username,
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "is_active": "on",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "project_permissions-TOTAL_FORMS": "0",
        "project_permissions-INITIAL_FORMS": "0",
    }
    data.update({name: "on" for name, on in flags.items() if on})
    return data


def test_the_admin_records_who_made_a_user_staff_and_superuser():
    root = factories.user("root", is_staff=True, is_superuser=True)
    viewer = factories.user("viewer")
    client = Client()
    client.force_login(root)

    response = client.post(
        reverse("admin:accounts_user_change", args=[viewer.pk]),
        _user_form(viewer, is_staff=True, is_superuser=True),
    )

    assert response.status_code == 302
    viewer.refresh_from_db()
    assert viewer.is_staff and viewer.is_superuser
    assert _changes(viewer) == [("is_staff", False, True, root.pk), ("is_superuser", False, True, root.pk)]


def test_staff_without_superuser_cannot_make_anyone_superuser():
    staff = factories.user("plain-staff", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user"]))
    client = Client()
    client.force_login(staff)
    url = reverse("admin:accounts_user_change", args=[staff.pk])
    grant = Permission.objects.get(codename="grant_push_to_accounting")

    page = client.get(url)
    assert page.status_code == 200
    assert 'name="is_superuser"' not in page.text and 'name="user_permissions"' not in page.text
    response = client.post(
        url, {**_user_form(staff, is_staff=True, is_superuser=True), "user_permissions": [grant.pk]}
    )

    assert response.status_code == 302
    staff.refresh_from_db()
    assert not staff.is_superuser
    assert not staff.has_perm("accounts.grant_push_to_accounting")
    assert not StaffStatusChange.objects.filter(user=staff, field="is_superuser").exists()


def test_save_records_a_change_made_outside_the_site_without_a_name():
    user = factories.user("someone")

    user.is_superuser = True
    user.save()
    user.save()  # nothing changed: nothing more recorded

    assert _changes(user) == [("is_superuser", False, True, None)]


def test_a_stale_copy_saved_after_refresh_of_other_fields_is_recorded():
    user = factories.user("someone")
    copy = User.objects.get(pk=user.pk)
    copy.is_staff = True
    copy.refresh_from_db(fields=["email"])

    copy.save()

    assert _changes(user) == [("is_staff", False, True, None)]


def test_queryset_update_and_bulk_update_are_recorded():
    first, second = factories.user("first"), factories.user("second", is_staff=True)
    StaffStatusChange.objects.all().delete()

    assert User.objects.filter(pk__in=[first.pk, second.pk]).update(is_staff=True) == 2
    second.is_superuser = True
    User.objects.bulk_update([second], ["is_superuser"])

    assert _changes(first) == [("is_staff", False, True, None)]
    assert _changes(second) == [("is_superuser", False, True, None)]


def test_creating_staff_is_recorded_by_create_and_bulk_create():
    created = User.objects.create_superuser("admin", password="pw")
    [bulk] = User.objects.bulk_create([User(username="bulk", is_staff=True)])

    assert _changes(created) == [("is_staff", False, True, None), ("is_superuser", False, True, None)]
    assert _changes(bulk) == [("is_staff", False, True, None)]


def test_saving_other_fields_records_nothing():
    # Signing in saves last_login this way.
    user = factories.user("someone", is_staff=True)
    StaffStatusChange.objects.all().delete()

    user.save(update_fields=["last_login"])

    assert _changes(user) == []


def test_the_record_is_read_only_in_the_admin():
    root = factories.user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    change = StaffStatusChange.objects.filter(user=root).first()

    assert client.get(reverse("admin:accounts_staffstatuschange_changelist")).status_code == 200
    page = client.get(reverse("admin:accounts_staffstatuschange_change", args=[change.pk]))
    assert page.status_code == 200 and 'name="new_value"' not in page.text
    assert (
        client.post(reverse("admin:accounts_staffstatuschange_delete", args=[change.pk])).status_code == 403
    )
