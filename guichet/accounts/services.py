"""Signing in with a mobile number and a code sent by SMS (ADR 0006).

`request_code` sends a code; `sign_in_with_code` checks it and returns the citizen, whose
account is created on the first success. A code belongs to the browser session that asked
for it: the view keeps its id in the session and passes it back, never the form.
"""

from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext, ngettext

from guichet.accounts import queries
from guichet.accounts.limits import (
    CODE_LIFETIME,
    FAILURES_PER_ADDRESS,
    FAILURES_PER_NUMBER_AND_ADDRESS,
    MAX_GUESSES_PER_CODE,
    SENDS_PER_ADDRESS,
    SENDS_PER_ADDRESS_DAILY,
    SENDS_PER_NUMBER,
    SENDS_PER_NUMBER_DAILY,
)
from guichet.accounts.models import SignInCode, User
from guichet.accounts.phones import mask
from guichet.accounts.texts import sign_in_code_sms
from guichet.core import ratelimit
from guichet.governance import audit
from guichet.notifications.services import notify

CODE_DIGITS = 6


class SignInError(Exception):
    """A code check that did not sign anyone in; `message` is for the citizen."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CodeNotValid(SignInError):
    """Expired, used, replaced by a newer code, dead after too many guesses, or unknown."""

    def __init__(self) -> None:
        super().__init__(gettext("Ce code n'est plus valable. Demandez un nouveau code."))


class WrongCode(SignInError):
    def __init__(self, *, attempts_left: int) -> None:
        if attempts_left:
            message = ngettext(
                "Code incorrect. Il vous reste %(count)d essai.",
                "Code incorrect. Il vous reste %(count)d essais.",
                attempts_left,
            ) % {"count": attempts_left}
        else:
            message = gettext(
                "Code incorrect. Ce code n'est plus valable : demandez-en un nouveau."
            )
        super().__init__(message)
        self.attempts_left = attempts_left


class AccountRefused(SignInError):
    """The number belongs to an account that may not sign in with a code."""


def _failure_checks(*, phone: str, address: str) -> list[ratelimit.Check]:
    return [
        (FAILURES_PER_NUMBER_AND_ADDRESS, f"{phone}|{address}"),
        (FAILURES_PER_ADDRESS, address),
    ]


def _hash_code(*, salt: str, phone: str, code: str) -> str:
    # A keyed HMAC, not a password hash: see ADR 0006 (10^6 codes, ten minutes, five guesses).
    return salted_hmac(
        "guichet.accounts.sign-in-code", f"{salt}:{phone}:{code}", algorithm="sha256"
    ).hexdigest()


def request_code(
    *, phone: str, address: str, replaces: int | None, actor: audit.Actor
) -> SignInCode:
    """Send a new code by SMS to `phone` (E.164); the code `replaces` stops working.

    Raises `ratelimit.RateLimited` when the number or the address asked for too many codes,
    or when this address made too many wrong guesses for this number (a code it may not
    check is not worth an SMS). Refused requests send nothing and count nothing.
    """
    ratelimit.check(_failure_checks(phone=phone, address=address))
    ratelimit.consume(
        [
            (SENDS_PER_NUMBER, phone),
            (SENDS_PER_NUMBER_DAILY, phone),
            (SENDS_PER_ADDRESS, address),
            (SENDS_PER_ADDRESS_DAILY, address),
        ]
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    text = sign_in_code_sms(code)
    with transaction.atomic():
        if replaces is not None:
            SignInCode.objects.filter(pk=replaces, status=SignInCode.Status.ACTIVE).update(
                status=SignInCode.Status.REPLACED
            )
        now = timezone.now()
        salt = secrets.token_hex(16)
        sign_in_code = SignInCode.objects.create(
            phone=phone,
            salt=salt,
            code_hash=_hash_code(salt=salt, phone=phone, code=code),
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
        audit.record("account.code_sent", obj=sign_in_code, actor=actor, data=_masked(phone))
        # Through the outbox like every message (retried if the gateway is down); its text
        # is erased once sent. Sent even to a number that turned SMS notices off.
        notify(user=None, to=phone, event="account.code", object_ref="connexion", text=text)
    return sign_in_code


def sign_in_with_code(*, code_id: int, phone: str, code: str, address: str) -> User:
    """The citizen who received `code` for sign-in code `code_id`; raises `SignInError`.

    The account is created on the first success (unusable password). A wrong guess is
    counted on the code (five kill it), on (number, address) and on the address; never on
    the number alone, so nobody can lock a citizen out (ADR 0006). Raises
    `ratelimit.RateLimited` before looking at the code when this address failed too often.
    """
    failure_checks = _failure_checks(phone=phone, address=address)
    ratelimit.check(failure_checks)
    user: User | None = None
    error: SignInError | None = None
    with transaction.atomic():
        # Locked, so two guesses at once both count (PostgreSQL; SQLite writes one at a time).
        sign_in_code = (
            SignInCode.objects.select_for_update().filter(pk=code_id, phone=phone).first()
        )
        now = timezone.now()
        if (
            sign_in_code is None
            or sign_in_code.status != SignInCode.Status.ACTIVE
            or now >= sign_in_code.expires_at
        ):
            raise CodeNotValid
        sign_in_code.attempts += 1
        guess = _hash_code(salt=sign_in_code.salt, phone=phone, code=code)
        if not constant_time_compare(sign_in_code.code_hash, guess):
            if sign_in_code.attempts >= MAX_GUESSES_PER_CODE:
                sign_in_code.status = SignInCode.Status.EXHAUSTED
            sign_in_code.save(update_fields=["attempts", "status"])
            # Raised after the commit: the guess must stay counted.
            error = WrongCode(attempts_left=MAX_GUESSES_PER_CODE - sign_in_code.attempts)
        else:
            sign_in_code.status = SignInCode.Status.USED
            sign_in_code.used_at = now
            sign_in_code.save(update_fields=["attempts", "status", "used_at"])
            user, error = _citizen_for(phone)
            if error is None:
                audit.record("account.signed_in", obj=user, actor=user, data=_masked(phone))
    if isinstance(error, WrongCode):
        for limit, key in failure_checks:
            ratelimit.hit(limit, key)
    if error is not None:
        raise error
    assert user is not None
    return user


def _citizen_for(phone: str) -> tuple[User, SignInError | None]:
    user = queries.user_with_phone(phone)
    if user is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(username=_new_username(), phone=phone)
        except IntegrityError:
            # The same number signed in from two sessions at the same moment.
            return User.objects.get(phone=phone), None
        audit.record("account.created", obj=user, actor=user, data=_masked(phone))
        return user, None
    if user.is_staff or user.is_superuser:
        # Agents sign in with their password and a second factor (accounts/totp.py): a code
        # sent to their phone alone must not open a staff session.
        message = gettext(
            "Ce numéro est celui d'un compte d'agent : connectez-vous avec votre identifiant "
            "et votre mot de passe."
        )
        return user, AccountRefused(message)
    if not user.is_active:
        return user, AccountRefused(
            gettext("Ce compte est désactivé. Adressez-vous au service qui gère ce site.")
        )
    return user, None


def _new_username() -> str:
    # Never the number: the username appears in audit entries and in the admin.
    return f"citoyen-{secrets.token_hex(6)}"


def _masked(phone: str) -> dict[str, str]:
    return {"phone": mask(phone)}


PROFILE_FIELDS = ("display_name", "email", "notify_by_sms", "notify_by_email", "language")


@transaction.atomic
def update_profile(
    *,
    user: User,
    display_name: str,
    email: str,
    notify_by_sms: bool = True,
    notify_by_email: bool = True,
    language: str = "fr",
) -> User:
    """What the citizen chooses: a name for receipts, an email for notices, which channels
    and which language. All optional; the mobile number stays the identity."""
    new = {
        "display_name": display_name,
        "email": email,
        "notify_by_sms": notify_by_sms,
        "notify_by_email": notify_by_email,
        "language": language,
    }
    changed = sorted(name for name in PROFILE_FIELDS if getattr(user, name) != new[name])
    for name in PROFILE_FIELDS:
        setattr(user, name, new[name])
    user.save(update_fields=list(PROFILE_FIELDS))
    if changed:
        # Which fields changed, never their values: the audit log keeps no more than needed.
        audit.record("account.profile_updated", obj=user, actor=user, data={"fields": changed})
    return user
