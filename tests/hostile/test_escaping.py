"""HTML and script in titles, vendor, company and project names, numbers and ERP ids
are shown as text everywhere: lists, searches, row messages (HTMX and plain), the
Commitments tool, the audit trail, the sync pages, the sandbox console and the admin.
"""

import pytest
from django.urls import reverse

from erp_integrations.models import Commitment, ErpLink
from erp_integrations.sandbox.models import Sage300Record
from tests import factories
from tests.erp_integrations.views.tool_world import rows
from tests.hostile.support import AUTH_VIEWS, company_world, product_routes, url_for

pytestmark = [pytest.mark.hostile, pytest.mark.django_db(databases="__all__")]

COMPANY = "<script>alert('company')</script>"
TITLE = '<script>alert("title")</script>'
VENDOR = "<img src=x onerror=alert('vendor')>"
NUMBER = "<i>N1</i>"
ERP_ID = '"><svg onload=alert(1)>'
#: What must never reach a page as markup (the escaped text may, of course, contain the words).
RAW = [COMPANY, TITLE, VENDOR, NUMBER, ERP_ID, "<script>alert(", "<img src=x", "<svg onload", "<i>N1"]


@pytest.fixture
def hostile(db):
    world = company_world(COMPANY, username="h-approver", title=TITLE, vendor=VENDOR)
    Commitment.objects.filter(pk=world.present.pk).update(number=NUMBER)
    old = world.synced.erp_id
    # The link's ERP id and the record's copy of it change together.
    ErpLink.objects.filter(pk=world.synced.link_id).update(erp_id=ERP_ID)
    Commitment.objects.filter(pk=world.synced.pk).update(erp_id=ERP_ID)
    Sage300Record.objects.using("sandbox_sage300").filter(erp_id=old).update(erp_id=ERP_ID)
    world.synced.refresh_from_db()
    world.present.refresh_from_db()
    return world


def _assert_escaped(response, where: str) -> None:
    if response.streaming:  # a static file (the favicon), not a page
        return
    if not response.get("Content-Type", "").startswith("text/html"):
        # A download (the Accountant report's CSV) is data, not a page a browser runs;
        # its cells are guarded against spreadsheet formulas instead (see its tests).
        return
    body = response.content.decode()
    for raw in RAW:
        assert raw not in body, f"{where}: {raw!r} is in the page unescaped"


def test_every_page_shows_hostile_text_as_text(hostile, signed_in):
    client = signed_in(hostile.approver)
    staff = signed_in(factories.platform_staff())
    pages = 0
    for route in product_routes():
        if route.name in AUTH_VIEWS:
            continue
        for who in (client, staff):
            response = who.get(url_for(route, hostile), follow=True)
            _assert_escaped(response, route.name)
            pages += response.status_code == 200
    assert pages >= 15
    tab = client.get(reverse("erp_tab", kwargs={"company_id": hostile.company.pk, "tab": "commitments"}))
    # Shown, and escaped: the test saw the text it was looking for.
    assert "&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt;" in tab.text
    assert "&lt;img src=x onerror=alert(&#x27;vendor&#x27;)&gt;" in tab.text
    assert "&quot;&gt;&lt;svg onload=alert(1)&gt;" in tab.text


def test_searches_and_row_messages_escape_hostile_text(hostile, signed_in):
    client = signed_in(hostile.approver)
    tab = reverse("erp_tab", kwargs={"company_id": hostile.company.pk, "tab": "commitments"})
    synced_list = reverse(
        "erp_list", kwargs={"company_id": hostile.company.pk, "tab": "commitments", "list_slug": "synced"}
    )
    htmx = {"HX-Request": "true", "HX-Current-URL": f"http://testserver{tab}"}
    for term in (TITLE, VENDOR, ERP_ID, "<script>"):
        _assert_escaped(client.get(tab, {"synced-q": term}), f"search {term!r}")
        found = client.get(synced_list, {"synced-q": term}, headers=htmx)
        _assert_escaped(found, f"HTMX search {term!r}")
        assert rows(found.text), f"searching {term!r} should find the hostile record"

    def action(record):
        return reverse(
            "erp_action",
            kwargs={
                "company_id": hostile.company.pk,
                "tab": "commitments",
                "record_id": record.pk,
                "action": "unlink",
            },
        )

    # Refused, with the record's hostile number in front of the message: HTMX, then a plain form.
    refused = client.post(action(hostile.present), headers=htmx)
    assert refused.status_code == 409
    _assert_escaped(refused, "HTMX refusal")
    assert "&lt;i&gt;N1&lt;/i&gt;" in refused.text
    plain = client.post(action(hostile.present), {"next": tab}, follow=True)
    _assert_escaped(plain, "plain-form refusal (message after redirect)")
    assert "&lt;i&gt;N1&lt;/i&gt;" in plain.text
    # Succeeded on the record with the hostile ERP id; then the audit trail shows that id.
    done = client.post(action(hostile.synced), headers=htmx)
    assert done.status_code == 200
    _assert_escaped(done, "HTMX success")
    audit = client.get(reverse("erp_audit", kwargs={"company_id": hostile.company.pk}))
    _assert_escaped(audit, "audit trail")
    assert "&quot;&gt;&lt;svg onload=alert(1)&gt;" in audit.text


def test_the_admin_escapes_hostile_text(hostile, signed_in):
    staff = signed_in(factories.platform_staff())
    for name in ("commitment", "subcontractorinvoice", "vendor"):
        response = staff.get(reverse(f"admin:erp_integrations_{name}_changelist"))
        assert response.status_code == 200
        _assert_escaped(response, f"admin {name}")
    change = staff.get(reverse("admin:erp_integrations_commitment_change", args=[hostile.synced.pk]))
    _assert_escaped(change, "admin commitment change form")
