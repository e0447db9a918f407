"""Serving an uploaded file: one way, whoever asks."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse

from guichet.documents.models import IssuedDocument
from guichet.dossiers.models import Attachment

INLINE_VIEWER_POLICY = (
    # The browser's own image and PDF viewers need their styles and the PDF plugin;
    # still no script, no request elsewhere, never in a frame.
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    "object-src 'self'; frame-ancestors 'none'"
)


def _stored_file(file: Any, *, filename: str, content_type: str, inline: bool) -> FileResponse:
    response = FileResponse(
        file.open("rb"), as_attachment=not inline, filename=filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    if inline:
        response["Content-Security-Policy"] = INLINE_VIEWER_POLICY
    return response


def attachment_response(attachment: Attachment, *, inline: bool) -> FileResponse:
    """The file with the type read from its content (never the browser's claim) and
    `nosniff`, so a browser cannot be talked into running it as a page. `inline` shows
    an image or a PDF in the browser (staff preview) instead of downloading it."""
    return _stored_file(
        attachment.file,
        filename=attachment.original_name,
        content_type=attachment.content_type,
        inline=inline,
    )


def document_response(document: IssuedDocument, *, inline: bool) -> FileResponse:
    """An issued document's PDF, byte for byte as signed (inline: to print it)."""
    return _stored_file(
        document.file, filename=document.filename, content_type="application/pdf", inline=inline
    )
