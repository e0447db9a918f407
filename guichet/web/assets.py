"""The one stylesheet, inlined in every page so a page arrives in a single round trip.

It is read once; its SHA-256 goes in the Content-Security-Policy, so no inline style
other than this exact text can run.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from pathlib import Path

from django.utils.safestring import SafeString, mark_safe

CSS_PATH = Path(__file__).parent / "static" / "guichet" / "site.css"


@cache
def inline_css() -> SafeString:
    return mark_safe(CSS_PATH.read_text(encoding="utf-8").strip())  # noqa: S308 - our own file


@cache
def inline_css_hash() -> str:
    digest = hashlib.sha256(inline_css().encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")
