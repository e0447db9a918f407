"""The words of the sign-in SMS: short, GSM-7 only, no personal data."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from guichet.accounts.limits import CODE_LIFETIME
from guichet.notifications.gsm7 import fits_one_sms


def sign_in_code_sms(code: str) -> str:
    """The SMS that carries a sign-in code, in the active language when it fits one SMS.

    A translation that needs characters outside GSM-7 (Bambara "ɛ", a typographic
    apostrophe) would be sent as UCS-2, 70 characters per SMS: French is sent instead.
    """
    text = _render(code)
    if not fits_one_sms(text):
        with translation.override(settings.LANGUAGE_CODE):
            text = _render(code)
    return text


def _render(code: str) -> str:
    return gettext(
        "%(site)s : votre code est %(code)s. Il expire dans %(minutes)s minutes. "
        "Ne le donnez à personne."
    ) % {
        "site": settings.GUICHET_SITE_NAME,
        "code": code,
        "minutes": int(CODE_LIFETIME.total_seconds() // 60),
    }
