"""Browser tests' fixtures: Debian's Chromium through Playwright, and the live server.

Outside CI a machine without /usr/bin/chromium skips the browser tests; in CI (CI=true) a
missing browser fails them, so the suite cannot go green by not running.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from guichet.web.tests.pages import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def browser(monkeypatch) -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium (never `playwright install`)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must run the browser tests.")
        pytest.skip(message)
    # Playwright's sync API keeps an event loop in this thread; Django would then refuse
    # the ORM calls the test and its fixtures make. Nothing here is really concurrent.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def site(live_server, demo_catalog) -> str:
    """The live server's address on 127.0.0.1, with the demo catalog committed for its thread."""
    parts = urlsplit(live_server.url)
    assert parts.hostname in ("localhost", "127.0.0.1")
    return f"http://127.0.0.1:{parts.port}"
