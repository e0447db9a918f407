"""The catalog cut into citable units: one field of one procedure, with a stable id.

An answer quotes units and nothing else. A unit's id is `<procedure id>#<field>`
(`ml-passeport#fees`); its address is the procedure's sheet with the field's anchor
(`/demarches/ml-passeport/#cout`), so a citizen can check every sentence against the
official sheet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from guichet.catalog.texts import format_xof, pick

# Field -> anchor of its section on the procedure sheet (templates/public/procedure.html).
ANCHORS = {
    "title": "",
    "fees": "cout",
    "delay": "delai",
    "authority": "administration",
    "audience": "qui",
    "documents": "pieces",
    "steps": "etapes",
    "office": "ou",
    "legal_basis": "base-legale",
}
# What an answer shows when the question asks for nothing in particular.
DEFAULT_FIELDS = ("documents", "fees", "delay", "office")


def _labels() -> dict[str, str]:
    return {
        "title": pgettext("assistant", "Démarche"),
        "fees": _("Coût"),
        "delay": _("Délai"),
        "authority": _("Administration"),
        "audience": _("Qui peut faire la demande ?"),
        "documents": _("Pièces à fournir"),
        "steps": _("Étapes"),
        "office": _("Où s'adresser ?"),
        "legal_basis": _("Base légale"),
    }


@dataclass(frozen=True)
class Unit:
    id: str
    procedure_id: str
    field: str
    label: str
    text: str
    """The field as the sheet prints it, in one paragraph (lists joined by " ; ")."""
    items: tuple[str, ...]
    """The field's list items (documents, steps), or the text alone."""

    @property
    def url(self) -> str:
        sheet = reverse("public:procedure", args=[self.procedure_id])
        anchor = ANCHORS[self.field]
        return f"{sheet}#{anchor}" if anchor else sheet


def unit_id(procedure_id: str, field: str) -> str:
    return f"{procedure_id}#{field}"


def fee_text(fees: Mapping[str, Any], language: str | None = None) -> str:
    """The cost as the sheet states it: amount or "Gratuit", then the details."""
    kind = fees.get("kind")
    details = pick(fees.get("details"), language)
    head = ""
    if kind == "fixed" and fees.get("amount_xof") is not None:
        head = format_xof(int(fees["amount_xof"]))
    elif kind == "free":
        head = _("Gratuit")
    elif kind == "unknown" and not details:
        head = _("Non connu : renseignez-vous auprès du service.")
    return " — ".join(part for part in (head, details) if part)


def _delay_text(delay: Mapping[str, Any], language: str | None) -> str:
    text = pick(delay.get("text"), language) or _("Non connu.")
    days = delay.get("legal_days")
    if days is not None:
        text += " " + _("(délai légal : %(days)d jours)") % {"days": days}
    return text


def units_of(definition: Mapping[str, Any], language: str | None = None) -> dict[str, Unit]:
    """The citable units of one procedure, by field, in `language` (French as fallback).
    A field the definition leaves empty has no unit: nothing can be quoted from it."""
    pid = str(definition["id"])
    authority = definition.get("authority") or {}
    lists = {
        "documents": [pick(d, language) for d in definition.get("documents") or []],
        "steps": [pick(s, language) for s in definition.get("steps") or []],
    }
    texts = {
        "title": pick(definition.get("title"), language),
        "fees": fee_text(definition.get("fees") or {}, language),
        "delay": _delay_text(definition.get("delay") or {}, language),
        "authority": pick(authority.get("name"), language),
        "audience": pick(definition.get("audience"), language),
        "office": pick(definition.get("office"), language)
        or pick(authority.get("service"), language)
        or pick(authority.get("name"), language),
        "legal_basis": pick(definition.get("legal_basis"), language),
    }
    labels = _labels()
    units: dict[str, Unit] = {}
    for field in ANCHORS:
        items = tuple(i for i in lists.get(field, [texts.get(field, "")]) if i)
        if not items:
            continue
        units[field] = Unit(
            id=unit_id(pid, field),
            procedure_id=pid,
            field=field,
            label=labels[field],
            text=" ; ".join(items),
            items=items,
        )
    return units
