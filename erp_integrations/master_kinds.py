"""The master data every export depends on: one entry per kind, as ``kinds`` is for records.

A commitment cannot go to the ERP before its project's job and its vendor are there.
Jobs, vendors and cost codes travel both ways: an ERP record is added to the platform
(imported) or linked to a platform record that already exists, and a platform record
is exported with the id an approver gives it. Everything that differs between the three
is written here, as data: the platform's model and nouns, the ERP's noun, the tab, the
field that names a record, the copy of the link's ERP id the record carries, the export
claim, what the approver types at export, what the ERP is sent, how an ERP record
becomes a platform record. Tabs, services, the sync and the selectors are built from
these entries; no other module asks which master kind a record is.

Links live in ``ErpLink`` (kind = the slug here, record id = the platform record's),
so the sync and the unlink rule treat them as every other link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db import models
from django.urls import reverse

from accounts.models import Company, Project, ProjectPermission
from erp_integrations.models import AuditEntry, CostCode, ErpMasterEntry, Vendor
from erp_integrations.sandbox.formats import FORMATS, cost_code_erp_id


@dataclass(frozen=True)
class ExportInput:
    """A value the approver gives at export: its name in the form and its label."""

    name: str
    label: str
    #: "text", or "vendor_type" (a choice among the ERP's vendor types).
    widget: str = "text"
    help: str = ""


@dataclass(frozen=True, eq=False)
class MasterKind:
    #: The link's kind, the ERP store's kind, the audit trail's record type.
    slug: str
    model: type[models.Model]
    #: The platform's nouns ("project", "projects") and the ERP's ("job").
    noun: str
    nouns: str
    erp_noun: str
    erp_nouns: str
    tab_slug: str
    tab_title: str
    #: The field that names a record (matched with the ERP's name when linking).
    name_field: str
    #: The record's copy of its live link's ERP id.
    erp_id_field: str
    #: The connector operation that checks the ERP's format for an export.
    connector_validate: str
    #: The namespace of the claim an export of one record holds (see ``locks``).
    lock_namespace: int
    audit_type: str
    #: What the approver types at export (a cost code brings its own code and category).
    export_inputs: tuple[ExportInput, ...]
    #: The values the ERP is sent: from the record and what the approver typed.
    export_values: Callable[[Any, dict], dict]
    #: A platform record's number-like column and the words under its name.
    number: Callable[[Any], str]
    #: A new platform record from an ERP entry (not saved).
    from_entry: Callable[[Company, ErpMasterEntry], Any]
    #: Where a new record from the ERP would clash with one the platform has: its lookup.
    clash_lookup: Callable[[ErpMasterEntry], dict]
    #: The ERP entry's own columns: (label, value) pairs besides its id and name.
    entry_details: Callable[[ErpMasterEntry, str], list[tuple[str, str]]]
    #: The ERP id the export's values make, and what the ERP keeps besides the name.
    erp_id_from_values: Callable[[dict], str]
    entry_attrs: Callable[[dict], dict]
    #: Add to the platform "from a template": the templates offered, finding one by id,
    #: and what the new record takes from it. None: the kind has no templates.
    #: The field of exported records (commitments, invoices, CCOs) that names a record of
    #: this kind ("vendor", "project"): those synced keep it from being unlinked.
    record_field: str = ""
    templates: Callable[[int], Any] | None = None
    template_of: Callable[[int, int], Any] | None = None
    apply_template: Callable[[Any, Any], None] | None = None

    def label(self, record) -> str:
        """How a sentence names a platform record: "Vendor Acme Concrete"."""
        return f"{self.noun.capitalize()} {self.name_of(record)}"

    def name_of(self, record) -> str:
        return getattr(record, self.name_field)

    def erp_id_of(self, record) -> str | None:
        return getattr(record, self.erp_id_field)

    def records(self, company_id: int):
        return self.model.objects.filter(company_id=company_id)

    def detail_url(self, record) -> str:
        """The row that fixes it: the record in its tab's Ready to Export list."""
        url = reverse("erp_master_tab", kwargs={"company_id": record.company_id, "master_tab": self.tab_slug})
        return f"{url}?{urlencode({'ready-q': self.name_of(record)})}#ready-{self.slug}-{record.pk}"


def _job_values(project: Project, given: dict) -> dict:
    return {"id": given.get("id", "").strip(), "name": project.name}


def _vendor_values(vendor: Vendor, given: dict) -> dict:
    return {"id": given.get("id", "").strip(), "type": given.get("type", "").strip(), "name": vendor.name}


def _cost_code_values(cost_code: CostCode, given: dict) -> dict:
    return {"code": cost_code.code, "class": cost_code.cost_class, "name": cost_code.description}


def _project_templates(company_id: int):
    return Project.objects.filter(company_id=company_id).order_by("name")


def _apply_project_template(project: Project, template: Project) -> None:
    """A project made from a template starts with the template's team (their levels on
    its Commitments tool)."""
    ProjectPermission.objects.bulk_create(
        [
            ProjectPermission(project=project, user_id=user_id, commitments_level=level)
            for user_id, level in ProjectPermission.objects.filter(project=template).values_list(
                "user_id", "commitments_level"
            )
        ]
    )


def _project_from(company: Company, entry: ErpMasterEntry) -> Project:
    # An ERP's job id is the project's number in the platform.
    return Project(company=company, number=entry.erp_id, name=entry.name, erp_job_id=entry.erp_id)


def _vendor_from(company: Company, entry: ErpMasterEntry) -> Vendor:
    return Vendor(company=company, name=entry.name, erp_vendor_id=entry.erp_id)


def _cost_code_from(company: Company, entry: ErpMasterEntry) -> CostCode:
    return CostCode(
        company=company,
        code=entry.attrs.get("code", ""),
        cost_class=entry.attrs.get("cost_class", ""),
        description=entry.name,
        erp_cost_code_id=entry.erp_id,
    )


def _cost_class_word(erp_system: str) -> str:
    rules = FORMATS.get(erp_system)
    return rules.cost_class_word.capitalize() if rules else "Category"


JOB = MasterKind(
    slug="job",
    model=Project,
    noun="project",
    nouns="projects",
    erp_noun="job",
    erp_nouns="jobs",
    tab_slug="projects",
    tab_title="Projects",
    name_field="name",
    erp_id_field="erp_job_id",
    connector_validate="validate_job",
    lock_namespace=5,
    audit_type=AuditEntry.RecordType.JOB,
    export_inputs=(ExportInput("id", "Job id", help="In the ERP's job format."),),
    export_values=_job_values,
    number=lambda project: project.number,
    from_entry=_project_from,
    clash_lookup=lambda entry: {"number": entry.erp_id},
    entry_details=lambda entry, erp_system: [],
    erp_id_from_values=lambda values: values["id"],
    entry_attrs=lambda values: {},
    record_field="project",
    templates=_project_templates,
    template_of=lambda company_id, pk: _project_templates(company_id).filter(pk=pk).first(),
    apply_template=_apply_project_template,
)

VENDOR = MasterKind(
    slug="vendor",
    model=Vendor,
    # A company of the directory that can be paid: the platform's vendor.
    noun="vendor",
    nouns="vendors",
    erp_noun="vendor",
    erp_nouns="vendors",
    tab_slug="companies",
    tab_title="Companies",
    name_field="name",
    erp_id_field="erp_vendor_id",
    connector_validate="validate_vendor",
    lock_namespace=6,
    audit_type=AuditEntry.RecordType.VENDOR,
    export_inputs=(
        ExportInput("id", "Vendor id", help="In the ERP's vendor-id format."),
        ExportInput("type", "Vendor type", widget="vendor_type"),
    ),
    export_values=_vendor_values,
    number=lambda vendor: "",
    from_entry=_vendor_from,
    clash_lookup=lambda entry: {"name__iexact": entry.name},
    entry_details=lambda entry, erp_system: [("Vendor type", entry.attrs.get("vendor_type", ""))],
    erp_id_from_values=lambda values: values["id"],
    entry_attrs=lambda values: {"vendor_type": values["type"]},
    record_field="vendor",
)

COST_CODE = MasterKind(
    slug="cost_code",
    model=CostCode,
    noun="cost code",
    nouns="cost codes",
    erp_noun="cost code",
    erp_nouns="cost codes",
    tab_slug="cost-codes",
    tab_title="Cost Codes",
    name_field="description",
    erp_id_field="erp_cost_code_id",
    connector_validate="validate_cost_code",
    lock_namespace=7,
    audit_type=AuditEntry.RecordType.COST_CODE,
    export_inputs=(),
    export_values=_cost_code_values,
    number=lambda cost_code: f"{cost_code.code} · {cost_code.cost_class}",
    from_entry=_cost_code_from,
    clash_lookup=lambda entry: {
        "code": entry.attrs.get("code", ""),
        "cost_class": entry.attrs.get("cost_class", ""),
    },
    entry_details=lambda entry, erp_system: [
        (_cost_class_word(erp_system), entry.attrs.get("cost_class", ""))
    ],
    erp_id_from_values=lambda values: cost_code_erp_id(values["code"], values["class"]),
    entry_attrs=lambda values: {"code": values["code"], "cost_class": values["class"]},
)

#: Every master kind, in tab order.
MASTER_KINDS: tuple[MasterKind, ...] = (JOB, VENDOR, COST_CODE)
BY_SLUG: dict[str, MasterKind] = {kind.slug: kind for kind in MASTER_KINDS}
BY_TAB: dict[str, MasterKind] = {kind.tab_slug: kind for kind in MASTER_KINDS}


#: What a record needs linked before it is exported: (the record's field, its master kind).
PREREQUISITES: tuple[tuple[str, MasterKind], ...] = (("vendor", VENDOR), ("project", JOB))


def unlinked_prerequisites(record) -> list[tuple[MasterKind, Any]]:
    """The vendor and the project's job a record needs linked, where they are not (no query:
    load records with their project and vendor)."""
    return [
        (kind, getattr(record, field))
        for field, kind in PREREQUISITES
        if not kind.erp_id_of(getattr(record, field))
    ]


def prerequisite_problem(kind: MasterKind, target, erp_name: str) -> str:
    """Why the export cannot go: "Vendor Acme Concrete is not linked with Sage 300 CRE® yet…"."""
    return (
        f"{kind.label(target)} is not linked with {erp_name} yet: "
        f"link or export it on the {kind.tab_title} tab first."
    )
