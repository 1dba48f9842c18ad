"""The benchmark scripts still run end to end (a few thousand rows, a few requests).

Covers run_all.py (the pages' table) and bench_sync.py (the sync and unlink).

Figures from a smoke run mean nothing, so nothing here judges time; it checks that
every row of the table was measured, with the right answers, and that the tool's
query count does not change with the page (page 1, deep page, search).
"""

import json
import re
import subprocess
import sys

from django.conf import settings

from tests.benchmarks import _support
from tests.benchmarks.bench_pages import ROWS


def test_run_all_smoke_measures_every_row(tmp_path):
    prefix = f"{settings.DATABASES['default']['NAME']}_benchsmoke"
    out = tmp_path / "results.json"
    markdown = tmp_path / "table.md"
    # run_all derives each scratch database from this URL's server.
    env = _support.django_environment(_support.scratch_database_url(settings.DATABASES["default"]["NAME"]))
    completed = subprocess.run(
        [
            sys.executable,
            "tests/benchmarks/run_all.py",
            "--smoke",
            "--db-prefix",
            prefix,
            "--json",
            str(out),
            "--markdown",
            str(markdown),
        ],
        cwd=_support.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]

    [result] = json.loads(out.read_text())
    assert result["counts"]["synced_commitments"] > 2500
    assert result["sync"]["links_checked"] > 5000
    assert result["sync"]["missing_found"] > 0
    for key, _label, admin_key in ROWS:
        ours = result["ours"][key]
        assert ours["n"] == 3 and ours["p95_ms"] > 0, key
        if admin_key:
            assert result["admin"][admin_key]["n"] == 3, admin_key
    # A page costs the same queries wherever it is in the list, and a search the same
    # whatever it looks for: no query per row.
    ours = result["ours"]
    assert ours["tab"]["queries"] == ours["deep"]["queries"]
    assert ours["search_word"]["queries"] == ours["search_id"]["queries"]

    table = markdown.read_text()
    assert "| synced commitments | request" in table
    assert "Full sync" in table and "Unlink, deleted in the ERP" in table
    # --smoke drops its scratch databases.
    assert not _support.databases_exist(_support.scratch_database_url(f"{prefix}_3000"))


def test_bench_sync_smoke_finds_the_deleted_records_then_nothing(tmp_path):
    """bench_sync.py end to end on a few thousand records of each kind, in its own databases."""
    database_url = _support.scratch_database_url(f"{settings.DATABASES['default']['NAME']}_benchsync")
    env = {**_support.django_environment(database_url), "DJANGO_SETTINGS_MODULE": "erp_integrations.settings"}
    try:
        completed = subprocess.run(
            [
                sys.executable,
                "tests/benchmarks/bench_sync.py",
                "--commitments",
                "2000",
                "--invoices",
                "1000",
                "--ccos",
                "1500",
                "--projects",
                "5",
                "--missing-fraction",
                "0.05",
                "--unlinks",
                "5",
                "--requests",
                "3",
                "--drop",
            ],  # fmt: skip
            cwd=_support.ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    finally:
        _support.databases_drop(database_url)

    out = completed.stdout
    header = re.search(r"^([\d,]+) live links, ([\d,]+) of their ERP records deleted", out, re.M)
    assert header, out
    links, deleted = (int(group.replace(",", "")) for group in header.groups())
    assert links > 3000 and deleted > 0
    # (a) finds exactly the records deleted in the ERP; (b) straight after, nothing.
    found = re.findall(r"links checked +([\d,]+); found missing ([\d,]+); reappeared ([\d,]+)", out)
    assert [tuple(int(n.replace(",", "")) for n in row) for row in found] == [
        (links, deleted, 0),
        (links, 0, 0),
    ]
    assert re.search(r"tracemalloc peak +\(a\) [\d.]+ MiB, \(b\) [\d.]+ MiB", out)
    # The reconciliation read every live ERP record and found the changed amounts, twice.
    reconciled = re.findall(
        r"reconciliation +([\d,]+) ERP records read; drift ([\d,]+); orphans ([\d,]+)", out
    )
    assert len(reconciled) == 2 and reconciled[0] == reconciled[1], out
    read, drift, orphans = (int(n.replace(",", "")) for n in reconciled[0])
    assert read == links - deleted and drift > 0 and orphans == 0
    pages = re.findall(r"^  Reconciliation, .+ median [\d.]+ ms, p95 [\d.]+ ms, queries (\d+)$", out, re.M)
    assert len(pages) == 3, out
    assert re.search(
        r"'Successfully Unlinked' +median [\d.]+ ms, p95 [\d.]+ ms, max [\d.]+ ms over 5$", out, re.M
    )
    assert re.search(r"refused, still in the ERP +median [\d.]+ ms, .* over 5$", out, re.M)
    assert not _support.databases_exist(database_url)
