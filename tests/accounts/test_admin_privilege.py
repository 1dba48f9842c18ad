"""Only staff reach the admin, and only staff may grant or revoke the privilege there."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import DirectoryMembership, PermissionLevel, PrivilegeChange
from tests import factories

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:accounts_directorymembership_changelist"


@pytest.fixture
def company():
    return factories.company(name="Northwind Builders")


@pytest.fixture
def pm_entry(company):
    pm = factories.user("pm", company=company, erp_level=PermissionLevel.STANDARD)
    return DirectoryMembership.objects.get(user=pm, company=company)


@pytest.fixture
def staff():
    return factories.user("staff", is_staff=True, is_superuser=True)


def client_for(user) -> Client:
    # No CSRF enforcement: a refusal must come from the permission, not a missing token.
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


def change_url(entry) -> str:
    return reverse("admin:accounts_directorymembership_change", args=[entry.pk])


def change_form(entry, *, privilege: bool) -> dict:
    data = {"erp_integrations_level": str(entry.erp_integrations_level), "_save": "Save"}
    if privilege:
        data["can_push_to_accounting"] = "on"
    return data


def action_post(action: str, *entries) -> dict:
    return {"action": action, "_selected_action": [str(e.pk) for e in entries], "index": "0"}


def assert_not_granted(entry):
    entry.refresh_from_db()
    assert not entry.can_push_to_accounting
    assert not PrivilegeChange.objects.filter(user=entry.user).exists()


def test_non_staff_member_is_sent_to_the_admin_login(company, pm_entry):
    approver = factories.approver(company)

    response = client_for(approver).get(reverse(CHANGELIST))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_non_staff_member_cannot_grant_with_the_change_form(company, pm_entry):
    approver = factories.approver(company)

    response = client_for(approver).post(change_url(pm_entry), change_form(pm_entry, privilege=True))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert_not_granted(pm_entry)


def test_non_staff_member_cannot_grant_with_the_admin_action(company, pm_entry):
    approver = factories.approver(company)

    response = client_for(approver).post(
        reverse(CHANGELIST), action_post("grant_push_to_accounting", pm_entry)
    )

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert_not_granted(pm_entry)


def test_anonymous_visitor_cannot_grant(pm_entry):
    response = Client().post(change_url(pm_entry), change_form(pm_entry, privilege=True))

    assert response.status_code == 302
    assert_not_granted(pm_entry)


@pytest.fixture
def directory_staff():
    """Staff who may edit the directory but not grant the privilege."""
    user = factories.user("directory-staff", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=[
                "view_directorymembership",
                "change_directorymembership",
                "delete_directorymembership",
            ]
        )
    )
    return user


def test_staff_without_the_grant_permission_see_the_privilege_read_only(directory_staff, pm_entry):
    client = client_for(directory_staff)

    page = client.get(change_url(pm_entry))
    response = client.post(change_url(pm_entry), change_form(pm_entry, privilege=True))

    assert page.status_code == 200
    assert "can_push_to_accounting" not in page.context["adminform"].form.fields
    assert response.status_code == 302  # saved, without the field it may not change
    assert_not_granted(pm_entry)


def test_staff_without_the_grant_permission_are_not_offered_the_actions(directory_staff, pm_entry):
    client = client_for(directory_staff)

    page = client.get(reverse(CHANGELIST))
    client.post(reverse(CHANGELIST), action_post("grant_push_to_accounting", pm_entry))

    offered = dict(page.context["action_form"].fields["action"].choices)
    assert "delete_selected" in offered
    assert "grant_push_to_accounting" not in offered
    assert "revoke_push_to_accounting" not in offered
    assert_not_granted(pm_entry)


def test_staff_grants_and_revokes_with_the_change_form_and_each_is_recorded(staff, pm_entry):
    client = client_for(staff)

    granted = client.post(change_url(pm_entry), change_form(pm_entry, privilege=True))
    pm_entry.refresh_from_db()
    assert pm_entry.can_push_to_accounting
    assert pm_entry.privilege_changed_by == staff
    revoked = client.post(change_url(pm_entry), change_form(pm_entry, privilege=False))

    assert granted.status_code == revoked.status_code == 302
    pm_entry.refresh_from_db()
    assert not pm_entry.can_push_to_accounting
    changes = list(PrivilegeChange.objects.order_by("id"))
    assert [c.action for c in changes] == ["granted", "revoked"]
    for change in changes:
        assert (change.user, change.company, change.changed_by) == (pm_entry.user, pm_entry.company, staff)
        assert change.changed_at is not None
    assert pm_entry.privilege_changed_at == changes[-1].changed_at


def test_saving_the_form_without_changing_the_privilege_records_nothing(staff, pm_entry):
    response = client_for(staff).post(
        change_url(pm_entry), {**change_form(pm_entry, privilege=False), "erp_integrations_level": "3"}
    )

    assert response.status_code == 302
    pm_entry.refresh_from_db()
    assert pm_entry.erp_integrations_level == 3
    assert not PrivilegeChange.objects.exists()


def test_staff_grants_and_revokes_with_the_actions(staff, company, pm_entry):
    viewer = factories.user("viewer", company=company)
    viewer_entry = DirectoryMembership.objects.get(user=viewer)
    client = client_for(staff)

    client.post(reverse(CHANGELIST), action_post("grant_push_to_accounting", pm_entry, viewer_entry))
    # Granting again changes nothing and records nothing.
    client.post(reverse(CHANGELIST), action_post("grant_push_to_accounting", pm_entry))
    client.post(reverse(CHANGELIST), action_post("revoke_push_to_accounting", viewer_entry))

    assert DirectoryMembership.objects.get(pk=pm_entry.pk).can_push_to_accounting
    assert not DirectoryMembership.objects.get(pk=viewer_entry.pk).can_push_to_accounting
    recorded = PrivilegeChange.objects.order_by("id").values_list("user__username", "action", "changed_by")
    assert list(recorded) == [
        ("pm", "granted", staff.pk),
        ("viewer", "granted", staff.pk),
        ("viewer", "revoked", staff.pk),
    ]


def test_staff_adds_an_entry_with_the_privilege_and_it_is_recorded(staff, company):
    viewer = factories.user("viewer")

    response = client_for(staff).post(
        reverse("admin:accounts_directorymembership_add"),
        {
            "company": str(company.pk),
            "user": str(viewer.pk),
            "erp_integrations_level": "1",
            "can_push_to_accounting": "on",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    assert DirectoryMembership.objects.get(user=viewer).can_push_to_accounting
    assert PrivilegeChange.objects.get().action == "granted"


def test_deleting_an_entry_that_holds_the_privilege_records_a_revoke(staff, company):
    approver = factories.approver(company)
    entry = DirectoryMembership.objects.get(user=approver)
    url = reverse("admin:accounts_directorymembership_delete", args=[entry.pk])

    response = client_for(staff).post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not DirectoryMembership.objects.filter(pk=entry.pk).exists()
    last = PrivilegeChange.objects.filter(user=approver).first()
    assert (last.action, last.changed_by) == ("revoked", staff)


def test_the_user_page_shows_the_privilege_but_cannot_change_it(staff, pm_entry):
    url = reverse("admin:accounts_user_change", args=[pm_entry.user_id])

    page = client_for(staff).get(url)

    assert page.status_code == 200
    inline_forms = [f for formset in page.context["inline_admin_formsets"] for f in formset.formset.forms]
    assert inline_forms
    assert all("can_push_to_accounting" not in form.fields for form in inline_forms)
