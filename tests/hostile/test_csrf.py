"""CSRF missing or forged: every POST of the product is refused (403) and changes nothing.

The client enforces CSRF as a browser's requests would meet it. A request carrying
the page's real token goes through, so the refusals are about the token only.
"""

import pytest

from erp_integrations.models import Commitment
from tests.hostile.snapshot import snapshot
from tests.hostile.support import product_routes, url_for

pytestmark = [pytest.mark.hostile, pytest.mark.django_db(databases="__all__")]

FORGED = "x" * 64


def _post_urls(world):
    urls = []
    for route in product_routes():
        if route.name in ("erp_action",):
            urls += [url_for(route, world, tab=t, action=a) for t in ("commitments", "subcontractor-invoices")
                     for a in ("unlink", "export", "reject")]  # fmt: skip
        elif route.name == "erp_master_entry_action":
            urls += [url_for(route, world).replace("/link/", f"/{a}/") for a in ("import", "link", "archive")]
        elif route.name == "erp_master_action":
            urls += [
                url_for(route, world).replace("/export/", f"/{a}/")
                for a in ("export", "reject", "unlink", "update")
            ]
        else:
            urls.append(url_for(route, world))
    return urls


@pytest.mark.parametrize("htmx", [False, True], ids=["plain-form", "htmx"])
def test_every_post_without_a_csrf_token_is_refused(alpha, signed_in, htmx):
    client = signed_in(alpha.approver, enforce_csrf_checks=True)
    client.get(url_for(next(r for r in product_routes() if r.name == "erp_tab"), alpha))  # sets the cookie
    headers = {"HX-Request": "true"} if htmx else {}
    before = snapshot()
    for url in _post_urls(alpha):
        response = client.post(url, {"reason": "x", "title": "x"}, headers=headers)
        assert response.status_code == 403, f"POST {url} without a token answered {response.status_code}"
        if htmx:
            # The message goes to the page's message area, not a whole error page.
            assert "Reload the page and try again" in response.text
    assert snapshot() == before


def test_every_post_with_a_forged_token_is_refused(alpha, signed_in):
    client = signed_in(alpha.approver, enforce_csrf_checks=True)
    client.cookies["csrftoken"] = FORGED[:32]
    before = snapshot()
    for url in _post_urls(alpha):
        response = client.post(url, {"csrfmiddlewaretoken": FORGED}, headers={"X-CSRFToken": FORGED})
        assert response.status_code == 403, f"POST {url} with a forged token answered {response.status_code}"
    assert snapshot() == before


def test_a_token_from_another_session_is_refused(alpha, bravo, signed_in):
    theirs = signed_in(bravo.approver, enforce_csrf_checks=True)
    theirs.get("/companies/")
    stolen = theirs.cookies["csrftoken"].value
    client = signed_in(alpha.approver, enforce_csrf_checks=True)
    client.get("/companies/")
    unlink = url_for(next(r for r in product_routes() if r.name == "erp_action"), alpha)
    response = client.post(unlink, headers={"X-CSRFToken": stolen, "HX-Request": "true"})
    assert response.status_code == 403
    assert Commitment.objects.get(pk=alpha.synced.pk).erp_id is not None


def test_the_pages_own_token_goes_through(alpha, signed_in):
    client = signed_in(alpha.approver, enforce_csrf_checks=True)
    page = client.get(url_for(next(r for r in product_routes() if r.name == "erp_tab"), alpha))
    token = page.context["csrf_token"]
    unlink = url_for(next(r for r in product_routes() if r.name == "erp_action"), alpha)
    response = client.post(unlink, headers={"X-CSRFToken": str(token), "HX-Request": "true"})
    assert response.status_code == 200 and "Successfully Unlinked" in response.text
