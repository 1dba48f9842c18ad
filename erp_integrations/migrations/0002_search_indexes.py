"""Trigram indexes so that searching a list (ILIKE '%term%') stays fast at a million rows.

PostgreSQL only; the embedded SQLite default searches by scanning, which is fine at
its size.
"""

from django.db import migrations

INDEXES = [
    ("commitment_number_trgm", "erp_integrations_commitment", "number"),
    ("commitment_title_trgm", "erp_integrations_commitment", "title"),
    ("commitment_erp_id_trgm", "erp_integrations_commitment", "erp_id"),
    ("invoice_number_trgm", "erp_integrations_subcontractorinvoice", "number"),
    ("invoice_erp_id_trgm", "erp_integrations_subcontractorinvoice", "erp_id"),
    ("vendor_name_trgm", "erp_integrations_vendor", "name"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("erp_integrations", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
