"""Django's ModelBackend, with the signed-in user read by a statement written once.

``get_user`` runs on every signed-in request; the ORM compiled its lookup anew each time
(``accounts.rows``). Signing in, permissions and the active check are Django's.
"""

from __future__ import annotations

import functools

from django.contrib.auth.backends import ModelBackend as DjangoModelBackend

from accounts import rows
from accounts.models import User


@functools.cache
def _user_sql() -> str:
    table, key = User._meta.db_table, User._meta.pk.column
    return f'SELECT {rows.columns(User, "u")} FROM "{table}" u WHERE u."{key}" = %s'  # noqa: S608 - names from the model


class ModelBackend(DjangoModelBackend):
    def get_user(self, user_id) -> User | None:
        found = rows.fetch(_user_sql(), [user_id], User)
        user = found[0][0] if found else None
        return user if user is not None and self.user_can_authenticate(user) else None
