"""No input earns a 500: a property-based walk over every URL of the URLconf.

Hypothesis picks a URL (every named route of the product, and the admin's lists),
who asks (the approver, staff, or nobody), GET or POST, its ids (ours, another's,
huge), query and form parameters (the names the views read and a few they don't)
with odd values (NUL, non-ASCII digits, cursors whose JSON holds anything, dates
with extreme offsets, long and non-Latin text), and htmx's headers, well or badly
formed. Any answer of 500 or more fails, and so does any exception the view raises
(the test client re-raises it). 500 requests, about 16 for each URL (about 40 s).
"""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import factories
from tests.hostile.support import product_routes

pytestmark = [pytest.mark.hostile, pytest.mark.django_db(databases="__all__")]

#: Parameter names the views read (with each list's prefix), and some they don't.
_LISTS = ("ready", "failed", "synced")
_LIST_PARAMS = [f"{name}-{param}" for name in _LISTS for param in ("q", "after", "before", "sort")]
_RECORD_FORM = ["title", "number", "amount", "vendor", "status", "kind", "retainage", "billing_period_start"]
READS = {
    "erp_tab": _LIST_PARAMS,
    "erp_list": _LIST_PARAMS,
    "erp_sync": ["after", "before"],
    "erp_sync_now": ["next", "tab"],
    "erp_sync_progress": ["run", "since", "next", "tab"],
    "erp_sync_panel": ["next", "tab"],
    "erp_audit": ["after", "before", "user", "outcome", "action", "record_type"],
    "erp_reconciliation": ["project", "kind", "category", "field", "after", "before"],
    "erp_reconciliation_csv": ["project", "kind", "category", "field"],
    "erp_reconciliation_relink": ["orphan", "next"],
    "erp_action": ["reason", "next", *_LIST_PARAMS],
    "project_list": ["q"],
    "commitment_list": ["q", "after"],
    "commitment_create": _RECORD_FORM,
    "commitment_edit": _RECORD_FORM,
    "invoice_create": _RECORD_FORM,
    "invoice_edit": _RECORD_FORM,
    "sandbox_records": ["q", "before"],
    "sandbox_delete": ["kind", "q"],
    "sandbox_restore": ["kind", "q"],
    "sandbox_mode": ["mode"],
    "login": ["username", "password", "next"],
    "erp_master_tab": [
        f"{name}-{param}"
        for name in ("ready", "import", "update", "synced", "failed")
        for param in ("q", "after")
    ],
    "erp_master_entry_action": ["record", "template", "next"],
    "erp_master_action": ["id", "type", "reason", "list", "next"],
    "erp_master_link_all": ["next"],
}
#: Routes that take a POST (the others answer it with 405, quickly).
POSTED = {
    "login",
    "logout",
    "erp_sync_now",
    "erp_action",
    "erp_reconciliation_relink",
    "commitment_create",
    "commitment_edit",
    "commitment_delete",
    "commitment_send",
    "invoice_create",
    "invoice_edit",
    "invoice_delete",
    "invoice_send",
    "sandbox_delete",
    "sandbox_restore",
    "sandbox_mode",
    "erp_master_entry_action",
    "erp_master_action",
    "erp_master_link_all",
}
ADMIN_READS = [
    "q",
    "e",
    "o",
    "p",
    "export_state__exact",
    "company__id__exact",
    "action__exact",
    "outcome__exact",
]
PARAM_NAMES = sorted({name for names in READS.values() for name in names} | set(ADMIN_READS))

_any_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(st.characters(codec=None)),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=2)
    ),
    max_leaves=6,
)
_moments = st.sampled_from(
    [
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59-23:59",
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T00:00:00",
        "2026-13-45T99:99:99+00:00",
    ]
)
_sorts = st.sampled_from(
    ["-synced", "synced", "-updated", "number", "-number", "title", "amount", "-started", "-created"]
)
_lone_surrogates = st.sampled_from(["\ud800", "x\udfff", "\udc80\udc80"])


def _b64(value) -> str:
    raw = json.dumps(value).encode("utf-8", "surrogatepass")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_cursors = st.one_of(
    st.builds(
        lambda sort, key, pk: _b64([sort, key, pk]),
        _sorts,
        _moments | _lone_surrogates | _any_json,
        st.integers(),
    ),
    st.builds(_b64, _any_json),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=", max_size=60),
)
#: Values no form of the product offers, often with ordinary text around them.
_ODD = ["\x00", "a\x00b", "²", "١٢٣", "-1", "0", "9" * 30, "1.5", "1e400", "NaN", "%", "'", "\\", "\t", " "]
_odd_values = st.one_of(
    st.sampled_from(_ODD),
    st.tuples(st.text(max_size=6), st.sampled_from(_ODD), st.text(max_size=6)).map("".join),
)
_with_nul = st.tuples(st.text(max_size=6), st.just("\x00"), st.text(max_size=6)).map("".join)
_values = st.one_of(
    _with_nul,
    _odd_values,
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    _moments,
    _cursors,
    st.text(max_size=200).map(lambda s: s * 20),
)
_current_urls = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.sampled_from(
        ["http://[", "http://[::1", "http://testserver:99999/", "http://testserver/\x00", "::::"]
    ),
    st.builds(
        lambda name, value: f"http://testserver/companies/1/erp/commitments/?{name}={value}",
        st.sampled_from(PARAM_NAMES),
        st.sampled_from(["%00", "%C2%B2", "%ED%A0%80", "x"]),
    ),
)
#: Mostly the approver in their own company, sometimes not: refusals are quick and
#: tested elsewhere, so most requests go deep into the views.
_mostly_no = st.sampled_from([False] * 6 + [True])


def _admin_routes() -> list[str]:
    return [
        reverse(f"admin:{name}_changelist")
        for name in (
            "erp_integrations_commitment",
            "erp_integrations_subcontractorinvoice",
            "erp_integrations_auditentry",
            "erp_integrations_syncrun",
            "accounts_directorymembership",
            "accounts_user",
            "accounts_privilegechange",
        )
    ]


@pytest.fixture
def world(alpha, bravo):
    return {"alpha": alpha, "bravo": bravo, "staff": factories.platform_staff()}


def _url(route, world, *, theirs: bool, odd_id: int | None, tab: str, action: str) -> str | None:
    owner = world["bravo"] if theirs else world["alpha"]
    values = {
        "company_id": owner.company.pk,
        "tab": tab,
        "list_slug": "synced",
        "record_id": owner.ready.pk if action in ("export", "reject") else owner.synced.pk,
        "action": action,
        "project_id": owner.project.pk,
        "pk": owner.present.pk,
        "iid": owner.invoice.pk,
        "cco_id": owner.cco.pk,
        "erp_system": "sage300",
        "erp_id": owner.synced.erp_id,
        "master_tab": "companies",
        "entry_id": owner.erp_vendor.pk,
        "entry_action": {"unlink": "archive", "export": "import", "reject": "link"}[action],
        "master_id": owner.new_vendor.pk,
        "master_action": action,
        "run_id": owner.bulk_run.pk,
    }
    kwargs = {name: values[name] for name in route.params}
    if odd_id is not None:
        for name in (
            "record_id",
            "pk",
            "iid",
            "cco_id",
            "run_id",
            "entry_id",
            "master_id",
            "company_id",
            "project_id",
        ):
            if name in kwargs:
                kwargs[name] = odd_id
                break
    try:
        return reverse(route.name, kwargs=kwargs)
    except NoReverseMatch:
        return None


ROUTES = [route for route in product_routes() if route.name != "logout"]
ADMIN = "admin changelists"


ROUTE_NAMES = [route.name for route in ROUTES] + [ADMIN]


@settings(
    max_examples=500,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), route_name=st.sampled_from(ROUTE_NAMES), htmx=st.booleans(), current_url=_current_urls)
def test_no_input_is_answered_with_a_server_error(world, route_name, data, htmx, current_url):
    reads = ADMIN_READS if route_name == ADMIN else READS.get(route_name, PARAM_NAMES)
    # Each parameter the view reads, present or not, and now and then one it does not.
    params = data.draw(st.fixed_dictionaries({}, optional=dict.fromkeys(reads, _values)), label="reads")
    params |= data.draw(
        st.dictionaries(st.sampled_from(PARAM_NAMES) | st.text(max_size=8), _values, max_size=1),
        label="others",
    )
    method = data.draw(st.sampled_from(["get", "post"] if route_name in POSTED else ["get"] * 5 + ["post"]))
    client = Client()
    who = data.draw(st.sampled_from(["approver"] * 4 + ["staff", "anonymous"]), label="who")
    if who != "anonymous":
        client.force_login(world["alpha"].approver if who == "approver" else world["staff"])
    if route_name == ADMIN:
        url = data.draw(st.sampled_from(_admin_routes()), label="admin list")
    else:
        route = next(route for route in ROUTES if route.name == route_name)
        url = _url(
            route,
            world,
            theirs=data.draw(_mostly_no, label="another company's ids"),
            odd_id=data.draw(
                _mostly_no.flatmap(lambda odd: st.integers(0, 2**63 + 10) if odd else st.none()),
                label="odd id",
            ),
            tab=data.draw(st.sampled_from(["commitments", "subcontractor-invoices"]), label="tab"),
            action=data.draw(st.sampled_from(["unlink", "export", "reject"]), label="action"),
        )
        if url is None:
            return
        if route.name == "sandbox_mode" and method == "post":
            # A slow sandbox ERP would only make the rest of the walk slow; the mode
            # form's own odd input is tested in test_sandbox_console.py.
            params.pop("latency_ms", None)
            params["mode"] = "normal"
    headers = {}
    if htmx:
        headers["HX-Request"] = "true"
    if current_url is not None:
        headers["HX-Current-URL"] = current_url
    if method == "get":
        response = client.get(url, params, headers=headers)
    else:
        response = client.post(url, params, headers=headers)
    assert response.status_code < 500, (method.upper(), url, params, headers, response.status_code)
