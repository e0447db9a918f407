"""Translatable texts of a definition: `{"fr": ..., "en": ...}`, French as the fallback."""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language

FALLBACK_LANGUAGE = "fr"


def pick(text: Any, language: str | None = None) -> str:
    """The text in `language` (default: the active one), else in French; '' for None."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    language = (language or get_language() or FALLBACK_LANGUAGE).split("-")[0]
    return str(text.get(language) or text.get(FALLBACK_LANGUAGE) or "")


def has_translation(text: Any, language: str) -> bool:
    return isinstance(text, dict) and bool(text.get(language))


def format_xof(amount: int) -> str:
    """An amount in francs CFA, grouped the way it is printed in the region: `45 000 FCFA`."""
    return f"{amount:,}".replace(",", "\xa0") + "\xa0FCFA"
