"""Django's database sessions, read by a statement written once (SESSION_ENGINE).

Every signed-in request reads its session first; the ORM compiled that lookup anew each
time, for more than the lookup itself costs (``accounts.rows``). Writing, expiry and
clearing are Django's, unchanged, on the same table: sessions made before this engine
stay valid.
"""

from __future__ import annotations

import functools

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from accounts import rows


@functools.cache
def _session_sql() -> str:
    return (
        f'SELECT {rows.columns(Session, "s")} FROM "{Session._meta.db_table}" s'  # noqa: S608 - names from the model
        ' WHERE s."session_key" = %s AND s."expire_date" > %s'
    )


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self) -> Session | None:
        # As Django's: the unexpired session of this key, or None and the key forgotten.
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        found = rows.fetch(_session_sql(), [self.session_key, now], Session)
        if not found:
            self._session_key = None
            return None
        return found[0][0]
