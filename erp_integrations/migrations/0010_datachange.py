"""The company data version: a mark per statement that changes what the lists show,
and the count the marks are folded into.

On PostgreSQL, statement-level triggers (with transition tables, so one mark per
statement and company however many rows it touched) on the three record kinds, their
links, projects and vendors insert into erp_integrations_datachange. Other databases
(the embedded SQLite) get the table only: there the lists are not cached.
"""

from django.db import migrations, models

WATCHED = (
    "erp_integrations_commitment",
    "erp_integrations_subcontractorinvoice",
    "erp_integrations_commitmentchangeorder",
    "erp_integrations_erplink",
    "erp_integrations_vendor",
    "accounts_project",
)

FUNCTION = """
CREATE OR REPLACE FUNCTION erp_note_data_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO erp_integrations_datachange (company_id, changed_at)
        SELECT DISTINCT company_id, now() FROM new_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO erp_integrations_datachange (company_id, changed_at)
        SELECT company_id, now() FROM (SELECT company_id FROM new_rows UNION SELECT company_id FROM old_rows) changed;
    ELSE
        INSERT INTO erp_integrations_datachange (company_id, changed_at)
        SELECT DISTINCT company_id, now() FROM old_rows;
    END IF;
    RETURN NULL;
END
$$;
"""

TRIGGERS = """
CREATE TRIGGER {table}_noted_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION erp_note_data_change();
CREATE TRIGGER {table}_noted_update AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION erp_note_data_change();
CREATE TRIGGER {table}_noted_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION erp_note_data_change();
"""

DROP = """
DROP TRIGGER IF EXISTS {table}_noted_insert ON {table};
DROP TRIGGER IF EXISTS {table}_noted_update ON {table};
DROP TRIGGER IF EXISTS {table}_noted_delete ON {table};
"""


def _applies(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql" and schema_editor.connection.alias == "default"


def create_triggers(apps, schema_editor):
    if not _applies(schema_editor):
        return
    schema_editor.execute(FUNCTION)
    for table in WATCHED:
        schema_editor.execute(TRIGGERS.format(table=table))


def drop_triggers(apps, schema_editor):
    if not _applies(schema_editor):
        return
    for table in WATCHED:
        schema_editor.execute(DROP.format(table=table))
    schema_editor.execute("DROP FUNCTION IF EXISTS erp_note_data_change()")


class Migration(migrations.Migration):
    dependencies = [
        ("erp_integrations", "0009_audit_actions_and_record_types"),
        ("accounts", "0006_approver"),
    ]

    operations = [
        migrations.CreateModel(
            name="DataChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("company_id", models.BigIntegerField()),
                ("changed_at", models.DateTimeField()),
            ],
            options={
                "indexes": [models.Index(fields=["company_id", "id"], name="datachange_company")],
            },
        ),
        migrations.CreateModel(
            name="DataVersion",
            fields=[
                ("company_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("base", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
