from __future__ import annotations

import io
from datetime import UTC, datetime

from pypdf import PdfReader

from guichet.dossiers.receipts import ReceiptData, render_receipt


def _receipt(**overrides) -> ReceiptData:
    values = {
        "reference": "ML-7K3Q-9DXC",
        "procedure_title": "Extrait de casier judiciaire (bulletin n°3)",
        "authority": "Tribunal",
        "country": "Mali",
        "submitted_at": datetime(2026, 11, 29, 9, 30, tzinfo=UTC),
        "applicant": "Awa Traoré",
        "documents": ["acte-naissance.pdf", "photo.jpg"],
        "site_name": "Guichet",
        "follow_url": "guichet.example/mes-demarches/",
    }
    return ReceiptData(**{**values, **overrides})


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


def test_receipt_shows_reference_procedure_date_and_documents():
    text = _text(render_receipt(_receipt()))
    assert "ML-7K3Q-9DXC" in text
    assert "Extrait de casier judiciaire (bulletin n°3)" in text
    assert "29/11/2026 à 09:30" in text
    assert "acte-naissance.pdf" in text and "photo.jpg" in text


def test_receipt_prints_national_language_letters():
    text = _text(render_receipt(_receipt(applicant="Ɲɛlɛ Kɔnatɛ Ŋaa Ɓii Ɗoo Ƴaa")))
    assert "Ɲɛlɛ Kɔnatɛ Ŋaa Ɓii Ɗoo Ƴaa" in text


def test_receipt_is_the_same_bytes_for_the_same_dossier():
    assert render_receipt(_receipt()) == render_receipt(_receipt())
