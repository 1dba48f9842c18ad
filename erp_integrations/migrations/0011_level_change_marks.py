"""A user's level on a project moves the project's company's data version too.

Kept lists are shared by users whose access has the same key, and that key includes a
digest of the user's project levels. With a mark per statement that changes a level, the
digest can be kept by the company's data version (``CompanyAccess.levels_key``) instead
of being asked of the database on every page. accounts_projectpermission has no company
column, so its trigger finds the company through the project (on PostgreSQL only, as the
marks of 0010).
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION erp_note_level_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO erp_integrations_datachange (company_id, changed_at)
        SELECT DISTINCT project.company_id, now()
        FROM new_rows JOIN accounts_project project ON project.id = new_rows.project_id;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO erp_integrations_datachange (company_id, changed_at)
        SELECT DISTINCT project.company_id, now()
        FROM (SELECT project_id FROM new_rows UNION SELECT project_id FROM old_rows) changed
        JOIN accounts_project project ON project.id = changed.project_id;
    ELSE
        INSERT INTO erp_integrations_datachange (company_id, changed_at)
        SELECT DISTINCT project.company_id, now()
        FROM old_rows JOIN accounts_project project ON project.id = old_rows.project_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER accounts_projectpermission_noted_insert AFTER INSERT ON accounts_projectpermission
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION erp_note_level_change();
CREATE TRIGGER accounts_projectpermission_noted_update AFTER UPDATE ON accounts_projectpermission
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION erp_note_level_change();
CREATE TRIGGER accounts_projectpermission_noted_delete AFTER DELETE ON accounts_projectpermission
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION erp_note_level_change();
"""

DROP = """
DROP TRIGGER IF EXISTS accounts_projectpermission_noted_insert ON accounts_projectpermission;
DROP TRIGGER IF EXISTS accounts_projectpermission_noted_update ON accounts_projectpermission;
DROP TRIGGER IF EXISTS accounts_projectpermission_noted_delete ON accounts_projectpermission;
DROP FUNCTION IF EXISTS erp_note_level_change();
"""


def _applies(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql" and schema_editor.connection.alias == "default"


def create_triggers(apps, schema_editor):
    if _applies(schema_editor):
        schema_editor.execute(FUNCTION)


def drop_triggers(apps, schema_editor):
    if _applies(schema_editor):
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("erp_integrations", "0010_datachange"),
    ]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
