"""Plain builders for test data, named in the product's words.

Each takes keyword arguments for what a test cares about and fills the rest.
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from accounts.models import (
    Company,
    DirectoryMembership,
    PermissionLevel,
    Project,
    ProjectPermission,
    User,
)
from accounts.services import membership_set_privilege
from erp_integrations.connectors import get_connector
from erp_integrations.kinds import kind_of
from erp_integrations.models import (
    ChangeOrderLineItem,
    Commitment,
    CommitmentChangeOrder,
    CommitmentLineItem,
    ErpConnection,
    ErpLink,
    ErpSystem,
    ExportState,
    SubcontractorInvoice,
    Vendor,
)
from erp_integrations.services.links import record_link

_seq = itertools.count(1)


def company(*, name: str | None = None, erp_system: str | None = ErpSystem.SAGE_300_CRE) -> Company:
    n = next(_seq)
    obj = Company.objects.create(name=name or f"Company {n}", slug=f"company-{n}")
    if erp_system:
        ErpConnection.objects.create(company=obj, erp_system=erp_system)
    return obj


def project(*, company: Company, name: str | None = None, job: bool = True) -> Project:
    """A project; ``job``: linked to a job of the company's ERP (as exports need)."""
    n = next(_seq)
    return Project.objects.create(
        company=company,
        number=f"P-{n}",
        name=name or f"Project {n}",
        erp_job_id=f"{n % 100:02d}-{n:04d}" if job else None,
    )


def platform_staff() -> User:
    """The staff member who grants 'Can Push to Accounting' in tests (a superuser)."""
    obj, _ = User.objects.get_or_create(
        username="platform-staff", defaults={"is_staff": True, "is_superuser": True}
    )
    return obj


def user(
    username: str,
    *,
    company: Company | None = None,
    erp_level: int = PermissionLevel.NONE,
    privilege: bool = False,
    projects: dict[Project, int] | None = None,
    **extra,
) -> User:
    obj = User.objects.create_user(username=username, password="pw", **extra)
    if company is not None:
        membership = DirectoryMembership.objects.create(
            company=company, user=obj, erp_integrations_level=erp_level
        )
        if privilege:
            # Only staff can grant it, and every grant is recorded (as in the admin).
            membership_set_privilege(membership=membership, granted=True, changed_by=platform_staff())
    for proj, level in (projects or {}).items():
        ProjectPermission.objects.create(project=proj, user=obj, commitments_level=level)
    return obj


def approver(company: Company, *projects: Project, username: str = "approver") -> User:
    """Every requirement of the articles: Admin on Commitments, Admin on ERP, the privilege."""
    return user(
        username,
        company=company,
        erp_level=PermissionLevel.ADMIN,
        privilege=True,
        projects={p: PermissionLevel.ADMIN for p in projects},
    )


def vendor(*, company: Company, name: str | None = None, synced: bool = True) -> Vendor:
    n = next(_seq)
    return Vendor.objects.create(
        company=company, name=name or f"Vendor {n}", erp_vendor_id=f"V{n:05d}" if synced else None
    )


def commitment(
    *,
    project: Project,
    vendor: Vendor | None = None,
    number: str | None = None,
    title: str = "Concrete package",
    kind: str = Commitment.Kind.SUBCONTRACT,
    status: str = Commitment.Status.APPROVED,
    export_state: str = ExportState.DRAFT,
    amount: Decimal = Decimal("1000.00"),
    cost_code: str | None = "03-300",
) -> Commitment:
    n = next(_seq)
    obj = Commitment.objects.create(
        company_id=project.company_id,
        project=project,
        vendor=vendor or globals()["vendor"](company=project.company),
        number=number or f"SC-{n}",
        title=title,
        kind=kind,
        status=status,
        export_state=export_state,
        amount=amount,
    )
    if cost_code:
        CommitmentLineItem.objects.create(commitment=obj, cost_code=cost_code, amount=amount)
    return obj


def invoice(
    *,
    commitment: Commitment,
    number: str | None = None,
    status: str = SubcontractorInvoice.Status.APPROVED,
    export_state: str = ExportState.DRAFT,
    amount: Decimal = Decimal("250.00"),
) -> SubcontractorInvoice:
    n = next(_seq)
    return SubcontractorInvoice.objects.create(
        company_id=commitment.company_id,
        project_id=commitment.project_id,
        vendor_id=commitment.vendor_id,
        commitment=commitment,
        number=number or f"{n}",
        billing_period_start=date(2026, 10, 1),
        billing_period_end=date(2026, 10, 31),
        amount=amount,
        status=status,
        export_state=export_state,
    )


def link(record, *, by: User | None = None):
    """Export the record to its company's sandbox ERP and store the link, as Export does."""
    kind = kind_of(record)
    erp_id = get_connector(record.company.erp_connection.erp_system).export(kind, record)
    record_link(kind=kind, record=record, erp_id=erp_id, linked_by=by)
    return record


def change_order(
    *,
    commitment: Commitment,
    number: str | None = None,
    title: str = "Added scope",
    export_state: str = ExportState.DRAFT,
    amount: Decimal = Decimal("100.00"),
    status: str = CommitmentChangeOrder.Status.APPROVED,
) -> CommitmentChangeOrder:
    """A CCO with one line against the commitment's first line (made if it has none)."""
    n = next(_seq)
    line = commitment.line_items.first() or CommitmentLineItem.objects.create(
        commitment=commitment, cost_code="01-100", amount=Decimal("1000.00")
    )
    obj = CommitmentChangeOrder.objects.create(
        company_id=commitment.company_id,
        project_id=commitment.project_id,
        vendor_id=commitment.vendor_id,
        commitment=commitment,
        number=number or f"{n % 100000}",
        title=title,
        amount=amount,
        status=status,
        export_state=export_state,
    )
    ChangeOrderLineItem.objects.create(change_order=obj, commitment_line=line, amount=amount)
    return obj


def bulk_link(records: list, *, erp_ids: list[str], linked_ats: list) -> list:
    """Mark many saved records synced with links of these ERP ids (no sandbox ERP records)."""
    if not records:
        return records
    kind = kind_of(records[0])
    links = ErpLink.objects.bulk_create(
        ErpLink(kind=kind.slug, record_id=r.pk, company_id=r.company_id, erp_id=e, linked_at=at)
        for r, e, at in zip(records, erp_ids, linked_ats, strict=True)
    )
    for record, link in zip(records, links, strict=True):
        record.export_state = ExportState.SYNCED
        record.link, record.erp_id, record.linked_at = link, link.erp_id, link.linked_at
    kind.model.objects.bulk_update(records, ["export_state", "link", "erp_id", "linked_at"])
    return records
