"""The audit trail: every export, reject and unlink attempt, filterable and paged."""

import html
import re
from http import HTTPStatus

import pytest
from django.urls import reverse

from erp_integrations.models import AuditEntry
from erp_integrations.services.audit import audit_record
from tests.erp_integrations.views.tool_world import (
    STILL_IN_SAGE_300,
    action_url,
    build_world,
    client_for,
    csrf_token,
    htmx_get,
    post,
    ready_commitment,
    synced_commitment,
    synced_invoice,
    tab_url,
)

pytestmark = pytest.mark.django_db(databases="__all__")


def audit_url(world):
    return reverse("erp_audit", kwargs={"company_id": world.company.pk})


def entries(response) -> list[str]:
    rows = re.findall(r'<tr data-testid="audit-entry".*?</tr>', response.content.decode(), re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split()) for row in rows]


def many_entries(world, count, **fields):
    record = synced_commitment(world)
    AuditEntry.objects.bulk_create(
        AuditEntry(
            company=world.company,
            user=fields.get("user", world.approver),
            action=fields.get("action", "unlink"),
            record_type="commitment",
            record_id=record.pk,
            record_number=f"SC-{i:03d}",
            erp_system="sage300",
            erp_id=record.erp_id,
            outcome=fields.get("outcome", "refused"),
            message=STILL_IN_SAGE_300,
        )
        for i in range(count)
    )


def test_every_attempt_is_listed_with_who_when_record_erp_id_outcome_and_message():
    world = build_world()
    commitment = synced_commitment(world, number="SC-12")
    client = client_for(world.approver)
    token = csrf_token(client, tab_url(world.company))
    post(client, action_url(commitment, "unlink"), htmx=True, token=token)
    ready = ready_commitment(world, number="SC-13")
    post(client, action_url(ready, "reject"), {"reason": "Duplicate"}, htmx=True, token=token)

    response = client_for(world.viewer).get(audit_url(world))

    assert response.status_code == HTTPStatus.OK
    rows = entries(response)
    # The two attempts, then the world's grants of the privilege (kept too).
    assert len(rows) == 2 + AuditEntry.objects.filter(action="grant", company=world.company).count()
    assert all("Grant 'Can Push to Accounting'" in row for row in rows[2:])
    # Newest first.
    # The project is named: the same number may stand in several projects.
    project = commitment.project.name
    assert f"approver Reject Commitment SC-13 {ready.project.name} — Success Duplicate" in rows[0]
    assert (
        f"approver Unlink Commitment SC-12 {project} {commitment.erp_id} Refused {STILL_IN_SAGE_300}"
        in rows[1]
    )
    assert AuditEntry.objects.filter(project=commitment.project).count() == 2
    entry = AuditEntry.objects.get(action="unlink")
    assert f'datetime="{entry.created_at.isoformat()}"' in response.content.decode()


def test_filters_by_record_type_user_action_and_outcome():
    world = build_world(erp_system="sage100")
    commitment = synced_commitment(world, number="SC-1")
    invoice = synced_invoice(world, number="7")
    audit_record(
        user=world.approver, action="unlink", record=commitment, erp_system="sage100", outcome="refused"
    )
    audit_record(user=world.pm, action="unlink", record=invoice, erp_system="sage100", outcome="success")
    audit_record(user=world.approver, action="export", record=invoice, erp_system="sage100", outcome="failed")
    # The world's grants of the privilege are in the trail too; this test is about records.
    AuditEntry.objects.filter(record_type="user").delete()
    client = client_for(world.viewer)

    def numbers(query):
        return [
            re.search(r"(Commitment|Subcontractor Invoice) (\S+)", row).group(2)
            for row in entries(client.get(audit_url(world) + query))
        ]

    assert numbers("") == ["7", "7", "SC-1"]
    assert numbers("?record_type=invoice") == ["7", "7"]
    assert numbers("?record_type=commitment") == ["SC-1"]
    assert numbers(f"?user={world.pm.pk}") == ["7"]
    assert numbers("?outcome=failed") == ["7"]
    assert numbers("?action=unlink&outcome=refused") == ["SC-1"]
    # What is not a known value is ignored, not an error.
    assert numbers("?record_type=owner-invoice&outcome=maybe&user=abc&action=delete") == ["7", "7", "SC-1"]
    assert numbers("?user=99999999999999999999999") == ["7", "7", "SC-1"]


def test_the_filter_form_offers_the_directory_and_keeps_the_choice():
    world = build_world()

    body = (
        client_for(world.viewer)
        .get(audit_url(world) + f"?user={world.pm.pk}&outcome=refused")
        .content.decode()
    )

    assert f'<option value="{world.pm.pk}" selected>pm</option>' in body
    assert '<option value="refused" selected>Refused</option>' in body
    assert "outsider" not in body.split('id="filter-user"')[1].split("</select>")[0]
    assert "No attempts match these filters." in body


@pytest.mark.parametrize("count", [3, 60])
def test_a_page_costs_the_same_queries_at_3_entries_as_at_60(count, django_assert_num_queries):
    world = build_world()
    many_entries(world, count)
    client = client_for(world.viewer)
    # Opening a company's tool notes it in the session (written on the first page only).
    client.get(audit_url(world))

    # 1) session, 2) user, 3) directory entry with its company and connection, 4) one
    # page of entries with their users, 5) the directory's users for the filter, 6) the
    # switcher's companies, 7)-8) the sync status the header reads (the last completed
    # run and a run in progress in one UNION, then the last successful one). No project
    # levels: the page asks no question about a project.
    with django_assert_num_queries(8):
        response = client.get(audit_url(world) + "?outcome=refused")

    assert len(entries(response)) == min(count, 50)


def test_paging_visits_every_entry_once_newest_first():
    world = build_world()
    many_entries(world, 120)
    client = client_for(world.viewer)

    seen = []
    response = client.get(audit_url(world) + "?action=unlink")
    while True:
        seen += [re.search(r"SC-\d+", row).group(0) for row in entries(response)]
        link = re.search(r'rel="next" href="([^"]+)"', response.content.decode())
        if not link:
            break
        assert "action=unlink" in html.unescape(link.group(1))
        response = client.get(audit_url(world) + html.unescape(link.group(1)))

    assert seen == [f"SC-{i:03d}" for i in reversed(range(120))]


def test_htmx_filtering_answers_with_the_entries_only():
    world = build_world()
    many_entries(world, 3)

    response = htmx_get(
        client_for(world.viewer), audit_url(world) + "?outcome=refused", target="audit-entries"
    )

    body = response.content.decode().strip()
    assert body.startswith('<div class="list-body" id="audit-entries"')
    assert len(entries(response)) == 3


def test_messages_in_the_trail_are_escaped():
    world = build_world()
    commitment = synced_commitment(world, number="<b>SC</b>")
    audit_record(
        user=world.approver,
        action="reject",
        record=commitment,
        erp_system="sage300",
        outcome="success",
        message="<script>x</script>",
    )

    body = client_for(world.viewer).get(audit_url(world)).content.decode()

    assert "<script>x" not in body and "<b>SC</b>" not in body
    assert "&lt;script&gt;x&lt;/script&gt;" in body


def test_outsiders_get_404_and_members_without_the_tool_403():
    world = build_world()

    assert client_for(world.outsider).get(audit_url(world)).status_code == HTTPStatus.NOT_FOUND
    assert client_for(world.member).get(audit_url(world)).status_code == HTTPStatus.FORBIDDEN
