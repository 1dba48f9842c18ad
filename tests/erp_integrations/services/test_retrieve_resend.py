"""Retrieve (the sender pulls a ready record back) and Resend (a rejected record sent
again), for every record kind, with the project tool's colour badges."""

import pytest

from accounts.permissions import AccessDenied
from erp_integrations import selectors
from erp_integrations.kinds import KINDS, kind_of
from erp_integrations.models import AuditEntry, ExportState, SentNotice
from erp_integrations.services.exports import (
    record_reject,
    record_retrieve,
    record_send_to_accounting,
)
from tests import factories
from tests.erp_integrations.views.tool_world import build_world

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.embedded]


def _ready(world, slug: str):
    commitment = factories.commitment(project=world.project, vendor=world.vendor)
    builders = {
        "commitment": lambda: commitment,
        "invoice": lambda: factories.invoice(commitment=factories.link(commitment)),
        "cco": lambda: factories.change_order(commitment=factories.link(commitment)),
    }
    record = builders[slug]()
    kind_of(record).model.objects.filter(pk=record.pk).update(export_state=ExportState.READY)
    record.refresh_from_db()
    return record


@pytest.fixture
def world():
    return build_world()


@pytest.mark.parametrize("slug", [kind.slug for kind in KINDS])
def test_retrieve_returns_a_ready_record_to_draft_and_off_the_approvers_list(world, slug):
    record = _ready(world, slug)
    kind = kind_of(record)
    assert record.badge == "sent"

    result = record_retrieve(kind=kind, user=world.approver, record_id=record.pk)

    assert result.ok, result.message
    assert "retrieved" in result.message
    record.refresh_from_db()
    assert (record.export_state, record.badge) == (ExportState.DRAFT, "retrieved")
    assert record.retrieved_at is not None
    ready = selectors.record_list_page(kind=kind, company_id=world.company.pk, export_state=ExportState.READY)
    assert record.pk not in [row.pk for row in ready.rows]
    entry = AuditEntry.objects.get(action="retrieve")
    assert (entry.outcome, entry.record_id, entry.user) == ("success", record.pk, world.approver)


def test_a_synced_record_cannot_be_retrieved(world):
    record = factories.link(factories.commitment(project=world.project))

    result = record_retrieve(kind=kind_of(record), user=world.approver, record_id=record.pk)

    assert not result.ok
    assert result.message.endswith(
        "cannot be retrieved: it is synced with Sage 300 CRE® as " + record.erp_id + "."
    )
    record.refresh_from_db()
    assert record.export_state == ExportState.SYNCED
    assert AuditEntry.objects.get(action="retrieve").outcome == "refused"


def test_retrieve_needs_admin_on_the_projects_commitments_and_the_refusal_is_kept(world):
    record = _ready(world, "commitment")

    with pytest.raises(AccessDenied) as denied:
        record_retrieve(kind=kind_of(record), user=world.viewer, record_id=record.pk)

    assert "'Admin' on the Commitments tool of project 'Harbor Tower'" in denied.value.decision.reason
    record.refresh_from_db()
    assert record.export_state == ExportState.READY
    entry = AuditEntry.objects.get(action="retrieve")
    assert (entry.outcome, entry.user) == ("refused", world.viewer)


def test_sending_a_retrieved_record_again_clears_its_retrieved_badge(world):
    record = _ready(world, "commitment")
    record_retrieve(kind=kind_of(record), user=world.approver, record_id=record.pk)

    assert record_send_to_accounting(kind=kind_of(record), user=world.approver, record_id=record.pk).ok

    record.refresh_from_db()
    assert (record.export_state, record.badge, record.retrieved_at) == (ExportState.READY, "sent", None)


def _queued(callbacks) -> list[tuple[str, tuple]]:
    """The tasks the transaction queued for after its commit: (task name, arguments)."""
    return [(callback.func.__self__.name, callback.args) for callback in callbacks]


@pytest.mark.parametrize("slug", [kind.slug for kind in KINDS])
def test_resend_after_a_rejection_is_ready_again_and_queues_a_notice_to_the_approvers(
    world, slug, django_capture_on_commit_callbacks
):
    record = _ready(world, slug)
    kind = kind_of(record)
    with django_capture_on_commit_callbacks() as rejected:
        assert record_reject(kind=kind, user=world.approver, record_id=record.pk, reason="Wrong cost code").ok
    record.refresh_from_db()
    assert (record.badge, record.rejection_reason) == ("rejected", "Wrong cost code")

    with django_capture_on_commit_callbacks() as resent:
        result = record_send_to_accounting(kind=kind, user=world.approver, record_id=record.pk)

    assert result.ok
    record.refresh_from_db()
    assert (record.export_state, record.rejection_reason, record.badge) == (ExportState.READY, "", "sent")
    send = AuditEntry.objects.get(action="send")
    assert send.message == "Sent again after a rejection."
    reject = AuditEntry.objects.get(action="reject")
    # Queued once the transactions commit (the e-mail tests send them through the broker).
    assert _queued(rejected) == [
        ("erp_integrations.tasks.send_notice", (SentNotice.Kind.REJECTED, reject.pk))
    ]
    assert _queued(resent) == [("erp_integrations.tasks.send_notice", (SentNotice.Kind.RESENT, send.pk))]


def test_a_first_send_queues_no_notice(world, django_capture_on_commit_callbacks):
    record = factories.commitment(project=world.project)

    with django_capture_on_commit_callbacks() as callbacks:
        assert record_send_to_accounting(kind=kind_of(record), user=world.approver, record_id=record.pk).ok

    assert callbacks == []
