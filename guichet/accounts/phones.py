"""Mobile numbers as citizens type them, checked with `phonenumbers`, kept as E.164.

"70 12 34 56" (with Mali chosen), "0022370123456" and "+223 70123456" all become
"+22370123456". Only mobile numbers of the countries in `settings.PHONE_COUNTRIES` are
accepted: a code sent by SMS to a landline or to a foreign number would be lost or costly.
"""

from __future__ import annotations

import re

import phonenumbers
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from phonenumbers import PhoneNumber, PhoneNumberFormat, PhoneNumberType, geocoder

# Names and messages written by hand for the default countries (the French preposition
# changes with the country); any other country listed in the setting gets a generic one.
COUNTRY_NAMES: dict[str, Promise] = {
    "ML": _("Mali"),
    "BF": _("Burkina Faso"),
    "NE": _("Niger"),
}
NOT_MOBILE: dict[str, Promise] = {
    "ML": _("Ce numéro n'est pas un numéro de mobile du Mali."),
    "BF": _("Ce numéro n'est pas un numéro de mobile du Burkina Faso."),
    "NE": _("Ce numéro n'est pas un numéro de mobile du Niger."),
}
MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)

# Digits and the separators people type; letters would be read as a keypad ("vanity"
# numbers) by `phonenumbers`, which nobody means here.
_TYPED = re.compile(r"^[0-9 ()+./-]{1,30}$")


class PhoneError(ValueError):
    """A number that cannot receive a sign-in code; `message` says why, in plain French."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def allowed_countries() -> list[str]:
    countries = [code.strip().upper() for code in settings.PHONE_COUNTRIES]
    unknown = [code for code in countries if code not in phonenumbers.SUPPORTED_REGIONS]
    if unknown or not countries:
        raise ImproperlyConfigured(
            f"PHONE_COUNTRIES must list country codes known to phonenumbers, not {unknown}."
        )
    return countries


def country_name(country: str) -> str:
    if country in COUNTRY_NAMES:
        return str(COUNTRY_NAMES[country])
    example = phonenumbers.example_number_for_type(country, PhoneNumberType.MOBILE)
    language = (get_language() or settings.LANGUAGE_CODE).split("-")[0]
    if example is None:
        return country
    return geocoder.country_name_for_number(example, language) or country


def country_choices() -> list[tuple[str, str]]:
    """For the country select: ("ML", "Mali (+223)"), …"""
    return [
        (code, f"{country_name(code)} (+{phonenumbers.country_code_for_region(code)})")
        for code in allowed_countries()
    ]


def example_number(country: str) -> str:
    """A mobile number of the country as people write it there, e.g. "70 12 34 56"."""
    example = phonenumbers.example_number_for_type(country, PhoneNumberType.MOBILE)
    return phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL) if example else ""


def parse_mobile(raw: str, *, country: str) -> str:
    """The E.164 form of a mobile number typed with `country` chosen, or `PhoneError`."""
    allowed = allowed_countries()
    if country not in allowed:
        raise ValueError(f"country {country!r} is not in PHONE_COUNTRIES")
    typed = " ".join(raw.split())
    if not typed:
        raise PhoneError(str(_("Saisissez votre numéro de mobile.")))
    if not _TYPED.match(typed):
        raise PhoneError(
            str(_("Saisissez uniquement des chiffres, par exemple %(example)s."))
            % {"example": example_number(country)}
        )
    try:
        number = phonenumbers.parse(typed, country)
    except phonenumbers.NumberParseException:
        raise _invalid(country) from None

    if not set(_regions(number)) & set(allowed):
        raise _wrong_country(allowed)
    if not phonenumbers.is_valid_number(number):
        raise _invalid(_region(number, fallback=country, allowed=allowed))
    region = _region(number, fallback=country, allowed=allowed)
    if region not in allowed:
        raise _wrong_country(allowed)
    if phonenumbers.number_type(number) not in MOBILE_TYPES:
        message = NOT_MOBILE.get(region) or _(
            "Ce numéro n'est pas un numéro de mobile (%(country)s)."
        ) % {"country": country_name(region)}
        raise PhoneError(str(message))
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _region(number: PhoneNumber, *, fallback: str, allowed: list[str]) -> str:
    region = phonenumbers.region_code_for_number(number)
    if region:
        return region
    # An invalid number has no region of its own: name the one its calling code points
    # to among the allowed countries, else the one the citizen chose.
    return next((r for r in _regions(number) if r in allowed), fallback)


def _regions(number: PhoneNumber) -> tuple[str, ...]:
    """The countries that share the number's calling code (+1: the US, Canada, …)."""
    return phonenumbers.region_codes_for_country_code(number.country_code or 0)


def _invalid(country: str) -> PhoneError:
    return PhoneError(
        str(_("Ce numéro n'est pas valide (%(country)s). Exemple : %(example)s."))
        % {"country": country_name(country), "example": example_number(country)}
    )


def _wrong_country(allowed: list[str]) -> PhoneError:
    return PhoneError(
        str(_("Ce numéro n'est pas d'un pays accepté. Pays acceptés : %(countries)s."))
        % {"countries": ", ".join(country_name(code) for code in allowed)}
    )


def mask(phone: str) -> str:
    """A number fit for logs and screens: "+223 70 ** ** 56" (first and last two digits)."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return "***"
    formatted = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    prefix = f"+{number.country_code}"
    national = formatted[len(prefix) :]
    digits = sum(c.isdigit() for c in national)
    seen = 0
    masked = []
    for char in national:
        if char.isdigit():
            seen += 1
            if 2 < seen <= digits - 2:
                char = "*"
        masked.append(char)
    return prefix + "".join(masked)


def international_format(phone: str) -> str:
    """The number as "+223 70 12 34 56": how a citizen recognises what they typed."""
    number = phonenumbers.parse(phone, None)
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
