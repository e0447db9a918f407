"""The receipt (accusé de réception) of a submitted dossier, as a printable PDF.

ReportLab draws it (pure Python wheels: no system library to install, ADR 0008) with the
DejaVu Sans fonts shipped in guichet/core/fonts, which cover French and the letters of the
national languages (ɛ ɔ ɲ ŋ ɓ ɗ ƴ). A4, black on white, so it prints and photocopies well.
The receipt holds the reference, the procedure, the date and the list of documents sent;
no answer to the form, so a lost receipt gives away little.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from guichet.core.pdf import BOLD, REGULAR, register_fonts, wrap


@dataclass(frozen=True)
class ReceiptData:
    reference: str
    procedure_title: str
    authority: str
    country: str
    submitted_at: datetime
    applicant: str
    """How the applicant is named on paper: display name or masked phone number."""
    documents: list[str]
    site_name: str
    follow_url: str


def render_receipt(data: ReceiptData) -> bytes:
    """The receipt as PDF bytes."""
    register_fonts()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True)
    canvas.setTitle(f"Accusé de réception {data.reference}")
    canvas.setAuthor(data.site_name)
    width, height = A4
    left, right = 20 * mm, width - 20 * mm
    y = height - 25 * mm

    def line(text: str, *, font: str = REGULAR, size: float = 11, gap: float = 6) -> None:
        nonlocal y
        for part in wrap(text, font, size, right - left):
            canvas.setFont(font, size)
            canvas.drawString(left, y, part)
            y -= size + gap / 2
        y -= gap / 2

    line(data.site_name, font=BOLD, size=12)
    line("Accusé de réception", font=BOLD, size=20, gap=10)
    line("Référence du dossier", size=10, gap=2)
    line(data.reference, font=BOLD, size=26, gap=12)
    line(f"Démarche : {data.procedure_title}", font=BOLD)
    line(f"Administration : {data.authority} ({data.country})")
    line(f"Déposé le {data.submitted_at:%d/%m/%Y à %H:%M} (UTC)")
    line(f"Demandeur : {data.applicant}")
    y -= 4
    line("Pièces jointes", font=BOLD)
    for name in data.documents or ["aucune"]:
        line(f"• {name}", size=10, gap=3)
    y -= 6
    line(
        "Votre dossier a bien été reçu. Conservez cette référence : elle permet de suivre "
        f"votre dossier sur {data.follow_url} ou par SMS (STATUT {data.reference}).",
        size=10,
    )
    canvas.setLineWidth(0.5)
    canvas.line(left, 20 * mm, right, 20 * mm)
    canvas.setFont(REGULAR, 8)
    canvas.drawString(left, 15 * mm, "Ce document atteste du dépôt, pas d'une décision.")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
