"""What a tab page weighs on the wire: compressed, with the BREACH mitigation."""

import gzip
from http import HTTPStatus

import pytest

from tests.erp_integrations.views.tool_world import build_world, client_for, ready_commitment, rows, tab_url

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


def test_a_tab_page_is_compressed_for_browsers_that_accept_gzip():
    world = build_world()
    ready_commitment(world)
    client = client_for(world.approver)

    plain = client.get(tab_url(world.company))
    packed = client.get(tab_url(world.company), headers={"Accept-Encoding": "gzip, deflate, br"})

    assert plain.status_code == packed.status_code == HTTPStatus.OK
    assert "Content-Encoding" not in plain
    assert packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"]
    html = gzip.decompress(packed.content).decode()
    assert rows(html, "ready")
    assert len(packed.content) < len(plain.content) / 2


def test_compression_is_padded_at_random_against_breach():
    # Django's GZipMiddleware writes a random filename into each gzip header, so the
    # same page is a different size every time: a reflected search term cannot be used
    # to read a secret out of the compressed length.
    world = build_world()
    ready_commitment(world)
    client = client_for(world.approver)
    url = tab_url(world.company) + "?ready-q=SC"

    sizes = {len(client.get(url, headers={"Accept-Encoding": "gzip"}).content) for _ in range(8)}

    assert len(sizes) > 1, sizes


def test_pages_are_compressed_at_level_3_behind_djangos_padding():
    # Level 3 rather than Django's 6: half the time for a page, a few KB more on the
    # wire. After the gzip header and its file name (the padding, "a" repeated) comes
    # zlib's level-3 stream of the page.
    world = build_world()
    ready_commitment(world)
    client = client_for(world.approver)

    packed = client.get(tab_url(world.company), headers={"Accept-Encoding": "gzip"}).content

    html = gzip.decompress(packed)
    assert packed[3] & gzip.FNAME
    name_end = packed.index(b"\0", 10)
    assert set(packed[10:name_end]) <= {ord("a")}
    assert packed[name_end + 1 :] == gzip.compress(html, compresslevel=3, mtime=0)[10:]
    assert packed[name_end + 1 :] != gzip.compress(html, compresslevel=6, mtime=0)[10:]
