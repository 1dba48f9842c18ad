"""The company data version: how many changes to what the tool's lists show a company
has committed (``models.DataChange``, marked by the database's own triggers).

A list rendered after reading version N shows nothing older than N: the version is read
first, in a statement of its own, and the list's rows after it. So a list kept under N
may be served again while the company's version is still N; any committed change makes
it N + 1 or more, whatever order transactions commit in (the version counts marks, it
does not take the newest one's id).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from django.db import connection

#: The company's marks folded so far (``fold``): a parameter, the company's id.
_BASE = "coalesce((SELECT base FROM erp_integrations_dataversion WHERE company_id = %s), 0)"
#: A ``Snapshot``'s columns (the statement's snapshot, ``_BASE``, whether this transaction
#: has written): a parameter, the company's id.
_SNAPSHOT = f"pg_current_snapshot()::text, {_BASE}, pg_current_xact_id_if_assigned() IS NOT NULL"


def company_data_version(company_id: int) -> int | None:
    """The company's data version, or None where the database keeps no marks (the
    embedded SQLite: no triggers). Query: one, on PostgreSQL."""
    return company_data_version_seen(company_id)[0]


def company_data_version_seen(company_id: int) -> tuple[int | None, Snapshot | None]:
    """The company's data version and the snapshot of the statement that read it (see
    ``snapshot``), so that what a reader after it reads can later be told unchanged by
    ``changes_since``; (None, None) where the database keeps no marks. Query: one, on
    PostgreSQL."""
    if connection.vendor != "postgresql":
        return None, None
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_BASE} + (SELECT count(*) FROM erp_integrations_datachange WHERE company_id = %s), "  # noqa: S608 - this module's constants
            + _SNAPSHOT,
            [company_id, company_id, company_id],
        )
        version, *seen = cursor.fetchone()
    return version, Snapshot(*seen)


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


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a reader saw: PostgreSQL's snapshot (``pg_snapshot`` as text) and the
    company's folded marks (``base``). ``writing``: this transaction has written already;
    it is missing from its own snapshots, so its later writes could not be told apart."""

    text: str
    base: int
    writing: bool


@dataclass(frozen=True, slots=True)
class Unseen:
    """The marks a snapshot did not see (``changes_since``), and the snapshot they were
    read in. ``rows``: the rows they name of the table asked about; ``elsewhere``: one
    is another table's (not passed over) or names no rows (a statement over 1,000)."""

    now: Snapshot
    rows: frozenset[int]
    elsewhere: bool


def snapshot(company_id: int) -> Snapshot:
    """The snapshot of this statement, for a reader that reads after it: whatever the
    reader sees that this does not is named again by ``changes_since``. PostgreSQL
    only. Query: one."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_SNAPSHOT}",  # noqa: S608 - this module's constant
            [company_id],
        )
        return Snapshot(*cursor.fetchone())


def changes_since(company_id: int, since: str, *, table: str, passed_over: Collection[str]) -> Unseen:
    """The company's marks of the transactions not visible in the snapshot ``since``
    (migration 0012: a mark names its table, rows and transaction), which name every
    row of ``table`` that can have changed since. Marks of ``passed_over`` tables are
    left out. PostgreSQL only. Query: one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_current_snapshot()::text, "  # noqa: S608 - _BASE is this module's constant
            f"{_BASE}, bool_or(pg_current_xact_id_if_assigned() IS NOT NULL), "
            "array_agg(DISTINCT touched.id) FILTER (WHERE touched.id IS NOT NULL), "
            "bool_or(c.changed_table <> ALL(%s) AND (c.changed_table <> %s OR c.changed_ids IS NULL)) "
            "FROM (SELECT 1) one "
            "LEFT JOIN erp_integrations_datachange c ON c.company_id = %s "
            # Every transaction older than the snapshot's xmin had ended when it was taken.
            "AND c.xact >= pg_snapshot_xmin(%s::pg_snapshot) "
            "AND NOT pg_visible_in_snapshot(c.xact, %s::pg_snapshot) "
            "LEFT JOIN LATERAL unnest(c.changed_ids) AS touched(id) ON true",
            [company_id, list(passed_over), table, company_id, since, since],
        )
        text, base, writing, rows, elsewhere = cursor.fetchone()
    return Unseen(Snapshot(text, base, bool(writing)), frozenset(rows or ()), bool(elsewhere))
