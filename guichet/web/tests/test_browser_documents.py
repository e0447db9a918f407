"""An accepted dossier's document, from the agent's click to a stranger's check, in Chromium.

The agent accepts in the back office; the citizen downloads the PDF from "Mes démarches";
the test renders the PDF's page to an image (as a scan or a photo would give it), reads
the QR code in it with a barcode reader, opens the address it holds — the public
verification page says "Authentique" — and then checks the same code with the standalone
verifier page, opened from disk with no server, and the PDF on /verifier/. No request
leaves 127.0.0.1.

Outside CI a machine without /usr/bin/chromium skips these tests; in CI (CI=true) a missing
browser fails them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import SERVICE_1
from guichet.documents.models import IssuedDocument
from guichet.dossiers.models import DossierStatus
from guichet.web.tests.test_browser_apply import Journey, _sign_in
from guichet.web.tests.test_browser_backoffice import _agent, _staff_sign_in, _state

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCAN_DPI = 150
"""A modest office scanner, or a phone photo of the paper."""


def _read_qr(pdf: bytes) -> str:
    import pypdfium2
    import zxingcpp

    page = pypdfium2.PdfDocument(pdf)[0]
    image = page.render(scale=SCAN_DPI / 72).to_pil()
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, "exactly one QR code on the document"
    text: str = found[0].text
    return text


def _agent_accepts(journey: Journey, reference: str) -> None:
    from playwright.sync_api import expect

    page = _staff_sign_in(journey, *_agent("agent.c3", SERVICE_1))
    page.goto(f"{journey.site}/instruction/dossiers/{reference}/")
    page.get_by_role("button", name="Commencer l'instruction").click()
    expect(_state(page)).to_have_text("En cours d'instruction")
    page.get_by_role("button", name="Accepter").click()
    expect(_state(page)).to_have_text("Accepté")
    expect(page.get_by_role("link", name=f"n° {reference}-1")).to_be_visible()


def _citizen_downloads(journey: Journey, reference: str, tmp_path: Path) -> bytes:
    from playwright.sync_api import expect

    page = journey.new_page()
    _sign_in(page, journey.site)
    page.goto(f"{journey.site}/mes-demarches/{reference}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre demande est acceptée")
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger : Extrait d'acte de naissance").click()
    target = tmp_path / download.value.suggested_filename
    download.value.save_as(target)
    assert target.name == f"{reference}-1.pdf"
    data: bytes = target.read_bytes()
    return data


def _verify_online(journey: Journey, qr_text: str, pdf_path: Path) -> None:
    from playwright.sync_api import expect

    page = journey.new_page()  # a stranger: no account
    page.goto(qr_text)  # what a phone does with the scanned code
    verdict = page.get_by_role("status")
    expect(verdict.get_by_role("heading")).to_have_text("Authentique")
    expect(verdict).to_contain_text("Awa Traoré")
    expect(verdict).to_contain_text("12/03/2019")
    page.goto(f"{journey.site}/verifier/")
    page.get_by_label("Ou le fichier PDF du document").set_input_files(pdf_path)
    page.get_by_role("button", name="Vérifier").click()
    expect(page.get_by_role("status").get_by_role("heading")).to_have_text("Authentique")
    page.context.close()


def _verify_offline(journey: Journey, code: str, tmp_path: Path) -> None:
    """The standalone page, saved once, then opened from disk: no server involved."""
    from playwright.sync_api import expect

    page = journey.new_page()
    with page.expect_download() as download:
        page.goto(f"{journey.site}/verifier/")
        page.get_by_role("link", name="Le vérificateur hors ligne").click()
    saved = tmp_path / "verifier.html"
    download.value.save_as(saved)
    page.context.close()
    offline = journey.new_page()
    offline.goto(saved.as_uri())
    offline.get_by_label("Code du document, ou adresse lue dans le QR").fill(code)
    offline.get_by_role("button", name="Vérifier").click()
    expect(offline.locator("#out h2")).to_have_text("Authentique")
    expect(offline.locator("#out")).to_contain_text("Awa Traoré")
    at = len(code) - 10  # inside the signature: the text still reads
    altered = code[:at] + ("A" if code[at] != "A" else "B") + code[at + 1 :]
    offline.get_by_label("Code du document, ou adresse lue dans le QR").fill(altered)
    offline.get_by_role("button", name="Vérifier").click()
    expect(offline.locator("#out h2")).to_have_text("Modifié ou falsifié")
    offline.context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_accepted_downloaded_scanned_and_verified(
    browser: Any, site: str, javascript: bool, submitted_dossier: Any, settings: Any, tmp_path: Path
) -> None:
    settings.GUICHET_PUBLIC_URL = site  # the QR points at this test's server
    dossier, _ = submitted_dossier
    journey = Journey(browser, site, javascript=javascript)

    _agent_accepts(journey, dossier.reference)
    pdf = _citizen_downloads(journey, dossier.reference, tmp_path)
    document = IssuedDocument.objects.get(dossier=dossier)
    with document.file.open("rb") as stored:
        assert pdf == stored.read()

    qr_text = _read_qr(pdf)
    assert qr_text == f"{site.upper()}/V/{document.code}"
    pdf_path = tmp_path / "document.pdf"
    pdf_path.write_bytes(pdf)
    _verify_online(journey, qr_text, pdf_path)
    if javascript:  # the standalone page verifies with the browser's WebCrypto
        _verify_offline(journey, document.code, tmp_path)

    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.ACCEPTED
    assert journey.leaving() == []
