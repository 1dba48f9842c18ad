"""Sign-in, sign-out, where a user lands, the company switcher and who may open the tool."""

import re
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import DirectoryMembership, PermissionLevel
from erp_integrations.views.common import LAST_COMPANY_KEY
from tests import factories
from tests.erp_integrations.views.tool_world import (
    ERP_READ,
    build_world,
    client_for,
    htmx_get,
    list_url,
    tab_url,
    text,
)

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def world():
    return build_world()


def test_sign_in_lands_on_the_erp_integrations_tool_of_the_users_company(world):
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert 'data-testid="login-username"' in page.content.decode()

    response = client.post(
        reverse("login"),
        {"username": "approver", "password": "pw", "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
        follow=True,
    )

    assert response.redirect_chain == [
        (reverse("home"), 302),
        (tab_url(world.company), 302),
    ]
    assert response.status_code == 200
    assert "Commitments - Synced with Sage 300 CRE®" in text(response)


def test_a_wrong_password_is_refused_with_a_message(world):
    response = Client().post(reverse("login"), {"username": "approver", "password": "nope"})

    assert response.status_code == 200
    assert 'data-testid="login-error"' in response.content.decode()


def test_signed_out_visitors_are_sent_to_sign_in_and_back(world):
    url = tab_url(world.company)

    response = Client().get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={quote(url)}"


def test_an_expired_session_on_an_htmx_request_reloads_the_sign_in_page_instead_of_swapping_it(world):
    page = tab_url(world.company) + "?synced-q=SC"

    response = htmx_get(Client(), list_url(world.company, "commitments", "synced"), current=page)

    # Not a 302 that htmx would follow and swap into the list: a whole-page redirect.
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{reverse('login')}?next={quote(page, safe='/')}"
    assert response.content == b""


def test_an_expired_session_on_an_htmx_action_reloads_the_sign_in_page(world):
    client = Client()
    url = reverse(
        "erp_action",
        kwargs={"company_id": world.company.pk, "tab": "commitments", "record_id": 1, "action": "unlink"},
    )

    response = client.post(url, headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/x/"})

    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("login") + "?next=")


def test_sign_out_is_a_post(world):
    client = client_for(world.approver, csrf=False)

    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert client.get(tab_url(world.company)).status_code == 302


def test_a_user_in_several_companies_chooses_one_and_can_switch(world):
    second = factories.company(name="Second Builders")
    DirectoryMembership.objects.create(
        company=second, user=world.approver, erp_integrations_level=PermissionLevel.READ_ONLY
    )
    client = client_for(world.approver, csrf=False)

    # They land on the first of their companies and switch from the header.
    home = client.get(reverse("home"))
    assert home["Location"] == tab_url(world.company)
    choices = client.get(reverse("company_list"))
    body = choices.content.decode()
    assert body.index("Northwind Builders") < body.index("Second Builders")
    assert f'href="{reverse("erp_tool", args=[second.pk])}"' in body
    # The outsider's company is not offered.
    assert "Other Builders" not in body

    tab = client.get(tab_url(world.company))
    switcher = tab.content.decode().split('data-testid="company-switcher"')[1].split("</details>")[0]
    assert "Northwind Builders" in switcher and "Second Builders" in switcher
    assert 'aria-current="page"' in switcher
    assert client.get(reverse("erp_tool", args=[second.pk])).status_code == 302


def test_home_lands_on_the_company_whose_tool_was_opened_last(world):
    second = factories.company(name="Second Builders")
    DirectoryMembership.objects.create(
        company=second, user=world.approver, erp_integrations_level=PermissionLevel.READ_ONLY
    )
    client = client_for(world.approver, csrf=False)
    home = reverse("home")
    assert client.get(home)["Location"] == tab_url(world.company)

    # Opened from the switcher: home goes back there, in this session.
    client.get(reverse("erp_tool", args=[second.pk]))
    assert client.get(home)["Location"] == tab_url(second)
    assert client.session[LAST_COMPANY_KEY] == second.pk

    # A fragment of another company's list (HTMX) does not move it; a page does.
    htmx_get(client, list_url(world.company, "commitments", "synced"), current=tab_url(world.company))
    assert client.get(home)["Location"] == tab_url(second)
    client.get(reverse("erp_audit", args=[world.company.pk]))
    assert client.get(home)["Location"] == tab_url(world.company)


def test_home_falls_back_to_the_first_company_when_the_last_one_may_not_be_opened_any_more(world):
    second = factories.company(name="Second Builders")
    entry = DirectoryMembership.objects.create(
        company=second, user=world.approver, erp_integrations_level=PermissionLevel.READ_ONLY
    )
    client = client_for(world.approver, csrf=False)
    client.get(tab_url(second))
    assert client.get(reverse("home"))["Location"] == tab_url(second)

    # The level on ERP Integrations was taken away...
    DirectoryMembership.objects.filter(pk=entry.pk).update(erp_integrations_level=PermissionLevel.NONE)
    assert client.get(reverse("home"))["Location"] == tab_url(world.company)
    # ... or the user left the company's directory altogether.
    DirectoryMembership.objects.filter(pk=entry.pk).delete()
    assert client.get(reverse("home"))["Location"] == tab_url(world.company)


def test_a_remembered_company_of_someone_else_is_not_a_way_in(world):
    client = client_for(world.approver, csrf=False)
    session = client.session
    session[LAST_COMPANY_KEY] = world.other_company.pk
    session.save()

    assert client.get(reverse("home"))["Location"] == tab_url(world.company)


def test_a_company_where_the_user_may_not_open_the_tool_is_listed_with_the_reason(world):
    client = client_for(world.member, csrf=False)

    assert client.get(reverse("home"))["Location"] == reverse("company_list")
    response = client.get(reverse("company_list"))
    assert "Northwind Builders" in text(response)
    assert "'Read Only' or higher on the ERP Integrations tool" in text(response)
    assert f'href="{reverse("erp_tool", args=[world.company.pk])}"' not in response.content.decode()


def test_a_user_in_no_company_is_told_so(world):
    lonely = factories.user("lonely")

    response = client_for(lonely, csrf=False).get(reverse("company_list"))

    assert response.status_code == 200
    assert "not in any company’s directory" in text(response)


def test_superusers_see_only_the_companies_of_their_directory_entries(world):
    root = factories.user("root", is_superuser=True, is_staff=True, company=world.company, erp_level=1)

    response = client_for(root, csrf=False).get(reverse("company_list"))

    assert "Northwind Builders" in text(response)
    assert "Other Builders" not in text(response)
    assert client_for(root, csrf=False).get(tab_url(world.company)).status_code == 200
    assert client_for(root, csrf=False).get(tab_url(world.other_company)).status_code == 404


def test_a_member_without_erp_integrations_access_gets_403_with_the_reason(world):
    response = client_for(world.member, csrf=False).get(tab_url(world.company))

    assert response.status_code == 403
    assert f"view the ERP Integrations tool needs {ERP_READ}." in text(response)


def test_an_outsider_gets_404_for_another_companys_tool(world):
    client = client_for(world.outsider, csrf=False)

    for url in (
        tab_url(world.company),
        tab_url(world.company, "subcontractor-invoices"),
        reverse("erp_sync", args=[world.company.pk]),
        reverse("erp_audit", args=[world.company.pk]),
        list_url(world.company, "commitments", "synced"),
    ):
        assert client.get(url).status_code == 404, url


def test_unknown_companies_tabs_and_lists_are_404(world):
    client = client_for(world.approver, csrf=False)

    assert client.get(tab_url(world.company).replace(str(world.company.pk), "999999")).status_code == 404
    assert client.get(f"/companies/{world.company.pk}/erp/vendors/").status_code == 404
    assert client.get(f"/companies/{world.company.pk}/erp/commitments/archived/").status_code == 404


def test_pages_carry_the_csrf_token_once_on_body_and_no_inline_script_or_style(world):
    response = client_for(world.approver, csrf=False).get(tab_url(world.company))
    body = response.content.decode()

    assert body.count('hx-headers=\'{"x-csrftoken":') == 1
    assert "<style" not in body and " style=" not in body
    assert "<script>" not in body and "hx-on" not in body and "js:" not in body
    assert '<meta name="htmx-config"' in body and '"includeIndicatorStyles":false' in body
    # htmx comes from the project's own static files, not a CDN.
    assert re.search(
        r'<script src="/static/django_htmx/htmx-2\.min\.js" defer( nonce="[^"]+")?></script>', body
    )
    assert '<script src="/static/js/app.js" defer></script>' in body
    assert "Content-Security-Policy" in response.headers
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_pages_have_an_svg_favicon_and_favicon_ico_leads_to_it(world):
    page = Client().get(reverse("login")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page

    response = Client().get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"] == "/static/favicon.svg"
    icon = Client().get("/static/favicon.svg")
    assert icon.status_code == 200
    assert icon["Content-Type"].startswith("image/svg+xml")
    assert b"".join(icon.streaming_content).startswith(b"<svg ")
