"""The staff admin of the records: every page opens, and the big lists stay cheap."""

import pytest
from django.test import Client
from django.urls import reverse

from erp_integrations.models import (
    AuditEntry,
    Commitment,
    ErpConnection,
    SubcontractorInvoice,
    SyncRun,
    Vendor,
)
from tests import factories

pytestmark = pytest.mark.django_db(databases="__all__")

MODELS = (ErpConnection, Vendor, Commitment, SubcontractorInvoice, SyncRun, AuditEntry)


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(factories.user("staff", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def synced_invoice():
    project = factories.project(company=factories.company(name="Northwind Builders"), name="Harbor Tower")
    commitment = factories.link(factories.commitment(project=project, number="SC-001"))
    return factories.link(factories.invoice(commitment=commitment, number="1"))


def url(model, view: str, *args) -> str:
    return reverse(f"admin:erp_integrations_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_changelist_opens(staff_client, synced_invoice, model):
    assert staff_client.get(url(model, "changelist")).status_code == 200


@pytest.mark.parametrize("model", [Commitment, SubcontractorInvoice], ids=lambda m: m.__name__)
def test_a_synced_record_shows_its_link_read_only(staff_client, synced_invoice, model):
    record = model.objects.get(erp_id__isnull=False, company=synced_invoice.company)

    page = staff_client.get(url(model, "change", record.pk))

    assert page.status_code == 200
    assert "erp_id" not in page.context["adminform"].form.fields
    assert "export_state" not in page.context["adminform"].form.fields
    assert record.erp_id in page.text


def test_commitment_search_finds_by_number_title_and_erp_id(staff_client, synced_invoice):
    commitment = synced_invoice.commitment
    changelist = url(Commitment, "changelist")

    for term in ("SC-001", "Concrete", commitment.erp_id):
        page = staff_client.get(changelist, {"q": term})
        assert list(page.context["cl"].result_list) == [commitment], term


def test_sync_runs_and_audit_entries_are_read_only(staff_client):
    for model in (SyncRun, AuditEntry):
        assert staff_client.get(url(model, "add")).status_code == 403


def test_commitment_changelist_queries_do_not_grow_with_rows(staff_client, django_assert_num_queries):
    project = factories.project(company=factories.company())
    for _ in range(3):
        factories.commitment(project=project)
    changelist = url(Commitment, "changelist")

    for more in (0, 30):
        for _ in range(more):
            factories.commitment(project=factories.project(company=project.company))
        # 1) the session, 2) the user, 3) the count of the page's rows, 4) the page, with
        # its projects and vendors joined rather than fetched row by row.
        with django_assert_num_queries(4):
            assert staff_client.get(changelist).status_code == 200


# --- what the admin may not change ----------------------------------------------------------
def _form_fields(page) -> set[str]:
    return set(page.context["adminform"].form.fields)


def test_a_synced_records_company_link_and_locked_fields_are_read_only(staff_client, synced_invoice):
    commitment = synced_invoice.commitment
    other = factories.company(name="Other Builders")
    change = url(Commitment, "change", commitment.pk)
    page = staff_client.get(change)
    assert page.status_code == 200
    assert _form_fields(page) == set(), _form_fields(page)
    assert (
        "erp_integrations_commitmentlineitem" not in page.text
        or 'name="line_items-0-amount"' not in page.text
    )

    staff_client.post(
        change,
        {
            "company": other.pk,
            "project": factories.project(company=other).pk,
            "title": "Changed in the admin",
            "amount": "1.00",
            "erp_id": "JC-FORGED",
            "export_state": "draft",
            "line_items-TOTAL_FORMS": "0",
            "line_items-INITIAL_FORMS": "0",
        },
    )

    stored = Commitment.objects.get(pk=commitment.pk)
    assert (stored.company_id, stored.project_id, stored.title, stored.amount, stored.erp_id) == (
        commitment.company_id,
        commitment.project_id,
        commitment.title,
        commitment.amount,
        commitment.erp_id,
    )
    invoice_page = staff_client.get(url(SubcontractorInvoice, "change", synced_invoice.pk))
    assert _form_fields(invoice_page) == set()


def test_a_draft_record_is_editable_but_its_company_and_project_are_fixed(staff_client):
    draft = factories.commitment(project=factories.project(company=factories.company()), title="Draft title")

    page = staff_client.get(url(Commitment, "change", draft.pk))

    fields = _form_fields(page)
    assert 'name="line_items-0-amount"' in page.text
    assert {"title", "number", "amount", "vendor"} <= fields
    assert not {"company", "project", "erp_id", "export_state", "linked_at"} & fields


def test_a_connections_company_and_erp_and_a_vendors_company_are_fixed(staff_client, synced_invoice):
    connection = synced_invoice.company.erp_connection
    vendor = synced_invoice.vendor

    connection_page = staff_client.get(url(ErpConnection, "change", connection.pk))
    vendor_page = staff_client.get(url(Vendor, "change", vendor.pk))

    assert _form_fields(connection_page) == {"is_active"}
    assert "company" not in _form_fields(vendor_page) and "name" in _form_fields(vendor_page)
