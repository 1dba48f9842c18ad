"""Helpers for the sync and unlink tests: a connector that lets a test step in between
the sync's questions to the ERP, a sync held half-way in a thread, and shortcuts for
'delete it in the ERP' and 'restore it there'."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from django import db

from erp_integrations.connectors import get_connector
from erp_integrations.kinds import kind_of
from erp_integrations.sandbox.services import sandbox_delete, sandbox_restore
from erp_integrations.services.sync import connection_sync


class SteppingConnector:
    """The company's real sandbox connector, with a hook run before each answer.

    ``before(call_number, kind)`` runs inside ``existing_ids``: after the sync has read
    the batch of links it asks about, before the ERP answers. Tests use it to unlink,
    link or fail the ERP while a run is under way.
    """

    def __init__(self, erp_system: str, before: Callable[[int, str], None] | None = None):
        self.inner = get_connector(erp_system)
        self.before = before
        self.calls: list[tuple[str, int]] = []

    def existing_ids(self, kind: str, erp_ids: Iterable[str]) -> set[str]:
        ids = list(erp_ids)
        self.calls.append((kind, len(ids)))
        if self.before is not None:
            self.before(len(self.calls), kind)
        return self.inner.existing_ids(kind, ids)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _erp_of(record) -> tuple[str, str]:
    return record.company.erp_connection.erp_system, kind_of(record).slug


def delete_in_erp(record) -> None:
    """What a user does in Sage before unlinking: delete the record there."""
    erp_system, kind = _erp_of(record)
    sandbox_delete(erp_system=erp_system, kind=kind, erp_id=record.erp_id)


def restore_in_erp(record, erp_id: str) -> None:
    erp_system, kind = _erp_of(record)
    sandbox_restore(erp_system=erp_system, kind=kind, erp_id=erp_id)


class PausedSync:
    """A sync running in a thread of its own, held at a question to the ERP (the first).

    Inside ``with PausedSync(company) as paused:`` the run has claimed the connection,
    recorded itself as running and read its first batch; leaving the block lets it
    finish. ``paused.run`` is the finished run (or None). Needs transaction=True.
    """

    def __init__(self, company, *, trigger: str = "schedule", hold_at: int = 1):
        self.company = company
        self.trigger = trigger
        self.hold_at = hold_at
        self.inside = threading.Event()
        self.release = threading.Event()
        self.run = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._sync)

    def _hold(self, call: int, kind: str) -> None:
        if call == self.hold_at:
            self.inside.set()
            self.release.wait(timeout=30)

    def _sync(self) -> None:
        try:
            connector = SteppingConnector(self.company.erp_connection.erp_system, before=self._hold)
            self.run = connection_sync(
                connection_id=self.company.erp_connection.pk, trigger=self.trigger, connector=connector
            )
        except BaseException as exc:  # surfaced to the test on exit
            self.error = exc
        finally:
            self.inside.set()
            db.connections.close_all()

    def __enter__(self) -> PausedSync:
        self.thread.start()
        assert self.inside.wait(timeout=30), "the sync never reached the ERP"
        return self

    def __exit__(self, *exc_info) -> None:
        self.release.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()
        if self.error is not None:
            raise self.error
