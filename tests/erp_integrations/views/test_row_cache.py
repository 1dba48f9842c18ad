"""A tab's rows are rendered once and kept, by everything they show.

The same record, link, buttons and page give the same row, whoever asks; any change
to them makes a new row. The cached row carries this response's CSRF token.
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
    synced_commitment,
    tab_url,
)

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def rows_of(body: str) -> str:
    return "".join(re.findall(r"<tbody id=.*?</tbody>", body, re.S))


def test_a_second_request_takes_its_rows_from_the_cache_with_its_own_token():
    ROW_CACHE.clear()
    world = build_world()
    synced_commitment(world)
    ready_commitment(world)
    client = client_for(world.approver)

    first = client.get(tab_url(world.company)).content.decode()
    kept = len(ROW_CACHE._cache)
    second = client.get(tab_url(world.company)).content.decode()

    assert kept == 2 and len(ROW_CACHE._cache) == 2
    tokens = set(TOKEN.findall(rows_of(second)))
    # One token in every row form, masked afresh for this response, of this browser's secret.
    assert len(tokens) == 1 and tokens != set(TOKEN.findall(rows_of(first)))
    assert _unmask_cipher_token(tokens.pop()) == client.cookies["csrftoken"].value
    assert TOKEN.sub("", rows_of(first)) == TOKEN.sub("", rows_of(second))
    assert "erp:csrf" not in second


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

    assert len(ROW_CACHE._cache) == 1
    assert 'data-testid="record-row"' in fragment.content.decode()
