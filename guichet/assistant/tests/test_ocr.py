"""OCR of uploaded files: a generated scan of a printed French document, a PDF with a text
layer, a scanned PDF, and what an agent is told when reading fails.

Outside CI a machine without Debian's `tesseract` skips the tests that run it; in CI
(CI=true) a missing binary fails them, so the suite cannot go green by not reading.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import sys
import uuid

import pytest
from django.core.files.base import ContentFile
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont
from rapidfuzz.distance import Levenshtein
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from guichet.assistant import casework, ocr
from guichet.assistant.models import AttachmentReading, ReadingStatus
from guichet.assistant.tasks import read_dossier_attachments
from guichet.core.pdf import FONTS, REGULAR, register_fonts
from guichet.dossiers.models import MESSAGE_FIELD, Attachment, ScanStatus

PRINTED = [
    "RÉPUBLIQUE DU MALI",
    "Un Peuple – Un But – Une Foi",
    "Mairie de la Commune III du District de Bamako",
    "Centre principal d'état civil",
    "Volet n°2 de la déclaration de naissance",
    "Le douze mars deux mille dix-neuf est née à Bamako",
    "l'enfant Awa Traoré, de sexe féminin, fille de",
    "Moussa Traoré, commerçant, et de Fatoumata Diarra.",
    "Déclaration reçue par l'officier d'état civil, qui a",
    "signé après lecture faite au déclarant. Fait à Bamako.",
]
MIN_ACCURACY = 0.9


@pytest.fixture
def tesseract() -> None:
    if shutil.which(ocr.TESSERACT) is None:
        message = f"{ocr.TESSERACT} is missing: apt-get install tesseract-ocr tesseract-ocr-fra"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must run the OCR tests.")
        pytest.skip(message)


def scan(lines: list[str] = PRINTED, *, angle: float = 1.2, seed: int = 7) -> Image.Image:
    """A page as an office scanner gives it: A4 width at 300 dpi, 10-point DejaVu Sans,
    a little crooked, on grey speckled paper, slightly blurred."""
    rnd = random.Random(seed)
    width, height = 2480, 300 + 110 * len(lines)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(str(FONTS / "DejaVuSans.ttf"), 42)
    for n, line in enumerate(lines):
        draw.text((160, 120 + 110 * n), line, font=font, fill=20)
    page = page.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    pixels = page.load()
    assert pixels is not None
    for _ in range(width * height // 40):  # dust
        x, y = rnd.randrange(width), rnd.randrange(height)
        pixels[x, y] = max(0, int(pixels[x, y]) - rnd.randrange(40, 120))  # type: ignore[arg-type]
    paper = Image.effect_noise((width, height), 18).point(lambda v: 200 + v // 8)
    return ImageChops.darker(page, paper).filter(ImageFilter.GaussianBlur(0.8))


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85, dpi=(300, 300))
    return buffer.getvalue()


def scanned_pdf(*images: Image.Image) -> bytes:
    """Each image as a page of an A4 PDF with no text layer, as a scanner makes them."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    page_width, page_height = A4
    for image in images:
        shown = page_width * image.height / image.width
        pdf.drawImage(ImageReader(image), 0, page_height - shown, page_width, shown)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def accuracy(expected: list[str], read: str) -> float:
    """Character accuracy: 1 − normalised Levenshtein distance, spaces and line breaks
    counted as one space."""
    return 1 - Levenshtein.normalized_distance(" ".join(expected), " ".join(read.split()))


def report(capsys, what: str, measured: float, result: ocr.OcrResult) -> None:
    with capsys.disabled():  # shown with -s or not: the figures for the record
        sys.stdout.write(f"{what}: accuracy {measured:.3f} in {result.duration_ms} ms ")


def test_ocr_reads_a_scanned_printed_french_document(tesseract, capsys):
    result = ocr.read_image(jpeg(scan()))
    measured = accuracy(PRINTED, result.text)
    report(capsys, "scan", measured, result)
    assert measured >= MIN_ACCURACY, result.text
    assert "Volet n°2 de la déclaration de naissance" in result.text
    assert "Moussa Traoré, commerçant" in result.text  # accents and cedilla kept
    assert result.engine.startswith("tesseract ") and result.engine.endswith(" fra")
    assert result.confidence is not None and result.confidence > 80


def test_a_pdf_with_a_text_layer_is_taken_as_it_is():
    register_fonts()
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setFont(REGULAR, 12)
    pdf.drawString(72, 760, "Certificat de résidence délivré à Ségou, le 3 février 2026.")
    pdf.showPage()
    pdf.save()
    result = ocr.read_pdf(buffer.getvalue())
    assert result.text == "Certificat de résidence délivré à Ségou, le 3 février 2026."
    assert result.engine.startswith("pypdf ") and result.confidence is None


def test_a_scanned_pdf_is_rendered_and_read_up_to_the_page_cap(tesseract, monkeypatch, capsys):
    monkeypatch.setattr(ocr, "MAX_PAGES", 1)
    second = scan(["DEUXIÈME PAGE QUI NE DOIT PAS ÊTRE LUE"], seed=8)
    result = ocr.read_pdf(scanned_pdf(scan(), second))
    measured = accuracy(PRINTED, result.text)
    report(capsys, "scanned PDF page", measured, result)
    assert measured >= MIN_ACCURACY, result.text
    assert "DEUXIÈME" not in result.text
    assert result.engine.startswith("tesseract ")


def test_a_file_too_long_to_read_is_given_up(tesseract, monkeypatch):
    monkeypatch.setattr(ocr, "TIMEOUT_SECONDS", 0.05)
    with pytest.raises(ocr.OcrError, match="trop long à lire"):
        ocr.read_image(jpeg(scan()))


def test_a_huge_image_is_refused_before_it_is_decoded():
    buffer = io.BytesIO()
    Image.new("1", (8000, 8000), 1).save(buffer, "PNG")  # 64 Mpx in a few kilobytes
    with pytest.raises(ocr.OcrError, match="trop grande"):
        ocr.read_image(buffer.getvalue())


# --- Attachments ---------------------------------------------------------------------------------


def attach(dossier, data: bytes, *, kind: str, name: str, field: str = "volet_2") -> Attachment:
    attachment = Attachment(
        id=uuid.uuid4(),
        dossier=dossier,
        field_id=field,
        original_name=name,
        kind=kind,
        size=len(data),
        sha256="0" * 64,
        scan_status=ScanStatus.CLEAN,
        uploaded_by=dossier.applicant,
    )
    attachment.file.save(name, ContentFile(data), save=False)
    attachment.save()
    return attachment


@pytest.mark.django_db
def test_reading_a_clean_scan_stores_its_text_for_the_agents(tesseract, submitted_dossier):
    dossier, _ = submitted_dossier
    attachment = attach(dossier, jpeg(scan()), kind="jpeg", name="volet.jpg")
    reading = ocr.read_attachment(str(attachment.pk))
    assert reading is not None and reading.status == ReadingStatus.DONE
    assert "déclaration de naissance" in reading.text
    assert reading.engine.startswith("tesseract ") and reading.duration_ms
    assert reading.confidence is not None and reading.detail == ""


@pytest.mark.django_db
def test_a_scan_sent_with_a_message_is_recognised_by_its_text(tesseract, submitted_dossier):
    dossier, form_file = submitted_dossier
    Attachment.objects.filter(pk=form_file.pk).update(scan_status=ScanStatus.INFECTED)
    sent = attach(dossier, jpeg(scan()), kind="jpeg", name="IMG_0001.jpg", field=MESSAGE_FIELD)
    ocr.read_attachment(str(sent.pk))
    volet = casework.checklist(dossier, "fr")[0]
    assert volet.presence == casework.Presence.PRESENT and volet.files == ("IMG_0001.jpg",)
    assert volet.reason.startswith("Le texte lu dans « IMG_0001.jpg » contient « Volet », ")


@pytest.mark.django_db
def test_a_file_the_antivirus_has_not_passed_is_not_read(submitted_dossier):
    dossier, _ = submitted_dossier
    attachment = attach(dossier, jpeg(scan()), kind="jpeg", name="volet.jpg")
    for status in (ScanStatus.PENDING, ScanStatus.INFECTED):
        Attachment.objects.filter(pk=attachment.pk).update(scan_status=status)
        assert ocr.read_attachment(str(attachment.pk)) is None
    assert not AttachmentReading.objects.filter(attachment=attachment).exists()


@pytest.mark.django_db
def test_a_server_without_tesseract_tells_the_agent(submitted_dossier, monkeypatch):
    dossier, attachment = submitted_dossier
    monkeypatch.setattr(ocr, "TESSERACT", "/nonexistent/tesseract")
    reading = ocr.read_attachment(str(attachment.pk))
    assert reading is not None and reading.status == ReadingStatus.FAILED
    assert reading.detail == "Lecture impossible : tesseract n'est pas installé sur le serveur."
    assert reading.text == "" and reading.confidence is None


@pytest.mark.django_db
def test_the_task_reads_each_clean_file_without_a_reading_done(submitted_dossier, monkeypatch):
    dossier, first = submitted_dossier
    done = attach(dossier, b"%PDF-1.4", kind="pdf", name="deja-lu.pdf")
    AttachmentReading.objects.create(attachment=done, status=ReadingStatus.DONE, text="lu")
    failed = attach(dossier, b"%PDF-1.4", kind="pdf", name="echec.pdf")
    AttachmentReading.objects.create(attachment=failed, status=ReadingStatus.FAILED)
    pending_scan = attach(dossier, b"%PDF-1.4", kind="pdf", name="pas-encore-verifie.pdf")
    Attachment.objects.filter(pk=pending_scan.pk).update(scan_status=ScanStatus.PENDING)
    read: list[str] = []

    def read_file(data: bytes, kind: str) -> ocr.OcrResult:
        read.append(kind)
        return ocr.OcrResult("texte", 90.0, "tesseract", 1)

    monkeypatch.setattr(ocr, "read_file", read_file)
    result = read_dossier_attachments.enqueue(dossier_id=dossier.pk)
    assert result.return_value == 2 and sorted(read) == ["pdf", "png"]
    assert AttachmentReading.objects.get(attachment=first).text == "texte"
    assert AttachmentReading.objects.get(attachment=failed).status == ReadingStatus.DONE
    assert AttachmentReading.objects.get(attachment=done).text == "lu"
    assert not AttachmentReading.objects.filter(attachment=pending_scan).exists()
