import pytest
from django.db import connection

from erp_integrations.connectors import ErpUnavailable, get_connector
from erp_integrations.kinds import COMMITMENT
from erp_integrations.sandbox.services import sandbox_delete, sandbox_set_mode
from tests import factories


@pytest.mark.django_db(databases="__all__")
def test_runs_on_postgresql():
    assert connection.vendor == "postgresql"


@pytest.mark.django_db(databases="__all__")
def test_export_is_idempotent_and_deleted_records_disappear_from_the_erp():
    company = factories.company()
    commitment = factories.commitment(project=factories.project(company=company))
    connector = get_connector("sage300")
    first = connector.export(COMMITMENT, commitment)
    assert connector.export(COMMITMENT, commitment) == first
    assert first.startswith("JC-")
    assert connector.existing_ids("commitment", [first, "JC-9999999"]) == {first}
    sandbox_delete(erp_system="sage300", kind="commitment", erp_id=first)
    assert connector.existing_ids("commitment", [first]) == set()
    # Exported again after deletion, it is a new ERP record.
    assert connector.export(COMMITMENT, commitment) != first


@pytest.mark.django_db(databases="__all__")
def test_offline_sandbox_refuses():
    sandbox_set_mode(erp_system="sage100", mode="offline")
    with pytest.raises(ErpUnavailable, match="Sage 100 Contractor®"):
        get_connector("sage100").existing_ids("invoice", ["RQ000001"])
