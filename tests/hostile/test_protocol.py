"""Wrong methods, an expired session on an HTMX request, and the security headers,
including a Content Security Policy the pages live within (no inline script or style).
"""

import re

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tests.hostile.support import AUTH_VIEWS, product_routes, url_for

pytestmark = [pytest.mark.hostile, pytest.mark.django_db(databases="__all__")]

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style[\s>]", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
# htmx attributes that evaluate JavaScript, which script-src 'self' forbids.
REQUIRED_CSP = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
)
HTMX_EVAL = re.compile(r"\shx-on[:\-]|hx-vals=['\"]js:|hx-vars=", re.IGNORECASE)


def test_wrong_methods_are_refused_with_405(alpha, signed_in):
    approver, staff = signed_in(alpha.approver), signed_in(factories.platform_staff())
    client = approver
    for route in product_routes():
        url = url_for(route, alpha)
        # The sandbox console is staff's: others are refused (403) before the method matters.
        who = staff if route.name.startswith("sandbox") else approver
        for method in ("put", "patch", "delete"):
            response = getattr(who, method)(url)
            if route.name in AUTH_VIEWS and response.status_code != 405:
                # Django's own LoginView treats PUT like POST, or sends a signed-in user home.
                assert response.status_code in (200, 302, 403), (route.name, method)
                continue
            assert response.status_code == 405, (
                f"{method.upper()} {url} ({route.name}) answered {response.status_code}"
            )
    for name in ("erp_sync_now",):
        route = next(r for r in product_routes() if r.name == name)
        assert client.get(url_for(route, alpha)).status_code == 405
    action = next(r for r in product_routes() if r.name == "erp_action")
    assert client.get(url_for(action, alpha)).status_code == 405


@pytest.mark.parametrize("how", ["signed-out", "expired", "deleted"])
def test_an_htmx_request_after_the_session_ended_is_told_to_sign_in_again(alpha, signed_in, how):
    client = signed_in(alpha.approver)
    tab = reverse("erp_tab", kwargs={"company_id": alpha.company.pk, "tab": "commitments"})
    if how == "signed-out":
        client.logout()
    elif how == "expired":
        Session.objects.update(expire_date=timezone.now() - timezone.timedelta(seconds=1))
    else:
        Session.objects.all().delete()
    htmx = {"HX-Request": "true", "HX-Current-URL": f"http://testserver{tab}?synced-q=x"}
    synced_list = reverse(
        "erp_list", kwargs={"company_id": alpha.company.pk, "tab": "commitments", "list_slug": "synced"}
    )
    unlink = url_for(next(r for r in product_routes() if r.name == "erp_action"), alpha)
    for response in (client.get(synced_list, headers=htmx), client.post(unlink, headers=htmx)):
        # A whole-page trip to the sign-in page that comes back here, not a sign-in form in a row.
        assert response.status_code in (200, 401), response.status_code
        assert response["HX-Redirect"].startswith("/accounts/login/?next=")
        assert "%3Fsynced-q%3Dx" in response["HX-Redirect"] or "synced-q" in response["HX-Redirect"]
        assert "<form" not in response.text
    # Without HTMX: the usual redirect to the sign-in page.
    plain = client.get(tab)
    assert plain.status_code == 302 and plain["Location"].startswith("/accounts/login/")


def _pages(alpha, signed_in):
    """(who, url, response) of every page of the product that answers 200 to a GET."""
    approver, staff, anonymous = signed_in(alpha.approver), signed_in(factories.platform_staff()), None
    from django.test import Client

    anonymous = Client()
    yield "anonymous", "/accounts/login/", anonymous.get("/accounts/login/")
    for route in product_routes():
        if route.name in AUTH_VIEWS:
            continue
        for who, client in (("approver", approver), ("staff", staff)):
            url = url_for(route, alpha)
            response = client.get(url, follow=True)
            if response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
                yield who, url, response


def test_every_page_has_the_security_headers_and_no_inline_script_or_style(alpha, signed_in):
    seen = 0
    for who, url, response in _pages(alpha, signed_in):
        where = f"{url} as {who}"
        csp = response.get("Content-Security-Policy", "")
        for directive in REQUIRED_CSP:
            assert directive in csp, f"{where}: CSP lacks {directive!r}: {csp!r}"
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
        assert response["X-Frame-Options"] == "DENY", where
        assert response["X-Content-Type-Options"] == "nosniff", where
        assert response["Referrer-Policy"] == "same-origin", where
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", where
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), f"{where}: inline <script> {INLINE_SCRIPT.search(html)[0]!r}"
        assert not STYLE_ATTRIBUTE.search(html), (
            f"{where}: style= attribute near {STYLE_ATTRIBUTE.search(html)[0]!r}"
        )
        assert not STYLE_ELEMENT.search(html), f"{where}: <style> element"
        assert not EVENT_HANDLER.search(html), (
            f"{where}: inline event handler {EVENT_HANDLER.search(html)[0]!r}"
        )
        assert not HTMX_EVAL.search(html), f"{where}: htmx attribute that needs eval"
        # Scripts come from our own static files only.
        for src in re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", html):
            assert src.startswith("/static/"), f"{where}: script from {src}"
        seen += 1
    assert seen >= 15


def test_htmx_is_told_not_to_inject_its_inline_indicator_styles(alpha, signed_in):
    # htmx adds a <style> element for its indicators unless told not to; the CSP would block it.
    page = signed_in(alpha.approver).get(
        reverse("erp_tab", kwargs={"company_id": alpha.company.pk, "tab": "commitments"})
    )
    assert re.search(r'<meta name="htmx-config" content=\'[^\']*"includeIndicatorStyles":\s*false', page.text)
