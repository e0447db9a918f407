"""Dossier references a citizen can read over the phone and type on a keypad.

`ML-7K3Q-9DXC`: the country, then seven random symbols and one check symbol, in two groups
of four. The alphabet is Crockford's base 32 (digits and capitals without I, L, O, U), so
nothing reads as something else; parsing forgives case, spaces, missing dashes and the
look-alikes (O→0, I/L→1). The check symbol (Luhn mod 32) catches every single wrong symbol
and almost every swap of two neighbours, so a mistyped reference is refused instead of
landing on somebody else's dossier.

Seven random symbols give 32**7 ≈ 3.4e10 references per country: at 10 million dossiers a
year a fresh reference collides with an existing one about once in 3,400 tries, and the
caller retries on the unique constraint.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {symbol: index for index, symbol in enumerate(ALPHABET)}
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
RANDOM_LENGTH = 7
_SHAPE = re.compile(r"^([A-Z]{2})([0-9A-Z]{8})$")


def check_symbol(payload: str) -> str:
    """Luhn mod N over the alphabet: the symbol that makes the whole string check out."""
    n = len(ALPHABET)
    total, factor = 0, 2
    for symbol in reversed(payload):
        addend = factor * _VALUE[symbol]
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return ALPHABET[(n - total % n) % n]


def _is_valid(body: str) -> bool:
    return check_symbol(body[:-1]) == body[-1]


def format_reference(country: str, body: str) -> str:
    return f"{country}-{body[:4]}-{body[4:]}"


def new_reference(country: str) -> str:
    """A fresh random reference for a dossier of `country` (ML, BF, NE)."""
    payload = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return format_reference(country.upper(), payload + check_symbol(payload))


def parse_reference(text: str) -> str | None:
    """The canonical reference for what a citizen typed, or None if it cannot be one."""
    compact = re.sub(r"[\s\-_.]", "", text.upper())
    match = _SHAPE.match(compact)
    if not match:
        return None
    country, body = match.group(1), match.group(2).translate(_LOOK_ALIKES)
    if any(symbol not in _VALUE for symbol in body) or not _is_valid(body):
        return None
    return format_reference(country, body)
