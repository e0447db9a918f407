"""Attached files: the limits a `file` field sets, and the type of a file from its bytes.

The upload itself (storage, size checks while streaming, virus scan) belongs to the dossier
code; it enforces the limits of `FileRules` and must decide the type of a file from its
first bytes with `sniff_type`, never from its name or the Content-Type the browser sent: a
web page renamed `acte.pdf` is not a PDF.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
