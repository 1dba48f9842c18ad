"""What the hostile-input suite shares: every URL of the product, from the URLconf,
and two companies whose ids a user may try on each other.

URLs come from the URLconf itself, so a URL added later is covered (or the coverage
test fails until this file says which ids it takes).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, reverse

from erp_integrations.models import (
    BulkRun,
    Commitment,
    CommitmentChangeOrder,
    ErpMasterEntry,
    ExportState,
    SubcontractorInvoice,
    Vendor,
)
from erp_integrations.sandbox.services import sandbox_master_add
from erp_integrations.services.sync import connection_sync
from tests import factories
from tests.erp_integrations.services.sync_support import delete_in_erp

#: URL names that belong to Django's own sign-in views (not the product's views).
AUTH_VIEWS = {"login", "logout"}


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    params: tuple[str, ...]

    @property
    def company_scoped(self) -> bool:
        return "company_id" in self.params or "project_id" in self.params


def product_routes() -> list[Route]:
    """Every named URL of the product (the admin is Django's and tested apart)."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if str(pattern.pattern).startswith("admin/"):
                    continue
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield Route(pattern.name, prefix + str(pattern.pattern), tuple(pattern.pattern.converters))

    return list(walk(get_resolver().url_patterns))


@dataclass
class CompanyWorld:
    company: object
    project: object
    approver: object
    synced: Commitment  # linked, deleted in the ERP, seen missing by a sync: unlinkable
    present: Commitment  # linked and still in the ERP
    ready: Commitment
    invoice: SubcontractorInvoice  # linked, under `present`
    cco: CommitmentChangeOrder  # a draft, under `present`
    erp_vendor: ErpMasterEntry  # a vendor of the company's ERP, ready to import
    new_vendor: Vendor  # a vendor of the directory not in the ERP, ready to export
    bulk_run: BulkRun  # the approver's finished bulk export of `ready`


def company_world(name: str, *, username: str, title: str = "Concrete package", vendor: str | None = None):
    company = factories.company(name=name)
    project = factories.project(company=company, name=f"{name} tower")
    approver = factories.approver(company, project, username=username)
    vendor_obj = factories.vendor(company=company, name=vendor) if vendor else None
    synced = factories.link(factories.commitment(project=project, title=title, vendor=vendor_obj))
    present = factories.link(factories.commitment(project=project, title=title, vendor=vendor_obj))
    ready = factories.commitment(
        project=project, title=title, vendor=vendor_obj, export_state=ExportState.READY
    )
    invoice = factories.link(factories.invoice(commitment=present))
    cco = factories.change_order(commitment=present, title=title)
    delete_in_erp(synced)
    # Master data: a vendor in the ERP, and one in the directory only.
    sandbox_master_add(
        erp_system=company.erp_connection.erp_system,
        kind="vendor",
        values={"id": f"V{company.pk}", "name": f"Supplier {company.pk}", "type": "Supplier"},
    )
    new_vendor = factories.vendor(company=company, name=f"{name} new vendor", synced=False)
    connection_sync(connection_id=company.erp_connection.pk, trigger="schedule")
    bulk_run = BulkRun.objects.create(
        company=company,
        user=approver,
        kind="commitment",
        action="export",
        record_ids=[ready.pk],
        results=[[ready.pk, False, "Not exported."]],
        status=BulkRun.Status.DONE,
    )
    erp_vendor = ErpMasterEntry.objects.get(company=company, kind="vendor", erp_id=f"V{company.pk}")
    return CompanyWorld(
        company, project, approver, synced, present, ready, invoice, cco, erp_vendor, new_vendor, bulk_run
    )


def kwargs_for(
    route: Route, world: CompanyWorld, *, tab: str = "commitments", action: str = "unlink"
) -> dict:
    """The URL's arguments, filled with ``world``'s ids. Unknown parameters fail loudly."""
    record = {"subcontractor-invoices": world.invoice, "change-orders": world.cco}.get(tab, world.synced)
    values = {
        "company_id": world.company.pk,
        "tab": tab,
        "list_slug": "synced",
        "record_id": record.pk,
        "action": action,
        "project_id": world.project.pk,
        "pk": world.present.pk,
        "iid": world.invoice.pk,
        "cco_id": world.cco.pk,
        "erp_system": "sage300",
        "erp_id": world.synced.erp_id,
        "master_tab": "companies",
        "entry_id": world.erp_vendor.pk,
        "entry_action": "link",
        "master_id": world.new_vendor.pk,
        "master_action": "export",
        "run_id": world.bulk_run.pk,
    }
    unknown = set(route.params) - set(values)
    assert not unknown, (
        f"New URL parameter(s) {unknown} in {route.name}: teach tests/hostile/support.py their ids."
    )
    return {name: values[name] for name in route.params}


def url_for(route: Route, world: CompanyWorld, **options) -> str:
    return reverse(route.name, kwargs=kwargs_for(route, world, **options))
