"""The record of grants and revokes is shown to staff and cannot be edited or deleted."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import DirectoryMembership, PrivilegeChange
from accounts.services import membership_set_privilege
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    return factories.user("staff", is_staff=True, is_superuser=True)


@pytest.fixture
def change(staff):
    company = factories.company(name="Northwind Builders")
    pm = factories.user("pm", company=company)
    entry = DirectoryMembership.objects.get(user=pm)
    return membership_set_privilege(membership=entry, granted=True, changed_by=staff)


@pytest.fixture
def client(staff):
    client = Client()
    client.force_login(staff)
    return client


def test_staff_see_the_history(client, change):
    page = client.get(reverse("admin:accounts_privilegechange_changelist"))

    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [change]
    assert "Granted" in page.text


def test_history_cannot_be_added(client, change):
    assert client.get(reverse("admin:accounts_privilegechange_add")).status_code == 403


def test_history_cannot_be_changed(client, change, staff):
    url = reverse("admin:accounts_privilegechange_change", args=[change.pk])

    page = client.get(url)
    response = client.post(url, {"action": "revoked", "changed_by": str(staff.pk)})

    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert response.status_code == 403
    assert PrivilegeChange.objects.get().action == "granted"


def test_history_cannot_be_deleted(client, change):
    url = reverse("admin:accounts_privilegechange_delete", args=[change.pk])
    bulk = client.post(
        reverse("admin:accounts_privilegechange_changelist"),
        {"action": "delete_selected", "_selected_action": [str(change.pk)], "post": "yes"},
    )

    assert client.post(url, {"post": "yes"}).status_code == 403
    assert bulk.status_code in (200, 302)
    assert PrivilegeChange.objects.filter(pk=change.pk).exists()


def test_the_entry_page_shows_its_history(client, change):
    entry = DirectoryMembership.objects.get(user=change.user)

    page = client.get(reverse("admin:accounts_directorymembership_change", args=[entry.pk]))

    assert "Granted by staff" in page.text
