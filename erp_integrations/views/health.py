"""/healthz: is this web process fit to serve, for a load balancer and for monitoring.

Unauthenticated, so it says only what an operator needs: whether the database and
the task queue answer, and for each active ERP connection (by id and ERP, no company
names) how long ago its last sync completed. 503 when the database or the task
queue does not answer; a sync that is late is reported (``stale``), not a 503: the
pages and Unlink keep working from what the last sync saw.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from http import HTTPStatus

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Max, Q
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from erp_integrations.celery import app as celery_app
from erp_integrations.models import ErpConnection, SyncRun

logger = logging.getLogger(__name__)

#: The sync runs hourly; a connection whose last successful sync is older than this is stale.
STALE_AFTER = timedelta(hours=2)


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        logger.warning("Health check: the database does not answer.", exc_info=True)
        return False


def _broker_answers() -> bool:
    try:
        with celery_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=settings.REDIS_SOCKET_TIMEOUT)
        return True
    except Exception:  # any failure to reach the broker means "no"
        logger.warning("Health check: the task queue does not answer.", exc_info=True)
        return False


def _age(moment, now) -> int | None:
    return None if moment is None else max(0, round((now - moment).total_seconds()))


def _connections() -> list[dict]:
    """Each active connection's last completed and last successful sync. Query: one."""
    completed = Q(sync_runs__status__in=[SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED])
    succeeded = Q(sync_runs__status=SyncRun.Status.SUCCEEDED)
    rows = (
        ErpConnection.objects.filter(is_active=True)
        .annotate(
            last_completed=Max("sync_runs__finished_at", filter=completed),
            last_succeeded=Max("sync_runs__finished_at", filter=succeeded),
        )
        .order_by("pk")
        .values("pk", "erp_system", "last_completed", "last_succeeded")
    )
    now = timezone.now()
    return [
        {
            "id": row["pk"],
            "erp": row["erp_system"],
            "last_completed_sync_age_seconds": _age(row["last_completed"], now),
            "last_successful_sync_age_seconds": _age(row["last_succeeded"], now),
            "stale": row["last_succeeded"] is None or now - row["last_succeeded"] > STALE_AFTER,
        }
        for row in rows
    ]


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = _database_answers()
    broker = _broker_answers()
    healthy = database and broker
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": "ok" if database else "unreachable",
        "broker": "ok" if broker else "unreachable",
        "connections": _connections() if database else None,
    }
    return JsonResponse(body, status=HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE)
