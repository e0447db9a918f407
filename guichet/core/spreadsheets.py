"""Text cells for the spreadsheets Guichet writes (CSV, XLSX, ODS): the dossier exports
and the register of processing activities. What applicants or administrators typed must
never run as a formula in whoever opens the file."""

from __future__ import annotations

import re

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
"""Characters XML (hence XLSX and ODS) cannot hold; removed from every format alike."""


def safe_text(value: object) -> str:
    """A text cell's value: illegal characters removed, and a leading apostrophe when a
    spreadsheet would read the value as a formula."""
    text = _XML_ILLEGAL.sub("", str(value))
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text
