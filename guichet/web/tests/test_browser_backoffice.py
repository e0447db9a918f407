"""A dossier goes from the citizen to the right office and back, in Debian's Chromium.

One journey per run, with and without JavaScript: a citizen signs in by SMS code and asks
for a birth-certificate extract for a child born in Bamako Commune III; the dossier is
routed to that commune's civil-status centre. Three agents sign in through the real staff
page with their authenticator code: only the Commune III agent sees the dossier (the
Commune IV centre and the court get neither a queue row nor the page). That agent starts
the review and asks for another file; the citizen adds it and sends the dossier back; the
agent accepts. The citizen's page tells each step, the SMS outbox holds one plain message
per notified step (the reference, never the child's name), and no browser ever asked
anything of another host.

Outside CI a machine without /usr/bin/chromium skips these tests; in CI (CI=true) a missing
browser fails them, so the suite cannot go green by not running.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django_otp.oath import totp

from conftest import SERVICE_1, make_staff
from guichet.accounts.totp import create_demo_totp_device
from guichet.dossiers import notices
from guichet.dossiers.models import Dossier, DossierStatus
from guichet.dossiers.tests.samples import PDF_BYTES, PNG_BYTES
from guichet.notifications.models import Notification, OutboxSms
from guichet.web.tests.staff import TEST_TOTP_KEY
from guichet.web.tests.test_browser_apply import (
    PHONE_E164,
    PROCEDURE,
    SMS_CODE,
    Journey,
    _continue,
    _sign_in,
    _upload,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OTHER_CENTRE = "ml-ec-bamako-c4"
COURT = "ml-tgi-bamako"
STAFF_PASSWORD = "cheval-correct-agrafe-42"
VOLET_2 = "Volet n°2 de la déclaration de naissance"
REASON = "Le volet n°2 envoyé est illisible : envoyez une photo plus nette."
CHILD = ("Awa", "Traoré")
TOTP_STEP = 30


def _agent(username: str, service_id: str) -> tuple[str, Any]:
    """An agent of `service_id` with a password and a confirmed authenticator app."""
    user = make_staff(username, ("agent", service_id))
    user.set_password(STAFF_PASSWORD)
    user.save()
    return username, create_demo_totp_device(user, TEST_TOTP_KEY)


def _current_code(device: Any) -> str:
    """The code the agent's app shows now, never one about to expire."""
    left = TOTP_STEP - time.time() % TOTP_STEP
    if left < 3:
        time.sleep(left + 0.2)
    return f"{totp(device.bin_key):06d}"


def _staff_sign_in(journey: Journey, username: str, device: Any) -> Any:
    from playwright.sync_api import expect

    page = journey.new_page()
    page.goto(f"{journey.site}/instruction/connexion/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Connexion des agents")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
    page.get_by_label("Code à 6 chiffres").fill(_current_code(device))
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(f"{journey.site}/instruction/")
    return page


def _state(page: Any) -> Any:
    return page.locator('dl.facts dt:text-is("État") + dd')


def _citizen_submits(journey: Journey) -> tuple[Any, str]:
    """Sign in, fill the form for a child born in Bamako Commune III, attach the required
    file only, submit; returns the citizen's page (on the dossier) and the reference."""
    from playwright.sync_api import expect

    site = journey.site
    page = journey.new_page()
    _sign_in(page, site)
    page.goto(f"{site}/demarches/{PROCEDURE}/")
    page.get_by_role("link", name="Faire la démarche en ligne").click()
    page.get_by_role("button", name="Commencer").click()
    expect(page).to_have_url(re.compile(r"/mes-demarches/ML-[0-9A-Z-]+/pages/demande/$"))
    reference = Dossier.objects.get().reference

    page.get_by_label("L'extrait d'acte de naissance (volet III)").check()
    page.get_by_label("Pour mon enfant").check()
    _continue(page)
    page.get_by_label("Nom :", exact=True).fill(CHILD[1])
    page.get_by_label("Prénoms :", exact=True).fill(CHILD[0])
    page.get_by_label("Jour").fill("12")
    page.get_by_label("Mois").fill("03")
    page.get_by_label("Année").fill("2019")
    page.get_by_label("Région de naissance").select_option(label="District de Bamako")
    page.get_by_label("Commune", exact=True).select_option(label="Bamako – Commune III")
    _continue(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Vous, qui faites la demande")
    page.get_by_label("Votre nom").fill(CHILD[1])
    page.get_by_label("Vos prénoms").fill("Moussa")
    page.get_by_label("Le père").check()
    _continue(page)
    expect(page).to_have_url(f"{site}/mes-demarches/{reference}/pages/pieces/")
    _upload(page, "volet.png", "image/png", PNG_BYTES)  # the optional fields stay empty
    page.get_by_role("button", name="Continuer").click()
    page.get_by_label("Numéro de téléphone").fill("70 12 34 56")
    _continue(page)
    expect(page).to_have_url(f"{site}/mes-demarches/{reference}/recapitulatif/")
    page.get_by_role("button", name="Déposer mon dossier").click()

    expect(page).to_have_url(f"{site}/mes-demarches/{reference}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre dossier est déposé")
    dossier = Dossier.objects.get()
    assert dossier.status == DossierStatus.SUBMITTED
    assert dossier.service_id == SERVICE_1
    return page, reference


def _cannot_see(journey: Journey, username: str, device: Any, service_id: str, ref: str) -> None:
    """An agent of another office: the dossier is neither in their queue nor reachable."""
    from playwright.sync_api import expect

    site = journey.site
    page = _staff_sign_in(journey, username, device)
    queue = page.goto(f"{site}/instruction/services/{service_id}/")
    assert queue is not None and queue.status == 200
    page.get_by_label("État").select_option(label="Tous")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_text("Aucun dossier ne correspond.")).to_be_visible()
    expect(page.get_by_role("link", name=ref)).to_have_count(0)
    for url in (f"/instruction/dossiers/{ref}/", f"/instruction/services/{SERVICE_1}/"):
        answer = page.goto(f"{site}{url}")
        assert answer is not None and answer.status == 404, url
    page.context.close()


def _agent_asks_for_a_file(page: Any, site: str, reference: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site}/instruction/services/{SERVICE_1}/")
    page.get_by_role("link", name=reference).click()
    expect(page).to_have_url(f"{site}/instruction/dossiers/{reference}/")
    expect(_state(page)).to_have_text("Déposé")
    page.get_by_role("button", name="Commencer l'instruction").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Dossier passé à l'état « En cours d'instruction »."
    )
    expect(_state(page)).to_have_text("En cours d'instruction")

    page.get_by_text("Demander un complément au demandeur").click()  # opens the <details>
    page.get_by_label(VOLET_2, exact=True).check()
    page.get_by_label("Votre demande (le demandeur la lira)").fill(REASON)
    page.get_by_role("button", name="Envoyer la demande").click()
    expect(page).to_have_url(f"{site}/instruction/dossiers/{reference}/")
    expect(page.get_by_role("status")).to_contain_text("Demande de complément envoyée.")
    expect(_state(page)).to_have_text("Complément demandé")


def _citizen_completes(page: Any, site: str, reference: str, extra_file: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site}/mes-demarches/")
    page.get_by_role("link", name="Extrait d'acte de naissance (volet III) et copies").click()
    expect(page).to_have_url(f"{site}/mes-demarches/{reference}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "L'administration demande un complément"
    )
    request = page.locator("#complement")
    expect(request).to_contain_text(REASON)
    request.get_by_role("link", name=VOLET_2).click()
    expect(page).to_have_url(f"{site}/mes-demarches/{reference}/pages/pieces/")
    page.get_by_label("Choisir un fichier").set_input_files(extra_file)
    page.get_by_role("button", name="Envoyer ce fichier").click()
    files = page.locator("#volet_2")
    expect(files.get_by_role("link", name=extra_file.name)).to_be_visible()
    expect(files.get_by_role("link", name="volet.png")).to_be_visible()
    page.get_by_role("button", name="Continuer").click()

    expect(page).to_have_url(f"{site}/mes-demarches/{reference}/#complement")
    page.get_by_role("button", name="Renvoyer mon dossier").click()
    expect(page).to_have_url(f"{site}/mes-demarches/{reference}/")
    expect(page.get_by_role("status")).to_contain_text(
        "Votre dossier complété est renvoyé à l'administration."
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre dossier est déposé")
    expect(_state(page)).to_have_text("En cours d'instruction")
    dossier = Dossier.objects.get()
    assert dossier.status == DossierStatus.IN_REVIEW
    assert len(dossier.answers["volet_2"]) == 2


def _agent_accepts(page: Any, extra_name: str) -> None:
    from playwright.sync_api import expect

    page.reload()
    expect(_state(page)).to_have_text("En cours d'instruction")
    expect(page.get_by_role("link", name=extra_name)).to_be_visible()  # the file added
    page.get_by_role("button", name="Accepter").click()
    expect(page.get_by_role("status")).to_contain_text("Dossier passé à l'état « Accepté ».")
    expect(_state(page)).to_have_text("Accepté")


def _citizen_sees_the_decision(page: Any) -> None:
    from playwright.sync_api import expect

    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre demande est acceptée")
    steps = page.locator("ol.timeline > li")
    expected = ["Déposé", "En cours d'instruction", "Complément demandé"]
    expected += ["En cours d'instruction", "Accepté"]
    expect(steps.locator("strong")).to_have_text(expected)
    expect(steps.nth(2)).to_contain_text(REASON)


def _check_messages(reference: str) -> None:
    events = ["dossier.submitted", "dossier.info_requested", "dossier.accepted_document"]
    sent = [s.text for s in OutboxSms.objects.filter(to=PHONE_E164).order_by("created_at", "id")]
    about = [text for text in sent if reference in text]
    codes = [text for text in sent if reference not in text]
    assert about == [notices.text(event, reference) for event in events]
    assert len(codes) == 1 and SMS_CODE.search(codes[0]), codes  # the one sign-in
    for text in about:
        assert not any(name in text for name in CHILD), text
    notified = Notification.objects.filter(object_ref=reference).order_by("created_at", "pk")
    assert list(notified.values_list("event", "status")) == [(e, "sent") for e in events]


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_a_dossier_reaches_its_office_only_is_completed_and_accepted(
    browser, site, javascript, tmp_path
):
    journey = Journey(browser, site, javascript=javascript)
    c3 = _agent("agent.c3", SERVICE_1)
    c4 = _agent("agent.c4", OTHER_CENTRE)
    court = _agent("agent.tgi", COURT)

    citizen, reference = _citizen_submits(journey)
    _cannot_see(journey, *c4, OTHER_CENTRE, reference)
    _cannot_see(journey, *court, COURT, reference)

    agent = _staff_sign_in(journey, *c3)
    _agent_asks_for_a_file(agent, site, reference)
    extra_file = tmp_path / "volet-net.pdf"
    extra_file.write_bytes(PDF_BYTES)
    _citizen_completes(citizen, site, reference, extra_file)
    _agent_accepts(agent, extra_file.name)
    _citizen_sees_the_decision(citizen)

    _check_messages(reference)
    assert Dossier.objects.get().status == DossierStatus.ACCEPTED
    assert journey.leaving() == []
