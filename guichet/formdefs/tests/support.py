"""Small procedure definitions with a form, written as YAML like an administrator would."""

from __future__ import annotations

import textwrap
from datetime import date
from typing import Any

import pytest

from guichet.catalog.definition import DefinitionSetError, parse_definition
from guichet.formdefs.spec import FormSpec

TODAY = date(2026, 3, 1)
SOURCE = "<essai>"

_BASE = """\
format: 1
id: {prefix}-essai
country: {country}
title: Démarche d'essai
theme: etat-civil
authority: {{id: {prefix}-mairie, name: Mairie}}
audience: null
documents:
- Extrait d'acte de naissance
- Certificat de résidence
fees: {{kind: unknown}}
delay: {{text: null}}
legal_basis: null
steps: []
sources: []
last_verified: null
confidence: partial
workflow: {{services: [{prefix}-mairie-centrale]}}
form:
  pages:
"""
_PRIVACY = """\
  privacy:
    purpose: Traiter votre demande.
    legal_basis: Mission de service public.
    retention: {fr: Un an après la décision., en: One year after the decision.}
    recipients: Le service qui instruit la demande.
"""


def definition_text(pages: str, *, country: str = "ML", privacy: bool = True) -> str:
    body = textwrap.indent(textwrap.dedent(pages).strip("\n"), "  ") + "\n"
    text = _BASE.format(prefix=country.lower(), country=country) + body
    return text + (_PRIVACY if privacy else "")


def spec_from(pages: str, **kwargs: Any) -> FormSpec:
    definition = parse_definition(definition_text(pages, **kwargs), SOURCE)
    return FormSpec.from_definition(definition.data)


def errors_of(pages: str, **kwargs: Any) -> tuple[str, list[str]]:
    """The definition text and its errors, which the test expects to exist."""
    text = definition_text(pages, **kwargs)
    with pytest.raises(DefinitionSetError) as excinfo:
        parse_definition(text, SOURCE)
    return text, [str(e) for e in excinfo.value.errors]


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return lines[occurrence - 1]


def submit(
    spec: FormSpec, page_id: str, data: dict[str, Any], answers: dict[str, Any] | None = None
) -> tuple[bool, dict[str, list[str]], dict[str, Any]]:
    """Post `data` to a page: (valid, errors by field name, the page's answers)."""
    form = spec.build_form(page_id, answers or {}, data=data, today=TODAY)
    valid = form.is_valid()
    errors = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
    return valid, errors, form.answers if valid else {}


def one_field(field_yaml: str, **kwargs: Any) -> FormSpec:
    """A one-page form holding the given field (YAML of one list item)."""
    item = "- " + textwrap.indent(textwrap.dedent(field_yaml).strip("\n"), "  ").lstrip()
    field = textwrap.indent(item, "  ")
    return spec_from("- id: p\n  title: Page\n  fields:\n" + field, **kwargs)
