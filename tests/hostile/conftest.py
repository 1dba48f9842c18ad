import pytest
from django.test import Client

from tests.hostile.support import company_world


@pytest.fixture
def alpha(db):
    return company_world("Alpha Builders", username="alpha-approver")


@pytest.fixture
def bravo(db):
    return company_world("Bravo Construction", username="bravo-approver")


@pytest.fixture
def signed_in():
    def make(user, *, enforce_csrf_checks: bool = False) -> Client:
        client = Client(enforce_csrf_checks=enforce_csrf_checks)
        client.force_login(user)
        return client

    return make
