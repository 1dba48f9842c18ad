"""The database connection dies in the middle of an unlink.

The test terminates its own session with pg_terminate_backend after the unlink has
locked the record (and, in the second case, already cleared the link in its
transaction) but before it commits. Nothing of the unlink survives: the record keeps
its link and its missing-mark, no audit entry claims an unlink, and the row lock died
with the session, so trying again succeeds.
"""

import psycopg
import pytest
from django.db import Error, connection

from erp_integrations.kinds import COMMITMENT
from erp_integrations.models import AuditEntry, Commitment, ExportState
from erp_integrations.services.sync import connection_sync
from erp_integrations.services.unlink import record_unlink
from tests.erp_integrations.processes import database_url
from tests.faults.support import assert_invariants, linked_company

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True, databases="__all__")]


@pytest.mark.parametrize(
    "dropped_before",
    [
        pytest.param('UPDATE "erp_integrations_commitment"', id="after-the-lock-before-the-update"),
        pytest.param('INSERT INTO "erp_integrations_auditentry"', id="after-the-update-before-the-commit"),
    ],
)
def test_connection_dropped_during_an_unlink_leaves_no_half_state(dropped_before):
    data = linked_company(commitments=3, deleted=1)
    run = connection_sync(connection_id=data.company.erp_connection.pk, trigger="schedule")
    record = Commitment.objects.get(pk=data.deleted[0].pk)
    assert record.erp_missing_since_id == run.pk
    dropped = []

    with psycopg.connect(database_url("default"), autocommit=True) as admin:

        def drop_the_session(execute, sql, params, many, context):
            if sql.startswith(dropped_before) and not dropped:
                # The test's own session, in the unlink's transaction with the row locked.
                pid = context["connection"].connection.info.backend_pid
                locked = admin.execute(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                    " WHERE l.pid = %s AND c.relname = 'erp_integrations_commitment'"
                    " AND l.mode = 'RowShareLock'",
                    [pid],
                ).fetchone()[0]
                assert locked, "the unlink should hold the record's row lock by now"
                assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone()[0]
                dropped.append(pid)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(drop_the_session), pytest.raises(Error):
            record_unlink(kind=COMMITMENT, user=data.approver, record_id=record.pk)
        assert dropped
        gone = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", dropped).fetchone()[0]
        assert gone == 0

    connection.close()
    record.refresh_from_db()
    assert (record.export_state, record.erp_id, record.erp_missing_since_id) == (
        ExportState.SYNCED,
        data.deleted[0].erp_id,
        run.pk,
    )
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.UNLINK).exists()
    assert_invariants(unlinked=0)

    # The lock died with the session: the user tries again and it works, once.
    result = record_unlink(kind=COMMITMENT, user=data.approver, record_id=record.pk)
    assert (result.ok, result.message) == (True, "Successfully Unlinked")
    again = record_unlink(kind=COMMITMENT, user=data.approver, record_id=record.pk)
    assert not again.ok and "already unlinked" in again.message
    assert_invariants(unlinked=1)
