"""Migration 0005 moves each record's link off its own row into ErpLink, and back."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("erp_integrations", "0004_audit_entry_project")]
AFTER = [("erp_integrations", "0005_erp_links_and_change_orders")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_links_move_into_the_link_table_with_who_and_what_the_sync_saw():
    old = migrate(BEFORE)
    Company = old.get_model("accounts", "Company")
    Project = old.get_model("accounts", "Project")
    User = old.get_model("accounts", "User")
    Vendor = old.get_model("erp_integrations", "Vendor")
    Commitment = old.get_model("erp_integrations", "Commitment")
    Invoice = old.get_model("erp_integrations", "SubcontractorInvoice")
    ErpConnection = old.get_model("erp_integrations", "ErpConnection")
    SyncRun = old.get_model("erp_integrations", "SyncRun")

    company = Company.objects.create(name="Northwind Builders", slug="northwind")
    project = Project.objects.create(company=company, name="Harbor Tower", number="P-1")
    vendor = Vendor.objects.create(company=company, name="Granite Ridge")
    approver = User.objects.create(username="approver")
    run = SyncRun.objects.create(
        connection=ErpConnection.objects.create(company=company, erp_system="sage300"),
        started_at=timezone.now(),
        finished_at=timezone.now(),
        status="succeeded",
    )
    now = timezone.now()
    common = {"company": company, "project": project, "vendor": vendor}
    synced = Commitment.objects.create(
        **common,
        number="SC-1",
        title="Concrete",
        export_state="synced",
        erp_id="JC-0000001",
        linked_at=now,
        linked_by=approver,
        erp_missing_since=run,
    )
    draft = Commitment.objects.create(**common, number="SC-2", title="Steel")
    invoice = Invoice.objects.create(
        **common,
        commitment=synced,
        number="1",
        billing_period_start="2026-10-01",
        billing_period_end="2026-10-31",
        export_state="synced",
        erp_id="AP-REQ-0000001",
        linked_at=now,
    )

    new = migrate(AFTER)
    ErpLink = new.get_model("erp_integrations", "ErpLink")
    Commitment = new.get_model("erp_integrations", "Commitment")
    Invoice = new.get_model("erp_integrations", "SubcontractorInvoice")

    links = {(link.kind, link.record_id): link for link in ErpLink.objects.all()}
    assert set(links) == {("commitment", synced.pk), ("invoice", invoice.pk)}
    commitment_link = links[("commitment", synced.pk)]
    assert (commitment_link.erp_id, commitment_link.linked_by_id, commitment_link.missing_since_id) == (
        "JC-0000001",
        approver.pk,
        run.pk,
    )
    assert commitment_link.unlinked_at is None and commitment_link.company_id == company.pk
    assert Commitment.objects.get(pk=synced.pk).link_id == commitment_link.pk
    assert Invoice.objects.get(pk=invoice.pk).link_id == links[("invoice", invoice.pk)].pk
    assert Commitment.objects.get(pk=draft.pk).link_id is None

    # And back: the record's own columns get the link's values again.
    old = migrate(BEFORE)
    Commitment = old.get_model("erp_integrations", "Commitment")
    restored = Commitment.objects.get(pk=synced.pk)
    assert (restored.erp_id, restored.linked_by_id, restored.erp_missing_since_id) == (
        "JC-0000001",
        approver.pk,
        run.pk,
    )
    migrate(executor_leaf())


def executor_leaf():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()
