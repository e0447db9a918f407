"""Signing in with a mobile number and a code, as a citizen does it on a phone."""

from __future__ import annotations

import html as html_lib
import importlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import clear_url_caches

from guichet.accounts.models import SignInCode, User
from guichet.accounts.tests.inbox import OWNER, last_code, wrong
from guichet.notifications import sms
from guichet.notifications.models import OutboxSms
from guichet.web.tests.pages import BUDGET_BYTES, measure

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOME = "197.155.1.2"
ATTACKER = "41.73.9.9"
ATTACKER_NUMBER = "+22670998877"


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


@pytest.fixture
def citizen_browser(django_capture_on_commit_callbacks):
    """Drives the sign-in pages from one address; SMS land in the outbox."""

    class Browser:
        def __init__(self, address: str = HOME) -> None:
            self.client = Client(REMOTE_ADDR=address)

        def ask_code(self, number: str = "70 12 34 56", country: str = "ML", **extra: str) -> Any:
            with django_capture_on_commit_callbacks(execute=True):
                return self.client.post(
                    "/connexion/", {"phone": number, "country": country, **extra}
                )

        def resend(self) -> Any:
            with django_capture_on_commit_callbacks(execute=True):
                return self.client.post("/connexion/code/renvoyer/")

        def enter(self, code: str) -> Any:
            return self.client.post("/connexion/code/", {"code": code})

        def sign_in(
            self, number: str = "70 12 34 56", country: str = "ML", phone: str = OWNER
        ) -> Any:
            assert self.ask_code(number, country).status_code == 302
            return self.enter(last_code(phone))

    return Browser


def _html(response: Any) -> str:
    """The page as text, with entities decoded: Django escapes the apostrophe."""
    return html_lib.unescape(bytes(response.content).decode())


def test_citizen_signs_in_with_a_number_and_the_code_received(clock, citizen_browser):
    browser = citizen_browser()
    page = browser.client.get("/connexion/")
    assert page.status_code == 200

    response = browser.ask_code("70 12 34 56", "ML")
    assert response.status_code == 302
    assert response["Location"] == "/connexion/code/"
    (message,) = OutboxSms.objects.all()
    assert message.to == OWNER

    page = browser.client.get("/connexion/code/")
    assert "Un code à 6 chiffres a été envoyé au +223 70 12 34 56." in _html(page)

    response = browser.enter(last_code())
    assert response.status_code == 302
    assert response["Location"] == "/mes-demarches/"
    page = browser.client.get("/mes-demarches/")
    assert "Vous n'avez pas encore de démarche." in _html(page)
    user = User.objects.get(phone=OWNER)
    assert not user.has_usable_password()


def test_code_may_be_typed_with_a_space(clock, citizen_browser):
    browser = citizen_browser()
    browser.ask_code()
    code = last_code()
    assert browser.enter(f" {code[:3]} {code[3:]} ")["Location"] == "/mes-demarches/"


def test_session_key_changes_at_sign_in(clock, citizen_browser):
    browser = citizen_browser()
    browser.ask_code()
    before = browser.client.session.session_key
    browser.enter(last_code())
    after = browser.client.cookies["sessionid"].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert browser.client.session["_auth_user_id"] == str(User.objects.get().pk)


def test_second_sign_in_reuses_the_account(clock, citizen_browser):
    citizen_browser().sign_in()
    clock.shift(timedelta(days=2))
    citizen_browser().sign_in("+223 70123456", "BF")
    assert User.objects.filter(phone=OWNER).count() == 1
    assert User.objects.count() == 1


def test_signed_in_citizen_goes_back_to_the_page_asked_for(clock, citizen_browser):
    browser = citizen_browser()
    page = browser.client.get("/connexion/?next=/demarches/ml-passeport/")
    assert '<input type="hidden" name="next" value="/demarches/ml-passeport/">' in _html(page)
    browser.ask_code(next="/demarches/ml-passeport/")
    assert browser.enter(last_code())["Location"] == "/demarches/ml-passeport/"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "http://testserver.evil.example/",
        "javascript:alert(1)",
        "ftp://testserver/",
    ],
)
def test_next_pointing_elsewhere_is_ignored(clock, citizen_browser, target):
    browser = citizen_browser()
    assert 'name="next"' not in _html(browser.client.get("/connexion/", {"next": target}))
    browser.ask_code(next=target)
    assert browser.enter(last_code())["Location"] == "/mes-demarches/"


def test_fourth_code_in_fifteen_minutes_answers_429_in_plain_french(clock, citizen_browser):
    browser = citizen_browser()
    for _ in range(3):
        assert browser.ask_code().status_code == 302
    response = browser.ask_code()
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    html = _html(response)
    assert "Vous pourrez en demander un nouveau dans 15 minutes." in html
    assert 'href="/connexion/code/"' in html  # the last code received still works
    assert OutboxSms.objects.count() == 3


def test_resend_beyond_the_limit_answers_429_and_keeps_the_last_code(clock, citizen_browser):
    browser = citizen_browser()
    browser.ask_code()
    browser.resend()
    assert browser.resend().status_code == 302
    response = browser.resend()
    assert response.status_code == 429
    assert "Le dernier code reçu reste valable 10 minutes." in _html(response)
    assert browser.enter(last_code())["Location"] == "/mes-demarches/"


def test_eleventh_code_in_a_day_answers_429_with_hours_to_wait(clock, citizen_browser):
    browser = citizen_browser()
    for _ in range(10):
        assert browser.ask_code().status_code == 302
        clock.shift(timedelta(minutes=16))
    response = browser.ask_code()
    assert response.status_code == 429
    assert "dans 22 heures" in _html(response)
    assert int(response["Retry-After"]) == 24 * 3600 - 160 * 60


def test_one_address_cannot_pump_sms_to_many_numbers(clock, citizen_browser):
    pump = citizen_browser(ATTACKER)
    for i in range(10):
        assert pump.ask_code(f"70 55 00 {i:02d}").status_code == 302
    assert pump.ask_code("70 55 00 10").status_code == 429
    assert citizen_browser(HOME).ask_code("70 55 00 10").status_code == 302


def test_sixth_guess_is_refused_and_the_page_offers_a_new_code(clock, citizen_browser):
    browser = citizen_browser()
    browser.ask_code()
    code = last_code()
    for left in ("4 essais", "3 essais", "2 essais", "1 essai."):
        assert f"Code incorrect. Il vous reste {left}" in _html(browser.enter(wrong(code)))
    html = _html(browser.enter(wrong(code)))
    assert "Ce code n'est plus valable : demandez-en un nouveau." in html
    assert 'name="code"' not in html
    assert 'action="/connexion/code/renvoyer/"' in html
    html = _html(browser.enter(code))
    assert "Ce code n'est plus valable. Demandez un nouveau code." in html
    assert "_auth_user_id" not in browser.client.session


def test_expired_code_is_refused(clock, citizen_browser):
    browser = citizen_browser()
    browser.ask_code()
    clock.shift(timedelta(minutes=10))
    html = _html(browser.enter(last_code()))
    assert "Ce code n'est plus valable. Demandez un nouveau code." in html


def test_resend_sends_a_new_code_and_the_old_one_stops_working(clock, citizen_browser):
    browser = citizen_browser()
    browser.ask_code()
    old = last_code()
    response = browser.resend()
    assert response["Location"] == "/connexion/code/"
    assert "Un nouveau code vous a été envoyé." in _html(browser.client.get("/connexion/code/"))
    new = last_code()
    if new != old:  # one chance in a million that both codes are the same
        assert "Code incorrect" in _html(browser.enter(old))
    assert SignInCode.objects.get(status=SignInCode.Status.REPLACED).attempts == 0
    assert browser.enter(new)["Location"] == "/mes-demarches/"


def test_attacker_failures_from_one_address_do_not_stop_the_owner(clock, citizen_browser):
    attacker = citizen_browser(ATTACKER)
    for _ in range(2):
        attacker.ask_code()
        for _ in range(5):
            attacker.enter(wrong(last_code()))
    assert attacker.ask_code().status_code == 429
    assert attacker.enter(wrong(last_code())).status_code == 429

    owner = citizen_browser(HOME)
    assert owner.sign_in()["Location"] == "/mes-demarches/"


def test_ten_wrong_codes_for_a_number_from_one_address_answer_429(clock, citizen_browser):
    attacker = citizen_browser(ATTACKER)
    attacker.ask_code()
    for _ in range(5):
        attacker.enter(wrong(last_code()))
    attacker.resend()  # a fresh code: five more guesses on it
    for _ in range(5):
        attacker.enter(wrong(last_code()))
    response = attacker.enter(wrong(last_code()))
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert "Trop de codes incorrects depuis cette connexion. Réessayez dans 15 minutes." in (
        _html(response)
    )
    assert attacker.enter(last_code()).status_code == 429  # not even the right one
    assert attacker.resend().status_code == 429  # and no SMS to a number it cannot check
    # The same address may still sign in with another number: the limit is per pair.
    assert attacker.sign_in("70 11 22 33", phone="+22370112233").status_code == 302


def test_wrong_country_and_landline_numbers_are_explained(clock, citizen_browser):
    browser = citizen_browser()
    html = _html(browser.ask_code("+33 6 12 34 56 78", "ML"))
    assert "Ce numéro n'est pas d'un pays accepté." in html
    assert 'aria-invalid="true"' in html
    html = _html(browser.ask_code("20 22 33 44", "ML"))
    assert "Ce numéro n'est pas un numéro de mobile du Mali." in html
    assert 'value="20 22 33 44"' in html  # what was typed stays, to be corrected
    assert "<title>Erreur : Se connecter" in html
    assert OutboxSms.objects.count() == 0


def test_tampered_country_is_refused():
    response = Client().post("/connexion/", {"phone": "70 12 34 56", "country": "FR"})
    assert response.status_code == 200
    assert OutboxSms.objects.count() == 0


def test_code_page_without_a_code_asked_sends_back_to_the_number():
    response = Client().get("/connexion/code/")
    assert response["Location"] == "/connexion/"
    assert Client().post("/connexion/code/", {"code": "123456"})["Location"] == "/connexion/"
    assert Client().post("/connexion/code/renvoyer/")["Location"] == "/connexion/"


@pytest.mark.parametrize(
    "state",
    [
        "garbage",
        {"phone": OWNER, "code_id": "1 OR 1=1"},
        {"phone": "70123456", "code_id": 1},
        {"phone": OWNER, "code_id": True},
        {"code_id": 1},
    ],
)
def test_tampered_session_is_sent_back_to_the_number_page(clock, citizen_browser, state):
    browser = citizen_browser()
    browser.ask_code()
    session = browser.client.session
    session["accounts.sign_in"] = state
    session.save()
    assert browser.enter(last_code())["Location"] == "/connexion/"
    assert "accounts.sign_in" not in browser.client.session
    assert "_auth_user_id" not in browser.client.session


def test_code_cannot_be_pointed_at_another_number(clock, citizen_browser):
    User.objects.create_user(username="citoyen-owner", phone=OWNER)
    attacker = citizen_browser(ATTACKER)
    attacker.ask_code("+226 70 99 88 77", "BF")
    code = last_code(ATTACKER_NUMBER)
    page = _html(attacker.client.get("/connexion/code/"))
    assert "998877" not in page.replace("+226 70 99 88 77", "")  # only shown as text
    assert 'name="phone"' not in page
    session = attacker.client.session
    session["accounts.sign_in"] = {**session["accounts.sign_in"], "phone": OWNER}
    session.save()
    assert "plus valable" in _html(attacker.enter(code))
    assert "_auth_user_id" not in attacker.client.session


def test_code_asked_in_one_session_does_not_work_in_another(clock, citizen_browser):
    owner = citizen_browser()
    owner.ask_code()
    owner_code = last_code()
    stranger = citizen_browser(ATTACKER)
    stranger.ask_code()  # asks for a code for the same number: sent to the owner's phone
    # Even holding the owner's code, the stranger's session checks against its own code.
    assert "Code incorrect" in _html(stranger.enter(owner_code))
    assert "_auth_user_id" not in stranger.client.session
    # The owner's code was not replaced by the stranger's request.
    assert owner.enter(owner_code)["Location"] == "/mes-demarches/"
    assert SignInCode.objects.filter(status=SignInCode.Status.ACTIVE).count() == 1


def test_used_code_cannot_be_replayed_from_a_copied_session_state(clock, citizen_browser):
    owner = citizen_browser()
    owner.ask_code()
    state = owner.client.session["accounts.sign_in"]
    code = last_code()
    assert owner.enter(code)["Location"] == "/mes-demarches/"
    replay = citizen_browser(ATTACKER)
    replay.client.get("/connexion/")
    session = replay.client.session
    session["accounts.sign_in"] = state
    session.save()
    assert "Ce code n'est plus valable." in _html(replay.enter(code))
    assert "_auth_user_id" not in replay.client.session


def test_my_dossiers_sends_visitors_to_sign_in_and_back():
    response = Client().get("/mes-demarches/")
    assert response.status_code == 302
    assert response["Location"] == "/connexion/?next=/mes-demarches/"


def test_my_dossiers_is_never_cached(citizen):
    client = Client()
    client.force_login(citizen)
    response = client.get("/mes-demarches/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_sign_out_needs_a_post_with_a_csrf_token(clock, citizen_browser):
    browser = citizen_browser()
    browser.sign_in()
    page = browser.client.get("/deconnexion/")
    assert page.status_code == 200
    assert '<form method="post" action="/deconnexion/">' in _html(page)
    assert "_auth_user_id" in browser.client.session

    strict = Client(enforce_csrf_checks=True)
    strict.cookies = browser.client.cookies
    assert strict.post("/deconnexion/").status_code == 403

    response = browser.client.post("/deconnexion/")
    assert response["Location"] == "/connexion/"
    assert "Vous êtes déconnecté." in _html(browser.client.get("/connexion/"))
    assert browser.client.get("/mes-demarches/").status_code == 302


def test_english_sign_in_pages_keep_the_prefix(clock, citizen_browser):
    browser = citizen_browser()
    assert browser.client.get("/en/connexion/").status_code == 200
    response = browser.client.post("/en/connexion/", {"phone": "70123456", "country": "ML"})
    assert response["Location"] == "/en/connexion/code/"


def test_sign_in_pages_fit_the_2g_budget_and_work_without_javascript(clock, citizen_browser):
    browser = citizen_browser()
    login = measure(browser.client, "/connexion/")
    html = _html(browser.client.get("/connexion/"))
    assert '<label for="phone">' in html and '<label for="country">' in html
    assert 'type="tel"' in html and 'autocomplete="tel"' in html
    assert 'autocomplete="country"' in html
    browser.ask_code()
    code_page = measure(browser.client, "/connexion/code/")
    html = _html(browser.client.get("/connexion/code/"))
    assert '<label for="code">' in html
    assert 'inputmode="numeric"' in html and 'autocomplete="one-time-code"' in html
    browser.enter(last_code())
    mine = measure(browser.client, "/mes-demarches/")
    for page in (login, code_page, mine):
        assert page.status == 200, page.url
        assert page.transferred <= BUDGET_BYTES, page.url
        assert page.external == [] and not page.has_script, page.url


@pytest.fixture
def debug_urls(settings):
    """The URLconf as a DEBUG server builds it (routes are decided at import)."""
    from guichet import urls
    from guichet.web import accounts_urls

    def rebuild() -> None:
        importlib.reload(accounts_urls)
        importlib.reload(urls)
        clear_url_caches()

    original = settings.DEBUG
    settings.DEBUG = True
    rebuild()
    yield
    settings.DEBUG = original
    rebuild()


def test_sms_outbox_page_does_not_exist_without_debug():
    assert Client().get("/dev/sms/").status_code == 404


def test_sms_outbox_page_lists_sms_newest_first_in_debug(debug_urls, time_machine):
    time_machine.move_to(T0, tick=False)
    sms.send_sms(to=OWNER, text="Guichet : votre code est 111111.")
    time_machine.shift(30)
    sms.send_sms(to=ATTACKER_NUMBER, text="Guichet : votre code est 222222.")
    response = Client().get("/dev/sms/")
    assert response.status_code == 200
    html = _html(response)
    assert html.index("222222") < html.index("111111")
    assert "no-store" in response["Cache-Control"]


def test_code_page_points_developers_at_the_outbox_in_debug(debug_urls, citizen_browser):
    browser = citizen_browser()
    browser.ask_code()
    assert 'href="/dev/sms/"' in _html(browser.client.get("/connexion/code/"))


def test_code_page_never_mentions_the_outbox_in_production(citizen_browser):
    browser = citizen_browser()
    browser.ask_code()
    assert "/dev/sms/" not in _html(browser.client.get("/connexion/code/"))


@pytest.mark.django_db
def test_citizen_may_add_a_name_and_an_email_but_needs_neither(client, citizen):
    from guichet.governance.models import AuditEntry

    client.force_login(citizen)
    assert client.get("/mon-compte/").status_code == 200
    choices = {"notify_by_sms": "on", "notify_by_email": "on", "language": "fr"}  # as shown
    response = client.post(
        "/mon-compte/", {"display_name": "Awa Traoré", "email": "awa@exemple.ml", **choices}
    )
    assert response["Location"] == "/mon-compte/"
    citizen.refresh_from_db()
    assert (citizen.display_name, citizen.email) == ("Awa Traoré", "awa@exemple.ml")
    entry = AuditEntry.objects.get(action="account.profile_updated")
    assert entry.data == {"fields": ["display_name", "email"]}
    assert "awa@" not in str(entry.data)
    client.post("/mon-compte/", {"display_name": "", "email": "", **choices})
    citizen.refresh_from_db()
    assert (citizen.display_name, citizen.email) == ("", "")


@pytest.mark.django_db
def test_a_bad_email_is_refused_and_nothing_changes(client, citizen):
    client.force_login(citizen)
    response = client.post(
        "/mon-compte/", {"display_name": "Awa", "email": "awa@", "language": "fr"}
    )
    assert response.status_code == 400
    assert "Adresse e-mail invalide" in response.content.decode()
    assert 'value="Awa"' in response.content.decode()
    citizen.refresh_from_db()
    assert citizen.display_name == ""
