"""An issued document as a one-page A4 PDF, black on white, with its QR code.

Everything variable on the page comes from the signed `Claims`, so what the paper shows is
what the code signs. Fixed text (the authority's name, the procedure's paragraph, the
instructions to verify) comes from the key set and the procedure version. The QR is drawn
as vector squares, 30 mm wide: sharp at any printer resolution.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from guichet.core.pdf import BOLD, REGULAR, register_fonts, wrap
from guichet.documents.codes import Claims, DocumentKind

QR_SIDE = 30 * mm
QR_ERROR = "m"
"""15 % of the symbol can be lost (a fold, a stain) and it still reads."""


@dataclass(frozen=True)
class Page:
    claims: Claims
    qr_text: str
    country: str
    authority: str
    text: str = ""
    """The procedure's fixed paragraph, if any."""
    reason: str = ""
    """A refusal letter's reason, printed in full; the code signs its fingerprint."""
    verify_address: str = ""
    site_name: str = "Guichet"


def make_qr(text: str) -> segno.QRCode:
    return segno.make(text, error=QR_ERROR, micro=False, boost_error=False)


def _draw_qr(canvas: Canvas, qr: segno.QRCode, x: float, y: float, side: float) -> None:
    rows = [list(row) for row in qr.matrix_iter(scale=1, border=0)]
    module = side / len(rows)
    path = canvas.beginPath()
    for r, row in enumerate(rows):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                top = y + side - (r + 1) * module
                path.rect(x + start * module, top, (c - start) * module, module)
            else:
                c += 1
    canvas.drawPath(path, stroke=0, fill=1)


def render(page: Page) -> bytes:
    register_fonts()
    claims = page.claims
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True)
    canvas.setTitle(f"{claims.title} {claims.number}")
    canvas.setAuthor(page.authority)
    canvas.setCreator(page.site_name)
    width, height = A4
    left, right = 20 * mm, width - 20 * mm
    y = height - 22 * mm

    bottom = 22 * mm
    lowest = bottom + QR_SIDE + 12 * mm

    def line(text: str, *, font: str = REGULAR, size: float = 11, gap: float = 5) -> None:
        nonlocal y
        for part in wrap(text, font, size, right - left):
            if y < lowest:  # a long reason: go on over the page, the QR stays at the end
                canvas.showPage()
                y = height - 22 * mm
            canvas.setFont(font, size)
            canvas.drawString(left, y, part)
            y -= size + gap / 2
        y -= gap / 2

    line(page.country.upper(), font=BOLD, size=10, gap=2)
    line(page.authority, font=BOLD, size=12, gap=2)
    line(claims.issuer, size=10, gap=12)
    line(claims.title, font=BOLD, size=20, gap=6)
    line(f"N° {claims.number}", font=BOLD, size=12, gap=14)
    holder_label = "Délivré à" if claims.kind == DocumentKind.ACCEPTANCE else "Destinataire"
    line(f"{holder_label} : {claims.holder}", font=BOLD, size=12, gap=8)
    for label, value in claims.fields:
        line(f"{label} : {value}", gap=4)
    y -= 6
    if page.text:
        line(page.text, size=10, gap=6)
    if page.reason:
        line("Motif du refus :", font=BOLD, size=10, gap=2)
        line(page.reason, size=10, gap=6)
    y -= 6
    line(f"Fait le {claims.issued_on}", gap=2)
    line(f"Décision de : {claims.signer}", gap=2)

    qr = make_qr(page.qr_text)
    _draw_qr(canvas, qr, left, bottom, QR_SIDE)
    text_left = left + QR_SIDE + 8 * mm
    ty = bottom + QR_SIDE - 8
    notice = (
        "Pour vérifier ce document, scannez ce code avec un téléphone, ou envoyez le fichier "
        f"PDF sur {page.verify_address}. Le texte affiché doit être le même que sur ce papier."
    )
    for part in wrap(notice, REGULAR, 9, right - text_left):
        canvas.setFont(REGULAR, 9)
        canvas.drawString(text_left, ty, part)
        ty -= 12
    canvas.setFont(REGULAR, 8)
    canvas.drawString(text_left, ty - 4, f"Signé électroniquement (Ed25519), clé {claims.kid}")
    canvas.setLineWidth(0.5)
    canvas.line(left, 15 * mm, right, 15 * mm)
    canvas.drawString(left, 11 * mm, f"{page.site_name} — {claims.number}")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
