"""People and records for the Commitments tool's view tests, named for their roles."""

from __future__ import annotations

import html
from dataclasses import dataclass

from django.test import Client

from accounts.models import Company, PermissionLevel, Project, User
from erp_integrations.models import Vendor
from tests import factories


@dataclass
class World:
    company: Company
    project: Project
    vendor: Vendor
    #: 'Admin' on the project's Commitments tool: edits and sends to accounting.
    project_admin: User
    #: 'Standard' on the Commitments tool: creates, edits and deletes, cannot send.
    pm: User
    #: 'Read Only' on the Commitments tool.
    viewer: User
    #: In the company's directory, but no permission on this project's tool.
    member: User
    #: In another company's directory only.
    outsider: User

    def client(self, user: User | None, *, csrf: bool = False) -> Client:
        client = Client(enforce_csrf_checks=csrf)
        if user is not None:
            client.force_login(user)
        return client


def build_world(*, erp_system: str = "sage300", project_name: str = "Tower") -> World:
    company = factories.company(erp_system=erp_system)
    project = factories.project(company=company, name=project_name)
    other_company = factories.company()
    return World(
        company=company,
        project=project,
        vendor=factories.vendor(company=company, name="Acme Concrete"),
        project_admin=factories.user(
            "project_admin", company=company, projects={project: PermissionLevel.ADMIN}
        ),
        pm=factories.user("pm", company=company, projects={project: PermissionLevel.STANDARD}),
        viewer=factories.user("viewer", company=company, projects={project: PermissionLevel.READ_ONLY}),
        member=factories.user("member", company=company),
        outsider=factories.user(
            "outsider",
            company=other_company,
            projects={factories.project(company=other_company): PermissionLevel.ADMIN},
        ),
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def text_of(response) -> str:
    """The page as a user reads it (entities such as &#x27; unescaped)."""
    return html.unescape(response.content.decode())


def commitment_form_data(
    world: World, *, lines: list[tuple[str, str]] = (("03-300", "1500.00"),), **fields: str
) -> dict[str, str]:
    """What the commitment form posts: the fields and the line-item formset."""
    data = {
        "kind": "subcontract",
        "number": "SC-100",
        "title": "Formwork and concrete",
        "vendor": str(world.vendor.pk),
        "status": "approved",
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
    }
    data.update(fields)
    for i, (cost_code, amount) in enumerate(lines):
        data[f"lines-{i}-cost_code"] = cost_code
        data[f"lines-{i}-amount"] = amount
        data[f"lines-{i}-description"] = ""
    return data


def invoice_form_data(**fields: str) -> dict[str, str]:
    data = {
        "number": "1",
        "billing_period_start": "2026-10-01",
        "billing_period_end": "2026-10-31",
        "amount": "10000.00",
        "retainage": "1000.00",
        "status": "under_review",
    }
    data.update(fields)
    return data


def change_order_form_data(
    *, lines: list[tuple[int, str, str]] = (), initial: int = 0, **fields: str
) -> dict[str, str]:
    """What the change order form posts: the fields and its lines (commitment line id,
    amount, description); ``initial``: how many of the lines the form showed already."""
    data = {
        "number": "001",
        "title": "Added footing",
        "description": "Owner asked for a deeper footing.",
        "status": "pending",
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": str(initial),
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
    }
    data.update(fields)
    for i, (line_id, amount, description) in enumerate(lines):
        data[f"lines-{i}-commitment_line_id"] = str(line_id)
        data[f"lines-{i}-amount"] = amount
        data[f"lines-{i}-description"] = description
    return data
