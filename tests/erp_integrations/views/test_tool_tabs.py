"""The tool's tabs: the articles' list titles, what a row shows, and who sees which buttons."""

import html
import re
from datetime import UTC, timedelta
from decimal import Decimal
from urllib.parse import urljoin

import pytest
from django.utils import timezone

from erp_integrations.models import Commitment, ExportState
from tests import factories
from tests.erp_integrations.views.tool_world import (
    PRIVILEGE,
    action_tags,
    action_url,
    build_world,
    client_for,
    delete_in_erp_and_sync,
    list_url,
    ready_commitment,
    row_numbers,
    synced_commitment,
    synced_invoice,
    tab_url,
    text,
)

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


def list_titles(response) -> list[str]:
    return re.findall(r'data-testid="list-title">([^<]*)<', response.content.decode())


def test_commitments_tab_has_the_articles_lists_with_the_erps_own_name():
    world = build_world(erp_system="sage300")

    response = client_for(world.viewer).get(tab_url(world.company))

    assert response.status_code == 200
    assert list_titles(response) == [
        "Commitments - Ready to Export",
        "Commitments - Failed to Export",
        "Commitments - Synced with Sage 300 CRE®",
    ]
    tabs = re.findall(r'data-testid="tab-([a-z-]+)">([^<]*)<', response.content.decode())
    assert tabs[:2] == [("commitments", "Commitments"), ("subcontractor-invoices", "Subcontractor Invoices")]


def test_subcontractor_invoices_tab_names_sage_100_contractor():
    world = build_world(erp_system="sage100")

    response = client_for(world.viewer).get(tab_url(world.company, "subcontractor-invoices"))

    assert list_titles(response) == [
        "Subcontractor Invoices - Ready to Export",
        "Subcontractor Invoices - Failed to Export",
        "Subcontractor Invoices - Synced with Sage 100 Contractor®",
    ]
    assert 'aria-current="page" data-testid="tab-subcontractor-invoices"' in response.content.decode()


def test_a_synced_row_shows_number_title_project_vendor_amount_status_erp_id_and_when():
    world = build_world()
    commitment = synced_commitment(
        world, number="SC-12", title="Concrete and foundations", amount=Decimal("227500")
    )

    response = client_for(world.viewer).get(tab_url(world.company))

    row = response.content.decode().split(f'id="synced-commitment-{commitment.pk}"')[1].split("</tbody>")[0]
    row_text = " ".join(re.sub(r"<[^>]+>", " ", row).split())
    assert "SC-12" in row_text
    assert "Concrete and foundations" in row_text
    assert "Harbor Tower" in row_text
    assert "Granite Ridge Concrete" in row_text
    assert "227,500.00" in row_text
    assert "Approved" in row_text
    assert commitment.erp_id in row_text and commitment.erp_id.startswith("JC-")
    # The machine-readable time in UTC, to the second.
    assert f'datetime="{commitment.linked_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"' in row
    assert action_tags(row, "unlink")


def test_an_invoice_row_shows_its_billing_period_and_commitment():
    world = build_world(erp_system="sage100")
    commitment = synced_commitment(world, number="SC-7", title="Steel")
    invoice = synced_invoice(world, commitment, number="3")

    response = client_for(world.viewer).get(tab_url(world.company, "subcontractor-invoices"))

    row = response.content.decode().split(f'id="synced-invoice-{invoice.pk}"')[1].split("</tbody>")[0]
    row_text = " ".join(re.sub(r"<[^>]+>", " ", row).split())
    assert "1 Oct 2026 – 31 Oct 2026" in row_text
    assert "on SC-7 · Steel" in row_text
    assert invoice.erp_id in row_text


def test_failed_rows_show_the_erps_error():
    world = build_world()
    ready_commitment(world, number="SC-9")
    Commitment.objects.filter(number="SC-9").update(
        export_state=ExportState.FAILED, export_error="Vendor: must be synced with Sage 300 CRE® first."
    )

    response = client_for(world.viewer).get(tab_url(world.company))

    assert row_numbers(response, "failed") == ["SC-9"]
    assert "Sage 300 CRE® said: Vendor: must be synced with Sage 300 CRE® first." in text(response)


def test_a_link_the_sync_saw_deleted_in_the_erp_is_marked():
    world = build_world()
    gone = synced_commitment(world, number="SC-1")
    synced_commitment(world, number="SC-2")
    delete_in_erp_and_sync(gone)

    response = client_for(world.viewer).get(tab_url(world.company))

    body = response.content.decode()
    gone_row = body.split(f'id="synced-commitment-{gone.pk}"')[1].split("</tbody>")[0]
    assert 'data-testid="erp-missing">Deleted in Sage 300 CRE®<' in gone_row
    assert body.count('data-testid="erp-missing"') == 1
    assert sorted(row_numbers(response, "synced")) == ["SC-1", "SC-2"]


def test_titles_and_vendor_names_are_escaped():
    world = build_world()
    vendor = factories.vendor(company=world.company, name="<b>Bold</b> & Sons")
    synced_commitment(world, number="SC-<1>", title='<script>alert("x")</script>', vendor=vendor)

    response = client_for(world.viewer).get(tab_url(world.company))
    body = response.content.decode()

    assert "<script>alert" not in body and "<b>Bold</b>" not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; Sons" in body
    assert row_numbers(response, "synced") == ["SC-&lt;1&gt;"]


def test_the_approver_gets_working_buttons():
    world = build_world()
    synced = synced_commitment(world)
    ready = ready_commitment(world)

    body = client_for(world.approver).get(tab_url(world.company)).content.decode()

    unlink = body.split(f'id="synced-commitment-{synced.pk}"')[1].split("</tbody>")[0]
    # The row's addresses are relative to the tab's, where the row is shown: from there
    # they are the record's action, with htmx and without JavaScript alike.
    (button,) = action_tags(unlink, "unlink")
    assert f'hx-post="{synced.pk}/unlink/"' in button
    assert urljoin(tab_url(world.company), f"{synced.pk}/unlink/") == action_url(synced, "unlink")
    # Without JavaScript the button posts its list's form (CSRF token, the page to come
    # back to) to its own address; with htmx the row's <tbody> is the target, and the
    # button is disabled while it runs, as the table says.
    assert f'formaction="{synced.pk}/unlink/"' in button
    assert 'form="commitments-synced-act"' in button
    table = body.split('id="commitments-synced-act"')[1].split("<tbody")[0]
    assert 'name="csrfmiddlewaretoken"' in table and 'name="next"' in table
    assert 'hx-target="closest tbody" hx-swap="outerHTML"' in table
    assert 'hx-disabled-elt="closest button, closest a"' in table
    assert " disabled" not in unlink
    row = body.split(f'id="ready-commitment-{ready.pk}"')[1].split("</tbody>")[0]
    assert action_tags(row, "export") and action_tags(row, "reject")
    assert urljoin(tab_url(world.company), f"{ready.pk}/export/") == action_url(ready, "export")
    assert 'data-testid="denied-reason"' not in body


def test_pm_without_the_privilege_sees_disabled_buttons_and_why():
    world = build_world()
    synced = synced_commitment(world)

    body = client_for(world.pm).get(tab_url(world.company)).content.decode()

    row = body.split(f'id="synced-commitment-{synced.pk}"')[1].split("</tbody>")[0]
    (button,) = action_tags(row, "unlink")
    assert "disabled" in button and "hx-post" not in button
    # A list of one row too says why once, above the list, not under the row.
    assert 'data-testid="denied-reason"' not in row
    assert 'aria-describedby="commitments-synced-denied"' in button
    listed = body.split('data-testid="list-synced"')[1].split("</section>")[0]
    assert listed.count('data-testid="denied-reason"') == 1
    assert (
        f'id="commitments-synced-denied" data-testid="denied-reason">Unlink needs {PRIVILEGE}.'
        in html.unescape(listed)
    )


def test_when_every_row_is_refused_alike_the_reason_is_said_once_above_the_list():
    world = build_world()
    for _ in range(3):
        ready_commitment(world)

    body = client_for(world.pm).get(tab_url(world.company)).content.decode()

    ready = body.split('data-testid="list-ready"')[1].split("</section>")[0]
    assert ready.count('data-testid="denied-reason"') == 1
    assert f"Export and Reject need {PRIVILEGE}" in html.unescape(ready)
    assert ready.count('aria-describedby="commitments-ready-denied"') == 6  # Export and Reject, 3 rows


def test_the_viewer_is_told_every_missing_requirement():
    world = build_world()
    synced_commitment(world)

    response = client_for(world.viewer).get(tab_url(world.company))

    assert (
        "Unlink needs 'Admin' on the Commitments tool of project 'Harbor Tower', "
        "and 'Standard' or 'Admin' on the ERP Integrations tool, "
        f"and {PRIVILEGE}" in text(response)
    )


def test_the_list_fragment_is_the_whole_tab_without_htmx():
    world = build_world()

    response = client_for(world.viewer).get(list_url(world.company, "commitments", "synced") + "?synced-q=SC")

    assert response.status_code == 302
    assert response["Location"] == tab_url(world.company) + "?synced-q=SC"


def test_ready_rows_sort_by_when_they_last_changed():
    world = build_world()
    older = ready_commitment(world, number="SC-1")
    newer = ready_commitment(world, number="SC-2")
    Commitment.objects.filter(pk=older.pk).update(updated_at=timezone.now() - timedelta(hours=1))

    response = client_for(world.viewer).get(tab_url(world.company))

    assert row_numbers(response, "ready") == [newer.number, older.number]
