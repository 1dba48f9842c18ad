"""Celery tasks. They hold no business logic: they load and call a service.

Beat sends ``sync_all_connections`` every hour on the hour (see CELERY_BEAT_SCHEDULE);
it fans out one ``sync_connection`` per active connection, so connections sync in
parallel on as many workers as there are, and one slow ERP does not hold up the rest.
"""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from django.conf import settings

from erp_integrations.models import ErpConnection, SyncRun
from erp_integrations.services import bulk, notices
from erp_integrations.services.sync import connection_sync

logger = logging.getLogger(__name__)


def _expires() -> int | None:
    # A fanned-out run that no worker picked up before the next hourly run is dropped,
    # like the beat entry itself, so missed runs do not pile up.
    return settings.CELERY_BEAT_SCHEDULE["hourly-erp-sync"].get("options", {}).get("expires")


@shared_task(ignore_result=True)
def sync_all_connections() -> None:
    connection_ids = list(ErpConnection.objects.filter(is_active=True).values_list("pk", flat=True))
    for connection_id in connection_ids:
        sync_connection.apply_async(
            args=(connection_id,), kwargs={"trigger": SyncRun.Trigger.SCHEDULE}, expires=_expires()
        )
    logger.info("Hourly sync queued for %s connection(s).", len(connection_ids))


@shared_task(ignore_result=True)
def sync_connection(
    connection_id: int, trigger: str = SyncRun.Trigger.SCHEDULE, requested_by_id: int | None = None
) -> None:
    # A duplicate or late task finds the connection claimed and returns at once.
    connection_sync(connection_id=connection_id, trigger=trigger, requested_by_id=requested_by_id)


# Mail: a server that does not answer is retried with backoff; the notice's claim is
# released on failure, and taken again by the retry, so an event is sent once.
MAIL_ERRORS = (OSError, smtplib.SMTPException)


@shared_task(ignore_result=True, autoretry_for=MAIL_ERRORS, retry_backoff=30, max_retries=6)
def send_notice(kind: str, entry_id: int) -> None:
    """A rejection notice to the sender, or a resend notice to the approvers."""
    notices.notice_send(kind=kind, entry_id=entry_id)


@shared_task(ignore_result=True)
def send_digests() -> None:
    """Beat, twice an hour: the daily summary where it is DIGEST_HOUR in the company's zone."""
    notices.digests_send()


@shared_task(ignore_result=True)
def run_bulk(bulk_run_id: int) -> None:
    """A bulk Export / Reject / Unlink of more rows than a request should wait for."""
    bulk.bulk_run_execute(bulk_run_id=bulk_run_id)
