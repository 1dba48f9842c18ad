"""Keeps each sandbox ERP's tables in its own database and everything else out of them.

Sage300Record and Sage100Record go to their own alias; SandboxSwitch exists in both
stores and must be reached with ``.using(alias)`` (the connector always does). No
relation may cross stores, so no query can join the platform with an ERP.
"""

from django.conf import settings

SANDBOX_APP = "sandbox"


class SandboxRouter:
    def _alias(self, model) -> str | None:
        if model._meta.app_label != SANDBOX_APP:
            return None
        return getattr(model, "database", "") or None

    def db_for_read(self, model, **hints):
        alias = self._alias(model)
        if alias:
            return alias
        if model._meta.app_label == SANDBOX_APP:
            instance = hints.get("instance")
            return instance._state.db if instance is not None else None
        return "default"

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        return obj1._state.db == obj2._state.db

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if db in settings.SANDBOX_DATABASES:
            if app_label != SANDBOX_APP:
                return False
            for erp in ("sage300", "sage100"):
                if model_name and model_name.startswith(erp):
                    return db == f"sandbox_{erp}"
            return True
        return app_label != SANDBOX_APP
