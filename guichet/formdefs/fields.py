"""Field types: how each `type` of the format becomes a Django form field, and back.

Each type is a `Kind` with four duties:
- `form_field`: the Django field (label, help text, widget attributes for phones, messages
  in plain French) whose `clean()` returns the answer in its JSON form;
- `initial`: a stored answer as the widget's initial value, to show the page again;
- `as_data`: a stored answer as the POST data that would produce it, so that
  `FormSpec.clean_answers` re-validates stored answers with the very same fields;
- `display`: the answer as text for the summary page.

Answers are JSON: text → str, number → int or float, amount → int (francs CFA), date →
"AAAA-MM-JJ", yes_no → bool, multiple_choice and file → list of str, commune → code, or
{"other": name} for a commune missing from a partial list, group → list of dicts.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from guichet.catalog.texts import pick
from guichet.formdefs import references
from guichet.formdefs.conditions import is_empty, is_number
from guichet.formdefs.definition import resolve_date_bound
from guichet.formdefs.files import FileKind, FileRules

if TYPE_CHECKING:
    from guichet.formdefs.spec import FieldSpec

Data = dict[str, list[str]]
CALLING_CODES = {"ML": "223", "BF": "226", "NE": "227"}  # all three use 8-digit numbers
SELECT_ABOVE = 7  # more choices than this: a drop-down list rather than radio buttons
ATTACHMENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")


@dataclass(frozen=True)
class BuildContext:
    """What a field needs beyond its own definition to build and check a page."""

    country: str  # the procedure's country: default for phones, regions
    language: str
    today: date
    prior: Mapping[str, Any]  # answers of the earlier pages, hidden ones already dropped
    attachments: Mapping[str, FileKind] | None  # the dossier's uploads: id → sniffed type


class AnswerTypeError(TypeError):
    """A stored answer does not have the JSON type its field gives (tampered or stale)."""


def _spaceless(value: str) -> str:
    return _SPACES.sub("", value)


def format_xof(amount: int) -> str:
    return f"{amount:,}".replace(",", "\u00a0") + "\u00a0FCFA"


def _number_text(value: float) -> str:
    return str(value).replace(".", ",")


# --- Custom Django fields ------------------------------------------------------------------


class TelInput(forms.TextInput):
    input_type = "tel"


def _check_bounds(
    value: Any,
    low: Any,
    high: Any,
    *,
    too_low: str,
    too_high: str,
    shown: Callable[[Any], str],
) -> None:
    """The min/max rule of numbers and amounts; `shown` writes a bound for the citizen."""
    if value is None:
        return
    if low is not None and value < low:
        raise ValidationError(too_low % {"min": shown(low)}, "min_value")
    if high is not None and value > high:
        raise ValidationError(too_high % {"max": shown(high)}, "max_value")


class NumberField(forms.Field):
    """A number typed as text: "12,5" and "1 200" are accepted (French habits)."""

    widget = forms.TextInput

    def __init__(
        self, *, integer: bool, min_value: float | None, max_value: float | None, **kwargs: Any
    ) -> None:
        self.integer, self.min_value, self.max_value = integer, min_value, max_value
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> int | float | None:
        if value in self.empty_values:
            return None
        text = _spaceless(str(value)).replace(",", ".")
        if not re.fullmatch(r"[+-]?\d{1,15}(\.\d{1,6})?", text):
            raise ValidationError(_("Écrivez un nombre en chiffres (ex. 12 ou 12,5)."), "invalid")
        number = float(text)
        if self.integer and not number.is_integer():
            raise ValidationError(_("Écrivez un nombre entier, sans virgule."), "integer")
        return int(number) if number.is_integer() else number

    def validate(self, value: Any) -> None:
        super().validate(value)
        _check_bounds(
            value,
            self.min_value,
            self.max_value,
            too_low=_("Indiquez un nombre d'au moins %(min)s."),
            too_high=_("Indiquez un nombre d'au plus %(max)s."),
            shown=_number_text,
        )


class AmountField(forms.Field):
    """An amount in francs CFA, whole francs: "25 000", "25000 FCFA" and "25.000" are fine."""

    widget = forms.TextInput

    def __init__(self, *, min_value: int | None, max_value: int | None, **kwargs: Any) -> None:
        self.min_value, self.max_value = min_value, max_value
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        text = re.sub(r"(?i)(f\s*cfa|cfa|xof|f)$", "", _spaceless(str(value)))
        if re.fullmatch(r"\d{1,3}(\.\d{3})+", text):
            text = text.replace(".", "")
        if not re.fullmatch(r"\d{1,15}", text):
            raise ValidationError(
                _("Indiquez un montant en francs CFA, en chiffres et sans centimes (ex. 25 000)."),
                "invalid",
            )
        return int(text)

    def validate(self, value: Any) -> None:
        super().validate(value)
        _check_bounds(
            value,
            self.min_value,
            self.max_value,
            too_low=_("Le montant doit être d'au moins %(min)s."),
            too_high=_("Le montant doit être d'au plus %(max)s."),
            shown=format_xof,
        )


class DatePartsWidget(forms.MultiWidget):
    """Day, month and year in three small boxes: works on every phone, no date picker."""

    def __init__(self) -> None:
        def part(label: str, placeholder: str, size: int) -> forms.TextInput:
            attrs = {"inputmode": "numeric", "maxlength": str(size), "size": str(size)}
            return forms.TextInput(attrs={**attrs, "aria-label": label, "placeholder": placeholder})

        super().__init__(
            [
                part(_("Jour"), _("JJ"), 2),
                part(_("Mois"), _("MM"), 2),
                part(_("Année"), _("AAAA"), 4),
            ]
        )

    def decompress(self, value: Any) -> list[str | None]:
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            year, month, day = value.split("-")
            return [day, month, year]
        return [None, None, None]


class DatePartsField(forms.MultiValueField):
    widget = DatePartsWidget

    def __init__(self, *, min_bound: str | None, max_bound: str | None, today: date, **kwargs: Any):
        self.min_bound, self.max_bound, self.today = min_bound, max_bound, today
        parts = [forms.CharField(required=False) for _index in range(3)]
        super().__init__(parts, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[Any]) -> str | None:
        if not data_list or all(not p for p in data_list):
            return None
        if any(not p for p in data_list):
            raise ValidationError(
                _("Indiquez la date complète : jour, mois et année."), "incomplete"
            )
        day, month, year = (_spaceless(str(p)) for p in data_list)
        if not (day.isdigit() and month.isdigit() and year.isdigit()):
            raise ValidationError(_("Écrivez la date en chiffres (ex. 12 03 1990)."), "invalid")
        if len(year) != 4:
            raise ValidationError(_("Écrivez l'année avec 4 chiffres (ex. 1990)."), "year")
        try:
            value = date(int(year), int(month), int(day))
        except ValueError:
            raise ValidationError(
                _("Cette date n'existe pas : vérifiez le jour et le mois."), "invalid"
            ) from None
        if self.min_bound and value < resolve_date_bound(self.min_bound, self.today):
            limit = resolve_date_bound(self.min_bound, self.today)
            raise ValidationError(
                _("La date doit être le %(date)s ou après.") % {"date": limit.strftime("%d/%m/%Y")},
                "min",
            )
        if self.max_bound and value > resolve_date_bound(self.max_bound, self.today):
            if self.max_bound == "today":
                raise ValidationError(_("La date ne peut pas être dans le futur."), "future")
            limit = resolve_date_bound(self.max_bound, self.today)
            raise ValidationError(
                _("La date doit être le %(date)s ou avant.") % {"date": limit.strftime("%d/%m/%Y")},
                "max",
            )
        return value.isoformat()


class PhoneField(forms.CharField):
    def __init__(self, *, country: str, **kwargs: Any) -> None:
        self.country = country
        super().__init__(max_length=30, **kwargs)

    def clean(self, value: Any) -> str:
        text = super().clean(value)
        if not text:
            return ""
        normalised = normalise_phone(text, self.country)
        if normalised is None:
            code = CALLING_CODES.get(self.country, "")
            raise ValidationError(
                _(
                    "Numéro de téléphone invalide : écrivez les 8 chiffres (ex. 76 12 34 56) ou "
                    "le numéro international (ex. +%(code)s 76 12 34 56)."
                )
                % {"code": code},
                "invalid",
            )
        return normalised


def _phonenumbers() -> Any:
    """The `phonenumbers` package when installed; None otherwise (a loose check is used)."""
    try:
        return importlib.import_module("phonenumbers")
    except ImportError:
        return None


def normalise_phone(text: str, country: str) -> str | None:
    """The number in E.164 form (+22376123456), or None when it cannot be a phone number."""
    library = _phonenumbers()
    if library is not None:
        try:
            number = library.parse(text, country)
        except library.NumberParseException:
            return None
        if not library.is_valid_number(number):
            return None
        return str(library.format_number(number, library.PhoneNumberFormat.E164))
    digits = re.sub(r"[\s\u00a0.\-()/]", "", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits.startswith("+"):
        return digits if re.fullmatch(r"\+[1-9]\d{7,14}", digits) else None
    if re.fullmatch(r"\d{8}", digits) and country in CALLING_CODES:
        return f"+{CALLING_CODES[country]}{digits}"
    return None


def display_phone(number: str) -> str:
    match = re.fullmatch(r"\+(22[367])(\d{2})(\d{2})(\d{2})(\d{2})", number)
    return "+" + " ".join(match.groups()) if match else number


class NationalIdField(forms.CharField):
    def __init__(self, *, scheme: references.IdScheme, **kwargs: Any) -> None:
        self.scheme = scheme
        super().__init__(max_length=40, **kwargs)

    def clean(self, value: Any) -> str:
        text = super().clean(value)
        if not text:
            return ""
        normalised = re.sub(r"[\s\u00a0.\-]", "", text).upper()
        scheme = self.scheme
        allowed = r"[0-9]" if scheme.charset == "digits" else r"[0-9A-Z]"
        if not re.fullmatch(f"{allowed}{{{scheme.min_length},{scheme.max_length}}}", normalised):
            what = _("chiffres") if scheme.charset == "digits" else _("chiffres et lettres")
            raise ValidationError(
                _(
                    "Vérifiez le numéro : il comporte de %(min)d à %(max)d %(what)s, "
                    "sans autre signe."
                )
                % {"min": scheme.min_length, "max": scheme.max_length, "what": what},
                "invalid",
            )
        return normalised


class OrderedMultipleChoiceField(forms.MultipleChoiceField):
    """Ticked values in the order of the definition, whatever order the browser sent."""

    def __init__(self, *, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        self.order = [value for value, _label in choices]
        super().__init__(choices=choices, **kwargs)

    def clean(self, value: Any) -> list[str]:
        picked = set(super().clean(value))
        return [v for v in self.order if v in picked]


class CommuneWidget(forms.MultiWidget):
    def __init__(self, choices: Sequence[Any]) -> None:
        # The group's label names the pair; each part needs its own name for screen readers.
        select = forms.Select(choices=choices, attrs={"aria-label": _("Commune")})
        other = forms.TextInput(attrs={"aria-label": _("Autre commune"), "maxlength": "100"})
        super().__init__([select, other])

    def decompress(self, value: Any) -> list[str | None]:
        if isinstance(value, dict) and isinstance(value.get("other"), str):
            return [references.OTHER_COMMUNE, value["other"]]
        if isinstance(value, str):
            return [value, None]
        return [None, None]


class CommuneField(forms.MultiValueField):
    """A commune from a partial list, or "Autre commune" and its name typed in."""

    def __init__(self, *, choices: Sequence[Any], **kwargs: Any) -> None:
        select = forms.ChoiceField(
            choices=choices,
            required=False,
            error_messages={"invalid_choice": _("Choisissez une commune de la liste.")},
        )
        other = forms.CharField(required=False, max_length=100)
        kwargs.setdefault("widget", CommuneWidget(choices))
        super().__init__([select, other], require_all_fields=False, **kwargs)

    def compress(self, data_list: list[Any]) -> str | dict[str, str] | None:
        code, other = (data_list + ["", ""])[:2] if data_list else ("", "")
        other = (other or "").strip()
        if code == references.OTHER_COMMUNE or (not code and other):
            if not other:
                raise ValidationError(_("Écrivez le nom de votre commune."), "other")
            return {"other": other}
        return code or None


class AttachmentsField(forms.Field):
    """References (ids) of files already uploaded by the dossier code, never the bytes."""

    widget = forms.MultipleHiddenInput

    def __init__(
        self, *, rules: FileRules, attachments: Mapping[str, FileKind] | None, **kwargs: Any
    ) -> None:
        self.rules, self.attachments = rules, attachments
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str]:
        items = value if isinstance(value, list | tuple) else [value]
        ids = [str(v).strip() for v in items if v not in self.empty_values]
        return list(dict.fromkeys(i for i in ids if i))

    def validate(self, value: Any) -> None:
        super().validate(value)
        if len(value) > self.rules.max_files:
            raise ValidationError(
                ngettext(
                    "Vous pouvez joindre au plus %(n)d fichier.",
                    "Vous pouvez joindre au plus %(n)d fichiers.",
                    self.rules.max_files,
                )
                % {"n": self.rules.max_files},
                "max_files",
            )
        for attachment in value:
            if not ATTACHMENT_ID.match(attachment):
                raise ValidationError(_("Pièce jointe invalide."), "invalid")
            if self.attachments is None:
                continue
            if attachment not in self.attachments:
                raise ValidationError(
                    _("Pièce jointe introuvable : joignez le fichier de nouveau."), "unknown"
                )
            if not self.rules.accepts(self.attachments[attachment]):
                kinds = ", ".join(k.upper() for k in self.rules.accept)
                raise ValidationError(
                    _("Ce type de fichier n'est pas accepté ici (accepté : %(kinds)s).")
                    % {"kinds": kinds},
                    "type",
                )


# --- Kinds ---------------------------------------------------------------------------------------


class Kind:
    """Default behaviour: a one-line text answer."""

    json_types: tuple[type, ...] = (str,)
    required_message = gettext_noop("Ce champ est obligatoire.")  # translated at build time

    def form_field(self, spec: FieldSpec, ctx: BuildContext, **common: Any) -> forms.Field:
        return forms.CharField(max_length=200, **common)

    def check(self, value: Any) -> None:
        """Raise AnswerTypeError unless `value` has this type's JSON type (bool is no number)."""
        is_bool = isinstance(value, bool)
        if not isinstance(value, self.json_types) or (is_bool and bool not in self.json_types):
            raise AnswerTypeError(type(value).__name__)

    def initial(self, spec: FieldSpec, value: Any) -> Any:
        return value

    def as_data(self, spec: FieldSpec, name: str, value: Any) -> Data:
        self.check(value)
        return {name: [str(value)]}

    def display(self, spec: FieldSpec, value: Any, language: str) -> str:
        return str(value)


class TextKind(Kind):
    def form_field(self, spec: FieldSpec, ctx: BuildContext, **common: Any) -> forms.Field:
        o = spec.options
        attrs = {"autocomplete": o["autocomplete"]} if "autocomplete" in o else {}
        validators = []
        if "pattern" in o:  # the whole answer must match: a pattern is a format
            message = pick(o["pattern_message"], ctx.language)
            validators.append(RegexValidator(f"^(?:{o['pattern']})\\Z", message, "pattern"))
        return forms.CharField(
            min_length=o.get("min_length"),
            max_length=o.get("max_length", 200),
            validators=validators,
            widget=forms.TextInput(attrs=attrs),
            **common,
        )


class LongTextKind(Kind):
    def form_field(self, spec: FieldSpec, ctx: BuildContext, **common: Any) -> forms.Field:
        o = spec.options
        return forms.CharField(
            min_length=o.get("min_length"),
            max_length=o.get("max_length", 2000),
            widget=forms.Textarea(attrs={"rows": 4}),
            **common,
        )


class NumberKind(Kind):
    json_types = (int, float)

    def form_field(self, spec: FieldSpec, ctx: BuildContext, **common: Any) -> forms.Field:
        o = spec.options
        integer = bool(o.get("integer"))
        mode = "numeric" if integer else "decimal"
        return NumberField(
            integer=integer,
            min_value=o.get("min"),
            max_value=o.get("max"),
            widget=forms.TextInput(attrs={"inputmode": mode, "size": "10"}),
            **common,
        )

    def initial(self, spec: FieldSpec, value: Any) -> Any:
        return _number_text(value) if is_number(value) else value

    def as_data(self, spec: FieldSpec, name: str, value: Any) -> Data:
        self.check(value)
        return {name: [str(value)]}

    def display(self, spec: FieldSpec, value: Any, language: str) -> str:
        return _number_text(value)


class AmountKind(Kind):
    json_types = (int,)

    def form_field(self, spec: FieldSpec, ctx: BuildContext, **common: Any) -> forms.Field:
        o = spec.options
        attrs = {"inputmode": "numeric", "size": "12"}
        return AmountField(
            min_value=o.get("min"), max_value=o.get("max"), widget=forms.TextInput(attrs), **common
        )

    def display(self, spec: FieldSpec, value: Any, language: str) -> str:
        return format_xof(value)


class DateKind(Kind):
    required_message = gettext_noop("Indiquez la date.")

    def form_field(self, spec: FieldSpec, ctx: BuildContext, **common: Any) -> forms.Field:
        o = spec.options
        return DatePartsField(
            min_bound=o.get("min"), max_bound=o.get("max"), today=ctx.today, **common
        )

    def as_data(self, spec: FieldSpec, name: str, value: Any) -> Data:
        self.check(value)
        day, month, year = DatePartsWidget().decompress(value)
        if day is None:
            raise AnswerTypeError("date")
        return {f"{name}_0": [day], f"{name}_1": [month or ""], f"{name}_2": [year or ""]}

    def display(self, spec: FieldSpec, value: Any, language: str) -> str:
        return date.fromisoformat(value).strftime("%d/%m/%Y")


class EmailKind(Kind):
    def form_field(self, spec: FieldSpec, ctx: BuildContext, **common: Any) -> forms.Field:
        return forms.EmailField(
            widget=forms.EmailInput(attrs={"autocomplete": "email"}),
            error_messages={
                **common.pop("error_messages"),
                "invalid": _("Adresse e-mail invalide : vérifiez-la (ex. nom@exemple.com)."),
            },
            **common,
        )


class PhoneKind(Kind):
    def form_field(self, spec: FieldSpec, ctx: BuildContext, **common: Any) -> forms.Field:
        attrs = {"autocomplete": "tel", "inputmode": "tel"}
        return PhoneField(country=ctx.country, widget=TelInput(attrs=attrs), **common)

    def display(self, spec: FieldSpec, value: Any, language: str) -> str:
        return display_phone(value)


class ChoiceKind(Kind):
    required_message = gettext_noop("Choisissez une réponse.")

    def form_field(self, spec: FieldSpec, ctx: BuildContext, **common: Any) -> forms.Field:
        choices = [(c["value"], pick(c["label"], ctx.language)) for c in spec.options["choices"]]
        if len(choices) > SELECT_ABOVE:
            widget: type[forms.Widget] = forms.Select
            choices = [("", _("— Choisissez —")), *choices]
        else:
            widget = forms.RadioSelect
        return forms.ChoiceField(choices=choices, widget=widget, **_invalid_choice(common))

    def display(self, spec: FieldSpec, value: Any, language: str) -> str:
        return spec.choice_label(value, language)


class MultipleChoiceKind(Kind):
    json_types = (list,)
    required_message = gettext_noop("Cochez au moins une case.")

    def form_field(self, spec: FieldSpec, ctx: BuildContext, **common: Any) -> forms.Field:
        choices = [(c["value"], pick(c["label"], ctx.language)) for c in spec.options["choices"]]
        return OrderedMultipleChoiceField(
            choices=choices, widget=forms.CheckboxSelectMultiple, **_invalid_choice(common)
        )

    def check(self, value: Any) -> None:
        _check_str_list(value)

    def as_data(self, spec: FieldSpec, name: str, value: Any) -> Data:
        self.check(value)
        return {name: list(value)}

    def display(self, spec: FieldSpec, value: Any, language: str) -> str:
        return ", ".join(spec.choice_label(v, language) for v in value)


class YesNoKind(Kind):
    json_types = (bool,)
    required_message = gettext_noop("Répondez par oui ou par non.")

    def form_field(self, spec: FieldSpec, ctx: BuildContext, **common: Any) -> forms.Field:
        return forms.TypedChoiceField(
            choices=[("oui", _("Oui")), ("non", _("Non"))],
            coerce=lambda v: v == "oui",
            empty_value=None,
            widget=forms.RadioSelect,
            **_invalid_choice(common),
        )

    def initial(self, spec: FieldSpec, value: Any) -> Any:
        return {True: "oui", False: "non"}.get(value) if isinstance(value, bool) else None

    def as_data(self, spec: FieldSpec, name: str, value: Any) -> Data:
        self.check(value)
        return {name: ["oui" if value else "non"]}

    def display(self, spec: FieldSpec, value: Any, language: str) -> str:
        return _("Oui") if value else _("Non")


class CountryKind(Kind):
    required_message = gettext_noop("Choisissez un pays.")

    def form_field(self, spec: FieldSpec, ctx: BuildContext, **common: Any) -> forms.Field:
        countries = references.countries()
        # The procedure's own country first: most answers, one tap.
        ordered = sorted(countries.values(), key=lambda c: c.code != ctx.country)
        choices = [("", _("— Choisissez un pays —"))]
        choices += [(c.code, c.name(ctx.language)) for c in ordered]
        return forms.ChoiceField(choices=choices, **_invalid_choice(common))

    def display(self, spec: FieldSpec, value: Any, language: str) -> str:
        country = references.countries().get(value)
        return country.name(language) if country else value


class RegionKind(Kind):
    required_message = gettext_noop("Choisissez une région.")

    def form_field(self, spec: FieldSpec, ctx: BuildContext, **common: Any) -> forms.Field:
        known = references.territories(spec.options.get("country", ctx.country))
        regions = known.regions.values() if known else ()
        choices = [("", _("— Choisissez une région —"))]
        choices += [(r.code, r.name) for r in regions]
        return forms.ChoiceField(choices=choices, **_invalid_choice(common))

    def display(self, spec: FieldSpec, value: Any, language: str) -> str:
        known = references.territories(spec.region_country)
        region = known.regions.get(value) if known else None
        return region.name if region else value


class CommuneKind(Kind):
    json_types = (str, dict)
    required_message = gettext_noop("Choisissez une commune.")

    def form_field(self, spec: FieldSpec, ctx: BuildContext, **common: Any) -> forms.Field:
        known = references.territories(spec.region_country)
        if known is None:  # the definition check makes this unreachable
            return forms.CharField(max_length=100, **common)
        region = spec.options.get("region") or ctx.prior.get(spec.options.get("region_field", ""))
        choices: list[Any] = [("", _("— Choisissez une commune —"))]
        if isinstance(region, str) and region in known.regions:
            choices += [(c.code, c.name) for c in known.communes_of(region)]
        else:  # the region is asked on this page: every commune, grouped by region
            for code, item in known.regions.items():
                group = [(c.code, c.name) for c in known.communes_of(code)]
                if group:
                    choices.append((item.name, group))
        if known.communes_complete:
            return forms.ChoiceField(choices=choices, **_invalid_choice(common))
        # The lists are partial for now: nobody may be stuck because their commune is missing.
        choices.append((references.OTHER_COMMUNE, _("Autre commune (écrivez son nom)")))
        hint = _("Commune absente de la liste : choisissez « Autre commune » et écrivez son nom.")
        common["help_text"] = f"{common['help_text']} {hint}".strip()
        return CommuneField(choices=choices, **common)

    def check(self, value: Any) -> None:
        if isinstance(value, str):
            return
        if isinstance(value, dict) and set(value) == {"other"} and isinstance(value["other"], str):
            return
        raise AnswerTypeError(type(value).__name__)

    def as_data(self, spec: FieldSpec, name: str, value: Any) -> Data:
        self.check(value)
        if isinstance(value, dict):
            return {f"{name}_0": [references.OTHER_COMMUNE], f"{name}_1": [value["other"]]}
        known = references.territories(spec.region_country)
        if known is not None and known.communes_complete:
            return {name: [value]}
        return {f"{name}_0": [value], f"{name}_1": [""]}

    def display(self, spec: FieldSpec, value: Any, language: str) -> str:
        if isinstance(value, dict):
            return _("%(name)s (commune hors liste)") % {"name": value["other"]}
        known = references.territories(spec.region_country)
        commune = known.communes.get(value) if known else None
        return commune.name if commune else value


class NationalIdKind(Kind):
    def form_field(self, spec: FieldSpec, ctx: BuildContext, **common: Any) -> forms.Field:
        attrs = {"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        scheme = references.id_schemes()[spec.options["scheme"]]
        return NationalIdField(scheme=scheme, widget=forms.TextInput(attrs=attrs), **common)


class FileKindHandler(Kind):
    json_types = (list,)
    required_message = gettext_noop("Joignez ce document.")

    def form_field(self, spec: FieldSpec, ctx: BuildContext, **common: Any) -> forms.Field:
        return AttachmentsField(rules=spec.file_rules, attachments=ctx.attachments, **common)

    def check(self, value: Any) -> None:
        _check_str_list(value)

    def as_data(self, spec: FieldSpec, name: str, value: Any) -> Data:
        self.check(value)
        return {name: list(value)}

    def display(self, spec: FieldSpec, value: Any, language: str) -> str:
        return ngettext("%(n)d fichier joint", "%(n)d fichiers joints", len(value)) % {
            "n": len(value)
        }


def _check_str_list(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AnswerTypeError(type(value).__name__)


def _invalid_choice(common: dict[str, Any]) -> dict[str, Any]:
    messages = {
        **common.pop("error_messages"),
        "invalid_choice": _("Choisissez une des réponses proposées."),
    }
    return {**common, "error_messages": messages}


KINDS: dict[str, Kind] = {
    "text": TextKind(),
    "long_text": LongTextKind(),
    "number": NumberKind(),
    "amount": AmountKind(),
    "date": DateKind(),
    "email": EmailKind(),
    "phone": PhoneKind(),
    "choice": ChoiceKind(),
    "multiple_choice": MultipleChoiceKind(),
    "yes_no": YesNoKind(),
    "country": CountryKind(),
    "region": RegionKind(),
    "commune": CommuneKind(),
    "national_id": NationalIdKind(),
    "file": FileKindHandler(),
}


def build_field(spec: FieldSpec, ctx: BuildContext, *, label: str, required: bool) -> forms.Field:
    """The Django field of `spec`; `required` may be False when a condition decides later."""
    kind = KINDS[spec.type]
    common: dict[str, Any] = {
        "label": label,
        "required": required,
        "help_text": pick(spec.help, ctx.language) if spec.help else "",
        "error_messages": {"required": _(kind.required_message)},
    }
    return kind.form_field(spec, ctx, **common)


def answer_display(spec: FieldSpec, value: Any, language: str) -> str:
    if is_empty(value):
        return _("Non renseigné")
    return KINDS[spec.type].display(spec, value, language)
