"""The USSD menu as a caller lives it: whole sessions replayed over HTTP, one POST per key
press with the path so far, as the aggregator sends them. Every screen is checked as a
handset shows it: `CON`/`END`, at most 182 GSM-7 characters."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from guichet.catalog.models import Procedure
from guichet.catalog.queries import published_procedures
from guichet.dossiers.models import Dossier, DossierStatus
from guichet.dossiers.references import new_reference
from guichet.notifications import gsm7, ussd
from guichet.notifications.models import Notification
from guichet.workflow import services as workflow

URL = "/passerelle/ussd/"
CITIZEN_PHONE = "+22370123456"
STRANGER_PHONE = "+22376123456"
_session_ids = itertools.count(1)


def assert_fits_a_handset(screen: str) -> None:
    assert screen.startswith(("CON ", "END ")), screen
    assert len(screen) <= ussd.MAX_SCREEN_CHARS, (len(screen), screen)
    septets = gsm7.septets(screen)
    assert septets is not None, gsm7.non_gsm7_characters(screen)
    assert septets <= ussd.MAX_SCREEN_CHARS, (septets, screen)


class Phone:
    """A handset dialling the service code through the aggregator."""

    def __init__(self, client: Client, number: str = CITIZEN_PHONE, *, url: str = URL) -> None:
        self.client, self.number, self.url = client, number, url
        self.session_id = ""
        self.path: list[str] = []
        self.screen = ""

    def dial(self) -> str:
        """A fresh session (also what the next dial after a dropped session is)."""
        self.session_id = f"ATUid_{next(_session_ids)}"
        self.path = []
        return self._post()

    def press(self, *keys: str) -> str:
        """Each key is one answer, one request; the last screen is returned."""
        for key in keys:
            assert self.screen.startswith("CON "), f"session is over: {self.screen!r}"
            self.path.append(key)
            self._post()
        return self.screen

    def number_of(self, label: str) -> str:
        """The key of the choice starting with `label`, paging on with 9 until it shows."""
        while True:
            for key, text in choices(self.screen):
                if text.startswith(label):
                    return key
            assert "\n9 Suite" in self.screen, f"{label!r} not offered: {self.screen!r}"
            self.press("9")

    def choose(self, *labels: str) -> str:
        for label in labels:
            self.press(self.number_of(label))
        return self.screen

    def _post(self) -> str:
        response = self.client.post(
            self.url,
            {
                "sessionId": self.session_id,
                "serviceCode": "*384*123#",
                "phoneNumber": self.number,
                "networkCode": "61001",
                "text": "*".join(self.path),
            },
        )
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        self.screen = response.content.decode()
        assert_fits_a_handset(self.screen)
        return self.screen


def choices(screen: str) -> list[tuple[str, str]]:
    return re.findall(r"^([1-9]) (.+)$", screen, flags=re.MULTILINE)


def with_error(screen: str, error: str = ussd.INVALID_CHOICE) -> str:
    return f"CON {error}\n{screen.removeprefix('CON ')}"


def compact(reference: str) -> str:
    return reference.replace("-", "").lower()


@pytest.fixture
def phone(client):
    return Phone(client)


@pytest.fixture
def stranger(client):
    return Phone(client, STRANGER_PHONE)


# --- Home, keys, sessions -----------------------------------------------------------------------


def test_dial_shows_the_three_services(phone, db):
    screen = phone.dial()
    assert screen.startswith("CON Guichet\n")
    assert [text for _, text in choices(screen)] == [
        "Suivre un dossier",
        "Mes dossiers",
        "Pièces et frais d'une démarche",
    ]


def test_bad_choice_at_every_level_shows_the_same_screen_with_an_error(phone, demo_catalog):
    home = phone.dial()
    assert phone.press("5") == with_error(home)
    assert phone.press("x") == with_error(home)  # the error goes with the next good key
    countries = phone.press("3")
    assert "Choix invalide" not in countries
    assert phone.press("4") == with_error(countries)
    themes = phone.choose("Mali")
    assert phone.press("") == with_error(themes)
    procedures = phone.choose("Justice")
    assert phone.press("²") == with_error(procedures)
    details = phone.choose("Extrait de casier judiciaire")
    assert phone.press("2") == with_error(details)
    assert phone.press("1") == f"END {ussd.SMS_SENT}"  # still works after the error


def test_zero_goes_back_one_screen_and_double_zero_goes_home(phone, demo_catalog):
    home = phone.dial()
    assert phone.press("0") == home  # nothing before home
    countries = phone.press("3")
    themes = phone.choose("Mali")
    procedures = phone.choose("État civil")
    phone.choose("Déclaration de naissance")
    assert phone.press("0") == procedures
    assert phone.press("0") == themes
    assert phone.press("0") == countries
    phone.choose("Niger", "Identité")
    assert phone.press("00") == home
    assert phone.press("x", "0") == home  # back from an error is back from the screen


def test_a_new_session_starts_at_home_whatever_the_last_one_was(phone, demo_catalog):
    home = phone.dial()
    phone.press("3")
    phone.choose("Burkina Faso", "Identité")
    # The network drops the session after a few minutes; the next dial starts afresh.
    assert phone.dial() == home


def test_too_many_key_presses_end_the_session(phone, db):
    phone.dial()
    assert phone.press(*["3", "0"] * 50, "3") == f"END {ussd.TOO_LONG}"


# --- Following a dossier by reference ------------------------------------------------------------


@pytest.mark.parametrize("number", ["+22370123456", "22370123456", "0022370123456"])
def test_applicant_hears_the_state_of_their_dossier(client, submitted_dossier, number):
    dossier, _ = submitted_dossier
    phone = Phone(client, number)
    phone.dial()
    assert phone.press("1").startswith("CON Entrez la référence du dossier")
    assert phone.press(compact(dossier.reference)) == (
        f"END Dossier {dossier.reference} : Déposé. Le service l'instruit."
    )


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (DossierStatus.IN_REVIEW, "En cours d'instruction. Le service l'instruit."),
        (DossierStatus.INFO_REQUESTED, "Complément demandé. Complétez-le dans Mes démarches."),
        (DossierStatus.ACCEPTED, "Accepté. Les détails sont dans Mes démarches."),
        (DossierStatus.REJECTED, "Refusé. La raison est dans Mes démarches."),
        (DossierStatus.CLOSED, "Classé sans suite. La raison est dans Mes démarches."),
    ],
)
def test_the_next_step_follows_the_state(phone, submitted_dossier, status, said):
    dossier, _ = submitted_dossier
    Dossier.objects.filter(pk=dossier.pk).update(status=status)
    phone.dial()
    assert phone.press("1", dossier.reference) == f"END Dossier {dossier.reference} : {said}"


def test_an_accepted_dossier_with_its_document_says_where_the_document_is(
    phone, submitted_dossier, staff_user
):
    dossier, _ = submitted_dossier
    workflow.transition(dossier=dossier, to=DossierStatus.IN_REVIEW, actor=staff_user)
    workflow.transition(dossier=dossier, to=DossierStatus.ACCEPTED, actor=staff_user)
    assert dossier.documents.exists()
    phone.dial()
    assert phone.press("1", dossier.reference) == (
        f"END Dossier {dossier.reference} : Accepté. Votre document est dans Mes démarches."
    )


def test_another_number_learns_nothing_not_even_that_the_dossier_exists(
    stranger, submitted_dossier
):
    dossier, _ = submitted_dossier
    stranger.dial()
    answer = stranger.press("1", compact(dossier.reference))
    assert answer == f"END {ussd.NO_MATCH}"
    assert dossier.reference not in answer and "Déposé" not in answer

    stranger.dial()
    unknown = new_reference("ML")
    assert stranger.press("1", unknown) == answer


def test_a_draft_is_not_followed_even_by_its_author(phone, draft_with_file, citizen):
    dossier, _ = draft_with_file
    citizen.phone = CITIZEN_PHONE
    citizen.save(update_fields=["phone"])
    phone.dial()
    assert phone.press("1", dossier.reference) == f"END {ussd.NO_MATCH}"
    phone.dial()
    assert phone.press("2") == f"END {ussd.NO_DOSSIERS}"


def test_a_mistyped_reference_is_asked_again(phone, submitted_dossier):
    dossier, _ = submitted_dossier
    phone.dial()
    prompt = phone.press("1")
    assert phone.press("ML7K3Q") == with_error(prompt, ussd.INVALID_REFERENCE)
    body = compact(dossier.reference)
    one_symbol_wrong = body[:-1] + ("a" if body[-1] != "a" else "b")
    assert phone.press(one_symbol_wrong) == with_error(prompt, ussd.INVALID_REFERENCE)
    assert phone.press(body).startswith(f"END Dossier {dossier.reference} : Déposé.")


# --- My dossiers -------------------------------------------------------------------------------


def _more_dossiers(applicant, count: int) -> list[Dossier]:
    """`count` submitted dossiers, each submitted a day after the one before."""
    procedure = Procedure.objects.get(pk="ml-certificat-residence")
    assert procedure.current_version is not None
    start = timezone.now() + timedelta(days=1)
    return [
        Dossier.objects.create(
            reference=new_reference("ML"),
            procedure=procedure,
            version=procedure.current_version,
            applicant=applicant,
            status=DossierStatus.IN_REVIEW,
            submitted_at=start + timedelta(days=i),
        )
        for i in range(count)
    ]


def test_my_dossiers_lists_them_and_opens_one(phone, submitted_dossier):
    dossier, _ = submitted_dossier
    phone.dial()
    assert phone.press("2") == (f"CON Mes dossiers\n1 {dossier.reference} Déposé\n{ussd.FOOTER}")
    assert phone.press("1") == f"END Dossier {dossier.reference} : Déposé. Le service l'instruit."


def test_my_dossiers_come_five_to_a_screen_newest_first_and_only_mine(
    phone, submitted_dossier, citizen, other_citizen
):
    first, _ = submitted_dossier
    newer = _more_dossiers(citizen, 6)
    others = _more_dossiers(other_citizen, 2)
    phone.dial()
    page_1 = phone.press("2")
    newest_first = [d.reference for d in reversed(newer)] + [first.reference]
    assert [text.split()[0] for _, text in choices(page_1)] == [*newest_first[:5], "Suite"]
    page_2 = phone.press("9")
    assert [text.split()[0] for _, text in choices(page_2)] == newest_first[5:]
    assert not any(d.reference in page_1 + page_2 for d in others)
    assert phone.press("0") == page_1
    assert phone.press("9", "2") == (
        f"END Dossier {first.reference} : Déposé. Le service l'instruit."
    )


def test_a_number_without_dossiers_is_told_so(stranger, submitted_dossier):
    stranger.dial()
    assert stranger.press("2") == f"END {ussd.NO_DOSSIERS}"


# --- Documents and fees of a procedure ----------------------------------------------------------


def test_procedure_details_then_one_sms_to_the_caller(phone, submitted_dossier, citizen):
    phone.dial()
    phone.press("3")
    themes = phone.choose("Mali")
    assert themes.startswith("CON Thème (Mali)\n")
    phone.choose("État civil")
    details = phone.choose("Extrait d'acte de naissance")
    assert details.startswith("CON Extrait d'acte de naissance et copies\n")
    assert "\nPièces à fournir : 2\n" in details
    assert "\nFrais : variable\n" in details
    assert "\n1 Recevoir le détail par SMS\n" in details
    assert Notification.objects.filter(event="ussd.procedure").count() == 0

    assert phone.press("1") == f"END {ussd.SMS_SENT}"

    sms = Notification.objects.get(event="ussd.procedure")
    assert (sms.to, sms.user) == (CITIZEN_PHONE, citizen)
    assert sms.object_ref == "ml-extrait-acte-naissance"
    assert sms.text.startswith("Guichet : Extrait d'acte de naissance")
    assert "Frais : variable" in sms.text
    assert sms.text.endswith("/demarches/ml-extrait-acte-naissance/")
    assert gsm7.fits_one_sms(sms.text)


def test_a_caller_without_an_account_gets_the_sms_too(stranger, demo_catalog):
    stranger.dial()
    stranger.press("3")
    details = stranger.choose("Burkina Faso", "Identité", "Passeport")
    assert "\nFrais : 50 000 FCFA\n" in details
    assert stranger.press("1") == f"END {ussd.SMS_SENT}"
    sms = Notification.objects.get(event="ussd.procedure")
    assert (sms.to, sms.user, sms.object_ref) == (STRANGER_PHONE, None, "bf-passeport")
    assert "Frais : 50 000 FCFA" in sms.text


def test_long_lists_go_on_with_9_and_numbers_start_again(phone, demo_catalog):
    mali_themes = set(published_procedures().filter(country="ML").values_list("theme", flat=True))
    assert len(mali_themes) > 8  # more than one screen
    phone.dial()
    page_1 = phone.press("3", "1")
    assert page_1.endswith(f"\n9 Suite\n{ussd.FOOTER}")
    page_2 = phone.press("9")
    assert "9 Suite" not in page_2
    assert choices(page_2)[0][0] == "1"
    labels = [text for _, text in choices(page_1)[:-1] + choices(page_2)]
    assert len(labels) == len(set(labels)) == len(mali_themes)
    transport = phone.choose("Transport")
    assert transport.startswith("CON Transport (Mali)\n1 Permis de conduire")


def test_every_published_procedure_can_be_reached_and_every_screen_fits(client, demo_catalog):
    """Walks the whole tree as a caller would, re-dialling for each theme; Phone checks
    every screen on the way."""
    reached: set[tuple[str, str]] = set()
    for country in ("Mali", "Burkina Faso", "Niger"):
        phone = Phone(client)
        phone.dial()
        phone.press("3")
        phone.choose(country)
        themes = _all_choices(phone)
        for theme in themes:
            phone.dial()
            phone.press("3")
            phone.choose(country, theme)
            for title in _all_choices(phone):
                details = phone.choose(title)
                assert "\nFrais : " in details and "\n1 Recevoir le détail par SMS" in details
                reached.add((country, details.splitlines()[0]))
                phone.press("0")
    assert len(reached) == published_procedures().count() == 45


def _all_choices(phone: Phone) -> list[str]:
    """The labels on every page of the current list (and back on its first page)."""
    labels, pages = [], 0
    while True:
        labels += [text for key, text in choices(phone.screen) if key != "9"]
        if "\n9 Suite" not in phone.screen:
            break
        phone.press("9")
        pages += 1
    for _ in range(pages):
        phone.press("0")
    return labels


def test_every_procedure_sms_fits_one_gsm7_message(demo_catalog):
    for procedure in published_procedures():
        text = ussd.procedure_sms(procedure)
        assert gsm7.fits_one_sms(text), (procedure.pk, text)
        assert text.endswith(f"/demarches/{procedure.pk}/")


def test_a_cut_title_does_not_end_on_a_small_word():
    assert ussd.shorten("Déclaration de décès et acte de décès", 26) == "Déclaration de décès..."
    assert ussd.short_title("Permis de conduire (obtention / échange)", 30) == "Permis de conduire"
    assert ussd.short_title("Numéro d'identification fiscale (NIF)", 40) == (
        "Numéro d'identification fiscale (NIF)"
    )


# --- The gateway --------------------------------------------------------------------------------


def test_only_post_is_accepted(client, db):
    assert client.get(URL, {"text": ""}).status_code == 405


def test_with_a_token_set_only_the_aggregator_gets_an_answer(client, db, settings):
    settings.USSD_TOKEN = "secret-of-the-aggregator"
    for url in (URL, f"{URL}?token=wrong"):
        response = client.post(url, {"sessionId": "1", "phoneNumber": CITIZEN_PHONE, "text": ""})
        assert response.status_code == 404
    home = Phone(client, url=f"{URL}?token=secret-of-the-aggregator").dial()
    assert home.startswith("CON Guichet\n")
