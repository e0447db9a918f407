"""The text of uploaded files, read for agents as a hint (never a decision).

Images (JPEG, PNG) go to Tesseract (Debian's `tesseract-ocr` with `tesseract-ocr-fra`), run
as a separate process with a time limit, so a hostile or huge file costs at most that
process. A PDF's own text layer is taken when it has one (pypdf); a scanned PDF has its
first pages rendered (pypdfium2) and read the same way. What is read is stored as plain
text in `AttachmentReading` and only ever shown, escaped: it is data, never instructions.
"""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import time
from dataclasses import dataclass
from functools import cache

from django.utils.translation import gettext as _

from guichet.assistant.models import AttachmentReading, ReadingStatus
from guichet.dossiers.models import Attachment, ScanStatus

logger = logging.getLogger(__name__)

TESSERACT = "tesseract"
"""The binary, found on PATH (tests point it elsewhere to play a server without it)."""
LANGUAGE = "fra"
MAX_PAGES = 3
"""Pages of a PDF read: the first ones say what the document is; more costs minutes."""
TIMEOUT_SECONDS = 60.0
"""For the whole file, all pages together."""
RENDER_DPI = 300
MAX_PIXELS = 40_000_000
"""Larger images (or pages as rendered) are refused or scaled down: a 12 Mpx phone photo
reads fine, a crafted 30 000 × 30 000 image would only exhaust memory."""
MAX_TEXT_CHARS = 20_000
MIN_TEXT_LAYER_LETTERS = 20
"""Fewer letters in a PDF's text layer (a scanner's page number, a stray header) and the
pages are read as images instead."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLANKS = re.compile(r"[ \t]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class OcrResult:
    text: str
    confidence: float | None
    """Mean word confidence reported by Tesseract (0–100); None for a PDF's own text."""
    engine: str
    """What read it, for the algorithm register: `tesseract 5.3.0 fra`, `pypdf 6.1.0`."""
    duration_ms: int


class OcrError(Exception):
    """Reading failed; `message` is the French sentence shown to the agent."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- The engine --------------------------------------------------------------------------------


@cache
def _tesseract_version(binary: str) -> str:
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, timeout=10, check=False)
        languages = subprocess.run(
            [binary, "--list-langs"], capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        raise OcrError(
            _("Lecture impossible : tesseract n'est pas installé sur le serveur.")
        ) from None
    # Tesseract prints its version on stdout (5.x) or stderr (4.x).
    first = (done.stdout or done.stderr).decode(errors="replace").strip().splitlines()
    if done.returncode != 0 or not first:
        raise OcrError(_("Lecture impossible : tesseract n'est pas installé sur le serveur."))
    if LANGUAGE not in languages.stdout.decode(errors="replace").split():
        raise OcrError(
            _(
                "Lecture impossible : le français de tesseract (tesseract-ocr-fra) "
                "n'est pas installé."
            )
        )
    return first[0].split()[-1]


def engine_name() -> str:
    """`tesseract 5.3.0 fra`; OcrError when the binary or its French data is missing."""
    return f"tesseract {_tesseract_version(TESSERACT)} {LANGUAGE}"


def _words_from_tsv(tsv: str) -> tuple[str, list[float]]:
    """The text (one line per line read, a blank line between blocks) and each word's
    confidence, from Tesseract's TSV output."""
    lines: dict[tuple[str, ...], list[str]] = {}
    confidences: list[float] = []
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue
        lines.setdefault(tuple(cells[1:5]), []).append(cells[11])
        try:
            confidence = float(cells[10])
        except ValueError:
            continue
        if confidence >= 0:
            confidences.append(confidence)
    text, previous = [], None
    for (page, block, paragraph, _line), words in lines.items():
        if previous is not None and previous != (page, block, paragraph):
            text.append("")
        text.append(" ".join(words))
        previous = (page, block, paragraph)
    return "\n".join(text), confidences


def _tesseract(image: bytes, deadline: float, dpi: int | None = None) -> tuple[str, list[float]]:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise OcrError(_("Lecture impossible : le fichier est trop long à lire."))
    # Sauvola's local threshold, not Tesseract's default global one: on a grey scan laid
    # on a white page, or a phone photo lit from one side, a single threshold turns the
    # darker part black and reads nothing there.
    command = [TESSERACT, "stdin", "stdout", "-l", LANGUAGE, "-c", "thresholding_method=2"]
    if dpi:
        command += ["--dpi", str(dpi)]
    try:
        done = subprocess.run(
            [*command, "tsv"],
            input=image,
            capture_output=True,
            timeout=remaining,
            check=False,
            # One thread per reading: the worker reads one file at a time, and OpenMP's
            # threads only compete with the web server for the same cores.
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        )
    except FileNotFoundError:
        raise OcrError(
            _("Lecture impossible : tesseract n'est pas installé sur le serveur.")
        ) from None
    except subprocess.TimeoutExpired:
        raise OcrError(_("Lecture impossible : le fichier est trop long à lire.")) from None
    if done.returncode != 0:
        logger.warning("tesseract failed: %s", done.stderr.decode(errors="replace")[-500:])
        raise OcrError(_("Lecture impossible : le fichier n'a pas pu être lu comme une image."))
    return _words_from_tsv(done.stdout.decode("utf-8", errors="replace"))


def _clean(text: str) -> str:
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "\n".join(_BLANKS.sub(" ", line).strip() for line in text.split("\n"))
    return _MANY_NEWLINES.sub("\n\n", text).strip()[:MAX_TEXT_CHARS]


def _mean(confidences: list[float]) -> float | None:
    return round(sum(confidences) / len(confidences), 1) if confidences else None


# --- Files -------------------------------------------------------------------------------------


def read_image(data: bytes) -> OcrResult:
    """The text of a JPEG or PNG image."""
    from PIL import Image  # Pillow comes with reportlab

    started = time.monotonic()
    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            width, height = image.size
    except Exception:  # a damaged or hostile file: Pillow raises many kinds of errors
        raise OcrError(_("Lecture impossible : l'image est illisible.")) from None
    if width * height > MAX_PIXELS:
        raise OcrError(_("Lecture impossible : l'image est trop grande."))
    engine = engine_name()
    text, confidences = _tesseract(data, started + TIMEOUT_SECONDS)
    return OcrResult(_clean(text), _mean(confidences), engine, _elapsed_ms(started))


def read_pdf(data: bytes) -> OcrResult:
    """The text layer of a PDF's first pages if it has one, else what OCR reads in them."""
    started = time.monotonic()
    layer = _text_layer(data)
    if sum(c.isalpha() for c in layer) >= MIN_TEXT_LAYER_LETTERS:
        import pypdf

        return OcrResult(_clean(layer), None, f"pypdf {pypdf.__version__}", _elapsed_ms(started))
    engine = engine_name()
    texts: list[str] = []
    confidences: list[float] = []
    for page_image in _rendered_pages(data):
        text, page_confidences = _tesseract(page_image, started + TIMEOUT_SECONDS, RENDER_DPI)
        texts.append(text)
        confidences += page_confidences
    return OcrResult(_clean("\n\n".join(texts)), _mean(confidences), engine, _elapsed_ms(started))


def _text_layer(data: bytes) -> str:
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            reader.decrypt("")  # an "owner" password only: readable by anyone
        return "\n\n".join(page.extract_text() or "" for page in reader.pages[:MAX_PAGES])
    except Exception:  # pypdf raises many kinds of errors on damaged files
        logger.info("no text layer read", exc_info=True)
        return ""


def _rendered_pages(data: bytes) -> list[bytes]:
    """The first pages as greyscale images (PGM, which Tesseract reads without decoding)."""
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(data)
    except Exception:  # pypdfium2.PdfiumError and friends on a damaged or locked file
        raise OcrError(_("Lecture impossible : le PDF n'a pas pu être ouvert.")) from None
    try:
        images = []
        for index in range(min(len(document), MAX_PAGES)):
            page = document[index]
            width, height = page.get_size()  # points: 1/72 inch
            scale = RENDER_DPI / 72
            if width * height * scale * scale > MAX_PIXELS:
                scale = (MAX_PIXELS / (width * height)) ** 0.5
            rendered = page.render(scale=scale, grayscale=True).to_pil()
            buffer = io.BytesIO()
            rendered.convert("L").save(buffer, "PPM")
            images.append(buffer.getvalue())
        return images
    except OcrError:
        raise
    except Exception:
        raise OcrError(_("Lecture impossible : le PDF n'a pas pu être affiché.")) from None
    finally:
        document.close()


def read_file(data: bytes, kind: str) -> OcrResult:
    """`kind` as `Attachment.kind` says it, from the file's first bytes."""
    if kind == "pdf":
        return read_pdf(data)
    if kind in ("jpeg", "png"):
        return read_image(data)
    raise OcrError(_("Lecture impossible : ce type de fichier n'est pas lu."))


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


# --- Attachments -------------------------------------------------------------------------------


def read_attachment(attachment_id: str) -> AttachmentReading | None:
    """Read one file the antivirus passed and store what was read, or why it could not be;
    None when the file is gone or not (yet) clean. Writes nothing but its reading."""
    attachment = Attachment.objects.filter(pk=attachment_id, scan_status=ScanStatus.CLEAN).first()
    if attachment is None:
        return None
    try:
        with attachment.file.open("rb") as stream:
            data = stream.read()
        result = read_file(data, attachment.kind)
    except OcrError as exc:
        values = _failed(exc.message)
    except OSError:
        logger.warning("attachment %s could not be opened", attachment_id, exc_info=True)
        values = _failed(_("Lecture impossible : le fichier n'a pas pu être ouvert."))
    else:
        values = {
            "status": ReadingStatus.DONE,
            "text": result.text,
            "engine": result.engine,
            "confidence": result.confidence,
            "detail": "",
            "duration_ms": result.duration_ms,
        }
    reading, _created = AttachmentReading.objects.update_or_create(
        attachment=attachment, defaults=values
    )
    return reading


def _failed(detail: str) -> dict[str, object]:
    return {
        "status": ReadingStatus.FAILED,
        "text": "",
        "engine": "",
        "confidence": None,
        "detail": detail[:200],
        "duration_ms": None,
    }
