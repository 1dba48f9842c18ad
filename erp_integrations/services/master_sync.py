"""The sync's share of master data: the ERP's jobs, vendors and cost codes, set-based.

Each run replaces a company's ``ErpMasterEntry`` rows of a kind with what the ERP holds:
new ERP records come in, changed ones are rewritten (only those: an unchanged row is
not touched), and records deleted in the ERP leave. On PostgreSQL that is one
``INSERT ... ON CONFLICT`` per chunk of arrays, on the embedded default batched
``bulk_create`` upserts; on both, what the ERP no longer holds is found by comparing
the ids in memory and deleted by id, in chunks. No row is saved one at a time.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.db import connection as db_connection

from erp_integrations.connectors import ErpMasterRecord
from erp_integrations.models import ErpMasterEntry

#: Rows per statement.
CHUNK_POSTGRESQL = 5_000
CHUNK_PORTABLE = 500


def master_entries_replace(
    *, company_id: int, kind: str, records: list[ErpMasterRecord], seen_at: datetime
) -> tuple[int, int]:
    """Make the company's entries of ``kind`` what the ERP holds; (written, removed)."""
    if db_connection.vendor == "postgresql":
        return _replace_postgresql(company_id, kind, records, seen_at)
    return _replace_portable(company_id, kind, records, seen_at)


def _replace_postgresql(
    company_id: int, kind: str, records: list[ErpMasterRecord], seen_at: datetime
) -> tuple[int, int]:
    table = db_connection.ops.quote_name(ErpMasterEntry._meta.db_table)
    upsert = (
        f"INSERT INTO {table} AS e (company_id, kind, erp_id, name, attrs, seen_at) "  # noqa: S608
        "SELECT %s, %s, u.erp_id, u.name, u.attrs::jsonb, %s "
        "FROM unnest(%s::text[], %s::text[], %s::text[]) AS u(erp_id, name, attrs) "
        "ON CONFLICT (company_id, kind, erp_id) DO UPDATE "
        "SET name = EXCLUDED.name, attrs = EXCLUDED.attrs, seen_at = EXCLUDED.seen_at "
        # Only what changed in the ERP is written.
        "WHERE (e.name, e.attrs) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.attrs)"
    )
    written = 0
    with db_connection.cursor() as cursor:
        for start in range(0, len(records), CHUNK_POSTGRESQL):
            chunk = records[start : start + CHUNK_POSTGRESQL]
            cursor.execute(
                upsert,
                [
                    company_id,
                    kind,
                    seen_at,
                    [r.erp_id for r in chunk],
                    [r.name[:200] for r in chunk],
                    [json.dumps(r.attrs, sort_keys=True) for r in chunk],
                ],
            )
            written += cursor.rowcount
    # Deleted in the ERP: the ids the platform holds that the ERP no longer does, compared
    # in memory (one index-only read of the kind's ids), then deleted by id in chunks.
    removed = _delete_gone(company_id, kind, {r.erp_id for r in records}, CHUNK_POSTGRESQL)
    return written, removed


def _replace_portable(
    company_id: int, kind: str, records: list[ErpMasterRecord], seen_at: datetime
) -> tuple[int, int]:
    entries = ErpMasterEntry.objects.filter(company_id=company_id, kind=kind)
    known = {
        erp_id: (pk, name, attrs)
        for pk, erp_id, name, attrs in entries.values_list("pk", "erp_id", "name", "attrs")
    }
    changed = [
        ErpMasterEntry(
            company_id=company_id,
            kind=kind,
            erp_id=r.erp_id,
            name=r.name[:200],
            attrs=r.attrs,
            seen_at=seen_at,
        )
        for r in records
        if known.get(r.erp_id, (None, None, None))[1:] != (r.name[:200], r.attrs)
    ]
    ErpMasterEntry.objects.bulk_create(
        changed,
        batch_size=CHUNK_PORTABLE,
        update_conflicts=True,
        unique_fields=["company", "kind", "erp_id"],
        update_fields=["name", "attrs", "seen_at"],
    )
    removed = _delete_gone(company_id, kind, {r.erp_id for r in records}, CHUNK_PORTABLE)
    return len(changed), removed


def _delete_gone(company_id: int, kind: str, present: set[str], chunk: int) -> int:
    entries = ErpMasterEntry.objects.filter(company_id=company_id, kind=kind)
    gone = [
        pk
        for pk, erp_id in entries.values_list("pk", "erp_id").iterator(chunk_size=5000)
        if erp_id not in present
    ]
    for start in range(0, len(gone), chunk):
        ErpMasterEntry.objects.filter(pk__in=gone[start : start + chunk])._raw_delete(
            ErpMasterEntry.objects.db
        )
    return len(gone)
