"""E-mail through a real SMTP server: the rejection notice to the sender, the notice to
the approvers when a rejected record is sent again, and the approvers' daily summary.

The notices are queued on the real broker when the reject or send commits; the test
takes the message off the broker and runs the task it names, as a worker would.
"""

import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.test import Client

from accounts.models import Company, User
from erp_integrations.celery import app
from erp_integrations.kinds import COMMITMENT
from erp_integrations.models import AuditEntry, ExportState, SentNotice
from erp_integrations.services import notices
from erp_integrations.services.exports import record_reject, record_send_to_accounting
from erp_integrations.tasks import send_digests
from tests import factories
from tests.erp_integrations.broker import take_sent_tasks
from tests.erp_integrations.smtp import parts, smtp_server
from tests.erp_integrations.views.tool_world import build_world

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def inbox(settings):
    settings.SITE_URL = "http://testserver"
    with smtp_server(settings) as inbox:
        yield inbox


@pytest.fixture
def world():
    world = build_world()
    for user in (world.approver, world.pm, world.viewer):
        User.objects.filter(pk=user.pk).update(email=f"{user.username}@northwind.example")
        user.refresh_from_db()
    return world


def _run_queued_tasks() -> int:
    """Run what was queued on the broker, as a worker would: the task by its name."""
    sent = take_sent_tasks()
    for message in sent:
        app.tasks[message.task](*message.args, **message.kwargs)
    return len(sent)


def _path(url: str) -> str:
    assert url.startswith("http://testserver/"), url
    return urlsplit(url).path


def _rejected_by_approver(world, django_capture_on_commit_callbacks):
    take_sent_tasks()
    record = factories.commitment(project=world.project, vendor=world.vendor, number="SC-77")
    assert record_send_to_accounting(kind=COMMITMENT, user=world.pm, record_id=record.pk).ok
    with django_capture_on_commit_callbacks(execute=True):
        assert record_reject(
            kind=COMMITMENT, user=world.approver, record_id=record.pk, reason="Wrong cost code 03-300"
        ).ok
    return record


def test_the_sender_is_told_of_a_rejection_with_the_reason_and_a_working_link(
    world, inbox, django_capture_on_commit_callbacks
):
    record = _rejected_by_approver(world, django_capture_on_commit_callbacks)

    assert _run_queued_tasks() == 1

    [message] = inbox.to("pm@northwind.example")
    assert message["Subject"] == "Rejected: Commitment SC-77, Harbor Tower"
    assert message["From"] == django_settings.DEFAULT_FROM_EMAIL
    text, html = parts(message)
    assert "Reason: Wrong cost code 03-300" in text and "Reason: Wrong cost code 03-300" in html
    link = re.search(r"http://testserver/\S+", text).group(0)
    assert f'href="{link}"' in html
    client = Client()
    client.force_login(world.pm)
    page = client.get(_path(link))
    assert page.status_code == 200
    assert "Rejected: Wrong cost code 03-300" in page.content.decode()
    assert 'data-badge="rejected"' in page.content.decode()
    notice = SentNotice.objects.get()
    assert (notice.kind, notice.recipient) == ("rejected", "pm@northwind.example")
    assert notice.sent_at is not None and record.pk


def test_a_retried_notice_task_sends_nothing_twice(world, inbox, django_capture_on_commit_callbacks):
    _rejected_by_approver(world, django_capture_on_commit_callbacks)
    sent = take_sent_tasks()
    assert len(sent) == 1

    for _ in range(3):  # the task delivered, then retried (a lost ack, a restarted worker)
        app.tasks[sent[0].task](*sent[0].args)

    assert len(inbox.messages) == 1
    assert SentNotice.objects.count() == 1


def test_a_mail_server_that_is_down_leaves_the_notice_to_the_retry(
    world, settings, django_capture_on_commit_callbacks
):
    _rejected_by_approver(world, django_capture_on_commit_callbacks)
    [queued] = take_sent_tasks()
    with smtp_server(settings) as inbox:
        port = settings.EMAIL_PORT
    settings.EMAIL_PORT = port  # the server has stopped: nobody answers there

    with pytest.raises(OSError):
        notices.notice_send(kind=queued.args[0], entry_id=queued.args[1])
    assert SentNotice.objects.get().sent_at is None  # the claim is released for the retry

    with smtp_server(settings) as inbox:
        app.tasks[queued.task](*queued.args)
    assert len(inbox.messages) == 1
    assert SentNotice.objects.get().sent_at is not None


def test_the_approvers_hear_when_a_rejected_record_is_sent_again(
    world, inbox, django_capture_on_commit_callbacks
):
    record = _rejected_by_approver(world, django_capture_on_commit_callbacks)
    _run_queued_tasks()
    second = factories.approver(world.company, world.project, username="second-approver")
    User.objects.filter(pk=second.pk).update(email="second@northwind.example")

    with django_capture_on_commit_callbacks(execute=True):
        assert record_send_to_accounting(kind=COMMITMENT, user=world.pm, record_id=record.pk).ok
    _run_queued_tasks()

    for address in ("approver@northwind.example", "second@northwind.example"):
        [message] = inbox.to(address)
        assert message["Subject"] == "Sent again after a rejection: Commitment SC-77, Harbor Tower"
        text, html = parts(message)
        assert "pm sent Commitment SC-77 (Harbor Tower) to accounting again" in text
        assert "http://testserver/companies/" in html
    # Not the sender, not the viewer: only who may export it.
    assert not inbox.to("viewer@northwind.example")
    assert len(inbox.to("pm@northwind.example")) == 1  # the rejection notice only


def _digest_hour_now(settings, company: Company):
    settings.DIGEST_HOUR = datetime.now(ZoneInfo(company.time_zone)).hour


def test_the_daily_summary_counts_what_waits_per_tab_with_links_once_a_day(world, inbox, settings):
    Company.objects.filter(pk=world.company.pk).update(time_zone="America/Chicago")
    world.company.refresh_from_db()
    _digest_hour_now(settings, world.company)
    for number in ("SC-1", "SC-2"):
        factories.commitment(project=world.project, number=number, export_state=ExportState.READY)
    factories.commitment(project=world.project, number="SC-3", export_state=ExportState.FAILED)
    factories.commitment(project=world.project, number="SC-4")  # a draft waits for nobody

    send_digests.apply()  # the beat's task, run through Celery
    send_digests.apply()  # the second run of the hour

    [message] = inbox.messages
    assert message["To"] == "approver@northwind.example"
    assert message["Subject"] == "ERP Integrations: 3 records waiting in Northwind Builders"
    text, html = parts(message)
    assert "- Commitments: 3" in text
    link = re.search(r"http://testserver/companies/\d+/erp/commitments/", text).group(0)
    assert f'href="{link}"' in html
    client = Client()
    client.force_login(world.approver)
    assert client.get(_path(link)).status_code == 200
    assert "Subscribe to ERP digest emails" in text
    notice = SentNotice.objects.get()
    day = datetime.now(ZoneInfo("America/Chicago")).date().isoformat()
    assert notice.event_key == f"digest:{world.company.pk}:{world.approver.pk}:{day}"


def test_no_summary_outside_the_companys_hour_for_the_unsubscribed_or_with_nothing_waiting(
    world, inbox, settings
):
    factories.commitment(project=world.project, export_state=ExportState.READY)
    settings.DIGEST_HOUR = (datetime.now(ZoneInfo("UTC")) + timedelta(hours=2)).hour
    assert notices.digests_send() == 0

    _digest_hour_now(settings, world.company)
    User.objects.filter(pk=world.approver.pk).update(digest_emails=False)
    assert notices.digests_send() == 0

    User.objects.filter(pk=world.approver.pk).update(digest_emails=True)
    factories.approver(world.company, username="no-projects-approver")
    assert notices.digests_send() == 1
    assert [m["To"] for m in inbox.messages] == ["approver@northwind.example"]


@pytest.mark.embedded
def test_the_summary_goes_only_to_approvers_and_counts_only_their_projects(world):
    other_project = factories.project(company=world.company, name="Elm Street Lofts")
    factories.commitment(project=world.project, export_state=ExportState.READY)
    factories.commitment(project=other_project, export_state=ExportState.READY)
    pm_counts = notices.digest_counts(user=world.pm, company=world.company)
    approver_counts = notices.digest_counts(user=world.approver, company=world.company)

    assert pm_counts == []  # no privilege: nothing waits for them
    assert [(kind.slug, count) for kind, count, _ in approver_counts] == [("commitment", 1)]


def test_the_beat_entry_runs_the_digest_task_twice_an_hour_and_expires():
    entry = django_settings.CELERY_BEAT_SCHEDULE["daily-erp-digest"]
    assert entry["task"] == send_digests.name
    assert entry["options"]["expires"] == 25 * 60
    assert entry["schedule"].minute == {5, 35}


@pytest.mark.embedded
def test_the_embedded_default_writes_mail_to_files(
    world, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    record = factories.commitment(project=world.project, export_state=ExportState.READY)
    record.sent_by = world.pm
    record.save(update_fields=["sent_by"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record_reject(kind=COMMITMENT, user=world.approver, record_id=record.pk, reason="Duplicate")
    assert len(callbacks) == 1
    entry_id = AuditEntry.objects.get(action="reject").pk

    assert notices.notice_send(kind="rejected", entry_id=entry_id) == 1

    [written] = list(tmp_path.iterdir())
    assert "Reason: Duplicate" in written.read_text()


def test_the_staff_console_lists_the_last_50_messages(world, inbox, django_capture_on_commit_callbacks):
    _rejected_by_approver(world, django_capture_on_commit_callbacks)
    _run_queued_tasks()
    staff = factories.platform_staff()
    client = Client()
    client.force_login(staff)

    page = client.get("/admin/erp_integrations/sentnotice/")

    assert page.status_code == 200
    assert "Rejected: Commitment SC-77, Harbor Tower" in page.content.decode()
    # The console shows the latest 50, newest first.
    assert page.context["cl"].list_per_page == 50
