"""Reject's reason is asked for when Reject is opened, not carried by every row.

A ready row has a Reject link. With HTMX the link fetches a dialog holding the form
(the page's script opens it); without JavaScript it opens a small page with the same
form. Either form rejects the record.
"""

import html
import re
from http import HTTPStatus
from urllib.parse import quote, urljoin

import pytest
from django.urls import reverse

from erp_integrations.models import ExportState
from tests import factories
from tests.erp_integrations.views.tool_world import (
    action_tags,
    build_world,
    client_for,
    csrf_token,
    htmx_get,
    post,
    ready_commitment,
    synced_commitment,
    tab_url,
)

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


def reject_link(body: str, record, page: str) -> str:
    """Where the Reject link in the record's ready row leads from ``page`` (its href is
    relative, as a browser resolves it)."""
    row = body.split(f'id="ready-commitment-{record.pk}"')[1].split("</tbody>")[0]
    (link,) = action_tags(row, "reject")
    return urljoin(page, html.unescape(re.search(r'href="([^"]+)"', link).group(1)))


def test_a_ready_row_links_to_the_reject_form_instead_of_carrying_it():
    world = build_world()
    ready = ready_commitment(world)

    body = client_for(world.approver).get(tab_url(world.company)).content.decode()

    row = body.split(f'id="ready-commitment-{ready.pk}"')[1].split("</tbody>")[0]
    assert "<textarea" not in row and "reject-reason" not in row
    # From the tab's first page the form goes back to the tab, its default: no ?next=.
    link = reject_link(body, ready, tab_url(world.company))
    assert link == reverse("erp_reject_form", args=[world.company.pk, "commitments", ready.pk])
    # The same address is fetched by HTMX, placed after the link.
    assert f'hx-get="{ready.pk}/reject/form/"' in row and 'hx-swap="afterend"' in row


def test_from_a_sorted_page_the_reject_form_goes_back_to_that_page():
    world = build_world()
    ready = ready_commitment(world)
    client = client_for(world.approver)
    sorted_page = tab_url(world.company) + "?ready-sort=number"

    link = reject_link(client.get(sorted_page).content.decode(), ready, sorted_page)

    assert link == reverse("erp_reject_form", args=[world.company.pk, "commitments", ready.pk]) + (
        "?next=" + quote(sorted_page, safe="/")
    )
    body = client.get(link).content.decode()
    assert f'name="next" value="{html.escape(sorted_page)}"' in body


def test_without_javascript_the_reject_page_rejects_and_goes_back_to_the_tab():
    world = build_world()
    ready = ready_commitment(world)
    client = client_for(world.approver)
    link = reject_link(client.get(tab_url(world.company)).content.decode(), ready, tab_url(world.company))

    page = client.get(link)

    assert page.status_code == HTTPStatus.OK
    body = page.content.decode()
    assert "<dialog" not in body and 'data-testid="reject-page"' in body
    form = re.search(r'<form class="reject-form" method="post" action="([^"]+)"', body)
    assert form and form.group(1) == reverse(
        "erp_action", args=[world.company.pk, "commitments", ready.pk, "reject"]
    )
    assert f'name="next" value="{tab_url(world.company)}"' in body
    token = client.cookies["csrftoken"].value

    done = post(
        client,
        form.group(1),
        {"reason": "Wrong vendor", "next": tab_url(world.company)},
        htmx=False,
        token=token,
    )

    assert done.status_code == HTTPStatus.FOUND
    assert done["Location"] == f"{tab_url(world.company)}#commitments-ready"
    ready.refresh_from_db()
    assert (ready.export_state, ready.rejection_reason) == (ExportState.REJECTED, "Wrong vendor")


def test_with_htmx_the_reject_form_comes_as_a_dialog_that_swaps_the_row():
    world = build_world()
    ready = ready_commitment(world)
    client = client_for(world.approver)
    page = tab_url(world.company)
    link = reject_link(client.get(page).content.decode(), ready, page)

    fragment = htmx_get(client, link, current=page)

    assert fragment.status_code == HTTPStatus.OK
    body = fragment.content.decode()
    assert body.lstrip().startswith('<dialog class="reject-dialog"') and "<html" not in body
    assert f'hx-target="#ready-commitment-{ready.pk}"' in body
    assert "autofocus" in body and "data-dialog-close" in body
    url = reverse("erp_action", args=[world.company.pk, "commitments", ready.pk, "reject"])
    assert f'hx-post="{url}"' in body

    done = post(client, url, {"reason": "Duplicate"}, htmx=True, token=csrf_token(client, page), current=page)

    assert done.status_code == HTTPStatus.OK
    assert f"Commitment {ready.number} was rejected" in html.unescape(done.content.decode())
    ready.refresh_from_db()
    assert ready.export_state == ExportState.REJECTED


def test_the_reject_form_says_why_when_the_user_may_not_reject():
    world = build_world()
    ready = ready_commitment(world)
    url = reverse("erp_reject_form", args=[world.company.pk, "commitments", ready.pk])

    body = client_for(world.pm).get(url).content.decode()

    assert "<textarea" not in body
    assert "'Can Push to Accounting'" in html.unescape(body)


def test_the_reject_form_of_a_synced_record_offers_nothing_to_reject():
    world = build_world()
    synced = synced_commitment(world)
    url = reverse("erp_reject_form", args=[world.company.pk, "commitments", synced.pk])

    body = client_for(world.approver).get(url).content.decode()

    assert 'data-testid="reject-unavailable"' in body and "<textarea" not in body


def test_the_reject_form_of_another_companys_record_is_not_found():
    world = build_world()
    theirs = factories.commitment(project=world.other_project)
    url = reverse("erp_reject_form", args=[world.company.pk, "commitments", theirs.pk])

    assert client_for(world.approver).get(url).status_code == HTTPStatus.NOT_FOUND
