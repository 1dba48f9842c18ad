"""seed_demo: two companies on the two ERPs, records in every state, and idempotent."""

import pytest
from django.core.management import CommandError, call_command

from accounts.models import (
    DirectoryMembership,
    PermissionLevel,
    PrivilegeChange,
    Project,
    ProjectPermission,
    User,
)
from accounts.permissions import Action, CompanyAccess
from erp_integrations.demo import COMPANIES, seed_demo
from erp_integrations.models import (
    Commitment,
    CommitmentLineItem,
    ErpConnection,
    ExportState,
    SubcontractorInvoice,
    Vendor,
)
from erp_integrations.sandbox.models import Sage100Record, Sage300Record

pytestmark = pytest.mark.django_db(databases="__all__")

PASSWORD = "correct-horse-battery"


def _rows(queryset, *fields):
    return sorted(tuple(str(value) for value in row) for row in queryset.values_list(*fields))


def dump() -> dict[str, list]:
    """Every demo row by its natural key, with the values that matter, in a stable order."""
    record = (
        "company__slug",
        "project__number",
        "vendor__name",
        "number",
        "amount",
        "export_state",
        "export_error",
        "rejection_reason",
        "sent_at",
        "erp_id",
        "linked_at",
        "linked_by__username",
        "updated_at",
    )
    return {
        "users": _rows(User.objects, "username", "is_staff", "is_superuser", "password"),
        "connections": _rows(ErpConnection.objects, "company__slug", "erp_system", "is_active"),
        "projects": _rows(Project.objects, "company__slug", "number", "name"),
        "vendors": _rows(Vendor.objects, "company__slug", "name", "erp_vendor_id"),
        "directory": _rows(
            DirectoryMembership.objects,
            "company__slug",
            "user__username",
            "erp_integrations_level",
            "can_push_to_accounting",
            "privilege_changed_at",
        ),
        "project_permissions": _rows(
            ProjectPermission.objects, "project__number", "user__username", "commitments_level"
        ),
        "privilege_changes": _rows(PrivilegeChange.objects, "company__slug", "user__username", "action"),
        "commitments": _rows(Commitment.objects, *record, "kind", "title", "status"),
        "line_items": _rows(
            CommitmentLineItem.objects,
            "commitment__project__number",
            "commitment__number",
            "cost_code",
            "amount",
        ),
        "invoices": _rows(
            SubcontractorInvoice.objects,
            *record,
            "commitment__number",
            "billing_period_start",
            "billing_period_end",
            "retainage",
        ),
        "sage300": _rows(Sage300Record.objects, "kind", "erp_id", "external_reference", "deleted_at"),
        "sage100": _rows(Sage100Record.objects, "kind", "erp_id", "external_reference", "deleted_at"),
    }


def test_running_twice_leaves_the_same_data():
    first_counts = seed_demo(password=PASSWORD)
    first = dump()

    second_counts = seed_demo(password=PASSWORD)

    assert second_counts == first_counts
    assert dump() == first
    assert {name: len(rows) for name, rows in first.items()} == {
        "users": 4,
        "connections": 2,
        "projects": 6,
        "vendors": 10,
        "directory": 6,
        "project_permissions": 18,
        "privilege_changes": 2,
        "commitments": first_counts["commitments"],
        "line_items": len(first["line_items"]),
        "invoices": first_counts["invoices"],
        "sage300": len(first["sage300"]),
        "sage100": len(first["sage100"]),
    }
    assert first["sage300"] and first["sage100"]


def test_each_company_has_records_in_every_export_state():
    seed_demo(password=PASSWORD)

    for company in COMPANIES:
        for model in (Commitment, SubcontractorInvoice):
            states = set(
                model.objects.filter(company__slug=company.slug).values_list("export_state", flat=True)
            )
            assert states == set(ExportState.values), (company.slug, model.__name__)
    assert {c.erp_system for c in ErpConnection.objects.all()} == {"sage300", "sage100"}
    assert Project.objects.filter(name="Harbor Tower", company__slug="northwind-builders").exists()


def test_synced_records_exist_in_their_company_erp():
    seed_demo(password=PASSWORD)

    stores = {"sage300": Sage300Record, "sage100": Sage100Record}
    for model, kind, prefix in (
        (Commitment, "commitment", "commitment"),
        (SubcontractorInvoice, "invoice", "invoice"),
    ):
        synced = model.objects.filter(export_state=ExportState.SYNCED).select_related(
            "company__erp_connection"
        )
        assert synced
        for record in synced:
            store = stores[record.company.erp_connection.erp_system]
            erp_record = store.objects.get(erp_id=record.erp_id, kind=kind, deleted_at__isnull=True)
            assert erp_record.external_reference == f"{prefix}-{record.pk}"


def test_failed_records_carry_the_erp_error_and_rejected_ones_a_reason():
    seed_demo(password=PASSWORD)

    for model in (Commitment, SubcontractorInvoice):
        assert all(
            model.objects.filter(export_state=ExportState.FAILED).values_list("export_error", flat=True)
        )
        assert all(
            model.objects.filter(export_state=ExportState.REJECTED).values_list("rejection_reason", flat=True)
        )
    assert (
        "Sage 300 CRE®"
        in Commitment.objects.filter(company__slug="northwind-builders", export_state=ExportState.FAILED)
        .values_list("export_error", flat=True)
        .first()
    )


def test_commitment_amount_is_the_sum_of_its_line_items():
    seed_demo(password=PASSWORD)

    for commitment in Commitment.objects.prefetch_related("line_items"):
        assert commitment.line_items.all()
        assert commitment.amount == sum(item.amount for item in commitment.line_items.all())


def test_demo_users_have_the_documented_permissions_in_both_companies():
    seed_demo(password=PASSWORD)
    users = {u.username: u for u in User.objects.all()}

    for company_spec in COMPANIES:
        project = Project.objects.get(company__slug=company_spec.slug, number=company_spec.projects[0][0])
        company = project.company

        def access(name, company=company):
            return CompanyAccess.load(users[name], company)

        assert access("approver").check(Action.UNLINK, project).allowed
        assert access("approver").check(Action.SYNC_NOW).allowed
        pm = access("pm")
        assert pm.check(Action.UNLINK, project).missing == (
            "the 'Can Push to Accounting' privilege in the Company Directory "
            "(this must be enabled for you by platform staff)",
        )
        assert pm.erp_level() == PermissionLevel.STANDARD
        assert pm.commitments_level(project) == PermissionLevel.ADMIN
        viewer = access("viewer")
        assert viewer.check(Action.VIEW_TOOL).allowed
        assert viewer.erp_level() == PermissionLevel.READ_ONLY
        assert viewer.commitments_level(project) == PermissionLevel.READ_ONLY
    assert users["staff"].is_staff and users["staff"].is_superuser
    assert all(user.check_password(PASSWORD) for user in users.values())
    grants = PrivilegeChange.objects.filter(action="granted")
    assert {(g.user.username, g.changed_by.username) for g in grants} == {("approver", "staff")}


def test_command_refuses_without_a_password_when_debug_is_off(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="--password"):
        call_command("seed_demo")

    assert not User.objects.filter(username="approver").exists()


def test_command_uses_the_given_password(settings, capsys):
    settings.DEBUG = False

    call_command("seed_demo", password=PASSWORD)

    assert User.objects.get(username="approver").check_password(PASSWORD)
    assert "Demo data ready" in capsys.readouterr().out


def test_command_uses_demo_as_the_password_in_debug(settings):
    settings.DEBUG = True

    call_command("seed_demo")

    assert User.objects.get(username="pm").check_password("demo")
