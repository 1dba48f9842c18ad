"""python manage.py erp_sync: the same sync, at once, from the command line."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from erp_integrations.models import SyncRun
from erp_integrations.sandbox.services import sandbox_set_mode
from tests import factories
from tests.erp_integrations.services.sync_support import delete_in_erp

pytestmark = pytest.mark.django_db(databases="__all__")


def erp_sync(*args):
    out, err = StringIO(), StringIO()
    call_command("erp_sync", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def companies():
    sage300 = factories.company(name="Acme Builders")
    sage100 = factories.company(name="Birch Construction", erp_system="sage100")
    factories.link(factories.commitment(project=factories.project(company=sage300)))
    deleted = factories.link(factories.commitment(project=factories.project(company=sage100)))
    delete_in_erp(deleted)
    return sage300, sage100


def test_erp_sync_runs_every_active_connection_and_prints_the_counts(companies):
    out, err = erp_sync()

    run_300, run_100 = SyncRun.objects.order_by("id")
    assert out.splitlines() == [
        f"Acme Builders ↔ Sage 300 CRE®: sync {run_300.pk} succeeded: "
        "1 checked, 0 missing, 0 reappeared, 0 drifted, 0 orphans.",
        f"Birch Construction ↔ Sage 100 Contractor®: sync {run_100.pk} succeeded: "
        "1 checked, 1 missing, 0 reappeared, 0 drifted, 0 orphans.",
    ]
    assert err == ""
    assert {run.trigger for run in (run_300, run_100)} == {"command"}


@pytest.mark.parametrize("by", ["slug", "id"])
def test_erp_sync_runs_one_company_by_slug_or_id(companies, by):
    company = companies[1]

    out, _ = erp_sync("--company", company.slug if by == "slug" else str(company.pk))

    assert "Birch Construction" in out and "Acme" not in out
    assert SyncRun.objects.get().connection == company.erp_connection


def test_erp_sync_fails_when_a_run_fails(companies):
    sandbox_set_mode(erp_system="sage100", mode="offline")

    with pytest.raises(CommandError, match=r"1 sync run\(s\) failed."):
        erp_sync()

    assert sorted(SyncRun.objects.values_list("status", flat=True)) == ["failed", "succeeded"]


def test_erp_sync_names_an_unknown_company(companies):
    with pytest.raises(CommandError, match="No company 'nobody' with an active ERP connection."):
        erp_sync("--company", "nobody")
