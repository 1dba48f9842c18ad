"""python manage.py erp_sandbox: what a user does in the ERP, and the fault switch."""

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connections

from erp_integrations.connectors import get_connector
from erp_integrations.sandbox.services import sandbox_records, sandbox_set_mode, sandbox_switch
from erp_integrations.services.reconciliation import project_job_id
from tests import factories

# The sandbox ERPs run on the embedded default (SQLite) too: the second pass runs these there.
pytestmark = pytest.mark.embedded


def _run(*args: str) -> str:
    out = StringIO()
    call_command("erp_sandbox", *args, stdout=out)
    return out.getvalue()


def _exported(erp_system: str = "sage300"):
    company = factories.company(erp_system=erp_system)
    return factories.link(factories.commitment(project=factories.project(company=company)))


@pytest.mark.django_db(databases="__all__")
def test_delete_then_restore_a_commitment_found_in_its_erp():
    commitment = _exported("sage300")
    connector = get_connector("sage300")

    out = _run("delete", "commitment", commitment.erp_id)

    assert out.strip() == f"Deleted commitment {commitment.erp_id} in Sage 300 CRE®."
    assert connector.existing_ids("commitment", [commitment.erp_id]) == set()

    out = _run("restore", "commitment", commitment.erp_id, "--erp", "sage300")

    assert out.strip() == f"Restored commitment {commitment.erp_id} in Sage 300 CRE®."
    assert connector.existing_ids("commitment", [commitment.erp_id]) == {commitment.erp_id}


@pytest.mark.django_db(databases="__all__")
def test_delete_a_requisition_in_sage_100():
    commitment = _exported("sage100")
    invoice = factories.link(factories.invoice(commitment=commitment))

    out = _run("delete", "invoice", invoice.erp_id, "--erp", "sage100")

    assert out.strip() == f"Deleted requisition {invoice.erp_id} in Sage 100 Contractor®."
    assert sandbox_records("sage100").get(erp_id=invoice.erp_id).deleted_at is not None
    # The commitment is untouched.
    assert sandbox_records("sage100").get(erp_id=commitment.erp_id).deleted_at is None


def _exported_cco(erp_system: str, number: str = "CO-01"):
    commitment = _exported(erp_system)
    return factories.link(factories.change_order(commitment=commitment, number=number))


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    ("erp_system", "erp_name", "id_prefix"),
    [("sage300", "Sage 300 CRE®", "CCO-"), ("sage100", "Sage 100 Contractor®", "CO")],
)
def test_delete_then_restore_a_cco(erp_system, erp_name, id_prefix):
    change_order = _exported_cco(erp_system)
    connector = get_connector(erp_system)
    assert change_order.erp_id.startswith(id_prefix)

    out = _run("delete", "cco", change_order.erp_id)

    assert out.strip() == f"Deleted CCO {change_order.erp_id} in {erp_name}."
    assert connector.existing_ids("cco", [change_order.erp_id]) == set()
    # Its commitment is untouched.
    assert connector.existing_ids("commitment", [change_order.commitment.erp_id]) == {
        change_order.commitment.erp_id
    }

    out = _run("restore", "cco", change_order.erp_id, "--erp", erp_system)

    assert out.strip() == f"Restored CCO {change_order.erp_id} in {erp_name}."
    assert connector.existing_ids("cco", [change_order.erp_id]) == {change_order.erp_id}


@pytest.mark.django_db(databases="__all__")
def test_a_cco_is_found_by_its_own_kind_only():
    change_order = _exported_cco("sage300")
    with pytest.raises(CommandError, match="No CCO with id 'CCO-9999999' in any sandbox ERP."):
        _run("delete", "cco", "CCO-9999999")
    with pytest.raises(CommandError, match=f"No commitment with id '{change_order.erp_id}'"):
        _run("delete", "commitment", change_order.erp_id)
    with pytest.raises(CommandError, match=f"No CCO with id '{change_order.commitment.erp_id}' in Sage 300"):
        _run("delete", "cco", change_order.commitment.erp_id, "--erp", "sage300")
    assert sandbox_records("sage300").get(erp_id=change_order.erp_id).deleted_at is None


@pytest.mark.django_db(databases="__all__")
def test_unknown_ids_are_clear_errors():
    commitment = _exported("sage300")
    with pytest.raises(CommandError, match="No commitment with id 'JC-9999999' in any sandbox ERP."):
        _run("delete", "commitment", "JC-9999999")
    with pytest.raises(CommandError, match="No commitment with id 'JC-9999999' in Sage 300 CRE®."):
        _run("restore", "commitment", "JC-9999999", "--erp", "sage300")
    # Right id, wrong ERP or wrong kind.
    with pytest.raises(CommandError, match=f"No commitment with id '{commitment.erp_id}' in Sage 100"):
        _run("delete", "commitment", commitment.erp_id, "--erp", "sage100")
    with pytest.raises(CommandError, match=f"No requisition with id '{commitment.erp_id}'"):
        _run("delete", "invoice", commitment.erp_id)
    assert sandbox_records("sage300").get(erp_id=commitment.erp_id).deleted_at is None


@pytest.mark.django_db(databases="__all__")
def test_deleting_twice_or_restoring_a_live_record_is_an_error():
    commitment = _exported()
    _run("delete", "commitment", commitment.erp_id)
    with pytest.raises(CommandError, match="is already deleted"):
        _run("delete", "commitment", commitment.erp_id)
    _run("restore", "commitment", commitment.erp_id)
    with pytest.raises(CommandError, match="is not deleted"):
        _run("restore", "commitment", commitment.erp_id)


@pytest.mark.django_db(databases="__all__")
def test_an_id_in_both_erps_needs_erp_to_choose():
    # Ids normally differ by format; a record made by hand can still collide.
    for erp_system in ("sage300", "sage100"):
        sandbox_records(erp_system).create(kind="commitment", erp_id="X-1", external_reference="manual")
    with pytest.raises(
        CommandError, match=r"more than one sandbox ERP \(sage300, sage100\); choose one with --erp"
    ):
        _run("delete", "commitment", "X-1")
    _run("delete", "commitment", "X-1", "--erp", "sage100")
    assert sandbox_records("sage100").get(erp_id="X-1").deleted_at is not None
    assert sandbox_records("sage300").get(erp_id="X-1").deleted_at is None


@pytest.mark.django_db(databases="__all__")
def test_offline_slow_and_normal_switch_the_erp():
    assert _run("offline", "--erp", "sage100").strip() == "Sage 100 Contractor® is now offline."
    assert sandbox_switch("sage100").mode == "offline"
    assert sandbox_switch("sage300").mode == "normal"  # the other ERP is unaffected

    out = _run("slow", "--erp", "sage100", "--latency-ms", "1500")
    assert out.strip() == "Sage 100 Contractor® is now slow: 1500 ms per request."
    switch = sandbox_switch("sage100")
    assert (switch.mode, switch.latency_ms) == ("slow", 1500)

    assert _run("normal", "--erp", "sage100").strip() == "Sage 100 Contractor® is now normal."
    switch = sandbox_switch("sage100")
    assert (switch.mode, switch.latency_ms) == ("normal", 0)


@pytest.mark.django_db(databases="__all__")
def test_slow_needs_a_positive_latency_and_a_known_erp():
    with pytest.raises(CommandError, match="--latency-ms must be a positive number"):
        _run("slow", "--erp", "sage300", "--latency-ms", "0")
    with pytest.raises(CommandError, match="invalid choice: 'sage500'"):
        _run("offline", "--erp", "sage500")
    with pytest.raises(CommandError, match="the following arguments are required: --erp"):
        _run("offline")
    assert sandbox_switch("sage300").mode == "normal"


@pytest.mark.django_db(databases="__all__")
def test_list_shows_the_erps_records_and_mode():
    kept = _exported("sage300")
    deleted = _exported("sage300")
    _run("delete", "commitment", deleted.erp_id)
    sandbox_set_mode(erp_system="sage300", mode="slow", latency_ms=250)

    out = _run("list", "--erp", "sage300")

    lines = out.splitlines()
    assert lines[0] == "Sage 300 CRE® (slow, 250 ms)"
    assert any(line.startswith(kept.erp_id) and line.endswith("live") for line in lines)
    assert any(line.startswith(deleted.erp_id) and "deleted " in line for line in lines)

    only_deleted = _run("list", "--erp", "sage300", "--deleted").splitlines()
    assert [line.split()[0] for line in only_deleted[1:]] == [deleted.erp_id]
    assert _run("list", "--erp", "sage300", "--kind", "invoice").splitlines()[1:] == ["No records."]


@pytest.mark.django_db(databases="__all__")
def test_list_kind_cco_shows_the_change_orders_only():
    change_order = _exported_cco("sage100", number="CO-0042")
    _run("delete", "cco", change_order.erp_id)

    lines = _run("list", "--erp", "sage100", "--kind", "cco").splitlines()

    assert lines[0] == "Sage 100 Contractor® (normal)"
    assert [line.split() for line in lines[1:]] == [
        [change_order.erp_id, "CCO", "CO-0042", f"cco-{change_order.pk}", "deleted", *lines[1].split()[-2:]]
    ]
    # The commitment is listed under its own kind.
    commitments = _run("list", "--erp", "sage100", "--kind", "commitment").splitlines()[1:]
    assert [line.split()[:2] for line in commitments] == [[change_order.commitment.erp_id, "commitment"]]


@pytest.mark.postgresql  # it points the command at the test databases by PostgreSQL URLs
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_real_command_line_deletes_and_exits_non_zero_on_an_unknown_id():
    commitment = _exported("sage100")

    def url(alias: str) -> str:
        s = connections[alias].settings_dict
        return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"

    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": url("default"),
        "SANDBOX_SAGE300_DATABASE_URL": url("sandbox_sage300"),
        "SANDBOX_SAGE100_DATABASE_URL": url("sandbox_sage100"),
    }
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py"), "erp_sandbox"]

    done = subprocess.run(
        [*manage, "delete", "commitment", commitment.erp_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert f"Deleted commitment {commitment.erp_id} in Sage 100 Contractor®." in done.stdout
    assert sandbox_records("sage100").get(erp_id=commitment.erp_id).deleted_at is not None

    failed = subprocess.run(
        [*manage, "restore", "commitment", "SC999999"], env=env, capture_output=True, text=True, timeout=60
    )

    assert failed.returncode == 1
    assert "No commitment with id 'SC999999' in any sandbox ERP." in failed.stderr


@pytest.mark.django_db(databases="__all__")
def test_edit_cost_and_pay_do_in_the_erp_what_its_users_do():
    from decimal import Decimal

    from erp_integrations.sandbox.models import Sage300CostTransaction, Sage300Payment

    company = factories.company()
    project = factories.project(company=company)
    commitment = factories.link(factories.commitment(project=project))
    invoice = factories.link(factories.invoice(commitment=commitment))

    out = StringIO()
    call_command("erp_sandbox", "edit", "commitment", commitment.erp_id, "--amount", "1200", stdout=out)
    job = project_job_id(project)
    call_command(
        "erp_sandbox", "cost", "--erp", "sage300", "--company", company.slug, "--job", job,
        "--cost-code", "03-300", "--amount", "500", "--on", "2026-11-02", stdout=out,
    )  # fmt: skip
    call_command(
        "erp_sandbox", "pay", invoice.erp_id, "--erp", "sage300", "--company", company.slug,
        "--amount", "250", stdout=out,
    )  # fmt: skip

    assert f"Changed commitment {commitment.erp_id}: amount '1200'." in out.getvalue()
    assert sandbox_records("sage300").get(erp_id=commitment.erp_id).data["amount"] == "1200.00"
    cost = Sage300CostTransaction.objects.using("sandbox_sage300").get(company_id=company.pk)
    assert (cost.job, cost.cost_code, cost.amount) == (job, "03-300", Decimal("500.00"))
    payment = Sage300Payment.objects.using("sandbox_sage300").get(company_id=company.pk)
    assert (payment.requisition, payment.amount) == (invoice.erp_id, Decimal("250.00"))
    with pytest.raises(CommandError, match="Say what to change"):
        call_command("erp_sandbox", "edit", "commitment", commitment.erp_id)
