"""The sandbox ERP console: staff delete and restore records as a user would in Sage."""

from http import HTTPStatus

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.permissions import SANDBOX_CONSOLE_MISSING
from erp_integrations.sandbox.models import Sage100Record, Sage300Record, SandboxSwitch
from erp_integrations.sandbox.services import sandbox_switch
from erp_integrations.views.sandbox_console import PAGE_SIZE
from tests import factories

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


def _client(user=None, *, csrf=False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def staff():
    """Platform staff with the console's own permission (not a superuser)."""
    user = factories.user("staff", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="use_sandbox_console"))
    return user


@pytest.fixture
def approver():
    company = factories.company()
    return factories.approver(company, factories.project(company=company))


def _sage300(erp_id: str, number: str, *, deleted: bool = False, reference: str | None = None):
    return Sage300Record.objects.using("sandbox_sage300").create(
        kind="commitment",
        erp_id=erp_id,
        external_reference=reference or f"commitment-{erp_id}",
        data={"number": number, "title": f"Title of {number}"},
        deleted_at=timezone.now() if deleted else None,
    )


def _post(client: Client, url: str, data: dict | None = None):
    """POST, follow the redirect, and return the final page (its messages shown once)."""
    return client.post(url, data or {}, follow=True)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _redirected_to(response) -> str:
    return response.redirect_chain[-1][0]


def _records_url(erp="sage300"):
    return reverse("sandbox_records", args=[erp])


def _action_url(name, erp_id, erp="sage300"):
    return reverse(name, args=[erp, erp_id])


# --- who may use it --------------------------------------------------------------------


def test_anonymous_users_are_sent_to_sign_in():
    for url in (reverse("sandbox_index"), _records_url()):
        response = _client().get(url)
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"].startswith(reverse("login"))


def test_signed_in_users_who_are_not_staff_get_403_with_the_reason(approver):
    record = _sage300("JC-0000001", "SC-1")
    client = _client(approver)
    for url in (reverse("sandbox_index"), _records_url()):
        response = client.get(url)
        assert response.status_code == HTTPStatus.FORBIDDEN
        assert SANDBOX_CONSOLE_MISSING in response.content.decode()
    response = _post(client, _action_url("sandbox_delete", "JC-0000001"), {"kind": "commitment"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    record.refresh_from_db(using="sandbox_sage300")
    assert record.deleted_at is None


def test_staff_without_the_consoles_permission_get_403_with_the_reason():
    staff = factories.user("plain-staff", is_staff=True)
    record = _sage300("JC-0000001", "SC-1")
    client = _client(staff)

    for url in (reverse("sandbox_index"), _records_url()):
        response = client.get(url)
        assert response.status_code == HTTPStatus.FORBIDDEN
        assert SANDBOX_CONSOLE_MISSING in response.content.decode()
    assert (
        _post(client, _action_url("sandbox_delete", "JC-0000001"), {"kind": "commitment"}).status_code == 403
    )
    record.refresh_from_db(using="sandbox_sage300")
    assert record.deleted_at is None
    # Nor does the header offer it.
    assert reverse("sandbox_index") not in client.get(reverse("company_list")).content.decode()


def test_the_console_is_404_to_everyone_unless_switched_on(staff, settings):
    settings.SANDBOX_CONSOLE_ENABLED = False
    record = _sage300("JC-0000001", "SC-1")
    root = factories.user("root", is_staff=True, is_superuser=True)

    for client in (_client(), _client(staff), _client(root)):
        for url in (reverse("sandbox_index"), _records_url()):
            assert client.get(url).status_code == HTTPStatus.NOT_FOUND, url
        response = client.post(_action_url("sandbox_delete", "JC-0000001"), {"kind": "commitment"})
        assert response.status_code == HTTPStatus.NOT_FOUND
    record.refresh_from_db(using="sandbox_sage300")
    assert record.deleted_at is None
    assert reverse("sandbox_index") not in _client(staff).get(reverse("company_list")).content.decode()


def test_the_console_is_on_with_debug_by_default():
    import subprocess
    import sys

    def enabled(**env) -> str:
        code = "from django.conf import settings; print(settings.SANDBOX_CONSOLE_ENABLED)"
        base = {
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "erp_integrations.settings",
            "SECRET_KEY": "x" * 60,
        }
        result = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {code}"],
            env={**base, **env},
            capture_output=True,
            text=True,
            check=True,
            cwd=django_settings.BASE_DIR,
        )
        return result.stdout.strip()

    assert enabled(DEBUG="true", VAR_DIR="/tmp/erp-console-check") == "True"
    assert enabled(DEBUG="false", VAR_DIR="/tmp/erp-console-check") == "False"
    assert enabled(DEBUG="false", SANDBOX_CONSOLE_ENABLED="true", VAR_DIR="/tmp/erp-console-check") == "True"


def test_staff_see_both_sandbox_erps(staff):
    response = _client(staff).get(reverse("sandbox_index"))
    body = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "Sage 300 CRE®" in body and "Sage 100 Contractor®" in body
    assert _records_url("sage300") in body and _records_url("sage100") in body


def test_an_unknown_erp_is_404(staff):
    assert _client(staff).get(_records_url("quickbooks")).status_code == HTTPStatus.NOT_FOUND
    response = _client(staff).post(
        _action_url("sandbox_delete", "X", erp="quickbooks"), {"kind": "commitment"}
    )
    assert response.status_code == HTTPStatus.NOT_FOUND


# --- listing ---------------------------------------------------------------------------


def test_records_are_listed_newest_first_in_the_erps_words(staff):
    _sage300("JC-0000001", "SC-1")
    _sage300("JC-0000002", "SC-2", deleted=True)
    Sage100Record.objects.using("sandbox_sage100").create(
        kind="invoice", erp_id="RQ000001", external_reference="invoice-1", data={"number": "1"}
    )
    response = _client(staff).get(_records_url())
    assert [r.erp_id for r in response.context["records"]] == ["JC-0000002", "JC-0000001"]
    body = response.content.decode()
    assert "Delete in Sage 300 CRE®" in body and "Restore in Sage 300 CRE®" in body
    assert 'data-erp-id="JC-0000002" data-kind="commitment" data-deleted="yes"' in body
    sage100 = _client(staff).get(_records_url("sage100")).content.decode()
    assert "Requisition" in sage100 and "Delete in Sage 100 Contractor®" in sage100


def test_search_by_erp_id_or_number(staff):
    _sage300("JC-0000001", "SC-1")
    _sage300("JC-0000002", "SC-2")
    client = _client(staff)
    assert [r.erp_id for r in client.get(_records_url(), {"q": "jc-0000002"}).context["records"]] == [
        "JC-0000002"
    ]
    assert [r.erp_id for r in client.get(_records_url(), {"q": "SC-1"}).context["records"]] == ["JC-0000001"]
    assert "No record matches" in client.get(_records_url(), {"q": "nothing"}).content.decode()


def test_pages_go_back_in_time_by_id(staff, django_assert_num_queries):
    for n in range(PAGE_SIZE + 2):
        _sage300(f"JC-{n:07d}", f"SC-{n}")
    client = _client(staff)
    # Platform database: 1) session, 2) user, 3) and 4) the user's permissions and
    # their groups' (the console's permission).
    # The ERP's own store: 1) one page of records, 2) its fault switch.
    with (
        django_assert_num_queries(4),
        django_assert_num_queries(2, connection=connections["sandbox_sage300"]),
    ):
        first = client.get(_records_url())
    assert len(first.context["records"]) == PAGE_SIZE
    second = client.get(_records_url() + first.context["next_query"])
    assert [r.erp_id for r in second.context["records"]] == ["JC-0000001", "JC-0000000"]
    assert second.context["next_query"] == ""


# --- delete and restore ----------------------------------------------------------------


def test_delete_then_restore_a_record(staff):
    record = _sage300("JC-0000012", "SC-12")
    client = _client(staff)

    response = _post(
        client, _action_url("sandbox_delete", "JC-0000012"), {"kind": "commitment", "q": "SC-12"}
    )
    assert _redirected_to(response) == _records_url() + "?q=SC-12"
    assert _messages(response) == [
        "Commitment JC-0000012 deleted in Sage 300 CRE®. The platform sees it gone after the next sync."
    ]
    record.refresh_from_db(using="sandbox_sage300")
    assert record.deleted_at is not None

    response = _post(client, _action_url("sandbox_restore", "JC-0000012"), {"kind": "commitment"})
    assert _messages(response) == ["Commitment JC-0000012 restored in Sage 300 CRE®."]
    record.refresh_from_db(using="sandbox_sage300")
    assert record.deleted_at is None


def test_sandbox_errors_are_shown_as_messages(staff):
    _sage300("JC-0000001", "SC-1", deleted=True, reference="commitment-7")
    _sage300("JC-0000002", "SC-1", reference="commitment-7")  # exported again since
    client = _client(staff)

    response = _post(client, _action_url("sandbox_delete", "JC-0000001"), {"kind": "commitment"})
    assert _messages(response) == ["JC-0000001 is already deleted."]
    response = _post(client, _action_url("sandbox_restore", "JC-0000001"), {"kind": "commitment"})
    assert _messages(response) == [
        "JC-0000001 cannot be restored: the same platform record was exported again since."
    ]
    response = _post(client, _action_url("sandbox_delete", "JC-9999999"), {"kind": "commitment"})
    assert _messages(response) == ["No commitment with id 'JC-9999999' in this ERP."]
    response = _post(client, _action_url("sandbox_delete", "JC-0000002"), {"kind": "owner_invoice"})
    assert _messages(response) == ["Unknown record kind 'owner_invoice'."]
    assert Sage300Record.objects.using("sandbox_sage300").get(erp_id="JC-0000002").deleted_at is None


def test_actions_are_post_only_and_need_the_csrf_token(staff):
    record = _sage300("JC-0000012", "SC-12")
    for name in ("sandbox_delete", "sandbox_restore"):
        assert _client(staff).get(_action_url(name, "JC-0000012")).status_code == 405
    assert _client(staff).get(reverse("sandbox_mode", args=["sage300"])).status_code == 405
    response = _client(staff, csrf=True).post(
        _action_url("sandbox_delete", "JC-0000012"), {"kind": "commitment"}
    )
    assert response.status_code == HTTPStatus.FORBIDDEN
    record.refresh_from_db(using="sandbox_sage300")
    assert record.deleted_at is None


# --- the fault switch ------------------------------------------------------------------


def test_the_fault_switch_goes_offline_slow_and_back(staff):
    client = _client(staff)
    url = reverse("sandbox_mode", args=["sage100"])

    response = _post(client, url, {"mode": "offline"})
    assert _redirected_to(response) == _records_url("sage100")
    assert _messages(response) == ["Sage 100 Contractor® is now offline: every call fails as unreachable."]
    assert sandbox_switch("sage100").mode == SandboxSwitch.Mode.OFFLINE
    assert sandbox_switch("sage300").mode == SandboxSwitch.Mode.NORMAL

    response = _post(client, url, {"mode": "slow", "latency_ms": "250"})
    assert _messages(response) == ["Sage 100 Contractor® is now slow: it answers after 250 ms."]
    assert (sandbox_switch("sage100").mode, sandbox_switch("sage100").latency_ms) == ("slow", 250)
    assert (
        'data-testid="sandbox-mode-badge">Slow (250 ms)<'
        in client.get(_records_url("sage100")).content.decode()
    )

    response = _post(client, url, {"mode": "normal"})
    assert _messages(response) == ["Sage 100 Contractor® is now working normally."]
    assert sandbox_switch("sage100").mode == SandboxSwitch.Mode.NORMAL


def test_a_bad_mode_or_latency_changes_nothing_and_says_why(staff):
    client = _client(staff)
    url = reverse("sandbox_mode", args=["sage300"])
    response = _post(client, url, {"mode": "exploding"})
    assert _messages(response)[0].startswith("The fault switch was not changed (mode: Select a valid choice.")
    response = _post(client, url, {"mode": "slow", "latency_ms": "-5"})
    assert "latency_ms: Ensure this value is greater than or equal to 0." in _messages(response)[0]
    assert sandbox_switch("sage300").mode == SandboxSwitch.Mode.NORMAL


def test_non_staff_cannot_flip_the_fault_switch(approver):
    response = _client(approver).post(reverse("sandbox_mode", args=["sage300"]), {"mode": "offline"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert sandbox_switch("sage300").mode == SandboxSwitch.Mode.NORMAL


def test_the_console_lists_the_erps_master_data_and_deletes_a_cost_code(staff):
    from erp_integrations.sandbox.services import sandbox_master_add

    sandbox_master_add(
        erp_system="sage300",
        kind="cost_code",
        values={"code": "03-300", "class": "L", "description": "Labor"},
    )
    sandbox_master_add(
        erp_system="sage300", kind="vendor", values={"id": "ACME", "name": "Acme", "type": "Supplier"}
    )
    client = _client(staff)

    page = client.get(reverse("sandbox_records", args=["sage300"]))

    assert page.status_code == HTTPStatus.OK
    delete = reverse("sandbox_delete", args=["sage300", "03-300:L"])
    assert delete in page.content.decode()
    response = _post(client, delete, {"kind": "cost_code"})
    assert response.status_code == HTTPStatus.OK
    assert Sage300Record.objects.using("sandbox_sage300").get(erp_id="03-300:L").deleted_at is not None
