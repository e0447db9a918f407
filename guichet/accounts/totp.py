"""Staff sign-in: a password and a 6-digit code from an authenticator app (TOTP, RFC 6238).

Citizens sign in with a code sent by SMS (`services.py`, ADR 0006). Staff accounts sign in
with their username, their password and the code their app shows, checked by django-otp's
`TOTPDevice`. An agent without a confirmed app signs in with the password alone, and that
session opens only the page that sets the app up (`web/access.py`): a code from the app
confirms it and verifies the session.

A platform administrator resets a lost phone by deleting the agent's device in the admin;
the next sign-in then leads to the set-up page again.

Guessing is bounded three ways: failed sign-ins per username and per address (the
DB-backed limiter), and django-otp's own throttle on each device (after n wrong codes in a
row it refuses every code for 2^(n-1) seconds). A code works once (`TOTPDevice.last_t`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone
from django_otp import match_token, user_has_device
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from guichet.accounts.models import User
from guichet.core import ratelimit
from guichet.core.ratelimit import Limit, RateLimited
from guichet.governance import audit

DEVICE_NAME = "Application d'authentification"

# Failed staff sign-ins (wrong username, password or code). Per username, the ceiling on
# password guessing spread over many addresses; it also lets anyone who knows a username
# block that agent for 15 minutes, the accepted price (`ratelimit.reset` unblocks).
# Per address, generous: the agents of one office often share one address.
FAILURES_PER_USERNAME = Limit("staff.failures.username", 10, timedelta(minutes=15))
FAILURES_PER_ADDRESS = Limit("staff.failures.address", 30, timedelta(minutes=15))

_TOKEN = re.compile(r"^[0-9]{6,8}$")


class StaffSignInRefused(Exception):
    """Wrong username, password or code, disabled or non-staff account: one answer for all,
    so the page never tells whether the password was right."""


@dataclass(frozen=True)
class StaffSignIn:
    user: User
    device: Any
    """The device that accepted the code; None when the account has no confirmed app yet
    (the session is then signed in with the password only, to set the app up)."""


def clean_token(token: str) -> str:
    """The code without the spaces people type ("123 456"); "" if it is not 6 to 8 digits."""
    token = re.sub(r"\s+", "", token)
    return token if _TOKEN.match(token) else ""


def _failure_checks(*, username: str, address: str) -> list[ratelimit.Check]:
    return [(FAILURES_PER_USERNAME, username.casefold()), (FAILURES_PER_ADDRESS, address)]


def sign_in_staff(*, username: str, password: str, token: str, address: str) -> StaffSignIn:
    """The staff account these credentials open, and the device that accepted `token`.

    Raises `RateLimited` before checking anything when the username or the address failed
    too often, and `StaffSignInRefused` otherwise (the failure is counted and, for a staff
    account, audited). The caller signs the session in (`django.contrib.auth.login`, then
    `django_otp.login` with the device when there is one).
    """
    checks = _failure_checks(username=username, address=address)
    ratelimit.check(checks)
    # The password hash is checked outside any transaction: on SQLite a transaction holds
    # the write lock, and hashing takes a noticeable fraction of a second on purpose.
    user = authenticate(None, username=username, password=password)
    device = None
    reason = ""
    if not (isinstance(user, User) and user.is_staff and user.is_active):
        user, reason = None, "password"
    with transaction.atomic():
        if user is not None and user_has_device(user):
            token = clean_token(token)
            # Every confirmed device of the account, locked, so a code is used once.
            device = match_token(user, token) if token else None
            if device is None:
                reason = "code"
        account = user or User.objects.filter(username=username, is_staff=True).first()
        if reason and account is not None:
            if not account.is_active:
                reason = "account_disabled"
            audit.record("staff.sign_in_failed", obj=account, actor=None, data={"reason": reason})
        elif user is not None:
            audit.record(
                "staff.signed_in",
                obj=user,
                actor=user,
                data={"second_factor": "totp" if device is not None else "none"},
            )
    if reason:
        for limit, key in checks:
            ratelimit.hit(limit, key)
        raise StaffSignInRefused
    assert user is not None
    return StaffSignIn(user=user, device=device)


def confirmed_totp_device(user: User) -> Any:
    """The agent's confirmed authenticator app (the newest if several), or None."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("-pk").first()


def enrolment_device(user: User) -> Any:
    """The app this agent is setting up: the same secret on every visit until a code
    confirms it, so reloading the page does not spoil a QR code already scanned."""
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def confirm_totp_device(*, user: User, token: str) -> Any:
    """Confirm the app `user` is setting up if `token` is its current code; returns the
    device, or None for a wrong code (or nothing being set up).

    Raises `RateLimited` while the device refuses codes after wrong ones. The caller
    verifies the session (`django_otp.login`).
    """
    token = clean_token(token)
    with transaction.atomic():
        device = (
            TOTPDevice.objects.devices_for_user(user, confirmed=False)
            .select_for_update()
            .order_by("-pk")
            .first()
        )
        if device is None:
            return None
        allowed, details = device.verify_is_allowed()
        if not allowed:
            retry_at = (details or {}).get("locked_until") or timezone.now()
            raise RateLimited(retry_at=retry_at, scopes=["otp.device"])
        if not (token and device.verify_token(token)):
            return None  # the throttle counted the wrong code (committed with this block)
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.devices_for_user(user, confirmed=False).delete()
        audit.record("staff.totp_confirmed", obj=user, actor=user, data={"device": device.pk})
    return device


def current_code(device: Any) -> tuple[str, int]:
    """The code the device's app shows now, and the seconds it stays valid."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    now = time.time()
    totp.time = now
    remaining = device.step - int(now - device.t0) % device.step
    return f"{totp.token():0{device.digits}d}", remaining


def create_demo_totp_device(user: User, key_hex: str) -> Any:
    """A confirmed app with a known secret (hex), for demo accounts and tests only:
    whoever reads `key_hex` can compute the codes. Idempotent."""
    bytes.fromhex(key_hex)  # ValueError if it is not hexadecimal
    device = confirmed_totp_device(user) or TOTPDevice(user=user, name=DEVICE_NAME)
    if device.key != key_hex:
        device.key = key_hex
        device.last_t, device.drift = -1, 0  # what the old secret's codes left behind
        device.throttle_reset(commit=False)
    device.confirmed = True
    device.save()
    return device
