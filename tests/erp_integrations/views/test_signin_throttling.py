"""Guessing passwords is throttled per username and client, says so, and never locks a
user out for good: another computer still signs in, and the lock lifts by itself."""

import logging
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db

LIMIT = settings.AXES_FAILURE_LIMIT
ATTACKER = "203.0.113.7"
HOME_OFFICE = "198.51.100.20"


@pytest.fixture
def approver():
    company = factories.company(name="Northwind Builders")
    return factories.approver(company, factories.project(company=company))


def _sign_in(password: str, *, username: str = "approver", address: str = ATTACKER, url: str | None = None):
    return Client().post(
        url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_forty_wrong_passwords_are_throttled_and_the_right_one_then_waits(approver):
    statuses = [_sign_in("wrong").status_code for _ in range(40)]

    # Wrong passwords are answered as such until the limit; from then on the page refuses.
    assert statuses[: LIMIT - 1] == [200] * (LIMIT - 1)
    assert statuses[LIMIT - 1 :] == [429] * (40 - LIMIT + 1)
    locked = _sign_in("pw")
    assert locked.status_code == 429
    assert "Too many failed sign-ins for this username from this computer" in locked.text
    assert "Try again in 15 minutes" in locked.text
    assert locked["Retry-After"] == str(15 * 60)
    assert "_auth_user_id" not in Client().session


def test_the_right_password_from_another_client_still_signs_in(approver):
    for _ in range(LIMIT + 3):
        _sign_in("wrong")

    client = Client()
    response = client.post(
        reverse("login"), {"username": "approver", "password": "pw"}, REMOTE_ADDR=HOME_OFFICE
    )

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(approver.pk)


def test_other_users_from_the_same_client_are_not_locked(approver):
    factories.user("pm")
    for _ in range(LIMIT):
        _sign_in("wrong")

    assert _sign_in("pw", username="pm").status_code == 302


def test_the_lock_lifts_after_the_cool_off(approver):
    for _ in range(LIMIT):
        _sign_in("wrong")
    assert _sign_in("pw").status_code == 429

    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )

    assert _sign_in("pw").status_code == 302


def test_the_admin_sign_in_counts_and_is_throttled_too(approver):
    staff = factories.user("staff", is_staff=True)
    admin_login = reverse("admin:login")
    statuses = [_sign_in("wrong", username="staff", url=admin_login).status_code for _ in range(LIMIT)]

    assert statuses == [200] * (LIMIT - 1) + [429]
    assert _sign_in("pw", username="staff", url=admin_login).status_code == 429
    assert _sign_in("pw", username="staff").status_code == 429
    assert staff.last_login is None


def test_failed_sign_ins_are_logged_with_username_and_address(approver, caplog):
    with caplog.at_level(logging.WARNING, logger="axes"):
        _sign_in("wrong")

    failures = [
        r.getMessage() for r in caplog.records if r.name.startswith("axes") and r.levelno == logging.WARNING
    ]
    assert len(failures) == 1
    assert "approver" in failures[0] and ATTACKER in failures[0]


def test_the_sign_in_page_still_shows_a_wrong_password_as_such(approver):
    response = _sign_in("wrong")

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text
    assert "Too many failed sign-ins" not in response.text
