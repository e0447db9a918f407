from __future__ import annotations

import struct
import zlib

from guichet.formdefs.files import SNIFF_BYTES, sniff_type


def _png() -> bytes:
    """A real 1×1 white PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _jpeg() -> bytes:
    """The start of a JFIF file as phone cameras write it (SOI, APP0) and its end (EOI)."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0 + b"\xff\xd9"


def _pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
        b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
        b"trailer <</Root 1 0 R>>\n%%EOF\n"
    )


def test_real_files_are_recognised_from_their_first_bytes():
    assert sniff_type(_pdf()[:SNIFF_BYTES]) == "pdf"
    assert sniff_type(_png()[:SNIFF_BYTES]) == "png"
    assert sniff_type(_jpeg()[:SNIFF_BYTES]) == "jpeg"


def test_a_web_page_renamed_pdf_is_not_a_pdf():
    html = b"<!DOCTYPE html><html><body>%PDF-1.4</body></html>"
    assert sniff_type(html) is None


def test_other_and_empty_files_are_unknown():
    assert sniff_type(b"GIF89a\x01\x00") is None
    assert sniff_type(b"PK\x03\x04") is None  # a .docx or .zip
    assert sniff_type(b"") is None
    assert sniff_type(b"\xff\xd8") is None  # too short to be sure
