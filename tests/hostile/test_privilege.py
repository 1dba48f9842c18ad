"""Nobody but staff with the grant permission can grant 'Can Push to Accounting'.

A member who is not staff tries every way in: the admin's pages, its change and add
forms, its actions, the user form's inline, and every URL of the product with the
privilege's field in the body. All are refused and no PrivilegeChange is recorded.
A staff member without the grant permission cannot do it either.
"""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.models import DirectoryMembership, PermissionLevel, PrivilegeChange
from tests import factories
from tests.hostile.snapshot import snapshot
from tests.hostile.support import AUTH_VIEWS, product_routes, url_for

pytestmark = [pytest.mark.hostile, pytest.mark.django_db(databases="__all__")]

GRANT = {"can_push_to_accounting": "on", "erp_integrations_level": str(PermissionLevel.ADMIN)}


@pytest.fixture
def pm(alpha):
    return factories.user(
        "alpha-pm",
        company=alpha.company,
        erp_level=PermissionLevel.STANDARD,
        projects={alpha.project: PermissionLevel.ADMIN},
    )


def _admin_attempts(membership, user):
    change = reverse("admin:accounts_directorymembership_change", args=[membership.pk])
    changelist = reverse("admin:accounts_directorymembership_changelist")
    return [
        ("get", reverse("admin:index"), {}),
        ("get", change, {}),
        ("post", change, {"company": membership.company_id, "user": membership.user_id, **GRANT}),
        ("post", changelist, {"action": "grant_push_to_accounting", "_selected_action": [membership.pk]}),
        (
            "post",
            reverse("admin:accounts_directorymembership_add"),
            {"company": membership.company_id, "user": membership.user_id, **GRANT},
        ),
        (
            "post",
            reverse("admin:accounts_user_change", args=[user.pk]),
            {
                "username": user.username,
                "memberships-TOTAL_FORMS": "1",
                "memberships-INITIAL_FORMS": "1",
                "memberships-0-id": membership.pk,
                "memberships-0-company": membership.company_id,
                "memberships-0-can_push_to_accounting": "on",
                "is_staff": "on",
                "is_superuser": "on",
            },
        ),
    ]


def test_a_member_who_is_not_staff_cannot_grant_the_privilege_anywhere(alpha, pm, signed_in):
    membership = DirectoryMembership.objects.get(user=pm, company=alpha.company)
    before = snapshot()
    for who in (pm, alpha.approver):
        client = signed_in(who)
        for method, url, data in _admin_attempts(membership, pm):
            response = getattr(client, method)(url, data)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], (method, url)
        for route in product_routes():
            if route.name in AUTH_VIEWS:
                continue  # signing out would make the rest of the attempts anonymous
            response = client.post(url_for(route, alpha), {**GRANT, "user": pm.pk, "privilege": "on"})
            assert response.status_code < 500, (route.name, response.status_code)
    membership.refresh_from_db()
    pm.refresh_from_db()
    assert not membership.can_push_to_accounting
    assert not pm.is_staff and not pm.is_superuser
    after = snapshot()
    assert after["privileges"] == before["privileges"]
    assert after["privilege_changes"] == before["privilege_changes"] == PrivilegeChange.objects.count()


def test_staff_without_the_grant_permission_cannot_grant_it(alpha, pm, signed_in):
    staff = factories.user("plain-staff", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_directorymembership", "change_directorymembership", "add_directorymembership"]
        )
    )
    membership = DirectoryMembership.objects.get(user=pm, company=alpha.company)
    changes = PrivilegeChange.objects.count()
    client = signed_in(staff)
    change = reverse("admin:accounts_directorymembership_change", args=[membership.pk])
    page = client.get(change)
    assert page.status_code == 200
    # The field is shown read-only: no input to tick.
    assert 'name="can_push_to_accounting"' not in page.text
    client.post(change, {"erp_integrations_level": str(PermissionLevel.STANDARD), **GRANT})
    listing = reverse("admin:accounts_directorymembership_changelist")
    client.post(listing, {"action": "grant_push_to_accounting", "_selected_action": [membership.pk]})
    membership.refresh_from_db()
    assert not membership.can_push_to_accounting
    assert PrivilegeChange.objects.count() == changes
