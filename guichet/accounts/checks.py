"""System checks for sign-in settings: wrong values stop `manage.py check` and `migrate`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation

from guichet.accounts.phones import allowed_countries
from guichet.accounts.texts import sign_in_code_sms
from guichet.notifications.gsm7 import fits_one_sms


@register()
def check_sign_in_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    try:
        allowed_countries()
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="guichet.accounts.E001"))
    with translation.override(settings.LANGUAGE_CODE):
        text = sign_in_code_sms("000000")
    if not fits_one_sms(text):
        errors.append(
            Error(
                f"The sign-in SMS does not fit one GSM-7 SMS: {text!r}.",
                hint="Use a short GUICHET_SITE_NAME made of GSM-7 characters (no « — ’ ê).",
                id="guichet.accounts.E002",
            )
        )
    return errors
