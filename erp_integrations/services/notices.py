"""E-mail: the rejection notice, the notice of a resend, and the approvers' daily summary.

Mail is sent by Celery tasks, never inside a request: a service that rejects or resends
queues the notice once its transaction commits (``notice_queue``). Each message is one
``SentNotice`` row keyed by its event, claimed before it is handed to the mail server,
so a retried or duplicated task never sends an event twice. Every message has a plain
text and an HTML part, rendered from ``templates/email/``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Company, User
from accounts.permissions import approver_projects, approvers_of
from erp_integrations.kinds import BY_SLUG, KINDS, RecordKind
from erp_integrations.models import AuditEntry, ExportState, SentNotice, company_erp_name

logger = logging.getLogger(__name__)

#: The states that wait for an approver.
WAITING_STATES = (ExportState.READY, ExportState.FAILED)


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


# --- queueing -------------------------------------------------------------------------------


def notice_queue(*, kind: str, entry: AuditEntry) -> None:
    """Queue the notice of the event ``entry`` records, once the transaction commits."""
    from erp_integrations import tasks

    tasks.send_notice.delay_on_commit(kind, entry.pk)


# --- sending, once --------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    recipient: str
    subject: str
    text: str
    html: str


def _deliver(*, event_key: str, kind: str, company: Company, message: Message) -> bool:
    """Send ``message`` unless its event was sent already; True when it was sent now.

    The row is created (unique event key), then claimed with a conditional update, then
    handed to the mail server. A failure to send releases the claim and raises, so the
    task's retry sends it; a duplicate or late task finds the claim and stops.
    """
    try:
        with transaction.atomic():
            notice, _ = SentNotice.objects.get_or_create(
                event_key=event_key,
                defaults={
                    "kind": kind,
                    "company": company,
                    "recipient": message.recipient,
                    "subject": message.subject[:255],
                    "text_body": message.text,
                    "html_body": message.html,
                },
            )
    except IntegrityError:  # a twin task created it between our look and our insert
        notice = SentNotice.objects.get(event_key=event_key)
    now = timezone.now()
    if not SentNotice.objects.filter(pk=notice.pk, sent_at__isnull=True).update(sent_at=now):
        logger.info("Notice %s was sent already; not sending it again.", event_key)
        return False
    email = EmailMultiAlternatives(subject=notice.subject, body=notice.text_body, to=[notice.recipient])
    email.attach_alternative(notice.html_body, "text/html")
    try:
        email.send()
    except Exception:
        SentNotice.objects.filter(pk=notice.pk).update(sent_at=None)
        raise
    return True


def _render(name: str, context: dict) -> tuple[str, str]:
    return (
        render_to_string(f"email/{name}.txt", context),
        render_to_string(f"email/{name}.html", context),
    )


def _record_of(entry: AuditEntry):
    kind = BY_SLUG[entry.record_type]
    record = kind.objects().select_related("company", "sent_by").filter(pk=entry.record_id).first()
    return kind, record


def notice_send(*, kind: str, entry_id: int) -> int:
    """Send the notice of one event (a rejection, a resend); how many messages went out."""
    entry = AuditEntry.objects.select_related("user", "company").filter(pk=entry_id).first()
    if entry is None:
        return 0
    record_kind, record = _record_of(entry)
    if record is None:  # deleted since: nothing to tell about
        return 0
    if kind == SentNotice.Kind.REJECTED:
        return int(_rejection(entry, record_kind, record))
    return sum(_resent(entry, record_kind, record))


def _context(entry: AuditEntry, kind: RecordKind, record) -> dict:
    return {
        "entry": entry,
        "kind": kind,
        "record": record,
        "label": kind.label(record),
        "company": entry.company,
        "project": record.project,
        "erp_name": company_erp_name(entry.company),
        "record_url": absolute(kind.detail_url(record)),
        "tab_url": absolute(
            reverse("erp_tab", kwargs={"company_id": entry.company_id, "tab": kind.tab_slug})
        ),
    }


def _rejection(entry: AuditEntry, kind: RecordKind, record) -> bool:
    """To the person who sent the record: rejected, why, and where to fix it."""
    sender = record.sent_by
    if sender is None or not sender.email or not sender.is_active:
        return False
    context = _context(entry, kind, record) | {"recipient": sender, "reason": entry.message}
    text, html = _render("rejected", context)
    subject = f"Rejected: {context['label']}, {record.project.name}"
    return _deliver(
        event_key=f"rejected:{entry.pk}",
        kind=SentNotice.Kind.REJECTED,
        company=entry.company,
        message=Message(sender.email, subject, text, html),
    )


def _resent(entry: AuditEntry, kind: RecordKind, record) -> list[bool]:
    """To each approver of the record's project: a rejected record was sent again."""
    sent = []
    for approver in approvers_of(entry.company, record.project):
        context = _context(entry, kind, record) | {"recipient": approver, "sender": entry.user}
        text, html = _render("resent", context)
        subject = f"Sent again after a rejection: {context['label']}, {record.project.name}"
        sent.append(
            _deliver(
                event_key=f"resent:{entry.pk}:{approver.pk}",
                kind=SentNotice.Kind.RESENT,
                company=entry.company,
                message=Message(approver.email, subject, text, html),
            )
        )
    return sent


# --- the daily summary ----------------------------------------------------------------------


def digest_due(company: Company, now: datetime) -> bool:
    """Whether it is DIGEST_HOUR in the company's time zone."""
    return now.astimezone(ZoneInfo(company.time_zone)).hour == settings.DIGEST_HOUR


def digest_counts(*, user: User, company: Company) -> list[tuple[RecordKind, int, str]]:
    """What waits for ``user`` in ``company``, per kind: (kind, count, the tab's URL).

    Only the projects whose records the user may Export and Reject. One query per kind.
    """
    projects = approver_projects(user, company)
    if not projects:
        return []
    counts = []
    for kind in KINDS:
        row = kind.model.objects.filter(
            company=company, project_id__in=projects, export_state__in=WAITING_STATES
        ).aggregate(n=Count("pk"))
        if row["n"]:
            url = absolute(reverse("erp_tab", kwargs={"company_id": company.pk, "tab": kind.tab_slug}))
            counts.append((kind, row["n"], url))
    return counts


def digest_send(*, company: Company, user: User, now: datetime) -> bool:
    """The daily summary to one approver, once per day of the company's calendar."""
    if not user.digest_emails or not user.email:
        return False
    counts = digest_counts(user=user, company=company)
    if not counts:
        return False
    day = now.astimezone(ZoneInfo(company.time_zone)).date()
    total = sum(count for _, count, _ in counts)
    context = {
        "recipient": user,
        "company": company,
        "counts": counts,
        "total": total,
        "day": day,
        "settings_url": absolute(reverse("account_settings")),
    }
    text, html = _render("digest", context)
    subject = f"ERP Integrations: {total} record{'s' if total != 1 else ''} waiting in {company.name}"
    return _deliver(
        event_key=f"digest:{company.pk}:{user.pk}:{day.isoformat()}",
        kind=SentNotice.Kind.DIGEST,
        company=company,
        message=Message(user.email, subject, text, html),
    )


def digests_send(*, now: datetime | None = None, force: bool = False) -> int:
    """Every company where it is DIGEST_HOUR now: the summary to each subscribed approver.

    ``force``: every company, whatever its hour (the command line, tests).
    """
    now = now or timezone.now()
    sent = 0
    for company in Company.objects.order_by("pk"):
        if not force and not digest_due(company, now):
            continue
        for user in approvers_of(company).filter(digest_emails=True):
            try:
                sent += digest_send(company=company, user=user, now=now)
            except Exception:
                # One unreachable mailbox does not stop the others; the claim was
                # released, so the next run this hour tries again.
                logger.exception("The daily summary to %s in %s failed.", user, company)
    return sent


def sent_notices(*, limit: int = 50) -> list[SentNotice]:
    """The latest messages, newest first (the staff console)."""
    return list(SentNotice.objects.select_related("company")[:limit])
