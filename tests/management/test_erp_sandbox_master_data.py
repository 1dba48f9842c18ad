"""erp_sandbox add / edit / delete for jobs, vendors, cost codes and sub jobs, in each ERP's shapes."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from erp_integrations.connectors import get_connector
from erp_integrations.sandbox.services import sandbox_records

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases="__all__")]


def _run(*args: str) -> str:
    out = StringIO()
    call_command("erp_sandbox", *args, stdout=out)
    return out.getvalue().strip()


def test_add_a_sage_300_job_that_fits_the_job_mask():
    assert _run("add", "job", "--erp", "sage300", "--id", "26-0101", "--name", "Harbor Tower") == (
        "Added job 26-0101 in Sage 300 CRE®."
    )
    job = sandbox_records("sage300").get(kind="job")
    assert (job.erp_id, job.data) == ("26-0101", {"name": "Harbor Tower"})


def test_a_job_id_off_the_mask_is_refused_naming_the_field_and_the_mask():
    with pytest.raises(CommandError) as refused:
        _run("add", "job", "--erp", "sage300", "--id", "2026-1", "--name", "Harbor Tower")
    assert str(refused.value) == (
        "Job id: '2026-1' does not fit the job mask ##-#### of Sage 300 CRE® "
        "(# is a digit, the rest as shown)."
    )


def test_the_job_mask_is_the_erps_own_setting():
    assert (
        _run("job-mask", "--erp", "sage300", "--mask", "###-###")
        == "Sage 300 CRE® job ids now follow ###-###."
    )
    _run("add", "job", "--erp", "sage300", "--id", "261-001", "--name", "Harbor Tower")
    assert get_connector("sage300").validate_job({"id": "26-0101", "name": "X"})[0].field == "job id"


def test_sage_100_jobs_are_numbers():
    with pytest.raises(CommandError, match="is not a job number of Sage 100 Contractor®"):
        _run("add", "job", "--erp", "sage100", "--id", "26-0101", "--name", "Harbor Tower")
    assert _run("add", "job", "--erp", "sage100", "--id", "2601", "--name", "Harbor Tower") == (
        "Added job 2601 in Sage 100 Contractor®."
    )


def test_vendors_have_an_id_and_a_type_in_the_erps_format():
    with pytest.raises(CommandError) as refused:
        _run("add", "vendor", "--erp", "sage100", "--id", "ACME", "--name", "Acme", "--type", "Friend")
    assert "Vendor id: 'ACME' is not a vendor id of Sage 100 Contractor®: a number from 1 to 999999." in str(
        refused.value
    )
    assert "Vendor type: 'Friend' is not a vendor type" in str(refused.value)
    _run("add", "vendor", "--erp", "sage100", "--id", "1042", "--name", "Acme", "--type", "Subcontractor")
    assert sandbox_records("sage100").get(kind="vendor").data == {
        "name": "Acme",
        "vendor_type": "Subcontractor",
    }


def test_cost_codes_pair_a_category_in_sage_300_and_a_cost_type_in_sage_100():
    _run("add", "cost_code", "--erp", "sage300", "--code", "03-300", "--class", "L", "--description", "Labor")
    _run("add", "cost_code", "--erp", "sage100", "--code", "3300", "--class", "2", "--description", "Labor")
    assert sandbox_records("sage300").get(kind="cost_code").erp_id == "03-300:L"
    assert sandbox_records("sage100").get(kind="cost_code").erp_id == "3300:2"
    with pytest.raises(CommandError, match="Cost type: 'L' is not a cost type of Sage 100 Contractor®"):
        _run(
            "add", "cost_code", "--erp", "sage100", "--code", "3300", "--class", "L", "--description", "Labor"
        )


def test_sub_jobs_belong_to_a_job_and_have_ids_of_at_most_30_characters():
    _run("add", "job", "--erp", "sage300", "--id", "26-0101", "--name", "Harbor Tower")
    with pytest.raises(CommandError, match="Extra id: must be at most 30 characters"):
        _run("add", "sub_job", "--erp", "sage300", "--job", "26-0101", "--id", "E" * 31, "--name", "Lobby")
    with pytest.raises(CommandError, match="Phase id: must be at most 30 characters"):
        _run("add", "sub_job", "--erp", "sage100", "--job", "1", "--id", "P" * 31, "--name", "Lobby")
    assert _run(
        "add", "sub_job", "--erp", "sage300", "--job", "26-0101", "--id", "E" * 30, "--name", "Lobby"
    ) == (f"Added sub job 26-0101:{'E' * 30} in Sage 300 CRE®.")


def test_edit_renames_and_delete_removes_a_vendor_as_a_user_of_the_erp_would():
    _run("add", "vendor", "--erp", "sage300", "--id", "ACME", "--name", "Acme", "--type", "Supplier")

    assert _run("edit", "vendor", "ACME", "--erp", "sage300", "--name", "Acme LLC") == (
        "Changed vendor ACME in Sage 300 CRE®."
    )
    assert [r.name for r in get_connector("sage300").master_records("vendor")] == ["Acme LLC"]
    assert _run("delete", "vendor", "ACME", "--erp", "sage300") == "Deleted vendor ACME in Sage 300 CRE®."
    assert get_connector("sage300").master_records("vendor") == []


def test_an_id_the_erp_has_already_is_refused():
    _run("add", "vendor", "--erp", "sage300", "--id", "ACME", "--name", "Acme", "--type", "Supplier")
    with pytest.raises(CommandError, match="Sage 300 CRE® already has a vendor ACME."):
        _run("add", "vendor", "--erp", "sage300", "--id", "ACME", "--name", "Other", "--type", "Supplier")


def test_only_ascii_digits_are_digits_in_a_job_id():
    with pytest.raises(CommandError, match="does not fit the job mask"):
        _run("add", "job", "--erp", "sage300", "--id", "٢٦-٠١٠١", "--name", "Harbor Tower")
