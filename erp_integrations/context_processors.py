"""What every page's header needs to know about the signed-in user."""

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.permissions import may_use_sandbox_console
from erp_integrations.master_kinds import MASTER_KINDS


def sandbox_console(request: HttpRequest) -> dict:
    """Whether the header links to the sandbox ERP console (asked only by pages that show it)."""
    return {
        "show_sandbox_console": SimpleLazyObject(
            lambda: (
                settings.SANDBOX_CONSOLE_ENABLED and may_use_sandbox_console(getattr(request, "user", None))
            )
        )
    }


def master_tabs(request: HttpRequest) -> dict:
    """The tool's master-data tabs (Projects, Companies, Cost Codes), for its header."""
    return {"master_tabs": MASTER_KINDS}
