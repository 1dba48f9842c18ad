"""Shared pytest hooks and fixtures."""

import os

import pytest

# --- In CI, a skipped test is a failure -----------------------------------------------
# A test that skips because PostgreSQL, Redis or Chromium is missing would let a
# broken machine pass as green. Locally a skip is still shown as a skip.
_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI") and _skipped and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if os.environ.get("CI") and _skipped:
        terminalreporter.section("skipped tests fail in CI", sep="=", red=True, bold=True)
        for nodeid in _skipped:
            terminalreporter.write_line(f"SKIPPED (counts as a failure because CI is set): {nodeid}")


# --- Each test starts with an empty cache ------------------------------------------------
@pytest.fixture(autouse=True)
def _empty_cache():
    # The cache is the test Redis database; what one test remembers (a queued Sync now,
    # say) must not reach the next, nor a later run whose ids start again at 1.
    from django.core.cache import cache

    cache.clear()
    # So are the process's own memories keyed by ids (what a search learnt, the levels'
    # keys by data version): SQLite gives a rolled-back test's ids to the next test.
    from accounts import permissions
    from erp_integrations import selectors

    selectors._SEARCH_VERDICTS.clear()
    selectors._KEPT_MATCHES.clear()
    permissions._KEPT_LEVELS_KEYS.clear()
    # And the lists kept across versions, which name the company by its id.
    from erp_integrations.views.tool import LIST_SINCE

    LIST_SINCE.clear()
