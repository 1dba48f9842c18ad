"""A tab's rows are rendered once and kept, by everything they show.

The same record, link, buttons and page give the same row, whoever asks; any change
to them makes a new row. A row carries no CSRF token (its buttons post their list's
one form, which carries this response's), so a row shared between users gives away no
secret.
"""

import re

import pytest
from django.middleware.csrf import _unmask_cipher_token

from erp_integrations.models import Vendor
from erp_integrations.views.tool import ROW_CACHE
from tests.erp_integrations.views.tool_world import (
    build_world,
    client_for,
    htmx_get,
    list_url,
    ready_commitment,
    rows,
    synced_commitment,
    tab_url,
)

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def rows_of(body: str) -> str:
    return "".join(re.findall(r"<tbody id=.*?</tbody>", body, re.S))


def action_form(body: str, dom_id: str) -> str:
    return re.search(rf'<form id="{dom_id}-act" method="post" hidden>.*?</form>', body, re.S)[0]


def test_a_second_request_takes_its_rows_from_the_cache_and_its_token_from_the_list_form():
    ROW_CACHE.clear()
    world = build_world()
    synced_commitment(world)
    ready_commitment(world)
    client = client_for(world.approver)

    first = client.get(tab_url(world.company)).content.decode()
    kept = len(ROW_CACHE)
    second = client.get(tab_url(world.company)).content.decode()

    assert kept == 2 and len(ROW_CACHE) == 2
    assert rows_of(first) == rows_of(second)
    # The rows hold no token; each list's one action form holds this response's.
    assert TOKEN.search(rows_of(second)) is None
    tokens = {TOKEN.search(action_form(second, f"commitments-{slug}"))[1] for slug in ("ready", "synced")}
    # One token per response, masked afresh, of this browser's secret.
    assert len(tokens) == 1 and tokens.isdisjoint(TOKEN.findall(first))
    assert {_unmask_cipher_token(token) for token in tokens} == {client.cookies["csrftoken"].value}
    # Every enabled button posts that form.
    buttons = re.findall(r"<button [^>]*hx-post[^>]*>", rows_of(second))
    assert buttons and all(re.search(r'form="commitments-(ready|synced)-act"', b) for b in buttons)


def test_a_change_to_what_a_row_shows_makes_a_new_row():
    world = build_world()
    commitment = synced_commitment(world)
    client = client_for(world.approver)
    assert "Granite Ridge Concrete" in client.get(tab_url(world.company)).content.decode()

    Vendor.objects.filter(pk=commitment.vendor_id).update(name="Basalt & Sons")

    body = client.get(tab_url(world.company)).content.decode()
    assert "Basalt &amp; Sons" in body and "Granite Ridge Concrete" not in body


def test_users_with_other_access_do_not_share_rows():
    world = build_world()
    synced_commitment(world)

    approver = client_for(world.approver).get(tab_url(world.company)).content.decode()
    pm = client_for(world.pm).get(tab_url(world.company)).content.decode()

    assert re.search(r"\sdisabled\b", rows_of(approver)) is None
    assert re.search(r"\sdisabled\b", rows_of(pm))


def test_the_list_fragment_uses_the_same_rows():
    ROW_CACHE.clear()
    world = build_world()
    synced_commitment(world)
    client = client_for(world.approver)

    client.get(tab_url(world.company))
    fragment = htmx_get(
        client, list_url(world.company, "commitments", "synced"), current=tab_url(world.company)
    )

    assert len(ROW_CACHE) == 1
    assert len(rows(fragment.content.decode(), "synced")) == 1
