"""A mark also says which table changed, which of its rows, and in which transaction.

So a common search's sorted matches can be kept across changes to the company
(``selectors._sorted_matches``): the marks a kept result did not see are those of the
transactions not yet visible in the snapshot it was read in (``pg_visible_in_snapshot``),
and their rows are all that can have entered or left it. A statement that touches more
than 1,000 rows names none of them (NULL): whatever was kept is read again.

On PostgreSQL only, as the marks of 0010; the columns are the database's, not the model's
(only the triggers write them, only ``selectors`` reads them), so the embedded default's
table is unchanged. The level marks of 0011 keep the defaults: another table ('').
"""

from importlib import import_module

from django.db import migrations

COLUMNS = """
ALTER TABLE erp_integrations_datachange
    ADD COLUMN changed_table varchar(63) NOT NULL DEFAULT '',
    ADD COLUMN changed_ids bigint[],
    ADD COLUMN xact xid8 NOT NULL DEFAULT pg_current_xact_id();
-- A kept search reads the marks of the transactions its snapshot does not see: none is
-- older than the snapshot's xmin, so not every mark since the last sync is read.
CREATE INDEX datachange_company_xact ON erp_integrations_datachange (company_id, xact);
"""

FUNCTION = """
CREATE OR REPLACE FUNCTION erp_note_data_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        touched := ARRAY(SELECT id FROM new_rows LIMIT 1001);
        INSERT INTO erp_integrations_datachange (company_id, changed_at, changed_table, changed_ids)
        SELECT DISTINCT company_id, now(), TG_TABLE_NAME,
            CASE WHEN cardinality(touched) > 1000 THEN NULL ELSE touched END
        FROM new_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        -- Both sides (an id is never updated here, but nothing relies on it). An UPDATE's
        -- two sides have as many rows, so both are whole or both were cut short.
        touched := ARRAY(SELECT id FROM new_rows LIMIT 1001)
                || ARRAY(SELECT id FROM old_rows LIMIT 1001);
        INSERT INTO erp_integrations_datachange (company_id, changed_at, changed_table, changed_ids)
        SELECT company_id, now(), TG_TABLE_NAME,
            CASE WHEN cardinality(touched) > 2000 THEN NULL ELSE touched END
        FROM (SELECT company_id FROM new_rows UNION SELECT company_id FROM old_rows) changed;
    ELSE
        touched := ARRAY(SELECT id FROM old_rows LIMIT 1001);
        INSERT INTO erp_integrations_datachange (company_id, changed_at, changed_table, changed_ids)
        SELECT DISTINCT company_id, now(), TG_TABLE_NAME,
            CASE WHEN cardinality(touched) > 1000 THEN NULL ELSE touched END
        FROM old_rows;
    END IF;
    RETURN NULL;
END
$$;
"""

# 0010's function, restored when this migration is reversed.
PREVIOUS_FUNCTION = import_module("erp_integrations.migrations.0010_datachange").FUNCTION

DROP_COLUMNS = """
ALTER TABLE erp_integrations_datachange
    DROP COLUMN IF EXISTS changed_table,
    DROP COLUMN IF EXISTS changed_ids,
    DROP COLUMN IF EXISTS xact;
"""


def _applies(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql" and schema_editor.connection.alias == "default"


def name_rows(apps, schema_editor):
    if _applies(schema_editor):
        schema_editor.execute(COLUMNS)
        schema_editor.execute(FUNCTION)


def unname_rows(apps, schema_editor):
    if _applies(schema_editor):
        schema_editor.execute(PREVIOUS_FUNCTION)
        schema_editor.execute(DROP_COLUMNS)


class Migration(migrations.Migration):
    dependencies = [
        ("erp_integrations", "0011_level_change_marks"),
    ]

    operations = [migrations.RunPython(name_rows, unname_rows)]
