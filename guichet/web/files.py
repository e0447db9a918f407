"""Serving an uploaded file: one way, whoever asks."""

from __future__ import annotations

from django.http import FileResponse

from guichet.dossiers.models import Attachment


def attachment_response(attachment: Attachment, *, inline: bool) -> FileResponse:
    """The file with the type read from its content (never the browser's claim) and
    `nosniff`, so a browser cannot be talked into running it as a page. `inline` shows
    an image or a PDF in the browser (staff preview) instead of downloading it."""
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=not inline,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    if inline:
        # The browser's own image and PDF viewers need their styles and the PDF plugin;
        # still no script, no request elsewhere, never in a frame.
        response["Content-Security-Policy"] = (
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
            "object-src 'self'; frame-ancestors 'none'"
        )
    return response
