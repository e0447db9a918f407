"""The upload attack corpus, and ordinary files from phones, all generated here.

Each `Case` is a file as a browser would send it (name, bytes, Content-Type) and what must
come of it: `refused` with a message that says why, `neutralised` (kept, with what is
dangerous taken out: checked by `check`), `quarantined` by the antivirus, or `accepted`
as sent (ordinary files: a fix must never drop good files silently, the lesson of
Open Forms' CVE-2022-31041).

Fixtures are built in memory, in a few seconds, for the 2 MB limit of the field the tests
upload to (`volet_2` of the Malian birth-certificate procedure).
"""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Literal

from guichet.dossiers.tests.clamav import EICAR
from guichet.dossiers.tests.samples import PNG_BYTES

LIMIT = 2 * 1024 * 1024  # the field's max_size_mb
Expect = Literal["refused", "neutralised", "quarantined", "accepted"]


@dataclass(frozen=True)
class Case:
    name: str
    filename: str
    data: bytes
    expect: Expect
    message: str = ""
    """For `refused`: words of the message the citizen reads."""
    check: Callable[[str, bytes], str | None] | None = None
    """For `neutralised`: given the shown name and the stored bytes, what is wrong (None: ok)."""
    content_type: str = "application/octet-stream"
    also_refused: bool = False
    """`neutralised`, or refused outright: both protect (a name the request parser may
    refuse before Guichet sees it)."""


# --- Builders ---------------------------------------------------------------------------------


def zipped(*entries: tuple[str, bytes], symlink: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if symlink:
                info.create_system = 3  # unix
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, data)
    return out.getvalue()


def zip_bomb() -> bytes:
    """About 10 KB that inflate to 1 GiB: a zip holding a zip of 1 GiB of zeros. The
    deflate stream of 1 GiB of zeros is one flushed 1 MiB block repeated, so it is built
    in milliseconds; its CRC-32 is a constant."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    deflated = block * 1024 + b"\x03\x00"  # then an empty final block
    size, crc = 1 << 30, 0x5B64C2B0  # zlib.crc32(bytes(1 << 30))
    name = b"zeros.bin"
    local = struct.pack(
        "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(deflated), size, len(name), 0
    )
    central = struct.pack(
        "<4sHHHHHHIIIHHHHHII",
        b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(deflated), size, len(name), 0, 0, 0, 0, 0, 0,
    )  # fmt: skip
    offset = len(local) + len(name) + len(deflated)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(name), offset, 0)
    inner = local + name + deflated + central + name + end
    return zipped(("bombe.zip", inner))


def many_entries(count: int = 10_000) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for i in range(count):
            archive.writestr(f"f{i}.txt", b"")
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, *, mode: str = "RGB", extra: bytes = b"") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new(mode, (width, height), 0 if mode == "P" else "white").save(out, "PNG")
    data = out.getvalue()
    return data[:-12] + extra + data[-12:]  # `extra` chunks before IEND


def pixel_flood_png() -> bytes:
    """A real PNG of 20,000 × 20,000 one-bit pixels (400 megapixels) in 60 KB."""
    width = height = 20_000
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + bytes((width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def pixel_flood_jpeg() -> bytes:
    """A small JPEG whose frame header claims 65,000 × 65,000 pixels."""
    data = bytearray(jpeg_photo(64, 48))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 65_000, 65_000)
    return bytes(data)


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def with_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    """`jpeg` with one more segment right after its start-of-image marker."""
    return jpeg[:2] + jpeg_segment(marker, payload) + jpeg[2:]


@cache
def _document_picture(width: int, height: int) -> object:
    """A photo of a paper form: faint gradient, grain and lines of text."""
    from PIL import Image, ImageDraw

    paper = Image.new("RGB", (width, height), (236, 230, 214))
    shade = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    picture = Image.blend(paper, shade, 0.15)
    grain = Image.effect_noise((max(width // 4, 1), max(height // 4, 1)), 18)
    picture = Image.blend(picture, grain.resize((width, height)).convert("RGB"), 0.08)
    draw = ImageDraw.Draw(picture)
    size = max(width // 100, 8)
    for line in range(height // (size * 2) - 4):
        draw.text(
            (width // 12, size * 2 * (line + 1)),
            f"RÉPUBLIQUE DU MALI — Extrait d'acte de naissance n° 2019/{line:04d}",
            fill=(30, 30, 40),
            font_size=size,
        )
    return picture


def jpeg_photo(
    width: int,
    height: int,
    *,
    quality: int = 85,
    exif: bool = False,
    mode: str = "RGB",
    **options: object,
) -> bytes:
    """A phone's JPEG of a paper form; `exif`: with orientation, camera and GPS position."""
    from PIL import Image

    picture = _document_picture(width, height)
    assert isinstance(picture, Image.Image)
    if mode != "RGB":
        picture = picture.convert(mode)
    out = io.BytesIO()
    if exif:
        tags = Image.Exif()
        tags[0x0112] = 6  # held sideways: shown turned a quarter
        tags[0x010F], tags[0x0110] = "samsung", "SM-A155F"
        gps = tags.get_ifd(0x8825)
        gps.update({1: "N", 2: (12.0, 38.0, 21.0), 3: "W", 4: (8.0, 0.0, 3.0)})
        options["exif"] = tags.tobytes()
    picture.save(out, "JPEG", quality=quality, **options)
    return out.getvalue()


def pdf(*objects: bytes, version: bytes = b"1.4", tail: bytes = b"") -> bytes:
    """A PDF with a catalog (object 1, whose extra entries come first in `objects` when
    it starts with `<<`), numbered objects, an xref table and a trailer."""
    body = b"%PDF-" + version + b"\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += str(number).encode() + b" 0 obj\n" + content + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 " + str(len(objects) + 1).encode() + b"\n0000000000 65535 f \n"
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<</Size " + str(len(objects) + 1).encode() + b"/Root 1 0 R>>\n"
    return body + b"startxref\n" + str(xref).encode() + b"\n%%EOF\n" + tail


PAGE = b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>"
PAGES = b"<</Type/Pages/Kids[3 0 R]/Count 1>>"


def simple_pdf(catalog_extra: bytes = b"", *more: bytes, version: bytes = b"1.4") -> bytes:
    """One blank A4 page; `more` objects are numbered from 4."""
    catalog = b"<</Type/Catalog/Pages 2 0 R" + catalog_extra + b">>"
    return pdf(catalog, PAGES, PAGE, *more, version=version)


def stream(data: bytes, entries: bytes = b"") -> bytes:
    return (
        b"<<"
        + entries
        + b"/Length "
        + str(len(data)).encode()
        + b">>\nstream\n"
        + data
        + (b"\nendstream")
    )


def object_stream(number: int, content: bytes, *, escaped: bool = False) -> bytes:
    """An object stream (PDF 1.5) holding object `number`."""
    header = f"{number} 0 ".encode()
    kind = b"/Obj#53tm" if escaped else b"/ObjStm"
    first = b"/N 1/First " + str(len(header)).encode()
    return stream(zlib.compress(header + content), b"/Type" + kind + first + b"/Filter/FlateDecode")


def reportlab_pdf() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    page.drawString(72, 800, "Attestation de résidence — Commune III, Bamako")
    page.drawImage(ImageReader(io.BytesIO(jpeg_photo(800, 600))), 72, 300, 400, 300)
    page.showPage()
    page.save()
    return out.getvalue()


def scanner_app_pdf() -> bytes:
    """Pages photographed and saved as one PDF, as scanner apps do."""
    from PIL import Image

    pages = [Image.open(io.BytesIO(jpeg_photo(1240, 1754, quality=70))) for _ in range(2)]
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=150)
    return out.getvalue()


def incremental_pdf() -> bytes:
    """A PDF saved twice (a form filled in, then signed): two revisions, two %%EOF."""
    first = simple_pdf()
    update = b"4 0 obj\n<</Producer(Guichet test)>>\nendobj\n"
    xref = len(first) + len(update)
    return (
        first
        + update
        + b"xref\n4 1\n%010d 00000 n \n" % len(first)
        + b"trailer\n<</Size 5/Root 1 0 R/Info 4 0 R/Prev "
        + first.split(b"startxref\n")[1].split(b"\n")[0]
        + b">>\nstartxref\n"
        + str(xref).encode()
        + b"\n%%EOF\n"
    )


def padded_pdf(size: int) -> bytes:
    """A valid PDF of exactly `size` bytes (an unused stream fills it)."""
    filler = size
    while True:
        data = simple_pdf(b"", stream(b"x" * filler))
        if len(data) == size:
            return data
        filler += size - len(data)


def docx(document_xml: bytes, *, macros: bool = False) -> bytes:
    content_types = (
        b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        b'content-types"><Override PartName="/word/document.xml" ContentType="application/'
        b'vnd.ms-word.document.macroEnabled.main+xml"/></Types>'
    )
    entries = [("[Content_Types].xml", content_types), ("word/document.xml", document_xml)]
    if macros:
        entries.append(("word/vbaProject.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1AutoOpen Shell"))
    return zipped(*entries)


# --- Checks of neutralised files ------------------------------------------------------------


def without(*needles: bytes) -> Callable[[str, bytes], str | None]:
    def check(name: str, stored: bytes) -> str | None:
        found = [n for n in needles if n in stored]
        return f"still holds {found}" if found else None

    return check


def named(expected: str) -> Callable[[str, bytes], str | None]:
    def check(name: str, stored: bytes) -> str | None:
        return None if name == expected else f"shown as {name!r}"

    return check


def safe_name(name: str, stored: bytes) -> str | None:
    bad = [c for c in name if c in '<>"/\\\x00\u202e' or not c.isprintable()]
    if bad or len(name) > 120 or not name.endswith((".png", ".jpg", ".pdf")):
        return f"unsafe name {name!r}"
    return None


# --- The corpus -------------------------------------------------------------------------------

HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
PHP = b"<?php system($_GET['c']); ?>"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
    b"<script>alert(document.domain)</script></svg>"
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<w:document>&x;</w:document>"
)
JS_ACTION = b"<</S/JavaScript/JS(app.alert\\(1\\))>>"


def eicar_pdf(*, compressed: bool = False) -> bytes:
    """A PDF that passes every content check and carries the EICAR file in a stream:
    only the antivirus can tell."""
    if compressed:
        return simple_pdf(b"", stream(zlib.compress(EICAR), b"/Filter/FlateDecode"))
    return simple_pdf(b"", stream(EICAR))


@cache
def bad_files() -> tuple[Case, ...]:
    photo = jpeg_photo(640, 480)
    return (
        # The EICAR test file, bare and wrapped (the antivirus itself: test_clamav.py).
        Case("eicar-txt", "eicar.txt", EICAR, "refused", "pas d'un type accepté"),
        Case("eicar-renamed-pdf", "eicar.pdf", EICAR, "refused", "pas d'un type accepté"),
        Case("eicar-zip", "eicar.zip", zipped(("eicar.com", EICAR)), "refused", "archive ZIP"),
        Case(
            "eicar-zip-in-zip",
            "eicar.zip",
            zipped(("inner.zip", zipped(("eicar.com", EICAR)))),
            "refused",
            "archive ZIP",
        ),
        Case("eicar-in-pdf", "acte.pdf", eicar_pdf(), "quarantined"),
        Case("eicar-in-pdf-stream", "acte.pdf", eicar_pdf(compressed=True), "quarantined"),
        Case(
            "eicar-after-png",
            "volet.png",
            PNG_BYTES + EICAR,
            "neutralised",
            check=without(EICAR[:20]),
        ),
        Case(
            "eicar-in-jpeg-comment",
            "photo.jpg",
            with_segment(photo, 0xFE, EICAR),
            "neutralised",
            check=without(EICAR[:20]),
        ),
        # Archives.
        Case("zip-bomb", "acte.zip", zip_bomb(), "refused", "archive ZIP"),
        Case("zip-10000-entries", "pieces.zip", many_entries(), "refused", "archive ZIP"),
        Case(
            "zip-slip",
            "pieces.zip",
            zipped(("../../../../etc/cron.d/guichet", b"* * * * * root sh")),
            "refused",
            "archive ZIP",
        ),
        Case(
            "zip-symlink",
            "pieces.zip",
            zipped(("passwd", b"/etc/passwd"), symlink=True),
            "refused",
            "archive ZIP",
        ),
        # Type confusion and polyglots.
        Case(
            "png-html-polyglot",
            "volet.png",
            png(32, 32, extra=png_chunk(b"tEXt", b"Comment\x00" + HTML)) + HTML,
            "neutralised",
            check=without(b"<script", b"<html"),
        ),
        Case(
            "png-zip-polyglot",
            "volet.png",
            png(32, 32) + zipped(("x.html", HTML)),
            "neutralised",
            check=without(b"PK\x03\x04"),
        ),
        Case("html-as-jpg", "photo.jpg", HTML, "refused", "une page web"),
        Case("jpeg-magic-then-html", "photo.jpg", b"\xff\xd8\xff" + HTML, "refused", "abîmée"),
        Case("svg-script", "logo.svg", SVG, "refused", "image SVG"),
        Case("svg-script-as-png", "logo.png", SVG, "refused", "image SVG"),
        Case(
            "pdf-javascript",
            "acte.pdf",
            simple_pdf(b"/OpenAction 4 0 R", JS_ACTION),
            "refused",
            "du code ou des fichiers cachés",
        ),
        Case(
            "pdf-launch",
            "acte.pdf",
            simple_pdf(b"/OpenAction 4 0 R", b"<</S/Launch/F(cmd.exe)>>"),
            "refused",
            "du code ou des fichiers cachés",
        ),
        Case(
            "pdf-javascript-hidden",  # escaped names in a compressed object stream
            "acte.pdf",
            simple_pdf(
                b"/OpenAction 5 0 R",
                object_stream(5, b"<</S/J#61vaScript/J#53(app.alert\\(1\\))>>", escaped=True),
            ),
            "refused",
            "du code ou des fichiers cachés",
        ),
        Case(
            "pdf-embedded-file",
            "acte.pdf",
            simple_pdf(
                b"/Names<</EmbeddedFiles<</Names[(a.exe) 4 0 R]>>>>",
                b"<</Type/Filespec/F(a.exe)/EF<</F 5 0 R>>>>",
                stream(b"MZ", b"/Type/EmbeddedFile"),
            ),
            "refused",
            "du code ou des fichiers cachés",
        ),
        Case(
            "pdf-xfa",
            "formulaire.pdf",
            simple_pdf(b"/AcroForm<</XFA 4 0 R>>", stream(b"<xdp:xdp><script>x</script>")),
            "refused",
            "du code ou des fichiers cachés",
        ),
        Case("docm-macros", "demande.docm", docx(b"<w:document/>", macros=True), "refused", "Word"),
        Case("docx-xxe", "demande.docx", docx(XXE), "refused", "Word"),
        Case(
            "exe-as-pdf",
            "facture.pdf",
            b"MZ\x90\x00" + bytes(60) + b"PE\x00\x00",
            "refused",
            "un programme",
        ),
        Case("php-as-jpg", "shell.php.jpg", PHP, "refused", "une page web ou du code"),
        Case(
            "jpeg-with-php",
            "shell.php.jpg",
            with_segment(photo, 0xFE, PHP),
            "neutralised",
            check=without(b"<?php"),
        ),
        Case("gif", "photo.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "refused", "GIF"),
        Case(
            "heic",
            "IMG_0001.HEIC",
            b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
            "refused",
            "HEIC",
        ),
        # File names (the name is only shown, cleaned; never used on disk).
        Case(
            "name-xss",
            '"><img src=x onerror=alert(1)>.png',
            PNG_BYTES,
            "neutralised",
            check=named("img src=x onerror=alert(1).png"),
        ),
        Case(
            "name-null-byte",
            "acte.php\x00.png",
            PNG_BYTES,
            "neutralised",
            check=safe_name,
            also_refused=True,
        ),
        Case(
            "name-rtl-override",
            "facture\u202egnp.exe",
            PNG_BYTES,
            "neutralised",
            check=named("facturegnp.exe.png"),
        ),
        Case("name-300-chars", "a" * 296 + ".pdf", simple_pdf(), "neutralised", check=safe_name),
        Case("name-path", "../../etc/passwd", PNG_BYTES, "neutralised", check=named("passwd.png")),
        # Malformed files.
        Case("zero-bytes", "vide.pdf", b"", "refused", "vide"),
        Case("truncated-pdf", "acte.pdf", reportlab_pdf()[:-300], "refused", "incomplet"),
        Case("truncated-jpeg", "photo.jpg", photo[: len(photo) // 2], "refused", "abîmée"),
        Case("pixel-flood-png", "carte.png", pixel_flood_png(), "refused", "trop de pixels"),
        Case("pixel-flood-jpeg", "carte.jpg", pixel_flood_jpeg(), "refused", "trop de pixels"),
        Case(
            "lying-content-type",
            "photo.png",
            HTML,
            "refused",
            "une page web",
            content_type="image/png",
        ),
        Case(
            "one-byte-over-the-limit",
            "gros.pdf",
            padded_pdf(LIMIT + 1),
            "refused",
            "trop lourd : 2 Mo au plus",
        ),
    )


@cache
def good_files() -> tuple[Case, ...]:
    """Ordinary files from phones, scanners and office software: all must be accepted."""
    benign_objstm = object_stream(5, b"<</Title(Extrait)/Author(Mairie)>>")
    return (
        Case(
            "phone-photo-exif",
            "IMG_20260112_101500.jpg",
            jpeg_photo(4032, 3024, exif=True),
            "accepted",
        ),
        Case(
            "phone-portrait", "20260112_101533.jpg", jpeg_photo(1512, 2016, quality=90), "accepted"
        ),
        Case(
            "whatsapp", "IMG-20260112-WA0004.jpeg", jpeg_photo(1600, 1200, quality=70), "accepted"
        ),
        Case("progressive", "scan.jpg", jpeg_photo(1200, 1600, progressive=True), "accepted"),
        Case("grey-scan", "scan-gris.jpg", jpeg_photo(1654, 2339, mode="L"), "accepted"),
        Case("cmyk", "cni.jpg", jpeg_photo(1000, 700, mode="CMYK"), "accepted"),
        Case(
            "restart-markers",
            "photo.jpg",
            jpeg_photo(1280, 960, restart_marker_blocks=8),
            "accepted",
        ),
        Case("screenshot", "Screenshot_20260112.png", png(1080, 2400, mode="RGBA"), "accepted"),
        Case("palette-png", "tampon.png", png(600, 400, mode="P"), "accepted"),
        Case("office-pdf", "attestation.pdf", reportlab_pdf(), "accepted"),
        Case("scanner-pdf", "Scan 12 janv. 2026.pdf", scanner_app_pdf(), "accepted"),
        Case(
            "pdf-link-and-fit-view",
            "acte.pdf",
            simple_pdf(b"/OpenAction[3 0 R/Fit]", b"<</S/URI/URI(https://example.ml/)>>"),
            "accepted",
        ),
        Case("pdf-two-revisions", "formulaire.pdf", incremental_pdf(), "accepted"),
        Case(
            "pdf-object-stream",
            "acte.pdf",
            simple_pdf(b"", benign_objstm, version=b"1.5"),
            "accepted",
        ),
        Case("pdf-trailing-bytes", "acte.pdf", simple_pdf() + b"\r\n\r\n", "accepted"),
        Case("exactly-the-limit", "acte.pdf", padded_pdf(LIMIT), "accepted"),
        Case(
            "lying-content-type-good", "photo.png", PNG_BYTES, "accepted", content_type="text/html"
        ),
    )
