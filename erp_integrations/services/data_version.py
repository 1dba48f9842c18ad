"""The company data version: how many changes to what the tool's lists show a company
has committed (``models.DataChange``, marked by the database's own triggers).

A list rendered after reading version N shows nothing older than N: the version is read
first, in a statement of its own, and the list's rows after it. So a list kept under N
may be served again while the company's version is still N; any committed change makes
it N + 1 or more, whatever order transactions commit in (the version counts marks, it
does not take the newest one's id).
"""

from __future__ import annotations

from django.db import connection


def company_data_version(company_id: int) -> int | None:
    """The company's data version, or None where the database keeps no marks (the
    embedded SQLite: no triggers). Query: one, on PostgreSQL."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce((SELECT base FROM erp_integrations_dataversion WHERE company_id = %s), 0)"
            " + (SELECT count(*) FROM erp_integrations_datachange WHERE company_id = %s)",
            [company_id, company_id],
        )
        return cursor.fetchone()[0]


def fold(company_id: int) -> None:
    """Fold the company's marks into its count, in one statement: the version stays what
    it was, and counting the marks stays cheap. Each sync run does it first, whether it
    succeeds or not."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH gone AS (DELETE FROM erp_integrations_datachange WHERE company_id = %s RETURNING 1) "
            "INSERT INTO erp_integrations_dataversion (company_id, base) SELECT %s, count(*) FROM gone "
            "ON CONFLICT (company_id) DO UPDATE SET base = erp_integrations_dataversion.base + EXCLUDED.base",
            [company_id, company_id],
        )
