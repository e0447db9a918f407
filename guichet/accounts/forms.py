"""Parsing what citizens type on the sign-in pages (the pages render the fields by hand)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from guichet.accounts.phones import PhoneError, allowed_countries, country_choices, parse_mobile
from guichet.accounts.services import CODE_DIGITS

_CODE = re.compile(rf"^[0-9]{{{CODE_DIGITS}}}$")


class PhoneForm(forms.Form):
    country = forms.ChoiceField(label=_("Pays"), choices=country_choices)
    phone = forms.CharField(label=_("Numéro de mobile"), max_length=40, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        country = data.get("country")
        if country is None:
            return data  # the select was tampered with: its own error is shown
        try:
            data["phone"] = parse_mobile(data.get("phone", ""), country=country)
        except PhoneError as exc:
            self.add_error("phone", exc.message)
        return data


def default_country() -> str:
    return allowed_countries()[0]


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Code reçu par SMS"), max_length=20, required=False)

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())  # "123 456" is fine
        if not _CODE.match(code):
            raise forms.ValidationError(
                _("Saisissez les %(digits)d chiffres du code reçu par SMS."),
                params={"digits": CODE_DIGITS},
            )
        return code


class ProfileForm(forms.Form):
    display_name = forms.CharField(
        label=_("Votre nom (facultatif)"),
        help_text=_("Il figure sur vos accusés de réception."),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("Adresse e-mail (facultatif)"),
        help_text=_(
            "Pour recevoir aussi les avis par e-mail. Votre numéro reste votre identifiant."
        ),
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={"invalid": _("Adresse e-mail invalide, ex. awa.traore@exemple.ml.")},
    )
    notify_by_sms = forms.BooleanField(
        label=_("Recevoir les avis par SMS"),
        help_text=_(
            "Les demandes de complément et les décisions vous sont toujours envoyées par SMS."
        ),
        required=False,
    )
    notify_by_email = forms.BooleanField(
        label=_("Recevoir aussi les avis par e-mail"), required=False
    )
    language = forms.ChoiceField(label=_("Langue des avis"), choices=settings.LANGUAGES)
