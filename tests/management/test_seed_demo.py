"""seed_demo: two companies on the two ERPs, records of every kind in every state, and idempotent."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db.models.functions import Length

from accounts.models import (
    Company,
    DirectoryMembership,
    PermissionLevel,
    PrivilegeChange,
    Project,
    ProjectPermission,
    User,
)
from accounts.permissions import Action, CompanyAccess
from erp_integrations.connectors import get_connector
from erp_integrations.demo import COMPANIES, seed_demo
from erp_integrations.kinds import CCO, ERP_DESCRIPTION_LIMIT, KINDS, summed_change_lines
from erp_integrations.models import (
    ChangeOrderLineItem,
    Commitment,
    CommitmentChangeOrder,
    CommitmentLineItem,
    CostCode,
    ErpConnection,
    ErpLink,
    ErpMasterEntry,
    ExportState,
    MasterExportState,
    SubcontractorInvoice,
    Vendor,
)
from erp_integrations.sandbox.models import Sage100Record, Sage300Record
from erp_integrations.sandbox.services import sandbox_delete

# runall seeds the embedded default (SQLite) too: the second pass runs these there.
pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]

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
        "link_id",
        "link__linked_by__username",
        "link__missing_since_id",
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
        "change_orders": _rows(
            CommitmentChangeOrder.objects,
            *record,
            "commitment__number",
            "title",
            "description",
            "status",
        ),
        "change_order_lines": _rows(
            ChangeOrderLineItem.objects,
            "change_order__project__number",
            "change_order__commitment__number",
            "change_order__number",
            "commitment_line__cost_code",
            "description",
            "amount",
        ),
        "links": _rows(
            ErpLink.objects,
            "id",
            "kind",
            "record_id",
            "company__slug",
            "erp_id",
            "linked_at",
            "linked_by__username",
            "missing_since_id",
            "unlinked_at",
        ),
        "sage300": _rows(Sage300Record.objects, "kind", "erp_id", "external_reference", "data", "deleted_at"),
        "sage100": _rows(Sage100Record.objects, "kind", "erp_id", "external_reference", "data", "deleted_at"),
        "cost_codes": _rows(
            CostCode.objects, "company__slug", "code", "cost_class", "description", "erp_cost_code_id"
        ),
        "erp_entries": _rows(
            ErpMasterEntry.objects, "company__slug", "kind", "erp_id", "name", "attrs", "seen_at"
        ),
        "master_states": _rows(
            MasterExportState.objects, "kind", "record_id", "state", "message", "changed_at"
        ),
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
        # 6 projects with records, and one per company not in the ERP yet.
        "projects": 8,
        "vendors": 10,
        "directory": 6,
        "project_permissions": 18,
        "privilege_changes": 2,
        "commitments": first_counts["commitments"],
        "line_items": len(first["line_items"]),
        "invoices": first_counts["invoices"],
        "change_orders": first_counts["change orders"],
        "change_order_lines": len(first["change_order_lines"]),
        "links": len(first["links"]),
        "sage300": len(first["sage300"]),
        "sage100": len(first["sage100"]),
        "cost_codes": 6,
        # Per company 5 ERP jobs, 5 ERP vendors and 4 (Sage 300 CRE®) or 3 cost codes.
        "erp_entries": 10 + 4 + 10 + 3,
        "master_states": 2,
    }
    # 6 projects: 9 commitments, 6 invoices and 8 CCOs each (9 on Sage 100 Contractor®).
    assert (first_counts["commitments"], first_counts["invoices"], first_counts["change orders"]) == (
        54,
        36,
        51,
    )
    # Per project 3 synced commitments, 1 synced invoice, 2 synced CCOs (3 on Sage 100
    # Contractor®, with the purchase order's): one link each.
    # And per company 3 jobs, 3 vendors and 1 cost code linked.
    assert len(first["links"]) == 3 * 6 + 3 * 7 + 2 * 7
    assert (len(first["sage300"]), len(first["sage100"])) == (3 * 6 + 14, 3 * 7 + 13)


def test_running_again_after_a_deletion_in_the_erp_links_the_new_erp_record():
    seed_demo(password=PASSWORD)
    change_order = CommitmentChangeOrder.objects.get(
        company__slug="northwind-builders",
        project__number="P-1001",
        commitment__number="SC-001",
        number="CO-01",
    )
    old_link = change_order.link
    sandbox_delete(erp_system="sage300", kind="cco", erp_id=change_order.erp_id)

    seed_demo(password=PASSWORD)

    change_order.refresh_from_db()
    old_link.refresh_from_db()
    assert change_order.export_state == ExportState.SYNCED
    assert change_order.erp_id != old_link.erp_id
    assert change_order.link.erp_id == change_order.erp_id
    assert change_order.link.unlinked_at is None
    # The old link stays as the record's history, closed.
    assert old_link.unlinked_at is not None
    assert ErpLink.objects.filter(kind="cco", record_id=change_order.pk).count() == 2
    assert (
        Sage300Record.objects.get(erp_id=change_order.erp_id).external_reference == f"cco-{change_order.pk}"
    )


def test_each_company_has_records_in_every_export_state():
    seed_demo(password=PASSWORD)

    for company in COMPANIES:
        for model in (Commitment, SubcontractorInvoice, CommitmentChangeOrder):
            states = set(
                model.objects.filter(company__slug=company.slug).values_list("export_state", flat=True)
            )
            assert states == set(ExportState.values), (company.slug, model.__name__)
    assert {c.erp_system for c in ErpConnection.objects.all()} == {"sage300", "sage100"}
    assert Project.objects.filter(name="Harbor Tower", company__slug="northwind-builders").exists()


def test_synced_records_exist_in_their_company_erp_and_have_a_whole_link():
    seed_demo(password=PASSWORD)

    stores = {"sage300": Sage300Record, "sage100": Sage100Record}
    approver = User.objects.get(username="approver")
    for kind in KINDS:
        synced = kind.model.objects.filter(export_state=ExportState.SYNCED).select_related(
            "company__erp_connection", "link"
        )
        # Per project: SC-001, SC-002 and PO-001; one invoice; two CCOs (three on Sage 100).
        assert synced.count() == {"commitment": 18, "invoice": 6, "cco": 15}[kind.slug]
        for record in synced:
            store = stores[record.company.erp_connection.erp_system]
            erp_record = store.objects.get(erp_id=record.erp_id, kind=kind.slug, deleted_at__isnull=True)
            assert erp_record.external_reference == f"{kind.slug}-{record.pk}"
            link = record.link
            assert (link.kind, link.record_id, link.company_id) == (kind.slug, record.pk, record.company_id)
            assert (link.erp_id, link.linked_at) == (record.erp_id, record.linked_at)
            assert (link.linked_by, link.missing_since_id, link.unlinked_at) == (approver, None, None)
    # Every live link is a synced record's, or a linked job, vendor or cost code's.
    assert (
        ErpLink.objects.filter(unlinked_at__isnull=True)
        .exclude(kind__in=["job", "vendor", "cost_code"])
        .count()
        == 39
    )
    assert (
        ErpLink.objects.filter(unlinked_at__isnull=True, kind__in=["job", "vendor", "cost_code"]).count()
        == 14
    )
    assert not ErpLink.objects.filter(unlinked_at__isnull=False).exists()
    for kind in KINDS:
        assert (
            not kind.model.objects.exclude(export_state=ExportState.SYNCED)
            .filter(link__isnull=False)
            .exists()
        )


def test_failed_records_carry_the_erp_error_and_rejected_ones_a_reason():
    seed_demo(password=PASSWORD)

    for model in (Commitment, SubcontractorInvoice, CommitmentChangeOrder):
        assert model.objects.filter(export_state=ExportState.FAILED).exists()
        assert model.objects.filter(export_state=ExportState.REJECTED).exists()
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


def test_failed_change_orders_name_the_erp_limit_they_broke():
    seed_demo(password=PASSWORD)

    errors = {
        company: set(
            CommitmentChangeOrder.objects.filter(
                company__slug=company, export_state=ExportState.FAILED
            ).values_list("export_error", flat=True)
        )
        for company in ("northwind-builders", "lakeshore-contracting")
    }
    assert errors == {
        "northwind-builders": {"Title: must be at most 30 characters in Sage 300 CRE® (it has 45)."},
        "lakeshore-contracting": {
            "Title: must be at most 30 characters in Sage 100 Contractor® (it has 45)."
        },
    }


def test_change_orders_fit_the_erp_limits_and_belong_to_synced_commitments():
    seed_demo(password=PASSWORD)

    limits = {"northwind-builders": (5, 3 * 4), "lakeshore-contracting": (12, 3 * 5)}
    for company, (number_limit, count) in limits.items():
        sent = CommitmentChangeOrder.objects.filter(
            company__slug=company, export_state__in=[ExportState.READY, ExportState.SYNCED]
        ).select_related("commitment", "vendor", "company__erp_connection")
        assert sent.count() == count, company
        connector = get_connector(sent[0].company.erp_connection.erp_system)
        for change_order in sent:
            assert len(change_order.number) <= number_limit and len(change_order.title) <= 30
            # Only a CCO of a synced commitment can be sent or exported.
            assert change_order.commitment.export_state == ExportState.SYNCED
            assert connector.validate(CCO, change_order) == []
    # A CCO of a commitment that is not synced yet stays a draft.
    waiting = CommitmentChangeOrder.objects.exclude(commitment__export_state=ExportState.SYNCED)
    assert waiting.count() == 6
    assert set(waiting.values_list("export_state", flat=True)) == {ExportState.DRAFT}


def test_a_line_changed_twice_reaches_the_erp_as_one_summed_line():
    seed_demo(password=PASSWORD)

    twice = CommitmentChangeOrder.objects.filter(number="CO-02", commitment__number="SC-001")
    assert twice.count() == 6
    for change_order in twice:
        lines = change_order.line_items.all()
        assert len(lines) == 2 and len({line.commitment_line_id for line in lines}) == 1
        assert change_order.amount == Decimal("3600.00")
        [summed] = summed_change_lines(change_order)
        assert (summed["cost_code"], summed["amount"], summed["times"]) == ("03-200", Decimal("3600.00"), 2)
        store = Sage300Record if change_order.company.slug == "northwind-builders" else Sage100Record
        erp_record = store.objects.get(erp_id=change_order.erp_id)
        assert erp_record.data["lines"] == [{"cost_code": "03-200", "amount": "3600.00"}]


def test_a_purchase_order_change_is_appended_to_the_po_in_sage_100():
    seed_demo(password=PASSWORD)

    on_pos = CommitmentChangeOrder.objects.filter(
        company__slug="lakeshore-contracting",
        commitment__kind=Commitment.Kind.PURCHASE_ORDER,
        export_state=ExportState.SYNCED,
    ).select_related("commitment")
    assert on_pos.count() == 3
    for change_order in on_pos:
        po = Sage100Record.objects.get(erp_id=change_order.commitment.erp_id, kind="commitment")
        assert po.data["change_orders"] == [
            {
                "change_order": change_order.erp_id,
                "number": "CO-01",
                "lines": [{"cost_code": "01-540", "amount": "48000.00"}],
            }
        ]
    # In Sage 300 CRE® the purchase orders keep nothing linked under them.
    northwind_pos = Commitment.objects.filter(
        company__slug="northwind-builders",
        kind=Commitment.Kind.PURCHASE_ORDER,
        export_state=ExportState.SYNCED,
    )
    assert northwind_pos.count() == 3
    assert not CommitmentChangeOrder.objects.filter(commitment__in=northwind_pos).exists()


def test_a_description_longer_than_the_erp_keeps_is_kept_whole():
    seed_demo(password=PASSWORD)

    long = CommitmentChangeOrder.objects.annotate(length=Length("description")).filter(
        length__gt=ERP_DESCRIPTION_LIMIT
    )
    assert long.count() == 6
    assert {c.company.slug for c in long} == {spec.slug for spec in COMPANIES}
    assert all(len(c.description) > ERP_DESCRIPTION_LIMIT for c in long)


def test_commitment_amount_is_the_sum_of_its_line_items():
    seed_demo(password=PASSWORD)

    for commitment in Commitment.objects.prefetch_related("line_items"):
        assert commitment.line_items.all()
        assert commitment.amount == sum(item.amount for item in commitment.line_items.all())
    change_orders = CommitmentChangeOrder.objects.prefetch_related("line_items")
    assert change_orders
    for change_order in change_orders:
        assert change_order.line_items.all()
        assert change_order.amount == sum(item.amount for item in change_order.line_items.all())
    assert CommitmentChangeOrder.objects.filter(amount__lt=0).count() == 6


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


def test_the_demo_fills_every_list_of_the_master_data_tabs():
    from erp_integrations import selectors
    from erp_integrations.master_kinds import JOB, VENDOR

    seed_demo(password=PASSWORD)

    for company_spec in COMPANIES:
        company = Company.objects.get(slug=company_spec.slug)
        lists = {
            name: [getattr(row, "name", None) for row in getter(kind=VENDOR, company_id=company.pk).rows]
            for name, getter in (
                ("ready", selectors.master_ready_to_export),
                ("import", selectors.master_ready_to_import),
                ("update", selectors.master_ready_to_update),
                ("synced", selectors.master_synced),
                ("failed", selectors.master_failed),
            )
        }
        assert all(lists.values()), (company_spec.slug, lists)
        # A near match is suggested with its score; an ERP vendor like none is not.
        entries = selectors.master_ready_to_import(kind=VENDOR, company_id=company.pk).rows
        found = selectors.master_suggestions(kind=VENDOR, company_id=company.pk, entries=entries)
        assert sorted(bool(found[entry.pk]) for entry in entries) == [False, True]
        assert selectors.master_ready_to_export(kind=JOB, company_id=company.pk).rows
        assert selectors.master_ready_to_import(kind=JOB, company_id=company.pk).rows


def test_the_demo_erp_holds_each_jobs_costs_and_a_payment_once():
    from erp_integrations.demo import JOB_COSTS
    from erp_integrations.sandbox.services import COST_STORES, PAYMENT_STORES

    seed_demo(password=PASSWORD)
    seed_demo(password=PASSWORD)

    for erp, projects in (
        # Each project's job: the ERP job the demo links it to.
        ("sage300", ("26-1001", "26-1002", "26-1003")),
        ("sage100", ("2001", "2002", "2003")),
    ):
        costs = COST_STORES[erp].objects.using(f"sandbox_{erp}")
        assert sorted(set(costs.values_list("job", flat=True))) == list(projects)
        assert costs.count() == len(JOB_COSTS) * 3
        payments = PAYMENT_STORES[erp].objects.using(f"sandbox_{erp}")
        paid = SubcontractorInvoice.objects.filter(
            number="1", commitment__number="SC-001", project__erp_job_id__in=projects
        )
        assert sorted(payments.values_list("requisition", flat=True)) == sorted(
            paid.values_list("erp_id", flat=True)
        )


#: The README's walk-through deletes, edits and pays demo records by their ERP ids.
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.django_db(transaction=True, reset_sequences=True, databases="__all__")
def test_the_erp_ids_the_readme_gives_are_the_demo_records_it_names():
    """On a fresh demo (the sandbox's ids start at 1, as in a new database) each ERP id the
    README gives is the record it names; an id gone stale would send a reader's delete,
    edit or payment to another record, or to none."""
    seed_demo(password=PASSWORD)
    text = " ".join(README.read_text(encoding="utf-8").split())

    def named(pattern: str) -> set[str]:
        found = set(re.findall(pattern, text))
        assert found, pattern
        return found

    harbor = {"company__slug": "northwind-builders", "project__name": "Harbor Tower"}
    sc001 = Commitment.objects.get(number="SC-001", **harbor)
    sc002 = Commitment.objects.get(number="SC-002", **harbor).erp_id
    co01 = CommitmentChangeOrder.objects.get(commitment=sc001, number="CO-01").erp_id
    invoice = SubcontractorInvoice.objects.get(commitment=sc001, number="1").erp_id
    assert named(r"SC-002 of Harbor Tower \(on a fresh demo its ERP id is `([^`]+)`\)") == {sc002}
    assert named(r"erp_sandbox delete commitment (\S+)") == {sc002}
    assert named(r"erp_sandbox edit commitment (\S+)") == {sc002}
    assert named(r"CO-01 of SC-001 is `([^`]+)`") == {co01}
    assert named(r"erp_sandbox delete cco (\S+)") == {co01}
    assert named(r"SC-001 \(`([^`]+)`\) is refused") == {sc001.erp_id}
    assert named(r"erp_sandbox pay (\S+)") == {invoice}
