"""Browser tests of the web console: Debian's Chromium, headless, driven by Playwright.

Playwright cannot download its own browser here, so it drives the system
``chromium`` (CI installs it, see ``.ci/run``); where that is absent these tests
skip, saying so. One browser per test module, a fresh context (profile state,
session storage, downloads) per test; the filegate server is the real one,
started by ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Request, sync_playwright

from tests.conftest import ServerProcess

CHROMIUM = (
    os.environ.get("FILEGATE_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    with sync_playwright() as pw:
        # launch() gives every browser a new, empty user-data directory of its own.
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@dataclass
class Console:
    """A page on the console, with what the page asked of the network and said."""

    page: Page
    server: ServerProcess
    requests: list[Request] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.server.base_url}/ui/"

    def open(self, fragment: str = "") -> None:
        self.page.goto(self.url + fragment)

    def sign_in(self, key: str | None = None) -> None:
        self.open()
        self.page.get_by_test_id("key-input").fill(key or self.server.master_key or "")
        self.page.get_by_test_id("sign-in").click()
        self.page.get_by_test_id("sign-out").wait_for()

    def go(self, fragment: str) -> None:
        """Follow an in-page link (the key stays in this tab's session storage)."""
        self.page.evaluate("f => { location.hash = f }", fragment)

    def error_text(self) -> str:
        banner = self.page.get_by_test_id("error-message")
        banner.wait_for()
        return banner.inner_text()

    def api_requests(self, path_part: str) -> list[Request]:
        return [r for r in self.requests if path_part in r.url and "/ui/" not in r.url]


@pytest.fixture
def console(browser: Browser, server: ServerProcess, request: Any) -> Iterator[Console]:
    # A test may ask for other context options (a phone's viewport, no service workers).
    options = {"viewport": {"width": 1200, "height": 850}, **getattr(request, "param", {})}
    context = browser.new_context(accept_downloads=True, **options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    con = Console(page, server)
    page.on("request", lambda r: con.requests.append(r))
    page.on("pageerror", lambda exc: con.errors.append(str(exc)))

    def on_dialog(dialog: Any) -> None:
        con.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield con
    context.close()
    # A script error anywhere in a test is a failure of that test.
    assert not con.errors, con.errors
