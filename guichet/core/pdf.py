"""What every PDF Guichet draws shares: the shipped fonts and line wrapping.

ReportLab draws (ADR 0008) with DejaVu Sans regular and bold from guichet/core/fonts, which
cover French and the letters of the national languages (ɛ ɔ ɲ ŋ ɓ ɗ ƴ); ReportLab embeds
only the glyphs a document uses, so a one-page document stays small.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONTS = Path(__file__).resolve().parent / "fonts"
REGULAR, BOLD = "DejaVuSans", "DejaVuSans-Bold"


@cache
def register_fonts() -> None:
    pdfmetrics.registerFont(TTFont(REGULAR, str(FONTS / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(FONTS / "DejaVuSans-Bold.ttf")))


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Words of `text` in lines no wider than `width` points (a longer word stands alone)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if pdfmetrics.stringWidth(candidate, font, size) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines
