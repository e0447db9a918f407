from __future__ import annotations

from typing import Any

from django import template
from django.utils.formats import number_format

from guichet.catalog.texts import pick

register = template.Library()


@register.filter
def tr(text: Any) -> str:
    """A definition text in the active language, French when it has no translation."""
    return pick(text)


@register.filter
def xof(amount: int) -> str:
    """An amount in francs CFA with grouped thousands (`45 000 FCFA`)."""
    return f"{number_format(amount, force_grouping=True)} FCFA"
