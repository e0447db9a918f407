"""The staff second factor's services and the development command that shows a code."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from guichet.accounts import totp as staff_totp
from guichet.governance.models import AuditEntry

pytestmark = pytest.mark.django_db

KEY = "3132333435363738393031323334353637383930"


@pytest.fixture
def agent(django_user_model):
    return django_user_model.objects.create_user(username="agent", password="x", is_staff=True)


def test_clean_token_accepts_digits_and_spaces_only():
    assert staff_totp.clean_token(" 123 456 ") == "123456"
    assert staff_totp.clean_token("12345") == ""
    assert staff_totp.clean_token("12a456") == ""
    assert staff_totp.clean_token("１２３４５６") == ""  # full-width digits are not digits here


def test_demo_device_is_confirmed_with_the_given_key_and_idempotent(clock, agent):
    device = staff_totp.create_demo_totp_device(agent, KEY)
    again = staff_totp.create_demo_totp_device(agent, KEY)

    assert again.pk == device.pk
    assert TOTPDevice.objects.filter(user=agent).count() == 1
    assert staff_totp.confirmed_totp_device(agent).key == KEY
    with pytest.raises(ValueError, match="hexadecimal|non-hex"):
        staff_totp.create_demo_totp_device(agent, "pas-hexa")


def test_current_code_is_the_apps_code(clock, agent):
    device = staff_totp.create_demo_totp_device(agent, KEY)
    code, seconds = staff_totp.current_code(device)
    assert code == f"{totp(device.bin_key):06d}"
    assert 0 < seconds <= 30


def test_sign_in_service_needs_the_code_of_a_confirmed_device(clock, agent):
    device = staff_totp.create_demo_totp_device(agent, KEY)
    with pytest.raises(staff_totp.StaffSignInRefused):
        staff_totp.sign_in_staff(username="agent", password="x", token="", address="1.2.3.4")

    result = staff_totp.sign_in_staff(
        username="agent", password="x", token=staff_totp.current_code(device)[0], address="1.2.3.4"
    )

    assert result.user == agent
    assert result.device.pk == device.pk


def test_an_unconfirmed_device_does_not_count_for_sign_in(clock, agent):
    staff_totp.enrolment_device(agent)
    result = staff_totp.sign_in_staff(username="agent", password="x", token="", address="1.2.3.4")
    assert result.device is None


def test_confirming_a_device_removes_other_unconfirmed_ones(clock, agent):
    first = staff_totp.enrolment_device(agent)
    assert staff_totp.enrolment_device(agent).pk == first.pk
    TOTPDevice.objects.create(user=agent, name="autre", confirmed=False)
    latest = staff_totp.enrolment_device(agent)

    confirmed = staff_totp.confirm_totp_device(user=agent, token=f"{totp(latest.bin_key):06d}")

    assert confirmed.pk == latest.pk
    assert list(TOTPDevice.objects.filter(user=agent).values_list("pk", "confirmed")) == [
        (latest.pk, True)
    ]
    assert AuditEntry.objects.filter(action="staff.totp_confirmed", actor=agent).count() == 1


def test_totp_code_command_refuses_outside_development(settings, agent):
    settings.DEBUG = False
    staff_totp.create_demo_totp_device(agent, KEY)
    with pytest.raises(CommandError, match="développement"):
        call_command("totp_code", "agent")


def test_totp_code_command_prints_the_current_code(settings, clock, agent):
    settings.DEBUG = True
    device = staff_totp.create_demo_totp_device(agent, KEY)
    out = StringIO()

    call_command("totp_code", "agent", stdout=out)

    assert out.getvalue().startswith(f"{totp(device.bin_key):06d} ")


def test_totp_code_command_explains_a_missing_account_or_app(settings, agent):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="Aucun compte"):
        call_command("totp_code", "personne")
    with pytest.raises(CommandError, match="pas d'application"):
        call_command("totp_code", "agent")
