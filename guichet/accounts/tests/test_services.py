from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import translation

from guichet.accounts import services
from guichet.accounts.models import SignInCode, User
from guichet.accounts.services import AccountRefused, CodeNotValid, WrongCode
from guichet.accounts.tests.conftest import T0
from guichet.accounts.tests.inbox import OWNER, wrong
from guichet.accounts.texts import sign_in_code_sms
from guichet.core.ratelimit import RateLimited
from guichet.governance.models import AuditEntry
from guichet.notifications import gsm7
from guichet.notifications.models import OutboxSms

pytestmark = pytest.mark.django_db

HOME = "197.155.1.2"
ATTACKER = "41.73.9.9"


def sign_in(
    sign_in_code: SignInCode, code: str, *, phone: str = OWNER, address: str = HOME
) -> User:
    return services.sign_in_with_code(
        code_id=sign_in_code.pk, phone=phone, code=code, address=address
    )


def test_code_is_six_random_digits_stored_only_as_a_keyed_hash(clock, send_code, monkeypatch):
    draws = []
    real = secrets.randbelow

    def spy(n):
        draws.append(n)
        return real(n)

    monkeypatch.setattr(secrets, "randbelow", spy)
    sign_in_code, code = send_code()
    assert draws == [1_000_000]
    assert len(code) == 6 and code.isdigit()
    row = SignInCode.objects.values().get(pk=sign_in_code.pk)
    assert all(code not in str(value) for value in row.values())
    assert len(row["code_hash"]) == 64
    assert row["expires_at"] == T0 + timedelta(minutes=10)


def test_codes_with_leading_zeros_keep_six_digits(clock, send_code, monkeypatch):
    monkeypatch.setattr(secrets, "randbelow", lambda n: 42)
    sign_in_code, code = send_code()
    assert code == "000042"
    assert sign_in(sign_in_code, "000042").phone == OWNER


def test_code_works_until_ten_minutes_and_not_a_second_later(clock, send_code):
    early, early_code = send_code()
    clock.shift(timedelta(minutes=9, seconds=59))
    assert sign_in(early, early_code).phone == OWNER

    clock.move_to(T0 + timedelta(hours=1), tick=False)
    late, late_code = send_code()
    clock.shift(timedelta(minutes=10))
    with pytest.raises(CodeNotValid):
        sign_in(late, late_code)


def test_code_works_only_once(clock, send_code):
    sign_in_code, code = send_code()
    sign_in(sign_in_code, code)
    with pytest.raises(CodeNotValid):
        sign_in(sign_in_code, code)


def test_sixth_guess_is_refused_even_when_right(clock, send_code):
    sign_in_code, code = send_code()
    for attempts_left in (4, 3, 2, 1, 0):
        with pytest.raises(WrongCode) as refused:
            sign_in(sign_in_code, wrong(code))
        assert refused.value.attempts_left == attempts_left
    with pytest.raises(CodeNotValid):
        sign_in(sign_in_code, code)
    assert SignInCode.objects.get().status == SignInCode.Status.EXHAUSTED


def test_wrong_guesses_stay_counted_although_the_check_raises(clock, send_code):
    sign_in_code, code = send_code()
    with pytest.raises(WrongCode):
        sign_in(sign_in_code, wrong(code))
    assert SignInCode.objects.get().attempts == 1


def test_new_code_makes_the_previous_one_stop_working(clock, send_code):
    first, first_code = send_code()
    second, second_code = send_code(replaces=first.pk)
    with pytest.raises(CodeNotValid):
        sign_in(first, first_code)
    assert sign_in(second, second_code).phone == OWNER


def test_code_works_only_with_the_number_it_was_sent_to(clock, send_code):
    sign_in_code, code = send_code()
    with pytest.raises(CodeNotValid):
        sign_in(sign_in_code, code, phone="+22370999999")
    assert not User.objects.filter(phone="+22370999999").exists()


def test_fourth_code_in_fifteen_minutes_is_refused_then_allowed_again(clock, send_code):
    for _ in range(3):
        send_code()
        clock.shift(timedelta(minutes=4))
    with pytest.raises(RateLimited) as refused:
        send_code()
    assert refused.value.retry_at == T0 + timedelta(minutes=15)
    assert OutboxSms.objects.count() == 3
    clock.move_to(T0 + timedelta(minutes=15), tick=False)
    send_code()
    assert OutboxSms.objects.count() == 4


def test_eleventh_code_in_a_day_is_refused(clock, send_code):
    for _ in range(10):
        send_code()
        clock.shift(timedelta(minutes=16))
    with pytest.raises(RateLimited) as refused:
        send_code()
    assert refused.value.retry_at == T0 + timedelta(days=1)
    assert OutboxSms.objects.count() == 10


def test_one_address_cannot_send_codes_to_many_numbers(clock, send_code):
    # SMS pumping: many numbers from one address.
    numbers = [f"+2237012{i:04d}" for i in range(11)]
    for number in numbers[:10]:
        send_code(number, address=ATTACKER)
    with pytest.raises(RateLimited):
        send_code(numbers[10], address=ATTACKER)
    send_code(numbers[10], address=HOME)  # the number itself is not blocked


def test_wrong_guesses_are_limited_per_number_and_address(clock, send_code):
    for _ in range(2):
        sign_in_code, code = send_code(address=ATTACKER)
        for _ in range(5):
            with pytest.raises(WrongCode):
                sign_in(sign_in_code, wrong(code), address=ATTACKER)
    sign_in_code, code = send_code(address=HOME)
    # The attacker's address may neither guess nor make us send more SMS for this number...
    with pytest.raises(RateLimited):
        sign_in(sign_in_code, code, address=ATTACKER)
    with pytest.raises(RateLimited):
        send_code(address=ATTACKER)
    # ...but it may still sign in with another number (the per-address limit is higher).
    other, other_code = send_code("+22670123456", address=ATTACKER)
    assert sign_in(other, other_code, phone="+22670123456", address=ATTACKER)


def test_wrong_guesses_are_limited_per_address_across_numbers(clock, send_code):
    for i in range(10):
        number = f"+2237055{i:04d}"
        sign_in_code, code = send_code(number, address=ATTACKER)
        for _ in range(5):
            with pytest.raises(WrongCode):
                sign_in(sign_in_code, wrong(code), phone=number, address=ATTACKER)
        if i % 3 == 2:
            clock.shift(timedelta(minutes=16))  # stay under the per-address send limit
    sign_in_code, code = send_code(OWNER, address=HOME)
    with pytest.raises(RateLimited):
        sign_in(sign_in_code, code, address=ATTACKER)


def test_attacker_failures_never_lock_the_owner_out(clock, send_code):
    # The attacker asks for codes for the owner's number and guesses until refused.
    for _ in range(2):
        sign_in_code, code = send_code(address=ATTACKER)
        for _ in range(5):
            with pytest.raises(WrongCode):
                sign_in(sign_in_code, wrong(code), address=ATTACKER)
    with pytest.raises(RateLimited):
        send_code(address=ATTACKER)
    # The owner, from their own connection, is not affected.
    sign_in_code, code = send_code(address=HOME)
    assert sign_in(sign_in_code, code).phone == OWNER


def test_guesses_on_another_session_code_do_not_kill_the_owner_code(clock, send_code):
    owner_code_row, owner_code = send_code(address=HOME)
    attacker_row, attacker_code = send_code(address=ATTACKER)
    for _ in range(5):
        with pytest.raises(WrongCode):
            sign_in(attacker_row, wrong(attacker_code), address=ATTACKER)
    assert sign_in(owner_code_row, owner_code).phone == OWNER


def test_first_success_creates_the_account_and_later_ones_reuse_it(clock, send_code):
    sign_in_code, code = send_code()
    user = sign_in(sign_in_code, code)
    assert user.phone == OWNER
    assert not user.has_usable_password()
    assert OWNER.lstrip("+") not in user.username
    assert user.display_name == "" and user.email == ""

    clock.shift(timedelta(days=3))
    sign_in_code, code = send_code()
    assert sign_in(sign_in_code, code) == user
    assert User.objects.filter(phone=OWNER).count() == 1
    assert AuditEntry.objects.filter(action="account.created").count() == 1
    assert AuditEntry.objects.filter(action="account.signed_in").count() == 2


def test_staff_number_cannot_open_a_staff_session_with_a_code(clock, send_code):
    User.objects.create_user(username="agent", password="x", is_staff=True, phone=OWNER)
    sign_in_code, code = send_code()
    with pytest.raises(AccountRefused, match="compte d'agent"):
        sign_in(sign_in_code, code)


def test_disabled_account_cannot_sign_in(clock, send_code):
    User.objects.create_user(username="citoyen-x", phone=OWNER, is_active=False)
    sign_in_code, code = send_code()
    with pytest.raises(AccountRefused, match="désactivé"):
        sign_in(sign_in_code, code)


def test_audit_holds_a_masked_number_never_the_full_number_or_the_code(clock, send_code):
    sign_in_code, code = send_code()
    sign_in(sign_in_code, code)
    entries = list(AuditEntry.objects.order_by("id"))
    assert [e.action for e in entries] == [
        "account.code_sent",
        "account.created",
        "account.signed_in",
    ]
    for entry in entries:
        text = f"{entry.actor_label} {entry.object_id} {entry.data}"
        assert "70123456" not in text and code not in text
        assert entry.data == {"phone": "+223 70 ** ** 56"}


def test_sms_carries_the_code_and_nothing_personal(clock, send_code):
    _, code = send_code()
    (message,) = OutboxSms.objects.all()
    assert message.to == OWNER
    assert message.text == (
        f"Guichet : votre code est {code}. Il expire dans 10 minutes. Ne le donnez à personne."
    )


@pytest.mark.parametrize("language", [code for code, _ in settings.LANGUAGES])
def test_sign_in_sms_is_gsm7_and_fits_one_sms_in_every_language(language):
    with translation.override(language):
        text = sign_in_code_sms("123456")
    assert gsm7.is_gsm7(text), gsm7.non_gsm7_characters(text)
    assert gsm7.fits_one_sms(text), len(text)
    assert "123456" in text


def test_a_translation_that_is_not_gsm7_falls_back_to_french(monkeypatch):
    bambara = "%(site)s : i ka kodi ye %(code)s ye. A bɛ ban miniti %(minutes)s kɔnɔ."

    def fake_gettext(message):
        return bambara if translation.get_language() == "bm" else message

    monkeypatch.setattr("guichet.accounts.texts.gettext", fake_gettext)
    with translation.override("bm"):
        text = sign_in_code_sms("123456")
    assert text.startswith("Guichet : votre code est 123456.")
