"""A citizen's journey through the public pages, in Debian's Chromium driven by Playwright.

Outside CI a machine without /usr/bin/chromium skips these tests; in CI (CI=true) a missing
browser fails them, so the suite cannot go green by not running.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from guichet.catalog.models import Procedure

PHONE = {"width": 360, "height": 800}
SCREENSHOT = Path(tempfile.gettempdir()) / "guichet-procedure.png"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _english_title(procedure_id: str) -> str:
    return str(Procedure.objects.get(pk=procedure_id).definition["title"]["en"])


def _search_mali_passport_and_read_it_in_english(
    browser, site: str, *, javascript: bool, screenshot: Path | None = None
) -> list[str]:
    """The journey of a Malian looking for the passport; returns every URL the browser asked for."""
    from playwright.sync_api import expect

    english_title = _english_title("ml-passeport")
    context = browser.new_context(java_script_enabled=javascript, viewport=PHONE)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    try:
        page = context.new_page()
        page.goto(f"{site}/")
        page.get_by_role("link", name=re.compile(r"^Mali \(\d+\)$")).click()
        expect(page).to_have_url(f"{site}/demarches/?pays=ML")

        search_box = page.get_by_label("Quelle démarche cherchez-vous ?")
        search_box.fill("passepor")
        search_box.press("Enter")
        expect(page).to_have_url(re.compile(r"/demarches/\?.*q=passepor"))
        first = page.locator("ul.results > li").first.get_by_role("link")
        expect(first).to_have_attribute("href", "/demarches/ml-passeport/")

        first.click()
        expect(page).to_have_url(f"{site}/demarches/ml-passeport/")
        expect(page.get_by_role("heading", name="Pièces à fournir")).to_be_visible()
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)

        page.get_by_role("navigation", name="Langue").get_by_role("link", name="English").click()
        expect(page).to_have_url(f"{site}/en/demarches/ml-passeport/")
        expect(page.get_by_role("heading", level=1)).to_have_text(english_title)
        expect(page.locator("html")).to_have_attribute("lang", "en")
    finally:
        context.close()
    return requested


def _leaving(urls: list[str]) -> list[str]:
    return [u for u in urls if urlsplit(u).scheme != "data" and urlsplit(u).hostname != "127.0.0.1"]


def test_citizen_finds_the_malian_passport_and_reads_it_in_english(browser, site):
    requested = _search_mali_passport_and_read_it_in_english(
        browser, site, javascript=True, screenshot=SCREENSHOT
    )
    assert len(requested) >= 5, requested  # four pages and one search were really fetched
    assert _leaving(requested) == []


def test_the_same_journey_works_without_javascript(browser, site):
    requested = _search_mali_passport_and_read_it_in_english(browser, site, javascript=False)
    assert len(requested) >= 5, requested
    assert _leaving(requested) == []


def test_first_tab_from_the_top_of_home_focuses_the_skip_link(browser, site):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(f"{site}/")
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Aller au contenu")
        expect(skip).to_be_focused()
        expect(skip).to_be_visible()  # a skip link hidden while focused helps nobody
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{site}/#contenu")
    finally:
        context.close()
