"""generate_load_data: realistic records whose links, ERP records and permissions agree."""

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef

from accounts.models import Company, DirectoryMembership, PrivilegeChange, User
from accounts.permissions import Action, CompanyAccess
from erp_integrations import loadgen
from erp_integrations.connectors import get_connector
from erp_integrations.kinds import CCO, COMMITMENT, KINDS
from erp_integrations.models import (
    AuditEntry,
    ChangeOrderLineItem,
    Commitment,
    CommitmentChangeOrder,
    CommitmentLineItem,
    ErpLink,
    ExportState,
    SubcontractorInvoice,
    Vendor,
)
from erp_integrations.sandbox.models import Sage100Record, Sage300Record
from erp_integrations.services.sync import connection_sync
from erp_integrations.services.unlink import record_unlink

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _generate(*extra: str) -> None:
    call_command(
        "generate_load_data",
        "--commitments", "600", "--invoices", "400", "--ccos", "300", "--projects", "5",
        "--company-slug", "gen", "--missing-fraction", "0.05", "--user-prefix", "gen-", *extra,
    )  # fmt: skip


def test_records_links_erp_records_and_users_agree():
    _generate("--erp", "sage100")
    company = Company.objects.get(slug="gen")
    commitments = Commitment.objects.filter(company=company)
    invoices = SubcontractorInvoice.objects.filter(company=company)
    assert commitments.count() == 600 and invoices.count() == 400
    assert CommitmentLineItem.objects.filter(commitment__company=company).count() == 600
    assert Vendor.objects.filter(company=company).count() == 50
    synced = commitments.filter(export_state=ExportState.SYNCED)
    assert 500 < synced.count() < 600
    assert {ExportState.READY, ExportState.FAILED, ExportState.DRAFT} <= set(
        commitments.values_list("export_state", flat=True)
    )
    # Invoices belong to subcontracts; a synced one only to a synced subcontract.
    assert not invoices.exclude(commitment__kind=Commitment.Kind.SUBCONTRACT).exists()
    assert not invoices.filter(export_state="synced").exclude(commitment__export_state="synced").exists()
    assert not invoices.exclude(project_id=F("commitment__project_id")).exists()

    # Change orders: one line each, against a line of their own commitment; synced ones
    # only on synced commitments.
    change_orders = CommitmentChangeOrder.objects.filter(company=company)
    assert change_orders.count() == 300
    assert ChangeOrderLineItem.objects.filter(change_order__company=company).count() == 300
    assert not ChangeOrderLineItem.objects.exclude(
        commitment_line__commitment_id=F("change_order__commitment_id")
    ).exists()
    assert not change_orders.exclude(amount=F("line_items__amount")).exists()
    assert not change_orders.filter(export_state="synced").exclude(commitment__export_state="synced").exists()
    assert set(ExportState.values) == set(change_orders.values_list("export_state", flat=True))
    synced_ccos = change_orders.filter(export_state=ExportState.SYNCED)
    assert 200 < synced_ccos.count() < 300

    # Every synced record has a whole link (an ErpLink row and the same values on the record);
    # nothing else is linked.
    links = ErpLink.objects.filter(company=company)
    synced_total = 0
    for kind in KINDS:
        records = kind.model.objects.filter(company=company)
        synced_of_kind = records.filter(export_state=ExportState.SYNCED).select_related("link")
        assert synced_of_kind, kind.slug
        for record in synced_of_kind:
            link = record.link
            assert (link.kind, link.record_id, link.erp_id, link.linked_at) == (
                kind.slug,
                record.pk,
                record.erp_id,
                record.linked_at,
            )
            assert (link.unlinked_at, link.missing_since_id, link.linked_by.username) == (
                None,
                None,
                "gen-approver",
            )
        assert not records.exclude(export_state=ExportState.SYNCED).filter(link__isnull=False).exists()
        synced_total += len(synced_of_kind)
    assert links.count() == synced_total

    # Every link is a live or deleted record of Sage 100 Contractor, made for this record.
    records = {r.erp_id: r for r in Sage100Record.objects.using("sandbox_sage100").all()}
    assert not Sage300Record.objects.using("sandbox_sage300").exists()
    assert len(records) == synced_total
    assert set(records) == set(links.values_list("erp_id", flat=True))
    connector = get_connector("sage100")
    for pk, erp_id in synced.values_list("pk", "erp_id"):
        assert records[erp_id].external_reference == f"commitment-{pk}"
        assert erp_id.startswith("SC") and len(erp_id) == 8
    for pk, erp_id in invoices.filter(export_state="synced").values_list("pk", "erp_id"):
        assert records[erp_id].external_reference == f"invoice-{pk}" and erp_id.startswith("RQ")
    for pk, erp_id in synced_ccos.values_list("pk", "erp_id"):
        assert records[erp_id].external_reference == f"cco-{pk}" and erp_id.startswith("CO")
        assert records[erp_id].kind == "cco"
    deleted = [r for r in records.values() if r.deleted_at is not None]
    assert {r.kind for r in deleted} == {"commitment", "invoice", "cco"}
    # Titles, numbers and vendors fit the ERP's limits, so any of them could be exported.
    sample = synced.select_related("vendor").prefetch_related("line_items")[:50]
    assert all(not connector.validate_commitment(c) for c in sample)
    cco_sample = synced_ccos.select_related("commitment", "vendor")[:50]
    assert all(not connector.validate(CCO, c) for c in cco_sample)
    assert all(len(c.number) <= 5 for c in change_orders)
    # Sage 100 Contractor® keeps a purchase order's change orders on the PO.
    on_pos = synced_ccos.filter(commitment__kind=Commitment.Kind.PURCHASE_ORDER).select_related("commitment")
    assert on_pos
    for change_order in on_pos:
        appended = records[change_order.commitment.erp_id].data["change_orders"]
        assert {"change_order": change_order.erp_id, "number": change_order.number, "lines": [
            {"cost_code": change_order.line_items.get().commitment_line.cost_code,
             "amount": str(change_order.amount)}
        ]} in appended  # fmt: skip
    # The audit trail has the exports.
    exports = AuditEntry.objects.filter(company=company, action="export", outcome="success").count()
    assert exports == len(records)

    # Users: the approver may unlink; pm and viewer may not, and say why.
    approver = User.objects.get(username="gen-approver")
    some = synced.first()
    assert CompanyAccess.load(approver, company).check(Action.UNLINK, some.project)
    assert not CompanyAccess.load(User.objects.get(username="gen-pm"), company).check(
        Action.UNLINK, some.project
    )
    viewer = CompanyAccess.load(User.objects.get(username="gen-viewer"), company)
    assert viewer.check(Action.VIEW_COMMITMENTS, some.project) and not viewer.check(
        Action.UNLINK, some.project
    )
    assert User.objects.get(username="gen-staff").is_superuser
    # The privilege was granted through the recording service.
    assert DirectoryMembership.objects.get(user=approver, company=company).can_push_to_accounting
    assert PrivilegeChange.objects.filter(company=company, user=approver, action="granted").count() == 1

    # A sync finds exactly the records deleted in the ERP, and one can be unlinked.
    run = connection_sync(connection_id=company.erp_connection.pk, trigger="command")
    assert run.missing_found == len(deleted)
    assert run.links_checked == synced_total
    linked_cco = CommitmentChangeOrder.objects.filter(commitment_id=OuterRef("pk"), link__isnull=False)
    unlinkable = (
        synced.filter(link__missing_since=run, kind=Commitment.Kind.PURCHASE_ORDER)
        .filter(~Exists(linked_cco))
        .first()
    )
    assert unlinkable is not None
    assert (
        record_unlink(kind=COMMITMENT, user=approver, record_id=unlinkable.pk).message
        == "Successfully Unlinked"
    )
    missing_cco = synced_ccos.filter(link__missing_since=run).first()
    assert missing_cco is not None
    assert record_unlink(kind=CCO, user=approver, record_id=missing_cco.pk).message == "Successfully Unlinked"


def test_an_existing_company_needs_reset_and_reset_replaces_it():
    _generate()
    first = Company.objects.get(slug="gen").pk
    with pytest.raises(CommandError, match="--reset"):
        _generate()
    _generate("--reset")
    company = Company.objects.get(slug="gen")
    assert company.pk != first
    assert Commitment.objects.count() == 600
    references = set(
        Sage300Record.objects.using("sandbox_sage300").values_list("external_reference", flat=True)
    )
    expected = {
        f"{kind.slug}-{pk}"
        for kind in KINDS
        for pk in kind.model.objects.filter(export_state="synced").values_list("pk", flat=True)
    }
    assert len(expected) > 500
    assert references == expected
    # The old company's links went with it; the new one's are all there.
    assert set(ErpLink.objects.values_list("company_id", flat=True)) == {company.pk}
    assert ErpLink.objects.count() == len(expected)
    assert CommitmentChangeOrder.objects.count() == 300


def _constraints_and_indexes() -> set[tuple[str, str]]:
    tables = [
        model._meta.db_table
        for model in (Commitment, SubcontractorInvoice, CommitmentChangeOrder, ErpLink, ChangeOrderLineItem)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid::regclass::text = ANY(%s)"
            " UNION ALL SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)",
            [tables, tables],
        )
        return set(cursor.fetchall())


def test_a_bulk_load_drops_and_restores_indexes_and_foreign_keys(monkeypatch, capsys):
    before = _constraints_and_indexes()
    # The records' composite key onto their link is among what is dropped and restored.
    assert any("FOREIGN KEY (link_id, erp_id, linked_at)" in definition for _name, definition in before)
    # Small enough to be quick, large enough to take the bulk path.
    monkeypatch.setattr(loadgen, "REBUILD_INDEXES_FROM", 100)

    _generate()

    out = capsys.readouterr().out
    # The links' and the records' tables took the bulk path: their foreign keys were
    # dropped and checked again, their indexes rebuilt.
    assert "erp_integrations_erplink: rows copied" in out
    assert "erp_integrations_commitmentchangeorder: rows copied" in out
    assert "index erp_link_live:" in out and "index cco_by_linked:" in out
    assert _constraints_and_indexes() == before
    company = Company.objects.get(slug="gen")
    assert ErpLink.objects.filter(company=company).count() > 500
    # The restored composite keys hold the records' copies to their links.
    with pytest.raises(IntegrityError), transaction.atomic():
        record = Commitment.objects.filter(company=company, export_state="synced").first()
        Commitment.objects.filter(pk=record.pk).update(erp_id="JC-NOT-THE-LINKS")
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
