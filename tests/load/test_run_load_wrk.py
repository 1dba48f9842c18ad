"""run_load.py --wrk reads wrk's result line and judges it against issue 13's targets.

No wrk needed: its output is given here, as wrk.lua writes it.
"""

import argparse
import time
from pathlib import Path

import pytest
from django.db import connection

from tests.load.page_weight import render_weight, weigh
from tests.load.run_load import CHANGE_EVERY, CompanyChanges, parse_wrk, render_wrk, wrk_targets

pytestmark = [pytest.mark.embedded]

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8000/
  1 threads and 4 connections
WRK {requests} 10000000 {p50} {p95} {p99} {errors} {size}
"""


def result(name: str, requests: int, p95_ms: float, *, errors: int = 0):
    output = WRK_OUTPUT.format(
        requests=requests, p50=int(p95_ms * 500), p95=int(p95_ms * 1000), p99=int(p95_ms * 1500),
        errors=errors, size=requests * 2048,
    )  # fmt: skip
    return parse_wrk(name, output)


def test_the_result_line_gives_rate_and_latency_in_milliseconds():
    parsed = result("Commitments tab, page 1", 1300, 48.0)

    assert parsed.rps == 130.0
    assert (parsed.p50_ms, parsed.p95_ms, parsed.p99_ms) == (24.0, 48.0, 72.0)
    assert parsed.bytes_per_request == 2048


def test_without_a_result_line_it_says_so():
    with pytest.raises(ValueError, match="no result line"):
        parse_wrk("Sign-in page (the floor)", "unable to connect to 127.0.0.1:1 Connection refused")


def test_the_table_gives_ratios_to_the_admin_and_the_sign_in_page_and_judges_the_targets():
    results = [
        result("Sign-in page (the floor)", 9000, 5.0),
        result("Commitments tab, page 1", 1300, 48.0),
        result("Synced list fragment (HTMX)", 2500, 20.0),
        result("Admin changelist, page 1", 260, 200.0),
    ]
    args = argparse.Namespace(workers=2, connections=4, duration=10, company="bench")
    facts = {"Commitments tab, page 1": {"html_bytes": 70 * 1024, "wire_bytes": 9 * 1024, "gzip": True}}

    table = render_wrk(results, facts, args, {"company_id": 7, "links": 1000}, [])

    tab = next(line for line in table.splitlines() if line.startswith("| Commitments tab, page 1"))
    assert "5.0×" in tab and "0.14" in tab and "≥ 120 req/s, p95 ≤ 60 ms: met" in tab
    fragment = next(line for line in table.splitlines() if line.startswith("| Synced list fragment"))
    assert "≥ 300 req/s: **missed**" in fragment
    assert "70.0 KB of HTML (target ≤ 60 KB: **missed**), gzip on the wire" in table
    assert "--wrk --connections 4 --duration 10 --workers 2 --company bench" in table


def test_the_report_says_where_the_tab_s_bytes_go_under_its_size():
    results = [result("Commitments tab, page 1", 1300, 48.0)]
    args = argparse.Namespace(workers=2, connections=4, duration=10, company="bench")
    html = '<table><tbody id="synced-commitment-1" class="record" data-list="synced"></tbody></table>'
    weight = render_weight(weigh(html))
    facts = {"Commitments tab, page 1": {"html_bytes": 70, "wire_bytes": 60, "gzip": True, "weight": weight}}

    lines = render_wrk(results, facts, args, {"company_id": 7, "links": 1000}, []).splitlines()

    size_line = next(i for i, line in enumerate(lines) if line.startswith("Commitments tab: "))
    assert lines[size_line + 1 : size_line + 4] == weight
    assert lines[size_line + 3].startswith(
        "Floor (no class, data-*, hx-* attribute or white space between tags)"
    )


def test_every_target_of_the_issue_is_measured():
    names = {target.name for target in wrk_targets(1)}

    assert {
        "Sign-in page (the floor)",
        "Commitments tab, page 1",
        "Synced list fragment (HTMX)",
        "Commitments tab, search JC-00",
        "Sync panel poll (If-None-Match)",
        "Unlink (HTMX)",
        "Admin changelist, page 1",
    } <= names


def test_the_tab_and_the_search_are_also_measured_with_nothing_kept():
    targets = {target.name: target for target in wrk_targets(7)}

    for kept, cold in (
        ("Commitments tab, page 1", "Commitments tab, page 1, nothing kept"),
        ("Commitments tab, search JC-00", "Commitments tab, search JC-00, nothing kept"),
    ):
        # The same address, each request made an address of its own by wrk.lua.
        assert targets[cold].path == targets[kept].path
        assert targets[cold].fresh and not targets[kept].fresh
        assert targets[cold].admin == targets[kept].admin
    assert 'WRK_FRESH") == "1"' in (Path(__file__).parent / "wrk.lua").read_text()


def test_the_tab_and_the_search_are_also_measured_while_the_company_changes():
    targets = {target.name: target for target in wrk_targets(7)}

    for kept in ("Commitments tab, page 1", "Commitments tab, search JC-00"):
        changing = targets[f"{kept}, a change every {CHANGE_EVERY} s"]
        assert changing.changing and not changing.fresh and not targets[kept].changing
        assert changing.path == targets[kept].path and changing.admin == targets[kept].admin
        # Judged by the same targets as the kept request.
        assert (changing.min_rps, changing.max_p95_ms) == (targets[kept].min_rps, targets[kept].max_p95_ms)
    # And with the change on the tab's first page, which its Synced list must show.
    on_page = targets[f"Commitments tab, page 1, a change on it every {CHANGE_EVERY} s"]
    assert on_page.changing and on_page.on_page and on_page.path == targets["Commitments tab, page 1"].path
    assert (on_page.min_rps, on_page.max_p95_ms) == (120, 60)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_company_changes_move_the_data_version_from_another_connection():
    from erp_integrations.services.data_version import company_data_version
    from tests import factories

    commitment = factories.commitment(project=factories.project(company=factories.company()))
    company_id = commitment.company_id
    before = company_data_version(company_id)
    settings = connection.settings_dict
    url = f"postgresql://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"

    with CompanyChanges(url, company_id) as changes:
        deadline = time.monotonic() + 10
        while changes.changes < 3 and time.monotonic() < deadline:
            time.sleep(CHANGE_EVERY)

    assert changes.changes >= 3
    assert company_data_version(company_id) >= before + changes.changes


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_company_changes_on_the_page_write_the_newest_synced_record():
    from tests import factories

    project = factories.project(company=factories.company())
    _older, newest = (factories.link(factories.commitment(project=project)) for _ in range(2))
    factories.commitment(project=project)  # a draft, newer still
    settings = connection.settings_dict
    url = f"postgresql://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    marks = (
        "SELECT changed_table, changed_ids FROM erp_integrations_datachange WHERE company_id = %s "
        "ORDER BY id OFFSET %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(marks, [project.company_id, 0])
        before = len(cursor.fetchall())

    with CompanyChanges(url, project.company_id, on_page=True) as changes:
        deadline = time.monotonic() + 10
        while changes.changes < 2 and time.monotonic() < deadline:
            time.sleep(CHANGE_EVERY)

    assert changes.changes >= 2
    # Each change's mark names the newest synced commitment alone.
    with connection.cursor() as cursor:
        cursor.execute(marks, [project.company_id, before])
        written = cursor.fetchall()
    # (An UPDATE's mark names each row as it was and as it is.)
    assert [(table, set(ids)) for table, ids in written] == [
        ("erp_integrations_commitment", {newest.pk})
    ] * changes.changes


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_company_changes_that_fail_are_not_reported_as_made():
    settings = connection.settings_dict
    url = f"postgresql://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/no_such_database_here"

    with pytest.raises(RuntimeError, match="stopped"), CompanyChanges(url, 1) as changes:
        time.sleep(CHANGE_EVERY)

    assert changes.changes == 0 and changes.error is not None
