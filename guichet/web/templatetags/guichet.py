from __future__ import annotations

import re
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from guichet.catalog.texts import FALLBACK_LANGUAGE, format_xof, has_translation, pick

register = template.Library()

# "55 000 FCFA" must not break between "55" and "000" on a narrow phone screen.
_GROUPED_DIGITS = re.compile(r"(?<=\d) (?=\d{3}\b)")


@register.filter
def tr(text: Any) -> SafeString | str:
    """A definition text in the active language, else in French marked `lang="fr"`.

    The mark lets a screen reader read the French fallback with French pronunciation on an
    English or Bambara page (WCAG 3.1.2). Use `tr_text` where markup is not allowed.
    """
    language = (get_language() or FALLBACK_LANGUAGE).split("-")[0]
    value = _GROUPED_DIGITS.sub("\xa0", pick(text, language))
    if language == FALLBACK_LANGUAGE or not value or has_translation(text, language):
        return value
    return format_html('<span lang="{}">{}</span>', FALLBACK_LANGUAGE, value)


@register.filter
def tr_text(text: Any) -> str:
    """The same text without markup, for `<title>` and attributes."""
    return pick(text)


@register.filter
def xof(amount: int) -> str:
    """An amount in francs CFA, grouped the way it is printed in the region: `45 000 FCFA`.

    The same in every language: Django has no number format for bm or mos, and an English
    "45,000" would read as forty-five to a French reader.
    """
    return format_xof(amount)
