import pytest
from django.db import connection


@pytest.mark.django_db(databases="__all__")
def test_runs_on_postgresql_with_three_stores():
    assert connection.vendor == "postgresql"
