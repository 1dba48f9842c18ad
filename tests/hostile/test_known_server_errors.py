"""Inputs an outside probe answered with a 500, each now answered as the product means to."""

import base64
import json

import pytest
from django.urls import reverse

from erp_integrations.models import Commitment, ExportState
from tests import factories
from tests.erp_integrations.views.tool_world import rows

pytestmark = [pytest.mark.hostile, pytest.mark.django_db(databases="__all__")]


def _cursor(*parts) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


#: Aware datetimes whose offset pushes them out of the range a database can hold.
OFFSET_CURSORS = [
    ("0001-01-01T00:00:00+23:59", "min"),
    ("9999-12-31T23:59:59-23:59", "max"),
]


@pytest.fixture
def urls(alpha):
    company = alpha.company.pk
    return {
        "tab": reverse("erp_tab", kwargs={"company_id": company, "tab": "commitments"}),
        "synced": reverse(
            "erp_list", kwargs={"company_id": company, "tab": "commitments", "list_slug": "synced"}
        ),
        "sync": reverse("erp_sync", kwargs={"company_id": company}),
        "audit": reverse("erp_audit", kwargs={"company_id": company}),
        "projects": reverse("project_list"),
        "commitments": reverse("commitment_list", args=[alpha.project.pk]),
    }


def test_an_audit_filter_with_a_digit_that_is_not_ascii_is_ignored(alpha, signed_in, urls):
    response = signed_in(alpha.approver).get(urls["audit"], {"user": "²"})
    assert response.status_code == 200


@pytest.mark.parametrize("moment", [m for m, _ in OFFSET_CURSORS], ids=[i for _, i in OFFSET_CURSORS])
def test_cursors_with_extreme_offsets_fall_back_to_the_first_page(alpha, signed_in, urls, moment):
    client = signed_in(alpha.approver)
    first = client.get(urls["tab"])
    for sort, where, param in (
        ("-synced", "tab", "synced-after"),
        ("-synced", "tab", "synced-before"),
        ("-started", "sync", "after"),
        ("-started", "sync", "before"),
        ("-created", "audit", "after"),
        ("-created", "audit", "before"),
    ):
        response = client.get(urls[where], {param: _cursor(sort, moment, 1)})
        assert response.status_code == 200, (where, param)
    assert first.status_code == 200


def test_a_cursor_with_a_lone_surrogate_falls_back_to_the_first_page(alpha, signed_in, urls):
    client = signed_in(alpha.approver)
    for sort in ("number", "title", "-number"):
        response = client.get(urls["tab"], {"synced-sort": sort, "synced-after": _cursor(sort, "\ud800", 1)})
        assert response.status_code == 200, sort
        assert len(rows(response.text, "synced")) >= 2


def test_a_nul_in_a_reject_reason_is_dropped(alpha, signed_in):
    url = reverse(
        "erp_action",
        kwargs={
            "company_id": alpha.company.pk,
            "tab": "commitments",
            "record_id": alpha.ready.pk,
            "action": "reject",
        },
    )
    response = signed_in(alpha.approver).post(
        url, {"reason": "Wrong\x00 vendor"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    rejected = Commitment.objects.get(pk=alpha.ready.pk)
    assert rejected.export_state == ExportState.REJECTED
    assert rejected.rejection_reason == "Wrong vendor"


def test_a_nul_in_project_and_commitment_searches_is_dropped(alpha, signed_in, urls):
    client = signed_in(alpha.approver)
    assert client.get(urls["projects"], {"q": "\x00"}).status_code == 200
    for params in ({"q": "\x00"}, {"after": "\x00"}, {"q": "SC\x00", "after": "x\x00"}):
        assert client.get(urls["commitments"], params).status_code == 200, params


@pytest.mark.parametrize("header", ["http://[", "http://[::1", "https://exa mple.com:99999/x", "\x00"])
def test_a_malformed_hx_current_url_is_a_bad_request(alpha, signed_in, urls, header):
    response = signed_in(alpha.approver).get(
        urls["synced"], headers={"HX-Request": "true", "HX-Current-URL": header}
    )
    assert response.status_code == 400


def test_a_malformed_hx_current_url_after_sign_out_is_a_bad_request(alpha, urls):
    from django.test import Client

    response = Client().get(urls["synced"], headers={"HX-Request": "true", "HX-Current-URL": "http://["})
    assert response.status_code == 400


def test_the_sandbox_consoles_odd_paging_and_search(signed_in):
    client = signed_in(factories.platform_staff())
    url = reverse("sandbox_records", args=["sage300"])
    for params in ({"before": "²"}, {"before": "9" * 40}, {"q": "\x00"}, {"q": "JC\x00"}):
        assert client.get(url, params).status_code == 200, params
    delete = reverse("sandbox_delete", args=["sage300", "JC\x00"])
    assert client.post(delete, {"kind": "commitment"}).status_code == 404


def test_admin_list_filters_with_a_nul_are_answered(alpha, signed_in):
    client = signed_in(factories.platform_staff())
    for name, params in (
        ("erp_integrations_commitment", {"export_state__exact": "\x00"}),
        ("erp_integrations_commitment", {"q": "\x00"}),
        ("erp_integrations_auditentry", {"action__exact": "x\x00"}),
        ("accounts_directorymembership", {"company__id__exact": "\x00"}),
    ):
        response = client.get(reverse(f"admin:{name}_changelist"), params)
        # The NUL is dropped: an empty filter is no filter.
        assert response.status_code == 200, (name, params)


def test_a_next_that_is_not_a_path_goes_back_to_the_default(alpha, signed_in):
    # Found by test_any_input.py: redirect() took "ab" for the name of a URL.
    url = reverse("erp_sync_now", kwargs={"company_id": alpha.company.pk})
    client = signed_in(alpha.approver)
    for value in ("ab", "erp_tab", "javascript:alert(1)"):
        response = client.post(url, {"next": value})
        assert response.status_code == 302, value
        assert response["Location"] == reverse("erp_sync", kwargs={"company_id": alpha.company.pk}), value
