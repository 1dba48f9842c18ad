"""Sign-in, home, the company's ERP Integrations tool, sync status and audit trail."""

from django.contrib.auth import views as auth_views
from django.urls import path, register_converter

from erp_integrations.master_kinds import BY_TAB as MASTER_TABS
from erp_integrations.views import account, approver, audit, master, reconciliation, sync, tool


class _Choice:
    """A path segment that is one of a fixed set of words; anything else is a 404."""

    words: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.regex = "|".join(self.words)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class TabConverter(_Choice):
    words = tuple(tool.TABS)


class ListConverter(_Choice):
    words = tuple(tool.LISTS)


class ActionConverter(_Choice):
    words = ("unlink", "export", "reject")


class MasterTabConverter(_Choice):
    words = tuple(MASTER_TABS)


class EntryActionConverter(_Choice):
    words = ("import", "link", "archive")


class MasterActionConverter(_Choice):
    words = ("export", "reject", "unlink", "update")


register_converter(MasterTabConverter, "master_tab")
register_converter(EntryActionConverter, "entry_action")
register_converter(MasterActionConverter, "master_action")
register_converter(TabConverter, "tab")
register_converter(ListConverter, "list")
register_converter(ActionConverter, "action")

urlpatterns = [
    path("", tool.home, name="home"),
    # Browsers ask for /favicon.ico whatever the page's <link rel="icon"> says.
    path("favicon.ico", tool.favicon, name="favicon"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/settings/", account.account_settings, name="account_settings"),
    path("companies/", tool.company_list, name="company_list"),
    path("companies/<int:company_id>/erp/", tool.tool_home, name="erp_tool"),
    path("companies/<int:company_id>/erp/sync/", sync.sync_history, name="erp_sync"),
    path("companies/<int:company_id>/erp/sync/now/", sync.sync_now, name="erp_sync_now"),
    path("companies/<int:company_id>/erp/sync/progress/", sync.sync_progress, name="erp_sync_progress"),
    path("companies/<int:company_id>/erp/sync/panel/", sync.sync_panel, name="erp_sync_panel"),
    path("companies/<int:company_id>/erp/audit/", audit.audit_trail, name="erp_audit"),
    # Master data: jobs, vendors and cost codes (see views.master).
    path(
        "companies/<int:company_id>/erp/data/<master_tab:master_tab>/",
        master.master_tab,
        name="erp_master_tab",
    ),
    path(
        "companies/<int:company_id>/erp/data/<master_tab:master_tab>/link-all/",
        master.link_all,
        name="erp_master_link_all",
    ),
    path(
        "companies/<int:company_id>/erp/data/<master_tab:master_tab>/erp/<int:entry_id>/<entry_action:entry_action>/",
        master.entry_action,
        name="erp_master_entry_action",
    ),
    path(
        "companies/<int:company_id>/erp/data/<master_tab:master_tab>/<int:master_id>/<master_action:master_action>/",
        master.record_action,
        name="erp_master_action",
    ),
    path(
        "companies/<int:company_id>/erp/reconciliation/",
        reconciliation.reconciliation,
        name="erp_reconciliation",
    ),
    path(
        "companies/<int:company_id>/erp/reconciliation/export.csv",
        reconciliation.reconciliation_csv,
        name="erp_reconciliation_csv",
    ),
    path(
        "companies/<int:company_id>/erp/reconciliation/relink/",
        reconciliation.reconciliation_relink,
        name="erp_reconciliation_relink",
    ),
    path("companies/<int:company_id>/erp/settings/", approver.settings_page, name="erp_settings"),
    path("companies/<int:company_id>/erp/accountants/", approver.accountant_report, name="erp_accountants"),
    path(
        "companies/<int:company_id>/erp/accountants.csv",
        approver.accountant_report_csv,
        name="erp_accountants_csv",
    ),
    path("companies/<int:company_id>/erp/<tab:tab>/", tool.tab, name="erp_tab"),
    path("companies/<int:company_id>/erp/<tab:tab>/<list:list_slug>/", tool.record_list, name="erp_list"),
    path(
        "companies/<int:company_id>/erp/<tab:tab>/<int:record_id>/<action:action>/",
        tool.record_action,
        name="erp_action",
    ),
    # Bulk Export / Reject / Unlink of a list's selected rows, and a long one's progress.
    path(
        "companies/<int:company_id>/erp/<tab:tab>/<list:list_slug>/bulk/",
        approver.bulk_action,
        name="erp_bulk",
    ),
    path(
        "companies/<int:company_id>/erp/<tab:tab>/bulk/<int:run_id>/",
        approver.bulk_run,
        name="erp_bulk_run",
    ),
    # Reject's reason, asked for when Reject is opened: a dialog (HTMX) or a small page.
    path(
        "companies/<int:company_id>/erp/<tab:tab>/<int:record_id>/reject/form/",
        tool.reject_form,
        name="erp_reject_form",
    ),
]
