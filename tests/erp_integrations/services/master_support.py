"""Helpers for the master-data tests: what a user of the ERP keeps there, and a sync."""

from __future__ import annotations

from erp_integrations.models import ErpMasterEntry
from erp_integrations.sandbox.services import sandbox_master_add
from erp_integrations.services.sync import connection_sync


def in_erp(company, kind: str, **values) -> None:
    """Make a job, vendor or cost code in the company's ERP, as its user would there."""
    sandbox_master_add(erp_system=company.erp_connection.erp_system, kind=kind, values=values)


def sync(company):
    return connection_sync(connection_id=company.erp_connection.pk, trigger="schedule")


def entry(company, kind: str, erp_id: str) -> ErpMasterEntry:
    return ErpMasterEntry.objects.get(company=company, kind=kind, erp_id=erp_id)
