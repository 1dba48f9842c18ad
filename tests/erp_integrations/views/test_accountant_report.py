"""The Accountant report: who holds 'Can Push to Accounting', their tool levels and
their grant history, on a page and as a CSV download ('Admin' on ERP Integrations)."""

import csv
import io
from http import HTTPStatus

import pytest
from django.urls import reverse

from accounts.models import DirectoryMembership, PermissionLevel
from accounts.services import membership_set_privilege
from tests import factories
from tests.erp_integrations.views.tool_world import ERP_ADMIN, build_world, client_for, text

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def world():
    return build_world()


def report_url(world, csv_file: bool = False) -> str:
    return reverse(
        "erp_accountants_csv" if csv_file else "erp_accountants", kwargs={"company_id": world.company.pk}
    )


def test_the_report_lists_the_holders_with_levels_and_who_granted_it_when(world, django_assert_num_queries):
    staff = factories.platform_staff()
    entry = DirectoryMembership.objects.get(user=world.pm, company=world.company)
    membership_set_privilege(membership=entry, granted=True, changed_by=staff)
    membership_set_privilege(membership=entry, granted=False, changed_by=staff)
    client = client_for(world.approver)

    # 1 session  2 user  3 directory entry with its company  4-6 the report (holders, their
    # project levels, their grant history)  7 the switcher  8-10 the session remembers the
    # company (savepoint, update, release). The viewer's own project levels are not
    # needed. The same whatever the number of holders.
    with django_assert_num_queries(10):
        page = client.get(report_url(world))

    assert page.status_code == HTTPStatus.OK
    body = page.content.decode()
    holders = [
        u
        for u in ("approver", "no_commitments_admin", "erp_read_only", "pm")
        if f'data-username="{u}"' in body
    ]
    assert holders == ["approver", "no_commitments_admin", "erp_read_only"]  # pm's was revoked
    approver_row = body.split('data-username="approver"')[1].split("</tr>")[0]
    assert "Admin" in approver_row and "Harbor Tower: Admin" in approver_row
    assert "Granted by platform-staff" in approver_row


def test_the_csv_has_one_line_per_grant_event_and_guards_formulas(world):
    world.approver.first_name = "=HYPERLINK(1)"
    world.approver.save(update_fields=["first_name"])
    response = client_for(world.approver).get(report_url(world, csv_file=True))

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="accountants-' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "User",
        "Name",
        "E-mail",
        "ERP Integrations",
        "Commitments (projects)",
        "Event",
        "By",
        "When (UTC)",
    ]
    approver = next(row for row in rows if row[0] == "approver")
    assert approver[1] == "'=HYPERLINK(1)"
    assert approver[3:7] == ["Admin", "Harbor Tower: Admin", "Granted", "platform-staff"]


@pytest.mark.parametrize("csv_file", [False, True])
def test_only_erp_integrations_admins_see_it(world, csv_file):
    standard = factories.user(
        "standard", company=world.company, erp_level=PermissionLevel.STANDARD, privilege=True
    )
    response = client_for(standard).get(report_url(world, csv_file=csv_file))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert ERP_ADMIN in text(response)
