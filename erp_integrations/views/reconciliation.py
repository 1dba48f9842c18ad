"""The Reconciliation page: where the ERP and the platform disagree, as the last sync saw it.

Everything shown was written by the last completed sync (``services.reconciliation``);
the page reads a few precomputed rows and computes nothing over the records, so it
costs the same for a company of ten records and of millions.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import AccessDenied, Action, NotFound
from erp_integrations import selectors
from erp_integrations.kinds import BY_SLUG, RECONCILIATION_ORDER, RecordKind
from erp_integrations.models import Discrepancy
from erp_integrations.selectors import RECONCILIATION_CATEGORIES, Page, ReconciliationFilters
from erp_integrations.services.orphans import orphan_delete_words, orphan_relink
from erp_integrations.services.reconciliation import measures
from erp_integrations.services.results import ActionResult, Outcome
from erp_integrations.services.sync import sync_status
from erp_integrations.views.common import HtmxHttpRequest, Tool, safe_next, switcher_context, tool_view
from erp_integrations.views.errors import status_of
from erp_integrations.views.tool import TABS

#: What each list is called on the page, and what its empty state says.
LIST_TITLES = {
    Discrepancy.Category.ABSENT: (
        "Approved in the platform, not in {erp}",
        "Every approved record is in {erp}.",
    ),
    Discrepancy.Category.ORPHAN: (
        "In {erp}, linked to nothing in the platform (orphans)",
        "No record in {erp} made by the platform is left without its link.",
    ),
    Discrepancy.Category.DRIFT: (
        "Values that differ in {erp}",
        "Every linked record has the same values in {erp} as in the platform.",
    ),
}


@dataclass(frozen=True)
class Row:
    """One row of a list, as the page shows it."""

    item: Discrepancy
    kind: RecordKind
    detail_url: str
    field_label: str
    platform_value: str
    erp_value: str
    difference: Decimal | None
    #: An orphan: whether this user may link it again, and why not.
    can_relink: bool = False
    relink_refusal: str = ""
    delete_words: str = ""


@dataclass(frozen=True)
class RowList:
    category: str
    title: str
    empty: str
    count: int
    page: Page
    rows: list[Row]


def _amount(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _row(tool: Tool, item: Discrepancy) -> Row:
    kind = BY_SLUG[item.kind]
    detail_url = ""
    if item.record_id is not None and item.project_id is not None:
        detail_url = reverse(kind.detail_url_name, args=[item.project_id, item.record_id])
    reconciled = kind.reconciled_field(item.field) if item.field else None
    money = reconciled.money if reconciled else True
    platform_value = _amount(item.platform_amount) if money else item.platform_value
    erp_value = _amount(item.erp_amount) if money else item.erp_value
    difference = None
    if item.platform_amount is not None and item.erp_amount is not None:
        difference = item.erp_amount - item.platform_amount
    can_relink, refusal, delete_words = False, "", ""
    if item.category == Discrepancy.Category.ORPHAN:
        if item.relinkable and item.project is not None:
            decision = tool.access.check(Action.EXPORT, item.project)
            can_relink, refusal = bool(decision), decision.reason
        elif tool.connection is not None:
            delete_words = orphan_delete_words(kind, tool.connection.erp_system, tool.erp_name, item.erp_id)
    return Row(
        item=item,
        kind=kind,
        detail_url=detail_url,
        field_label=reconciled.label if reconciled else "",
        platform_value=platform_value,
        erp_value=erp_value,
        difference=difference,
        can_relink=can_relink,
        relink_refusal=refusal,
        delete_words=delete_words,
    )


def _filters(request: HtmxHttpRequest, tool: Tool, projects) -> ReconciliationFilters:
    filters = ReconciliationFilters.parse(request.GET)
    if filters.project_id and not any(project.pk == filters.project_id for project in projects):
        # Another company's project, or none: the company's page, as with any unknown filter.
        filters = replace(filters, project_id=None)
    return filters


@require_GET
@tool_view
def reconciliation(request: HtmxHttpRequest, tool: Tool) -> HttpResponse:
    """Totals platform vs ERP, then what is absent, orphaned or different; per company or project.

    Queries: session, user, company with connection, directory entry, project levels, the
    switcher's companies, the projects (for the filter), the last successful run, the
    totals, the lists' counts, one page per list shown (three, or one when filtered to a
    list), and the sync status the header reads.
    """
    projects = selectors.company_projects(company_id=tool.company.pk)
    filters = _filters(request, tool, projects)
    by_id = {project.pk: project for project in projects}
    company_id = tool.company.pk
    counts = selectors.discrepancy_counts(company_id=company_id, filters=filters)
    lists = []
    for category in [filters.category] if filters.category else RECONCILIATION_CATEGORIES:
        page = selectors.discrepancy_page(
            company_id=company_id,
            filters=filters,
            category=category,
            # Paging is for one list at a time (filtered to it).
            after=request.GET.get("after", "") if filters.category else "",
            before=request.GET.get("before", "") if filters.category else "",
        )
        for item in page.rows:
            item.project = by_id.get(item.project_id)
        title, empty = LIST_TITLES[Discrepancy.Category(category)]
        lists.append(
            RowList(
                category=category,
                title=title.format(erp=tool.erp_name),
                empty=empty.format(erp=tool.erp_name),
                count=counts[category],
                page=page,
                rows=[_row(tool, item) for item in page.rows],
            )
        )
    project = next((p for p in projects if p.pk == filters.project_id), None)
    if project is not None:
        # The project's job in the ERP: its job-to-date cost by cost code and latest costs.
        job_costs = selectors.job_cost_by_cost_code(project_id=project.pk)
        transactions = selectors.job_cost_transactions(project_id=project.pk)
    else:
        job_costs, transactions = [], []
    context = {
        "job_costs": job_costs,
        "job_cost_total": sum((row["total"] for row in job_costs), Decimal(0)),
        "transactions": transactions,
        "tool": tool,
        "company": tool.company,
        "erp_name": tool.erp_name,
        "tabs": TABS.values(),
        "active": "reconciliation",
        "filters": filters,
        "filter_query": filters.as_query(),
        "csv_url": reverse("erp_reconciliation_csv", kwargs={"company_id": company_id})
        + ("?" + urlencode(filters.as_query()) if filters.as_query() else ""),
        "projects": projects,
        "project": project,
        "kinds": RECONCILIATION_ORDER,
        "categories": [(c, Discrepancy.Category(c).label) for c in RECONCILIATION_CATEGORIES],
        "fields": _field_choices(),
        "lists": lists,
        "totals": selectors.reconciliation_totals(
            company_id=company_id, project_id=filters.project_id, measures=measures()
        ),
        "last_run": selectors.last_succeeded_run(connection_id=tool.connection.pk)
        if tool.connection
        else None,
        "has_cursor": bool(request.GET.get("after") or request.GET.get("before")),
        **switcher_context(request),
    }
    if request.htmx and request.htmx.target == "reconciliation-body":
        return render(request, "erp/reconciliation.html#body", context)
    context["status"] = sync_status(connection=tool.connection) if tool.connection else None
    return render(request, "erp/reconciliation.html", context)


def _field_choices() -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for kind in RECONCILIATION_ORDER:
        for reconciled in kind.reconciled_fields:
            seen.setdefault(reconciled.name, reconciled.label)
    return list(seen.items())


@require_POST
@tool_view
def reconciliation_relink(request: HtmxHttpRequest, tool: Tool) -> HttpResponse:
    """Link an orphan to the platform record it was made for (what Export needs)."""
    orphan_id = selectors.parse_id(request.POST.get("orphan", ""))
    if orphan_id is None:
        raise NotFound("No such orphan.")
    try:
        result = orphan_relink(
            user=request.user, company=tool.company, discrepancy_id=orphan_id, access=tool.access
        )
    except AccessDenied as denied:
        result = ActionResult(False, denied.decision.reason, Outcome.FORBIDDEN)
    here = safe_next(request, reverse("erp_reconciliation", kwargs={"company_id": tool.company.pk}))
    if not request.htmx:
        messages.add_message(request, messages.SUCCESS if result.ok else messages.ERROR, result.message)
        return redirect(here)
    context = {"message": result.message, "ok": result.ok, "orphan_id": orphan_id}
    return render(request, "erp/reconciliation.html#relink_result", context, status=status_of(result))


# --- CSV ---------------------------------------------------------------------------------------
CSV_HEADER = (
    "List",
    "Kind",
    "Project",
    "Number",
    "ERP id",
    "Field",
    "Platform",
    "ERP",
    "Difference",
    "Can be linked again",
    "ERP reference",
    "Found by sync run",
)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    """A cell a spreadsheet shows as text: no formula from a title that starts with '='."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def _csv_lines(tool: Tool, items) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for item in items.iterator(chunk_size=2000):
        row = _row(tool, item)
        yield writer.writerow(
            [
                _cell(value)
                for value in (
                    item.get_category_display(),
                    row.kind.noun,
                    item.project.number if item.project else "",
                    item.number,
                    item.erp_id,
                    row.field_label,
                    row.platform_value.replace(",", ""),
                    row.erp_value.replace(",", ""),
                    "" if row.difference is None else f"{row.difference:.2f}",
                    "yes" if item.relinkable else "",
                    item.external_reference,
                    item.found_by_id or "",
                )
            ]
        )


@require_GET
@tool_view
def reconciliation_csv(request: HtmxHttpRequest, tool: Tool) -> StreamingHttpResponse:
    """The rows the filters select, as CSV: streamed, so its memory does not grow with them."""
    projects = selectors.company_projects(company_id=tool.company.pk)
    filters = _filters(request, tool, projects)
    items = selectors.discrepancy_rows(company_id=tool.company.pk, filters=filters)
    response = StreamingHttpResponse(_csv_lines(tool, items), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="reconciliation-{tool.company.slug}.csv"'
    return response
