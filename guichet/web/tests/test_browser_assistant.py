"""A citizen asks the assistant from the home page, reads the answer with its source, rates
it and starts the procedure online, in Debian's Chromium, with and without JavaScript."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from guichet.assistant.models import Exchange

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 800}


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_question_from_the_home_page_leads_to_the_sheet_and_the_online_procedure(
    browser, site, javascript
):
    from playwright.sync_api import expect

    context = browser.new_context(java_script_enabled=javascript, viewport=PHONE)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    try:
        page = context.new_page()
        page.goto(f"{site}/")
        box = page.get_by_label("Une question ? Posez-la comme vous la diriez :")
        box.fill("kel papie pr l extrait de naissance a bamako svp")
        box.press("Enter")
        expect(page).to_have_url(re.compile(r"/question/\?q=kel"))
        expect(
            page.get_by_role("heading", level=2, name=re.compile("fiche officielle"))
        ).to_contain_text("Extrait d'acte de naissance")
        expect(page.get_by_text("Pièces à fournir", exact=True)).to_be_visible()

        page.get_by_role("button", name="Oui").click()
        expect(page.get_by_role("status")).to_contain_text("Merci, votre avis est enregistré.")
        assert Exchange.objects.get().helpful is True

        page.go_back()
        page.get_by_role("link", name="Source : fiche officielle").first.click()
        expect(page).to_have_url(f"{site}/demarches/ml-extrait-acte-naissance/#pieces")
        page.go_back()
        page.get_by_role("link", name="Faire la démarche en ligne").click()
        # Starting a procedure asks to sign in first, then comes back to it.
        expect(page).to_have_url(
            re.compile(r"/connexion/\?next=/demarches/ml-extrait-acte-naissance/en-ligne/")
        )
    finally:
        context.close()
    leaving = [
        u for u in requested if urlsplit(u).scheme != "data" and urlsplit(u).hostname != "127.0.0.1"
    ]
    assert leaving == []
