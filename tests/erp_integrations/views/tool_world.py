"""People, records and requests for the ERP Integrations tool's view tests.

Users are named for their roles: ``approver`` may do everything the articles ask for,
``pm`` lacks only the 'Can Push to Accounting' privilege, ``viewer`` may only look,
and ``outsider`` is in another company's directory. Three more each lack exactly one
of the three requirements of Unlink, Export and Reject.
"""

from __future__ import annotations

import html
import re
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from django.db import connection as db_connection
from django.test import Client
from django.urls import reverse

from accounts.models import Company, PermissionLevel, Project, User
from accounts.permissions import (
    ERP_ADMIN_MISSING,
    ERP_READ_MISSING,
    ERP_STANDARD_MISSING,
    PRIVILEGE_MISSING,
)
from erp_integrations import locks
from erp_integrations.kinds import kind_of
from erp_integrations.models import Commitment, SubcontractorInvoice, Vendor
from erp_integrations.sandbox.services import sandbox_delete
from erp_integrations.services.sync import connection_sync
from tests import factories

STILL_IN_SAGE_300 = "The commitment is still in Sage 300 CRE®. Please delete it before retrying."
REQUISITION_STILL_IN_SAGE_100 = (
    "The requisition is still in Sage 100 Contractor®. Please delete it before retrying."
)
# The requirements as accounts.permissions names them to the user.
PRIVILEGE = PRIVILEGE_MISSING
ERP_STANDARD = ERP_STANDARD_MISSING
ERP_ADMIN = ERP_ADMIN_MISSING
ERP_READ = ERP_READ_MISSING


@dataclass
class World:
    company: Company
    project: Project
    vendor: Vendor
    approver: User
    pm: User
    viewer: User
    outsider: User
    #: A directory member with no level on ERP Integrations: may not open the tool.
    member: User
    #: Admin on ERP Integrations and the privilege, but only 'Standard' on Commitments.
    no_commitments_admin: User
    #: Admin on Commitments and the privilege, but only 'Read Only' on ERP Integrations.
    erp_read_only: User
    other_company: Company
    other_project: Project

    @property
    def erp_system(self) -> str:
        return self.company.erp_connection.erp_system


def build_world(*, erp_system: str = "sage300", invoices_erp: str | None = None) -> World:
    company = factories.company(name="Northwind Builders", erp_system=erp_system)
    project = factories.project(company=company, name="Harbor Tower")
    other_company = factories.company(name="Other Builders")
    other_project = factories.project(company=other_company)
    admin = PermissionLevel.ADMIN
    return World(
        company=company,
        project=project,
        vendor=factories.vendor(company=company, name="Granite Ridge Concrete"),
        approver=factories.approver(company, project),
        pm=factories.user(
            "pm", company=company, erp_level=PermissionLevel.STANDARD, projects={project: admin}
        ),
        viewer=factories.user(
            "viewer",
            company=company,
            erp_level=PermissionLevel.READ_ONLY,
            projects={project: PermissionLevel.READ_ONLY},
        ),
        outsider=factories.approver(other_company, other_project, username="outsider"),
        member=factories.user("member", company=company, projects={project: admin}),
        no_commitments_admin=factories.user(
            "no_commitments_admin",
            company=company,
            erp_level=admin,
            privilege=True,
            projects={project: PermissionLevel.STANDARD},
        ),
        erp_read_only=factories.user(
            "erp_read_only",
            company=company,
            erp_level=PermissionLevel.READ_ONLY,
            privilege=True,
            projects={project: admin},
        ),
        other_company=other_company,
        other_project=other_project,
    )


# --- records ---------------------------------------------------------------------------------
def synced_commitment(world: World, **fields) -> Commitment:
    fields.setdefault("vendor", world.vendor)
    return factories.link(factories.commitment(project=world.project, **fields))


def ready_commitment(world: World, **fields) -> Commitment:
    fields.setdefault("vendor", world.vendor)
    return factories.commitment(project=world.project, export_state="ready", **fields)


def synced_invoice(world: World, commitment: Commitment | None = None, **fields) -> SubcontractorInvoice:
    commitment = commitment or synced_commitment(world)
    return factories.link(factories.invoice(commitment=commitment, **fields))


def ready_invoice(world: World, commitment: Commitment | None = None, **fields) -> SubcontractorInvoice:
    commitment = commitment or synced_commitment(world)
    return factories.invoice(commitment=commitment, export_state="ready", **fields)


def synced_change_order(world: World, commitment: Commitment | None = None, **fields):
    commitment = commitment or synced_commitment(world)
    return factories.link(factories.change_order(commitment=commitment, **fields))


def ready_change_order(world: World, commitment: Commitment | None = None, **fields):
    commitment = commitment or synced_commitment(world)
    return factories.change_order(commitment=commitment, export_state="ready", **fields)


def delete_in_erp_and_sync(record) -> None:
    """The articles' order: delete the record in the ERP, then let a sync see it gone."""
    connection = record.company.erp_connection
    sandbox_delete(erp_system=connection.erp_system, kind=kind_of(record).slug, erp_id=record.erp_id)
    run = connection_sync(connection_id=connection.pk, trigger="command")
    assert run is not None and run.status == "succeeded"


def other_session_conninfo() -> str:
    """How to open another session on the test database, as another process would."""
    settings = db_connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        password=settings["PASSWORD"] or None,
    )


@contextmanager
def sync_claimed_elsewhere(company: Company):
    """Hold the connection's sync claim from another database session, as a live worker does."""
    with psycopg.connect(other_session_conninfo(), autocommit=True) as other:
        taken = other.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", [locks.SYNC, company.erp_connection.pk]
        ).fetchone()[0]
        assert taken
        try:
            yield
        finally:
            other.execute("SELECT pg_advisory_unlock(%s, %s)", [locks.SYNC, company.erp_connection.pk])


# --- requests --------------------------------------------------------------------------------
def client_for(user: User | None, *, csrf: bool = True) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    if user is not None:
        client.force_login(user)
    return client


def tab_url(company: Company, tab: str = "commitments") -> str:
    return reverse("erp_tab", kwargs={"company_id": company.pk, "tab": tab})


def list_url(company: Company, tab: str, list_slug: str) -> str:
    return reverse("erp_list", kwargs={"company_id": company.pk, "tab": tab, "list_slug": list_slug})


def action_url(record, action: str, *, company: Company | None = None) -> str:
    return reverse(
        "erp_action",
        kwargs={
            "company_id": (company or record.company).pk,
            "tab": kind_of(record).tab_slug,
            "record_id": record.pk,
            "action": action,
        },
    )


def csrf_token(client: Client, page_url: str) -> str:
    """Load a page, as a browser would before posting, and take the CSRF token it set."""
    response = client.get(page_url)
    assert response.status_code in (200, 403), response.status_code
    return client.cookies["csrftoken"].value


def post(client: Client, url: str, data: dict | None = None, *, htmx: bool, token: str, current: str = ""):
    headers = {"X-CSRFToken": token}
    if htmx:
        headers |= {"HX-Request": "true", "HX-Current-URL": "http://testserver" + (current or url)}
    return client.post(url, data or {}, headers=headers)


def htmx_get(client: Client, url: str, *, current: str = "", target: str = ""):
    headers = {"HX-Request": "true", "HX-Current-URL": "http://testserver" + (current or url)}
    if target:
        headers["HX-Target"] = target
    return client.get(url, headers=headers)


# --- reading pages ---------------------------------------------------------------------------
def text(response) -> str:
    """The response's HTML with tags dropped and entities decoded, whitespace squeezed."""
    body = re.sub(r"<[^>]+>", " ", response.content.decode())
    return " ".join(html.unescape(body).split())


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


#: A record's row in a tool's list (erp/tab.html#record): its <tbody>, whose id is
#: "<list>-<kind>-<record id>", and the record's number (as sent) in its first cell.
ROW = re.compile(
    r'<tbody id="(?P<list>[a-z]+)-(?P<kind>[a-z-]+)-(?P<pk>\d+)"[^>]*>\s*<tr>\s*'
    r'<th scope="row">(?:<input[^>]*> )?(?P<number>[^<]*)</th>'
)


def rows(body: str, list_slug: str | None = None) -> list[re.Match]:
    """The rows of a page or fragment, in page order; of one list if ``list_slug``."""
    return [row for row in ROW.finditer(body) if list_slug in (None, row["list"])]


def row_numbers(response, list_slug: str) -> list[str]:
    """The record numbers of one list's rows, in page order."""
    return [row["number"] for row in rows(response.content.decode(), list_slug)]


def action_tags(body: str, action: str) -> list[str]:
    """The start tags of the rows' buttons for ``action`` ("unlink", "export"), or for
    "reject" of Reject's links (and its disabled buttons), in page order."""
    if action == "reject":
        pattern = r'<a\b[^>]*href="\d+/reject/form/[^"]*"[^>]*>'
        pattern += r'|<button type="button" disabled aria-label="Reject [^>]*>'
    else:
        pattern = rf'<button\b[^>]*formaction="\d+/{action}/"[^>]*>'
    return re.findall(pattern, body)
