"""Staff sign in with a password and the code of an authenticator app (TOTP)."""

from __future__ import annotations

import html as html_lib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from guichet import urls as project_urls
from guichet.accounts.models import User
from guichet.accounts.totp import FAILURES_PER_ADDRESS, FAILURES_PER_USERNAME
from guichet.governance.models import AuditEntry
from guichet.web.access import PUBLIC, STAFF, STAFF_ENROLMENT, staff_page
from guichet.web.backoffice.auth_views import staff_home
from guichet.web.tests.pages import BUDGET_BYTES, measure
from guichet.web.tests.staff import TEST_TOTP_KEY, verified_login

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "cheval-correct-agrafe-42"
LOGIN = "/instruction/connexion/"
SETUP = "/instruction/securite/"
PROBE = "/instruction/essai/"


@staff_page
def _probe(request: HttpRequest) -> HttpResponse:
    return HttpResponse("page agent")


# This module is also the URLconf of its tests: the project's routes plus one staff page
# (the back office's own pages come with their issue).
urlpatterns = [*project_urls.urlpatterns, path("instruction/essai/", _probe)]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


@pytest.fixture
def agent(django_user_model):
    return django_user_model.objects.create_user(
        username="agent.diallo", password=PASSWORD, is_staff=True
    )


@pytest.fixture
def app(agent):
    """The agent's authenticator app, already set up."""
    return TOTPDevice.objects.create(user=agent, name="téléphone", confirmed=True)


def code_of(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key):06d}"


def wrong_code(device: TOTPDevice) -> str:
    return f"{(int(code_of(device)) + 1) % 10**6:06d}"


def sign_in(client: Client, *, username="agent.diallo", password=PASSWORD, code="", **extra):
    return client.post(LOGIN, {"username": username, "password": password, "code": code, **extra})


def _html(response: Any) -> str:
    return html_lib.unescape(bytes(response.content).decode())


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_decorators_leave_their_marks():
    from guichet.web.backoffice.auth_views import sign_in, sign_out, totp_setup

    assert getattr(_probe, "access", None) == STAFF
    assert getattr(totp_setup, "access", None) == STAFF_ENROLMENT
    assert getattr(sign_in, "access", None) == getattr(sign_out, "access", None) == PUBLIC


def test_password_and_code_sign_in_and_open_staff_pages(client, clock, app):
    assert client.get(PROBE).status_code == 302

    response = sign_in(client, code=code_of(app))

    assert response.status_code == 302
    assert response["Location"] == staff_home()
    assert client.session[DEVICE_ID_SESSION_KEY] == app.persistent_id
    page = client.get(PROBE)
    assert page.status_code == 200
    assert "no-cache" in page["Cache-Control"]
    entry = AuditEntry.objects.get(action="staff.signed_in")
    assert entry.actor == app.user
    assert entry.data == {"second_factor": "totp"}


def test_the_code_may_be_typed_with_a_space(client, clock, app):
    code = code_of(app)
    assert sign_in(client, code=f"{code[:3]} {code[3:]}").status_code == 302
    assert client.get(PROBE).status_code == 200


def test_password_alone_is_refused_when_the_account_has_an_app(client, clock, app):
    response = sign_in(client)

    assert response.status_code == 200
    assert "Identifiant, mot de passe ou code incorrect." in _html(response)
    assert not _signed_in(client)
    assert client.get(PROBE).status_code == 302
    entry = AuditEntry.objects.get(action="staff.sign_in_failed")
    assert entry.data == {"reason": "code"}


def test_a_wrong_code_is_refused_with_the_same_message_as_a_wrong_password(client, clock, app):
    wrong = sign_in(client, code=wrong_code(app))
    bad_password = sign_in(client, password="pas-le-bon", code=code_of(app))

    for response in (wrong, bad_password):
        assert response.status_code == 200
        assert "Identifiant, mot de passe ou code incorrect." in _html(response)
    assert not _signed_in(client)
    reasons = [e.data["reason"] for e in AuditEntry.objects.filter(action="staff.sign_in_failed")]
    assert sorted(reasons) == ["code", "password"]
    # The password never reaches the audit log.
    assert PASSWORD not in str(list(AuditEntry.objects.values_list("data", flat=True)))


def test_a_code_works_once(clock, app):
    code = code_of(app)
    assert sign_in(Client(), code=code).status_code == 302
    replay = sign_in(Client(), code=code)
    assert replay.status_code == 200
    assert "Identifiant, mot de passe ou code incorrect." in _html(replay)


def test_a_citizen_account_cannot_sign_in_here(client, clock, django_user_model):
    django_user_model.objects.create_user(username="citoyen", password=PASSWORD)

    response = sign_in(client, username="citoyen")

    assert response.status_code == 200
    assert "Identifiant, mot de passe ou code incorrect." in _html(response)
    assert not _signed_in(client)


def test_a_disabled_agent_cannot_sign_in(client, clock, app):
    User.objects.filter(pk=app.user.pk).update(is_active=False)

    response = sign_in(client, code=code_of(app))

    assert response.status_code == 200
    assert not _signed_in(client)
    assert AuditEntry.objects.get(action="staff.sign_in_failed").data == {
        "reason": "account_disabled"
    }


def test_disabling_an_account_ends_its_sessions_at_once(client, clock, agent):
    verified_login(client, agent)
    assert client.get(PROBE).status_code == 200

    agent.is_active = False
    agent.save()

    response = client.get(PROBE)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={PROBE}"


def test_who_gets_what_on_a_staff_page(clock, agent, django_user_model):
    anonymous = Client()
    response = anonymous.get(PROBE)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={PROBE}"

    citizen = Client()
    citizen.force_login(django_user_model.objects.create_user(username="citoyen"))
    assert citizen.get(PROBE).status_code == 404

    password_only = Client()
    password_only.force_login(agent)
    response = password_only.get(PROBE)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={PROBE}"

    verified = Client()
    verified_login(verified, agent)
    assert verified.get(PROBE).status_code == 200


def test_a_device_of_another_account_does_not_verify_a_session(clock, agent, django_user_model):
    other = django_user_model.objects.create_user(username="agent.b", is_staff=True)
    other_device = verified_login(Client(), other)
    client = Client()
    client.force_login(agent)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = other_device.persistent_id
    session.save()

    assert client.get(PROBE).status_code == 302


def test_first_sign_in_leads_to_setting_up_the_app(client, clock, agent):
    response = sign_in(client, next=PROBE)

    setup_url = f"{SETUP}?next={PROBE.replace('/', '%2F')}"
    assert response.status_code == 302
    assert response["Location"] == setup_url
    assert AuditEntry.objects.get(action="staff.signed_in").data == {"second_factor": "none"}
    # Signed in with the password only: no staff page yet.
    assert client.get(PROBE).status_code == 302

    page = client.get(setup_url)
    assert page.status_code == 200
    assert "no-cache" in page["Cache-Control"]
    html = _html(page)
    assert "<svg" in html
    device = TOTPDevice.objects.get(user=agent)
    assert not device.confirmed
    secret = html.split("<code>")[1].split("</code>")[0]
    assert len(secret.split(" ")) == 8 and all(len(g) == 4 for g in secret.split(" "))
    # Reloading keeps the same secret: an app that scanned it stays valid.
    assert secret in _html(client.get(SETUP))
    assert TOTPDevice.objects.filter(user=agent).count() == 1

    response = client.post(SETUP, {"code": code_of(device), "next": PROBE})

    assert response.status_code == 302
    assert response["Location"] == PROBE
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(PROBE).status_code == 200
    entry = AuditEntry.objects.get(action="staff.totp_confirmed")
    assert entry.actor == agent
    done = _html(client.get(SETUP))
    assert "<svg" not in done
    assert secret not in done
    assert "administrateur" in done

    # From now on the code is required.
    clock.shift(timedelta(seconds=60))
    assert sign_in(Client()).status_code == 200
    assert sign_in(Client(), code=code_of(device)).status_code == 302


def test_a_wrong_code_does_not_confirm_the_app_and_repeated_ones_wait(client, clock, agent):
    client.force_login(agent)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=agent)

    response = client.post(SETUP, {"code": wrong_code(device)})
    assert response.status_code == 200
    assert "Code incorrect." in _html(response)
    assert "<svg" in _html(response)

    # django-otp's throttle: after a wrong code, the next is refused for a second.
    response = client.post(SETUP, {"code": code_of(device)})
    assert response.status_code == 429
    assert "Retry-After" in response

    clock.shift(timedelta(seconds=2))
    assert client.post(SETUP, {"code": code_of(device)}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed


def test_the_setup_page_is_for_staff_only(clock, agent, django_user_model):
    response = Client().get(SETUP)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={SETUP}"

    citizen = Client()
    citizen.force_login(django_user_model.objects.create_user(username="citoyen"))
    assert citizen.get(SETUP).status_code == 404
    assert not TOTPDevice.objects.exists()


def test_an_app_already_set_up_is_not_shown_again(client, clock, app):
    client.force_login(app.user)  # password only, as after a sign-in before the reset
    html = _html(client.get(SETUP))
    assert "<svg" not in html
    assert "Se connecter avec le code" in html
    assert client.post(SETUP, {"code": code_of(app)}).status_code == 200
    assert client.get(PROBE).status_code == 302


def test_pages_stay_small_and_load_nothing(client, clock, agent):
    for url in (LOGIN, "/en/instruction/connexion/", "/instruction/deconnexion/"):
        weight = measure(client, url)
        assert weight.status == 200, url
        assert weight.transferred < BUDGET_BYTES, url
        assert weight.external == [] and weight.subresources == [] and not weight.has_script

    client.force_login(agent)
    weight = measure(client, SETUP)
    assert weight.status == 200
    assert weight.transferred < BUDGET_BYTES
    assert weight.external == [] and weight.subresources == [] and not weight.has_script
    # The QR code is inline markup; the CSP forbids nothing it needs (no style attribute).
    html = _html(client.get(SETUP))
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert "style=" not in svg and "href" not in svg


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/instruction/", "/\\evil.example", "javascript:x"],
)
def test_next_never_leaves_the_site(client, clock, app, next_url):
    response = sign_in(client, code=code_of(app), next=next_url)
    assert response.status_code == 302
    assert response["Location"] == staff_home()


def test_next_on_the_site_is_followed(client, clock, app):
    page = client.get(f"{LOGIN}?next={PROBE}")
    assert f'name="next" value="{PROBE}"' in _html(page)
    response = sign_in(client, code=code_of(app), next=PROBE)
    assert response["Location"] == PROBE


def test_failures_are_limited_per_username(clock, app):
    for number in range(FAILURES_PER_USERNAME.limit):
        # From many addresses: the username's own limit still holds.
        attacker = Client(REMOTE_ADDR=f"41.73.9.{number}")
        assert sign_in(attacker, password="devine").status_code == 200

    response = sign_in(Client(REMOTE_ADDR="41.73.10.1"), code=code_of(app))

    assert response.status_code == 429
    assert "Trop d'essais incorrects" in _html(response)
    assert int(response["Retry-After"]) > 0
    assert not AuditEntry.objects.filter(action="staff.signed_in").exists()

    clock.shift(FAILURES_PER_USERNAME.period + timedelta(seconds=1))
    assert sign_in(Client(), code=code_of(app)).status_code == 302


def test_failures_are_limited_per_address(clock, app):
    attacker = Client(REMOTE_ADDR="41.73.9.9")
    for number in range(FAILURES_PER_ADDRESS.limit):
        assert sign_in(attacker, username=f"agent{number}", password="devine").status_code == 200

    assert sign_in(attacker, code=code_of(app)).status_code == 429
    # Another office is not affected.
    assert sign_in(Client(REMOTE_ADDR="197.155.1.2"), code=code_of(app)).status_code == 302


def test_sign_out_asks_then_signs_out(client, clock, agent):
    verified_login(client, agent)
    page = client.get("/instruction/deconnexion/")
    assert page.status_code == 200
    assert 'action="/instruction/deconnexion/"' in _html(page)
    assert _signed_in(client)

    response = client.post("/instruction/deconnexion/")

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert not _signed_in(client)
    assert client.get(PROBE).status_code == 302


def test_the_admin_asks_for_the_second_factor(clock, django_user_model):
    boss = django_user_model.objects.create_superuser(username="admin", password=PASSWORD)
    password_only = Client()
    password_only.force_login(boss)
    response = password_only.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")

    verified = Client()
    verified_login(verified, boss)
    assert verified.get("/admin/").status_code == 200
    assert admin.site.is_registered(TOTPDevice)
    # Administrators reset an agent's app here; its secret is never displayed.
    device = TOTPDevice.objects.get(user=boss)
    change = verified.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert change.status_code == 200
    assert device.key not in bytes(change.content).decode()


def test_the_admin_sign_in_form_takes_the_code(clock, django_user_model):
    boss = django_user_model.objects.create_superuser(username="admin", password=PASSWORD)
    device = verified_login(Client(), boss)
    client = Client()

    refused = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD})
    assert refused.status_code == 200
    assert not _signed_in(client)

    response = client.post(
        "/admin/login/?next=/admin/",
        {
            "username": "admin",
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": code_of(device),
        },
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_the_helper_gives_a_known_app(clock, agent):
    device = verified_login(Client(), agent)
    assert device.confirmed
    assert device.key == TEST_TOTP_KEY
    assert verified_login(Client(), agent).pk == device.pk
