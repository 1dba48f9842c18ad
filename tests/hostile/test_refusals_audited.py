"""The audit trail, complete: no POST of the tool can be refused for want of a permission
without an entry saying who tried what, on which record, and why it was refused.

Every company-scoped URL of the URLconf is posted by members who each lack something
(a viewer, a member with no level at all, a project manager without the privilege).
A URL that answers 403 must have left a refused entry by that member; a URL added
later is covered by the same sweep.
"""

from http import HTTPStatus

import pytest

from accounts.models import PermissionLevel
from erp_integrations.models import AuditEntry
from tests import factories
from tests.hostile.support import product_routes, url_for

pytestmark = [pytest.mark.hostile, pytest.mark.django_db(databases="__all__")]

TABS = ("commitments", "subcontractor-invoices", "change-orders")
ACTIONS = ("unlink", "export", "reject")


def _post_urls(world) -> list[str]:
    urls = []
    for route in product_routes():
        if not route.company_scoped:
            continue
        tabs = TABS if "tab" in route.params else ("commitments",)
        actions = ACTIONS if "action" in route.params else ("unlink",)
        urls += sorted({url_for(route, world, tab=tab, action=action) for tab in tabs for action in actions})
    return urls


def _members(world) -> dict[str, object]:
    company, project = world.company, world.project
    return {
        "viewer": factories.user(
            "viewer",
            company=company,
            erp_level=PermissionLevel.READ_ONLY,
            projects={project: PermissionLevel.READ_ONLY},
        ),
        "no-level": factories.user("no-level", company=company),
        "pm-without-privilege": factories.user(
            "pm",
            company=company,
            erp_level=PermissionLevel.STANDARD,
            projects={project: PermissionLevel.ADMIN},
        ),
    }


def test_every_refused_post_of_the_tool_leaves_a_refused_entry(alpha, signed_in):
    refused: set[str] = set()
    posted: set[str] = set()
    urls = _post_urls(alpha)
    for who, member in _members(alpha).items():
        client = signed_in(member)
        for url in urls:
            before = AuditEntry.objects.filter(user=member, outcome=AuditEntry.Outcome.REFUSED).count()
            response = client.post(url, {"reason": "x", "title": "x", "number": "1"})
            if response.status_code != HTTPStatus.METHOD_NOT_ALLOWED:
                posted.add(url)
            if response.status_code != HTTPStatus.FORBIDDEN:
                continue
            refused.add(url)
            after = AuditEntry.objects.filter(user=member, outcome=AuditEntry.Outcome.REFUSED).count()
            assert after == before + 1, f"POST {url} by {who} was refused (403) without one audit entry"
            entry = AuditEntry.objects.filter(user=member).latest("id")
            assert entry.company_id == alpha.company.pk
            assert entry.message, f"the entry for POST {url} by {who} does not say why"
    # The sweep means something only if it met refusals: every URL that takes a POST
    # refuses at least one of these members.
    assert posted
    assert refused == posted, f"never refused: {sorted(posted - refused)}"


def test_a_crafted_unlink_by_a_member_without_the_privilege_is_kept(alpha, signed_in):
    pm = _members(alpha)["pm-without-privilege"]
    route = next(r for r in product_routes() if r.name == "erp_action")

    response = signed_in(pm).post(url_for(route, alpha, action="unlink"), headers={"HX-Request": "true"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    entry = AuditEntry.objects.get(user=pm)
    assert (entry.action, entry.outcome, entry.record_id) == ("unlink", "refused", alpha.synced.pk)
    assert "'Can Push to Accounting'" in entry.message
    assert entry.erp_id == alpha.synced.erp_id


def test_a_crafted_unlink_by_a_member_who_may_not_open_the_tool_is_kept_as_an_unlink(alpha, signed_in):
    member = _members(alpha)["no-level"]
    route = next(r for r in product_routes() if r.name == "erp_action")

    response = signed_in(member).post(url_for(route, alpha, action="unlink"))

    assert response.status_code == HTTPStatus.FORBIDDEN
    entry = AuditEntry.objects.get(user=member)
    assert (entry.action, entry.outcome, entry.record_type) == ("unlink", "refused", "company")
    assert "'Read Only' or higher on the ERP Integrations tool" in entry.message
