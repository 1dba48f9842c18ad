"""Staff status changes are recorded; the database guards the company directory.

The triggers refuse, whatever the route (ORM, raw SQL, a console):
- moving a directory entry to another company or user;
- an entry created with 'Can Push to Accounting' (entries start without it);
- a change of the privilege that does not come with a new privilege_changed_at and a
  PrivilegeChange row for that very change (who, when, granted or revoked), which is
  what accounts.services.membership_set_privilege writes.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import accounts.models

IDENTITY_MESSAGE = "A directory entry's company and user never change."
PRIVILEGE_MESSAGE = (
    "'Can Push to Accounting' changes only through membership_set_privilege, with a PrivilegeChange."
)
NEW_ENTRY_MESSAGE = "A directory entry starts without 'Can Push to Accounting'; grant it afterwards."
# A PrivilegeChange written for exactly this grant or revoke.
RECORDED = """EXISTS (
    SELECT 1 FROM accounts_privilegechange c
    WHERE c.company_id = NEW.company_id AND c.user_id = NEW.user_id
      AND c.changed_by_id = NEW.privilege_changed_by_id AND c.changed_at = NEW.privilege_changed_at
      AND c.action = CASE WHEN NEW.can_push_to_accounting THEN 'granted' ELSE 'revoked' END
)"""

POSTGRESQL = [
    f"""
    CREATE FUNCTION accounts_directory_entry_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NEW.can_push_to_accounting THEN
                RAISE EXCEPTION '{NEW_ENTRY_MESSAGE.replace("'", "''")}'
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END IF;
        IF NEW.company_id IS DISTINCT FROM OLD.company_id OR NEW.user_id IS DISTINCT FROM OLD.user_id THEN
            RAISE EXCEPTION '{IDENTITY_MESSAGE.replace("'", "''")}'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF NEW.can_push_to_accounting IS DISTINCT FROM OLD.can_push_to_accounting
           AND (NEW.privilege_changed_at IS NOT DISTINCT FROM OLD.privilege_changed_at OR NOT {RECORDED}) THEN
            RAISE EXCEPTION '{PRIVILEGE_MESSAGE.replace("'", "''")}'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER accounts_directory_entry_guard
    BEFORE INSERT OR UPDATE ON accounts_directorymembership
    FOR EACH ROW EXECUTE FUNCTION accounts_directory_entry_guard()
    """,
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS accounts_directory_entry_guard ON accounts_directorymembership",
    "DROP FUNCTION IF EXISTS accounts_directory_entry_guard()",
]
SQLITE = [
    f"""
    CREATE TRIGGER accounts_directory_entry_identity
    BEFORE UPDATE OF company_id, user_id ON accounts_directorymembership
    WHEN NEW.company_id IS NOT OLD.company_id OR NEW.user_id IS NOT OLD.user_id
    BEGIN SELECT RAISE(ABORT, '{IDENTITY_MESSAGE.replace("'", "''")}'); END
    """,
    f"""
    CREATE TRIGGER accounts_directory_privilege_change
    BEFORE UPDATE OF can_push_to_accounting ON accounts_directorymembership
    WHEN NEW.can_push_to_accounting IS NOT OLD.can_push_to_accounting
     AND (NEW.privilege_changed_at IS OLD.privilege_changed_at OR NOT {RECORDED})
    BEGIN SELECT RAISE(ABORT, '{PRIVILEGE_MESSAGE.replace("'", "''")}'); END
    """,
    f"""
    CREATE TRIGGER accounts_directory_privilege_new_entry
    BEFORE INSERT ON accounts_directorymembership
    WHEN NEW.can_push_to_accounting
    BEGIN SELECT RAISE(ABORT, '{NEW_ENTRY_MESSAGE.replace("'", "''")}'); END
    """,
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS accounts_directory_entry_identity",
    "DROP TRIGGER IF EXISTS accounts_directory_privilege_change",
    "DROP TRIGGER IF EXISTS accounts_directory_privilege_new_entry",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_privilege_grant_permission_and_grantor"),
    ]

    operations = [
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", accounts.models.AccountUserManager()),
            ],
        ),
        migrations.CreateModel(
            name="StaffStatusChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "field",
                    models.CharField(
                        choices=[("is_staff", "is_staff"), ("is_superuser", "is_superuser")], max_length=20
                    ),
                ),
                ("old_value", models.BooleanField()),
                ("new_value", models.BooleanField()),
                ("changed_at", models.DateTimeField(auto_now_add=True)),
                (
                    "changed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-changed_at", "-id"],
                "indexes": [models.Index(fields=["user", "-changed_at"], name="staff_status_change_user")],
            },
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE}),
        ),
    ]
