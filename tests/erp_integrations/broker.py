"""Read what was sent through the real Celery broker (Redis), for the tests.

Kombu's Redis transport keeps a queue as a Redis list: producers LPUSH a JSON envelope,
workers BRPOP from the other end. The tests take messages off that list directly, so
nothing is left half-consumed by a polling consumer.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import redis
from django.conf import settings

QUEUE = "celery"


@dataclass(frozen=True)
class SentTask:
    task: str
    args: list
    kwargs: dict
    expires: str | None


def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def take_sent_tasks() -> list[SentTask]:
    """Take every message waiting in the default queue off the broker, oldest first."""
    sent = []
    client = _client()
    try:
        while (raw := client.rpop(QUEUE)) is not None:
            envelope = json.loads(raw)
            body = envelope["body"]
            if envelope["properties"].get("body_encoding") == "base64":
                body = base64.b64decode(body)
            args, kwargs, _embed = json.loads(body)
            headers = envelope["headers"]
            sent.append(SentTask(headers["task"], args, kwargs, headers.get("expires")))
    finally:
        client.close()
    return sent
