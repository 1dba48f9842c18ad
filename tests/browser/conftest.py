"""Browser tests: Playwright's sync API driving Debian's Chromium against ``live_server``.

No browser is downloaded: Playwright launches the Chromium that the system package
installed (``/usr/bin/chromium``, or ``CHROMIUM_PATH``). Each test gets the seeded demo
on a transactional database (the sandbox ERP stores included, so deleting a record in
the sandbox console is seen by the live server) and fresh browser contexts.

Every step's screenshot goes to ``test-artifacts/screenshots/<test name>/`` (override
the folder with ``SCREENSHOT_DIR``); the README names it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from erp_integrations.demo import seed_demo
from tests.browser.steps import DEMO_PASSWORD

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT_DIR = Path(
    os.environ.get("SCREENSHOT_DIR", str(Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"))
)
#: A laptop-sized window; the tablet layout has a test of its own where it matters.
VIEWPORT = {"width": 1366, "height": 900}

# Waits are explicit (expect() polls); this bounds each one. The live server answers
# in milliseconds, so a step that takes longer than this is a failure, not slowness.
expect.set_options(timeout=10_000)


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's chromium package (see .ci/run).")
    # Playwright's sync API keeps an asyncio loop running on this thread while it is
    # started, and Django refuses ORM calls from a thread with a running loop. The
    # tests call the ORM (seeding, the sync) between browser steps on purpose, so the
    # check is switched off for the browser tests only and restored afterwards.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    manager = sync_playwright().start()
    try:
        yield manager
    finally:
        manager.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(autouse=True)
def _plain_http_cookies(settings) -> None:
    # The live server speaks plain HTTP; production-mode settings mark the session and
    # CSRF cookies Secure, which a browser would not send back over http://.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """``shots(page, "unlink-red")`` writes NN-unlink-red.png in this test's folder."""
    folder = SCREENSHOT_DIR / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 1000))

    def take(page: Page, step: str) -> Path:
        path = folder / f"{next(counter):02d}-{step}.png"
        # caret="initial": hiding the caret puts an inline style on the focused field,
        # which htmx copies when it settles a swap there, and the CSP then blocks.
        page.screenshot(path=str(path), full_page=True, caret="initial")
        return path

    return take


@pytest.fixture
def new_context(browser: Browser, live_server) -> Iterator[Callable[..., BrowserContext]]:
    """Open browser contexts on the live server; every one is closed after the test."""
    opened: list[BrowserContext] = []
    problems: list[str] = []

    def open_context(*, erp_failures_expected: bool = False, **options) -> BrowserContext:
        """``erp_failures_expected``: a test that makes the ERP fail sees the product answer
        502 Bad Gateway on purpose (views/errors.py); any other 5xx still fails it."""
        context = browser.new_context(**{"base_url": live_server.url, "viewport": VIEWPORT, **options})
        expected = {502} if erp_failures_expected else set()
        context.set_default_timeout(10_000)
        # Whatever the steps assert, a server error or a script the page could not run
        # (an exception, or one blocked by the Content Security Policy) fails the test.
        context.on(
            "response",
            lambda response: (
                response.status >= 500
                and response.status not in expected
                and problems.append(f"{response.status} from {response.request.method} {response.url}")
            ),
        )
        context.on("weberror", lambda error: problems.append(f"script error: {error.error}"))
        context.on(
            "console",
            lambda message: (
                message.type == "error"
                and "Content Security Policy" in message.text
                and problems.append(f"blocked by CSP on {message.location.get('url')}: {message.text}")
            ),
        )
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()
    if problems:
        pytest.fail("The browser saw problems:\n" + "\n".join(problems))


@pytest.fixture
def demo(live_server) -> dict[str, int]:
    """The seeded demo (approver, pm, viewer, staff), committed where the live server sees it."""
    return seed_demo(password=DEMO_PASSWORD)
