"""Staff set a user's time zone in the admin, from a list of the zones there are."""

import pytest
from django.test import Client
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db


def _user_form(user, **changes) -> dict:
    return {
        "username": user.username,
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "is_active": "on",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "project_permissions-TOTAL_FORMS": "0",
        "project_permissions-INITIAL_FORMS": "0",
        "project_permissions-MIN_NUM_FORMS": "0",
        "project_permissions-MAX_NUM_FORMS": "1000",
        **changes,
    }


def test_staff_pick_a_users_time_zone_from_the_list():
    pm = factories.user("pm")
    client = Client()
    client.force_login(factories.platform_staff())
    url = reverse("admin:accounts_user_change", args=[pm.pk])

    page = client.get(url).content.decode()
    assert '<select name="time_zone"' in page
    assert '<option value="Europe/Berlin">Europe/Berlin</option>' in page

    response = client.post(url, _user_form(pm, time_zone="Europe/Berlin"))

    assert response.status_code == 302
    pm.refresh_from_db()
    assert pm.time_zone == "Europe/Berlin"


def test_a_zone_not_in_the_list_is_refused():
    pm = factories.user("pm")
    client = Client()
    client.force_login(factories.platform_staff())
    url = reverse("admin:accounts_user_change", args=[pm.pk])

    response = client.post(url, _user_form(pm, time_zone="Mars/Olympus_Mons"))

    assert response.status_code == 200
    assert "time_zone" in response.context["adminform"].form.errors
    pm.refresh_from_db()
    assert pm.time_zone == "UTC"


def test_staff_pick_a_companys_time_zone_for_its_daily_summary():
    company = factories.company(name="Northwind Builders")
    client = Client()
    client.force_login(factories.platform_staff())
    url = reverse("admin:accounts_company_change", args=[company.pk])

    assert '<select name="time_zone"' in client.get(url).content.decode()
    response = client.post(url, {"name": company.name, "slug": company.slug, "time_zone": "America/Chicago"})

    assert response.status_code == 302
    company.refresh_from_db()
    assert company.time_zone == "America/Chicago"
