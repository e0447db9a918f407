"""A citizen applies online in Debian's Chromium, with and without JavaScript.

One journey per run: sign in with a code received by SMS, start the Malian birth-certificate
request for a child (so the conditional page "demandeur" appears), attach two files, lose
the connection halfway and give up, come back in a new browser session, resume where the
form stopped, check the summary, submit twice, and get exactly one dossier and its receipt.

Outside CI a machine without /usr/bin/chromium skips these tests; in CI (CI=true) a missing
browser fails them, so the suite cannot go green by not running.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from guichet.dossiers.models import Dossier, DossierStatus
from guichet.dossiers.tests.samples import PDF_BYTES, PNG_BYTES
from guichet.governance.models import AuditEntry
from guichet.notifications.models import OutboxSms

PROCEDURE = "ml-extrait-acte-naissance"
PHONE_TYPED = "70 12 34 56"
PHONE_E164 = "+22370123456"
VIEWPORT = {"width": 360, "height": 800}
TIMEOUT_MS = 5_000
SMS_CODE = re.compile(r"\b(\d{6})\b")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class Journey:
    """One person's browser sessions; every URL any of them asked for is kept."""

    def __init__(self, browser: Any, site: str, *, javascript: bool) -> None:
        self.browser = browser
        self.site = site
        self.javascript = javascript
        self.requested: list[str] = []

    def new_page(self) -> Any:
        context = self.browser.new_context(
            java_script_enabled=self.javascript, viewport=VIEWPORT, accept_downloads=True
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.on("request", lambda request: self.requested.append(request.url))
        return context.new_page()

    def leaving(self) -> list[str]:
        local = ("data", "blob", "about", "chrome-error", "file")
        return [
            u
            for u in self.requested
            if urlsplit(u).scheme not in local and urlsplit(u).hostname != "127.0.0.1"
        ]


def _latest_code() -> str:
    sms = OutboxSms.objects.filter(to=PHONE_E164).order_by("-created_at", "-id").first()
    assert sms is not None, "no SMS in the outbox"
    found = SMS_CODE.search(sms.text)
    assert found, sms.text
    return found.group(1)


def _sign_in(page: Any, site: str) -> None:
    from playwright.sync_api import expect

    sent_before = OutboxSms.objects.filter(to=PHONE_E164).count()
    page.goto(f"{site}/connexion/")
    page.get_by_label("Pays").select_option(label="Mali (+223)")
    page.get_by_label("Numéro de mobile").fill(PHONE_TYPED)
    page.get_by_role("button", name="Recevoir un code par SMS").click()
    expect(page).to_have_url(f"{site}/connexion/code/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Saisissez le code reçu par SMS")
    assert OutboxSms.objects.filter(to=PHONE_E164).count() == sent_before + 1
    page.get_by_label("Code à 6 chiffres").fill(_latest_code())
    page.get_by_role("button", name="Valider").click()
    expect(page).to_have_url(f"{site}/mes-demarches/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes démarches")


def _continue(page: Any) -> None:
    page.get_by_role("button", name="Enregistrer et continuer").click()


def _upload(page: Any, name: str, mime: str, content: bytes) -> None:
    from playwright.sync_api import expect

    page.get_by_label("Choisir un fichier").set_input_files(
        {"name": name, "mimeType": mime, "buffer": content}
    )
    page.get_by_role("button", name="Envoyer ce fichier").click()
    expect(page.locator("#volet_2").get_by_role("link", name=name)).to_be_visible()


def _apply(journey: Journey) -> str:
    """From the sign-in page to a lost connection on the contact page; returns the reference."""
    from playwright.sync_api import expect

    site = journey.site
    page = journey.new_page()
    _sign_in(page, site)

    page.goto(f"{site}/demarches/{PROCEDURE}/")
    page.get_by_role("link", name="Faire la démarche en ligne").click()
    expect(page).to_have_url(f"{site}/demarches/{PROCEDURE}/en-ligne/")
    page.get_by_role("button", name="Commencer").click()
    expect(page).to_have_url(re.compile(r"/mes-demarches/ML-[0-9A-Z-]+/pages/demande/$"))
    reference = Dossier.objects.get().reference
    pages = f"{site}/mes-demarches/{reference}/pages"

    page.get_by_label("L'extrait d'acte de naissance (volet III)").check()
    page.get_by_label("Pour mon enfant").check()
    _continue(page)

    expect(page).to_have_url(f"{pages}/personne/")
    page.get_by_label("Nom :", exact=True).fill("Traoré")
    page.get_by_label("Prénoms :", exact=True).fill("Awa")
    page.get_by_label("Jour").fill("12")
    page.get_by_label("Mois").fill("03")
    page.get_by_label("Année").fill("2019")
    page.get_by_label("Région de naissance").select_option("bamako")
    page.get_by_label("Commune", exact=True).select_option("bamako-commune-3")
    _continue(page)

    # "Pour mon enfant": the page about the person applying is asked, as step 3 of 5.
    expect(page).to_have_url(f"{pages}/demandeur/")
    expect(page.get_by_text("étape 3 sur 5")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vous, qui faites la demande")
    page.get_by_label("Votre nom").fill("Traoré")
    page.get_by_label("Vos prénoms").fill("Moussa")
    page.get_by_label("Le père").check()
    _continue(page)

    expect(page).to_have_url(f"{pages}/pieces/")
    _upload(page, "volet.png", "image/png", PNG_BYTES)
    _upload(page, "volet-verso.pdf", "application/pdf", PDF_BYTES)
    # Two files is the most this field takes: the upload form is gone.
    expect(page.get_by_label("Choisir un fichier")).to_have_count(0)
    page.get_by_role("button", name="Continuer").click()

    expect(page).to_have_url(f"{pages}/contact/")
    page.get_by_label("Numéro de téléphone").fill("70 12 34 56")
    # The network drops: the page typed is not sent, and the browser says so.
    page.context.set_offline(True)
    with page.expect_event("requestfailed") as failed:
        _continue(page)
    assert "INTERNET_DISCONNECTED" in (failed.value.failure or ""), failed.value.failure
    assert failed.value.url == f"{pages}/contact/"
    draft = Dossier.objects.get()
    assert draft.current_page == "contact"
    assert "telephone" not in draft.answers
    # The person gives up: the whole browser session is gone, cookies included.
    page.context.close()
    return reference


def _is_submission(response: Any) -> bool:
    return bool(response.request.method == "POST" and response.url.endswith("/deposer/"))


def _resume_and_submit(journey: Journey, reference: str) -> None:
    from playwright.sync_api import expect

    site = journey.site
    pages = f"{site}/mes-demarches/{reference}/pages"
    page = journey.new_page()
    _sign_in(page, site)  # a new code (the first one was used); lands on "Mes démarches"
    expect(page.get_by_role("heading", name="Brouillons")).to_be_visible()
    page.get_by_role("link", name="Reprendre").click()
    expect(page).to_have_url(f"{pages}/contact/")
    expect(page.get_by_label("Numéro de téléphone")).to_have_value("")

    # The answers given before the loss are kept: one step back shows the files.
    page.get_by_role("link", name="Revenir à l'étape précédente").click()
    expect(page).to_have_url(f"{pages}/pieces/")
    files = page.locator("#volet_2")
    expect(files.get_by_role("link", name="volet.png")).to_be_visible()
    expect(files.get_by_role("link", name="volet-verso.pdf")).to_be_visible()
    page.get_by_role("button", name="Continuer").click()
    expect(page).to_have_url(f"{pages}/contact/")
    page.get_by_label("Numéro de téléphone").fill("70 12 34 56")
    _continue(page)

    summary_url = f"{site}/mes-demarches/{reference}/recapitulatif/"
    expect(page).to_have_url(summary_url)
    main = page.locator("main")
    for shown in ["Awa", "Traoré", "12/03/2019", "Moussa", "Le père", "volet.png, volet-verso.pdf"]:
        expect(main).to_contain_text(shown)
    token = page.locator("input[name=token]").input_value()
    csrf = page.locator("form[action$='/deposer/'] input[name=csrfmiddlewaretoken]").input_value()

    detail_url = f"{site}/mes-demarches/{reference}/"
    detail_path = f"/mes-demarches/{reference}/"
    if journey.javascript:
        # A second tap from the same summary left open in another tab (one page alone cancels
        # its first submission before sending the second, so it would not reach the server).
        # The second is sent as soon as the first is answered, not during it: the live
        # server's threads share one in-memory SQLite connection, so truly simultaneous
        # requests would test that arrangement rather than the application.
        twin = page.context.new_page()
        twin.goto(summary_url)
        for tab in (page, twin):
            with tab.expect_response(_is_submission) as answer:
                tab.get_by_role("button", name="Déposer mon dossier").click(no_wait_after=True)
            assert answer.value.status == 302
            assert answer.value.headers["location"] == detail_path
        expect(twin).to_have_url(detail_url)
        twin.close()
    else:
        page.get_by_role("button", name="Déposer mon dossier").click()
    expect(page).to_have_url(detail_url)

    # A retry of the same form (back, then send again) changes nothing and lands here too.
    page.go_back()
    expect(page).to_have_url(detail_url)  # the summary of a submitted dossier is gone
    again = page.request.post(
        f"{site}/mes-demarches/{reference}/deposer/",
        form={"csrfmiddlewaretoken": csrf, "token": token},
        max_redirects=0,
    )
    assert again.status == 302, again.text()[:500]
    assert again.headers["location"] == detail_path

    dossier = Dossier.objects.get()
    assert dossier.reference == reference
    assert dossier.status == DossierStatus.SUBMITTED
    assert dossier.answers["prenoms"] == "Awa"
    assert dossier.answers["lien_enfant"] == "pere"
    assert len(dossier.answers["volet_2"]) == 2
    assert AuditEntry.objects.filter(action="dossier.submitted").count() == 1

    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre dossier est déposé")
    expect(page.locator(".reference")).to_have_text(reference)
    expect(page.locator("main .notice")).to_have_count(0)  # a retry is not an error
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger l'accusé de réception (PDF)").click()
    download = download_info.value
    assert download.suggested_filename == f"recepisse-{reference}.pdf"
    with open(download.path(), "rb") as pdf:
        assert pdf.read(4) == b"%PDF"
    page.context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_citizen_applies_survives_a_lost_connection_and_submits_once(browser, site, javascript):
    journey = Journey(browser, site, javascript=javascript)
    reference = _apply(journey)
    _resume_and_submit(journey, reference)
    assert Dossier.objects.count() == 1
    assert len(journey.requested) >= 20, journey.requested
    assert journey.leaving() == []
