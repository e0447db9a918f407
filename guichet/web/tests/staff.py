"""Test helpers for staff pages, which require the second factor (`web/access.py`)."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY

from guichet.accounts.models import User
from guichet.accounts.totp import confirmed_totp_device, create_demo_totp_device

TEST_TOTP_KEY = "3132333435363738393031323334353637383930"
"""RFC 6238's test secret ("12345678901234567890"), hex as django-otp stores it."""


def verified_login(client: Client, user: User) -> Any:
    """Sign `client` in as `user` with both factors, as if the app's code had been typed.

    Gives the user a confirmed TOTP device if it has none; returns the device.
    """
    device = confirmed_totp_device(user) or create_demo_totp_device(user, TEST_TOTP_KEY)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device
