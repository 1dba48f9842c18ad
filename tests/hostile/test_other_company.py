"""Another company's ids in every URL: 404, and nothing changes.

Every company-scoped URL of the URLconf is tried with GET and POST by an approver of
Alpha using Bravo's ids (whole, or mixed with Alpha's own company or project).
"""

import pytest
from django.urls import reverse

from tests.hostile.snapshot import snapshot
from tests.hostile.support import kwargs_for, product_routes, url_for

pytestmark = [pytest.mark.hostile, pytest.mark.django_db(databases="__all__")]

#: What a malicious form might carry, whatever the URL.
PAYLOAD = {"title": "hacked", "reason": "hacked", "can_push_to_accounting": "on", "amount": "1"}


def _variants(route):
    tabs = ["commitments", "subcontractor-invoices"] if "tab" in route.params else ["commitments"]
    actions = ["unlink", "export", "reject"] if "action" in route.params else ["unlink"]
    return [(tab, action) for tab in tabs for action in actions]


def _master_variants(route, world):
    """Each action of a master-data URL, on the Companies tab and the Projects tab."""
    names = {
        "entry_action": ["import", "link", "archive"],
        "master_action": ["export", "reject", "unlink", "update"],
    }
    kwargs = kwargs_for(route, world)
    variants = [kwargs]
    for param, actions in names.items():
        if param in route.params:
            variants = [kwargs | {param: action} for action in actions]
    return variants


def _answers(client, url):
    """(method, status) of the first method the URL does not refuse with 405."""
    seen = []
    for method in ("get", "post"):
        response = getattr(client, method)(url, PAYLOAD if method == "post" else None)
        seen.append((method, response.status_code))
    return seen


def test_every_company_url_answers_404_to_another_companys_ids(alpha, bravo, signed_in):
    client = signed_in(alpha.approver)
    routes = [route for route in product_routes() if route.company_scoped]
    assert {"erp_tab", "erp_action", "erp_sync_now", "commitment_edit", "invoice_delete"} <= {
        r.name for r in routes
    }
    before = snapshot()

    tried = 0
    for route in routes:
        for tab, action in _variants(route):
            url = url_for(route, bravo, tab=tab, action=action)
            for method, status in _answers(client, url):
                if status == 405:
                    continue
                assert status == 404, f"{method.upper()} {url} ({route.name}) answered {status}"
                tried += 1
    assert tried >= len(routes)
    assert snapshot() == before


def test_mixing_own_company_or_project_with_another_companys_records_is_404(alpha, bravo, signed_in):
    client = signed_in(alpha.approver)
    before = snapshot()
    mixed = 0
    for route in product_routes():
        record_params = {"record_id", "pk", "iid", "entry_id", "master_id", "run_id"} & set(route.params)
        if not record_params:
            continue
        for tab, action in _variants(route):
            kwargs = kwargs_for(route, alpha, tab=tab, action=action)
            theirs = kwargs_for(route, bravo, tab=tab, action=action)
            for name in record_params:
                kwargs[name] = theirs[name]
            url = reverse(route.name, kwargs=kwargs)
            for method, status in _answers(client, url):
                if status == 405:
                    continue
                assert status == 404, f"{method.upper()} {url} ({route.name}) answered {status}"
                mixed += 1
    assert mixed >= 10
    assert snapshot() == before


def test_the_same_urls_work_with_ones_own_ids(alpha, signed_in):
    """The 404s above are about ownership, not broken URLs."""
    client = signed_in(alpha.approver)
    for route in product_routes():
        if route.company_scoped and route.name not in ("erp_sync_now", "erp_action"):
            url = url_for(route, alpha)
            status = client.get(url).status_code
            assert status in (200, 302, 405), f"GET {url} ({route.name}) answered {status}"


def test_every_master_data_action_answers_404_to_another_companys_ids(alpha, bravo, signed_in):
    """Bravo's ids whole, and Alpha's company with Bravo's ERP entry or vendor."""
    client = signed_in(alpha.approver)
    routes = [route for route in product_routes() if route.name.startswith("erp_master")]
    assert {r.name for r in routes} == {
        "erp_master_tab",
        "erp_master_link_all",
        "erp_master_entry_action",
        "erp_master_action",
    }
    before = snapshot()
    tried = 0
    for route in routes:
        for theirs in _master_variants(route, bravo):
            mixed = kwargs_for(route, alpha) | {
                name: theirs[name] for name in ("entry_id", "master_id") if name in route.params
            }
            mixed |= {
                name: theirs[name] for name in ("entry_action", "master_action") if name in route.params
            }
            urls = [reverse(route.name, kwargs=theirs)]
            if {"entry_id", "master_id"} & set(route.params):
                urls.append(reverse(route.name, kwargs=mixed))
            for url in urls:
                for method, status in _answers(client, url):
                    if status == 405:
                        continue
                    assert status == 404, f"{method.upper()} {url} ({route.name}) answered {status}"
                    tried += 1
    assert tried >= 2 + 3 * 2 + 4 * 2
    assert snapshot() == before
