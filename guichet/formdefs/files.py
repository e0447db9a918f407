"""Attached files: the limits a `file` field sets, the type of a file from its bytes, and
what of its content may be kept.

The upload itself (storage, size checks while streaming, virus scan) belongs to the dossier
code; it enforces the limits of `FileRules` and must decide the type of a file from its
first bytes with `sniff_type`, never from its name or the Content-Type the browser sent: a
web page renamed `acte.pdf` is not a PDF. It then keeps what `make_safe` returns:
- PNG and JPEG are rewritten segment by segment, keeping only what draws the picture (and
  the orientation of a phone photo): comments, metadata (GPS position included), unknown
  chunks and anything after the image's end are dropped, which kills polyglots (a PNG
  followed by a web page). The pixels are not re-encoded, so a scan loses nothing. The image
  must decode whole, within `MAX_IMAGE_PIXELS` (a "pixel flood" is refused before
  decoding).
- PDF is kept as sent, but refused when it carries JavaScript, launch actions, embedded
  files or XFA forms (also inside compressed object streams), or when it is cut short.
A refusal raises `UnsafeFile` with a message for the citizen.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from PIL import Image

FileKind = Literal["pdf", "jpeg", "png"]
FILE_KINDS: tuple[FileKind, ...] = ("pdf", "jpeg", "png")
MIME_TYPES: dict[FileKind, str] = {
    "pdf": "application/pdf",
    "jpeg": "image/jpeg",
    "png": "image/png",
}
EXTENSIONS: dict[FileKind, tuple[str, ...]] = {
    "pdf": (".pdf",),
    "jpeg": (".jpg", ".jpeg"),
    "png": (".png",),
}
DEFAULT_MAX_SIZE_MB = 2  # a photo from a phone, compressed; 2G uploads are slow
DEFAULT_MAX_FILES = 1
SNIFF_BYTES = 8  # how many first bytes `sniff_type` needs

_SIGNATURES: tuple[tuple[bytes, FileKind], ...] = (
    (b"%PDF-", "pdf"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
)


def sniff_type(first_bytes: bytes) -> FileKind | None:
    """ "pdf", "jpeg" or "png" from the file's magic bytes; None for anything else."""
    for signature, kind in _SIGNATURES:
        if first_bytes.startswith(signature):
            return kind
    return None


@dataclass(frozen=True)
class FileRules:
    """What one `file` field accepts; `path` locates it (`("enfants", "acte")` in a group)."""

    path: tuple[str, ...]
    accept: tuple[FileKind, ...]
    max_size_mb: float
    max_files: int
    document: int | None  # index in the procedure's `documents`, when the field names one

    @property
    def max_size_bytes(self) -> int:
        return int(self.max_size_mb * 1024 * 1024)

    @property
    def accept_attribute(self) -> str:
        """For `<input type="file" accept="…">`: MIME types and extensions."""
        parts: list[str] = []
        for kind in self.accept:
            parts.append(MIME_TYPES[kind])
            parts.extend(EXTENSIONS[kind])
        return ",".join(parts)

    def accepts(self, kind: FileKind | None) -> bool:
        return kind is not None and kind in self.accept


# --- Content -----------------------------------------------------------------------------

MAX_IMAGE_PIXELS = 50_000_000
"""A 50-megapixel phone camera fits; a pixel flood (a small file that claims 64,000 × 64,000
pixels and would take gigabytes to decode) does not."""
MAX_PDF_INFLATE_BYTES = 32 * 1024 * 1024
"""How much the PDF check may decompress (object streams) before giving up on a file."""


class UnsafeFile(Exception):
    """The file is refused; `message` tells the citizen why and what to do, in plain French."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def describe_unaccepted(first_bytes: bytes) -> str | None:
    """What a refused file seems to be, to say so to the citizen ("une archive ZIP…")."""
    head = first_bytes[:512]
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _("une archive ZIP ou un document Word, Excel ou PowerPoint")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return _("un ancien document Word ou Excel")
    if head.startswith(b"MZ") or head.startswith(b"\x7fELF"):
        return _("un programme")
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return _("une photo HEIC (iPhone)")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return _("une image GIF")
    if head.startswith((b"Rar!", b"7z\xbc\xaf")):
        return _("une archive compressée")
    if b"<svg" in text:
        return _("une image SVG")
    if text.startswith((b"<!doctype html", b"<html", b"<script", b"<?php", b"<?xml", b"<")):
        return _("une page web ou du code")
    return None


def make_safe(data: bytes, kind: FileKind) -> bytes:
    """The bytes to keep of a file whose first bytes say it is `kind`, or `UnsafeFile`."""
    if kind == "pdf":
        _check_pdf(data)
        return data
    if kind == "png":
        return _checked_image(_clean_png(data), "PNG")
    return _checked_image(_clean_jpeg(data), "JPEG")


def _broken_image() -> UnsafeFile:
    return UnsafeFile(
        _(
            "Cette image est abîmée ou incomplète : nous ne pouvons pas l'ouvrir. "
            "Reprenez la photo ou envoyez-la de nouveau."
        )
    )


def _open_image(data: bytes, image_format: str) -> Image.Image:
    """The image, header read, after the pixel-flood check; nothing decoded yet."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=[image_format])
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise _too_many_pixels() from None
        except Exception:  # Pillow raises many kinds on a bad header
            raise _broken_image() from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise _broken_image()
    if width * height > MAX_IMAGE_PIXELS:
        raise _too_many_pixels()
    return image


def _too_many_pixels() -> UnsafeFile:
    return UnsafeFile(
        _(
            "Cette image a trop de pixels (%(mp)d millions au plus). "
            "Envoyez une photo de taille normale."
        )
        % {"mp": MAX_IMAGE_PIXELS // 1_000_000}
    )


def _checked_image(data: bytes, image_format: str) -> bytes:
    """`data` once it has decoded whole (a truncated or corrupt image is refused)."""
    image = _open_image(data, image_format)
    try:
        if image_format == "JPEG":
            # Decoding at 1/8 scale still reads every scan: a cut file still fails, fast.
            image.draft(image.mode, (image.width // 8 or 1, image.height // 8 or 1))
        image.load()
    except Exception:  # truncated data, bad Huffman tables, CRC errors…
        raise _broken_image() from None
    finally:
        image.close()
    return data


# PNG chunks that draw the picture or its colours; everything else is dropped (text,
# metadata, animation frames, private chunks). https://www.w3.org/TR/png-3/#5Chunk-layout
_PNG_KEPT = {
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB",
    b"cICP", b"bKGD", b"pHYs",
}  # fmt: skip
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _clean_png(data: bytes) -> bytes:
    if not data.startswith(PNG_SIGNATURE):
        raise _broken_image()
    kept = [PNG_SIGNATURE]
    pos = len(PNG_SIGNATURE)
    first = True
    while True:
        if pos + 8 > len(data):
            raise _broken_image()  # cut before IEND
        length, chunk_type = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > len(data) or (first and chunk_type != b"IHDR"):
            raise _broken_image()
        body = data[pos + 4 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : end])
        if zlib.crc32(body) != crc:
            raise _broken_image()
        if chunk_type in _PNG_KEPT:
            kept.append(data[pos:end])
        pos, first = end, False
        if chunk_type == b"IEND":
            return b"".join(kept)  # whatever follows the image's end is dropped


_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: no length
# Segments that decode the picture: quantisation and Huffman tables, frame headers (SOFn),
# restart interval, number of lines, arithmetic-coding conditioning.
_JPEG_KEPT = {0xDB, 0xC4, 0xDD, 0xDC, 0xCC, *range(0xC0, 0xD0)} - {0xC8}
_EXIF_ORIENTATION = 0x0112


def _clean_jpeg(data: bytes) -> bytes:
    """SOI, JFIF, ICC colour profile, Adobe colour transform, decoding tables, scans, EOI.
    The photo's orientation, read from its EXIF block, is written back alone."""
    orientation = _jpeg_orientation(data)
    if not data.startswith(b"\xff\xd8"):
        raise _broken_image()
    head: list[bytes] = [b"\xff\xd8"]
    kept: list[bytes] = []
    pos, size = 2, len(data)
    while True:
        if pos >= size or data[pos] != 0xFF:
            raise _broken_image()
        while pos < size and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= size:
            raise _broken_image()
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI: whatever follows is dropped
            kept.append(b"\xff\xd9")
            break
        if marker in _JPEG_STANDALONE:
            kept.append(bytes((0xFF, marker)))
            continue
        if pos + 2 > size:
            raise _broken_image()
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2 or pos + length > size:
            raise _broken_image()
        segment = bytes((0xFF, marker)) + data[pos : pos + length]
        payload = data[pos + 2 : pos + length]
        pos += length
        if marker == 0xDA:  # start of scan: the entropy-coded data runs to the next marker
            start = pos
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= size:
                    raise _broken_image()  # cut short: no end-of-image marker
                following = data[pos + 1]
                if following == 0 or 0xD0 <= following <= 0xD7:
                    pos += 2  # stuffed byte or restart marker: still scan data
                    continue
                break
            kept.append(segment + data[start:pos])
        elif marker in _JPEG_KEPT:
            kept.append(segment)
        elif marker == 0xE0 and payload.startswith(b"JFIF\x00") and len(head) == 1:
            head.append(segment)
        elif marker == 0xE2 and payload.startswith(b"ICC_PROFILE\x00"):
            kept.append(segment)
        elif marker == 0xEE and payload.startswith(b"Adobe"):
            kept.append(segment)  # tells CMYK from YCCK: needed to draw the colours
        # anything else (COM, EXIF, XMP, Photoshop, MPF, vendor APPn) is dropped
    return b"".join(head + _orientation_segment(orientation) + kept)


def _jpeg_orientation(data: bytes) -> int | None:
    image = _open_image(data, "JPEG")
    try:
        value = image.getexif().get(_EXIF_ORIENTATION)
    except Exception:  # an unreadable EXIF block only loses the orientation
        value = None
    finally:
        image.close()
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _orientation_segment(orientation: int | None) -> list[bytes]:
    """An EXIF block holding only the orientation (none when the photo is upright)."""
    from PIL import Image

    if orientation in (None, 1):
        return []
    exif = Image.Exif()
    exif[_EXIF_ORIENTATION] = orientation
    payload = b"Exif\x00\x00" + exif.tobytes()
    return [b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload]


# PDF names that run something or carry hidden content. Names are compared after their
# #xx escapes are decoded (`/J#61vaScript` is `/JavaScript`).
_PDF_ACTIVE = {
    b"JavaScript", b"JS", b"Launch", b"EmbeddedFile", b"EmbeddedFiles", b"RichMedia", b"XFA",
    b"SubmitForm", b"ImportData", b"GoToE",
}  # fmt: skip
# The tokens that matter to find names where a PDF reader finds them: comments, literal
# strings (which may hold anything), hex strings, dictionaries, names, `obj` and `stream`.
_PDF_TOKEN = re.compile(
    rb"%[^\r\n]*|\(|<<|>>|<[0-9A-Fa-f\s]*>|/[^\x00\t\n\x0c\r ()<>\[\]{}/%]*"
    rb"|(?<![A-Za-z])obj(?![A-Za-z])|(?<![A-Za-z])stream(?:\r\n|\n|\r)"
)
_PDF_STRING_PART = re.compile(rb"[()\\]")
_PDF_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


def _pdf_name(raw: bytes) -> bytes:
    return _PDF_HEX_ESCAPE.sub(lambda m: bytes((int(m.group(1), 16),)), raw)


def _check_pdf(data: bytes) -> None:
    if b"%%EOF" not in data[-1024:]:
        raise UnsafeFile(
            _("Ce PDF est incomplet : l'envoi a sans doute été interrompu. Envoyez-le de nouveau.")
        )
    if _pdf_names(data, budget=[MAX_PDF_INFLATE_BYTES]) & _PDF_ACTIVE:
        raise UnsafeFile(
            _(
                "Ce PDF contient du code ou des fichiers cachés (JavaScript, pièces "
                "incorporées), que nous n'acceptons pas. Enregistrez-le de nouveau avec "
                "« Imprimer » puis « Enregistrer en PDF », ou scannez le document, puis "
                "envoyez-le."
            )
        )


def _pdf_names(data: bytes, *, budget: list[int] | None) -> set[bytes]:
    """Every name used in the PDF's objects, skipping what a reader does not take as
    objects (comments, strings, stream data) so that the bytes of a photo cannot pass for
    a name. Object streams (PDF 1.5+) are inflated, within `budget` bytes in all, and read
    too; `budget` None: this is one, which holds no stream."""
    names: set[bytes] = set()
    since_obj: list[bytes] = []  # the names of the current object's dictionary
    obj_start = 0
    pos = 0
    while (match := _PDF_TOKEN.search(data, pos)) is not None:
        token, pos = match.group(), match.end()
        if token == b"(":
            pos = _pdf_string_end(data, pos)
        elif token.startswith(b"/"):
            name = _pdf_name(token[1:])
            names.add(name)
            since_obj.append(name)
        elif token == b"obj":
            since_obj, obj_start = [], pos
        elif token.startswith(b"stream"):
            end = data.find(b"endstream", pos)
            end = len(data) if end < 0 else end
            if b"ObjStm" in since_obj:
                # An encrypted one does not inflate: refused too, it cannot be checked.
                if budget is None or b"DecodeParms" in since_obj:
                    raise _unreadable_pdf()
                if _pdf_filters(data[obj_start : match.start()]) != [b"FlateDecode"]:
                    raise _unreadable_pdf()
                names |= _pdf_names(_inflate(data[pos:end], budget), budget=None)
            pos = end + len(b"endstream")
    return names


def _pdf_string_end(data: bytes, pos: int) -> int:
    """Where a literal string that opened just before `pos` closes (nested parentheses
    balance; a backslash escapes the next byte)."""
    depth = 1
    while (match := _PDF_STRING_PART.search(data, pos)) is not None:
        char, pos = match.group(), match.end()
        if char == b"\\":
            pos += 1
        elif char == b"(":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return pos
    return len(data)


def _inflate(stream: bytes, budget: list[int]) -> bytes:
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(stream, budget[0])
    except zlib.error:
        raise _unreadable_pdf() from None
    budget[0] -= len(inflated)
    if budget[0] <= 0 or inflater.unconsumed_tail:
        raise _unreadable_pdf()  # too much to inflate: a bomb, or too big to check
    return inflated


def _pdf_filters(dictionary: bytes) -> list[bytes]:
    """The stream's /Filter names (one name or an array), #xx escapes decoded."""
    found = re.search(rb"/Filter\s*(\[[^\]]*\]|/[^\s/<>\[\]()]+)", dictionary)
    if found is None:
        return []
    return [_pdf_name(raw[1:]) for raw in re.findall(rb"/[^\s/<>\[\]()]+", found.group(1))]


def _unreadable_pdf() -> UnsafeFile:
    return UnsafeFile(
        _(
            "Ce PDF est protégé ou codé d'une façon que nous ne pouvons pas vérifier. "
            "Enregistrez-le sans mot de passe (« Imprimer » puis « Enregistrer en PDF »), "
            "puis envoyez-le."
        )
    )
