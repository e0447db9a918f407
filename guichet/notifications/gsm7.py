"""The GSM 03.38 alphabet: what one SMS can carry without switching to UCS-2.

A text made only of these characters travels in 7-bit units, 160 per SMS. One character
outside them (a typographic apostrophe, "ê", "ɛ") turns the whole message into UCS-2:
70 characters per SMS, so the same text may cost two or three SMS, or be cut by a gateway.
"""

from __future__ import annotations

SMS_SEPTETS = 160
"""Septets in one SMS that is not split into parts."""
CONCATENATED_SEPTETS = 153
"""Septets of each part of a long SMS (the rest carries the header that joins them)."""

BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ"  # 0x00-0x1A (0x1B is the escape to the extension table)
    "ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The 127 printable characters of the default alphabet (one septet each)."""

EXTENSION = "\f^{}\\[~]|€"
"""Characters of the extension table (an escape septet plus one: two septets each)."""

_BASIC = frozenset(BASIC)
_EXTENSION = frozenset(EXTENSION)


def septets(text: str) -> int | None:
    """How many septets the text takes in GSM-7, or None if it cannot be written in it."""
    total = 0
    for char in text:
        if char in _BASIC:
            total += 1
        elif char in _EXTENSION:
            total += 2
        else:
            return None
    return total


def is_gsm7(text: str) -> bool:
    """The text can be sent in the GSM 7-bit default alphabet."""
    return septets(text) is not None


def fits_one_sms(text: str) -> bool:
    """The text is GSM-7 and fits in one SMS (160 septets)."""
    count = septets(text)
    return count is not None and count <= SMS_SEPTETS


def fits_sms(text: str, parts: int) -> bool:
    """The text is GSM-7 and fits in `parts` SMS (a long SMS carries 153 septets a part)."""
    count = septets(text)
    limit = SMS_SEPTETS if parts == 1 else CONCATENATED_SEPTETS * parts
    return count is not None and count <= limit


def non_gsm7_characters(text: str) -> list[str]:
    """The characters that stop the text from being GSM-7, in order, without repeats."""
    return list(dict.fromkeys(c for c in text if c not in _BASIC and c not in _EXTENSION))
