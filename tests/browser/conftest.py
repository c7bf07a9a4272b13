"""Browser tests: real Chromium (Debian's, headless) driven by Playwright against the live
server, on the demo world (DESIGN §2 Tests).

- Chromium is ``/usr/bin/chromium`` (``scripts/browser-ensure.sh`` installs it with the CJK
  fonts; ``.ci/run`` calls it). Playwright never downloads a browser of its own. A missing
  browser fails the tests with that instruction: it is never a reason to skip them.
- The demo is loaded once per module and committed (the live server's thread reads it), then
  the database is emptied again for the tests that follow.
- Playwright's sync API keeps an event loop in the test thread; Django's ORM refuses to run in
  a thread with a running loop unless told it is safe, which it is here (one thread, no
  concurrency with the loop).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("MEDTRACE_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DEMO_PASSWORD = "medtrace-demo"


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """Mark the browser tests ``django_db`` so that pytest-django sets up the *test* database
    even when only these tests run (it sets up only the aliases its collected tests ask for:
    without this, ``live`` would load the demo into, and flush, the development database)."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.django_db)


@pytest.fixture
def _django_db_helper(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """For the browser tests, the ``django_db`` mark only asks for the test database and opens
    it to the test: no transaction around each test (the live server thread must see the
    module's demo, which ``live`` commits and empties itself)."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `bash scripts/browser-ensure.sh` (Debian's chromium "
            "and fonts-noto-cjk), or set MEDTRACE_CHROMIUM"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def live(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """The demo world, committed, served by a live server thread; yields its base URL.

    Not pytest-django's ``live_server``: that one empties the database after every test, and
    the demo takes a while to load. The database stays open to the module's tests (and to the
    server thread) until the module ends, then it is emptied for the tests that follow."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.management import call_command
    from django.test.testcases import LiveServerThread

    from medtrace.masterdata.demo.load import load_demo

    with django_db_blocker.unblock():
        load_demo(log=lambda _line: None)
        server = LiveServerThread("localhost", StaticFilesHandler, port=0)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        try:
            yield f"http://localhost:{server.port}"
        finally:
            server.terminate()
            call_command("flush", "--noinput", verbosity=0)


@pytest.fixture
def sign_in(browser: Any, live: str) -> Any:
    """``sign_in(username, language="zh-hans")`` -> a page signed in as that demo user."""
    contexts: list[Any] = []

    def open_as(
        username: str, *, language: str = "zh-hans", viewport: dict[str, int] | None = None
    ) -> Any:
        context = browser.new_context(
            base_url=live,
            locale="zh-CN" if language == "zh-hans" else "en-US",
            viewport=viewport or {"width": 1366, "height": 900},
        )
        contexts.append(context)
        context.add_cookies([{"name": "django_language", "value": language, "url": live}])
        page = context.new_page()
        page.goto("/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "/accounts/login/" not in page.url, (
            f"{username} could not sign in: " + page.locator("body").inner_text()[:500]
        )
        return page

    yield open_as
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot to docs/screenshots/<name>.png (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
