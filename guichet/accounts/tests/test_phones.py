from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import translation

from guichet.accounts.phones import PhoneError, country_choices, mask, parse_mobile


@pytest.mark.parametrize(
    ("typed", "country", "expected"),
    [
        ("70 12 34 56", "ML", "+22370123456"),
        ("70123456", "ML", "+22370123456"),
        ("0022370123456", "ML", "+22370123456"),
        ("+223 70123456", "ML", "+22370123456"),
        ("(+223) 70-12-34-56", "ML", "+22370123456"),
        ("  70.12.34.56 ", "ML", "+22370123456"),
        # An international number wins over the country chosen in the select.
        ("+223 70 12 34 56", "NE", "+22370123456"),
        ("00 226 70 12 34 56", "ML", "+22670123456"),
        ("70 12 34 56", "BF", "+22670123456"),
        ("65 01 23 45", "ML", "+22365012345"),
        ("90 12 34 56", "NE", "+22790123456"),
        ("93 12 34 56", "NE", "+22793123456"),
    ],
)
def test_numbers_as_citizens_type_them_become_e164(typed, country, expected):
    assert parse_mobile(typed, country=country) == expected


@pytest.mark.parametrize(
    ("typed", "country", "message"),
    [
        ("20 22 33 44", "ML", "Ce numéro n'est pas un numéro de mobile du Mali."),
        ("25 30 12 34", "BF", "Ce numéro n'est pas un numéro de mobile du Burkina Faso."),
        ("20 72 33 44", "NE", "Ce numéro n'est pas un numéro de mobile du Niger."),
        ("+223 20 22 33 44", "BF", "Ce numéro n'est pas un numéro de mobile du Mali."),
    ],
)
def test_landlines_are_refused_naming_the_country(typed, country, message):
    with pytest.raises(PhoneError) as refused:
        parse_mobile(typed, country=country)
    assert refused.value.message == message


@pytest.mark.parametrize("typed", ["+33 6 12 34 56 78", "+221 77 123 45 67", "0033612345678"])
def test_numbers_of_other_countries_are_refused(typed):
    with pytest.raises(PhoneError) as refused:
        parse_mobile(typed, country="ML")
    assert refused.value.message == (
        "Ce numéro n'est pas d'un pays accepté. Pays acceptés : Mali, Burkina Faso, Niger."
    )


@pytest.mark.parametrize("typed", ["70 12 34 5", "123", "+223 70 12 34 56 78"])
def test_invalid_numbers_are_refused_with_an_example(typed):
    with pytest.raises(PhoneError) as refused:
        parse_mobile(typed, country="ML")
    assert refused.value.message == "Ce numéro n'est pas valide (Mali). Exemple : 65 01 23 45."


@pytest.mark.parametrize("typed", ["70 AB CD EF", "70123456<script>", "7" * 31])
def test_letters_and_other_characters_are_refused(typed):
    with pytest.raises(PhoneError, match="uniquement des chiffres"):
        parse_mobile(typed, country="ML")


def test_empty_number_asks_for_one():
    with pytest.raises(PhoneError, match="Saisissez votre numéro de mobile"):
        parse_mobile("   ", country="BF")


def test_another_country_can_be_allowed_by_setting(settings):
    settings.PHONE_COUNTRIES = ["ML", "BF", "NE", "SN"]
    assert parse_mobile("77 123 45 67", country="SN") == "+221771234567"
    assert country_choices()[-1] == ("SN", "Sénégal (+221)")
    with pytest.raises(PhoneError, match=r"pas un numéro de mobile \(Sénégal\)"):
        parse_mobile("33 823 45 67", country="SN")


def test_country_select_offers_the_default_countries_with_their_code():
    assert country_choices() == [
        ("ML", "Mali (+223)"),
        ("BF", "Burkina Faso (+226)"),
        ("NE", "Niger (+227)"),
    ]


def test_country_outside_the_setting_is_a_programming_error():
    with pytest.raises(ValueError, match="PHONE_COUNTRIES"):
        parse_mobile("77 123 45 67", country="SN")


def test_unknown_country_in_the_setting_stops_the_checks(settings):
    settings.PHONE_COUNTRIES = ["ML", "XX"]
    with pytest.raises(SystemCheckError, match=r"accounts\.E001"):
        call_command("check")


def test_site_name_that_breaks_the_sms_stops_the_checks(settings):
    settings.GUICHET_SITE_NAME = "Guichet — Ministère de la Transformation numérique"
    with pytest.raises(SystemCheckError, match=r"accounts\.E002"):
        call_command("check")


def test_mask_shows_the_first_and_last_two_digits_only():
    assert mask("+22370123456") == "+223 70 ** ** 56"
    assert mask("+22790123456") == "+227 90 ** ** 56"
    assert mask("+221771234567") == "+221 77 *** ** 67"
    assert mask("pas un numéro") == "***"


def test_errors_follow_the_page_language():
    with translation.override("fr"), pytest.raises(PhoneError) as refused:
        parse_mobile("", country="ML")
    assert refused.value.message == "Saisissez votre numéro de mobile."
