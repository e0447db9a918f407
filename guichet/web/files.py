"""Serving stored files (attachments and issued documents): one way, whoever asks.

Every file goes out with the type read from its content (never the browser's claim when it
was sent), `nosniff`, a Content-Disposition (a download, or `inline` for staff previews)
with the cleaned name, a Content-Security-Policy that sandboxes it, no referrer and no
caching outside the browser. A quarantined (infected) file is never served; a file the
antivirus has not yet passed goes only to its uploader.

Views check who asks, then return `serve_attachment` or `serve_document`. With
`FILES_HOST` set, those answer with a redirect to a signed link on that other site, valid
`FILES_URL_SECONDS`, and the file is served there by `signed_file`, the files host's only
page (`FilesHostMiddleware` answers 404 to anything else on it): a file that a browser
might still run as a page (a polyglot the checks missed) runs on a site that holds no
session and no cookie of Guichet's. Django's security guide asks for a separate
registrable domain, not a subdomain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import path

from guichet.documents.models import IssuedDocument
from guichet.dossiers.models import Attachment, ScanStatus
from guichet.web.access import public_page

DOWNLOAD_POLICY = "sandbox; default-src 'none'; frame-ancestors 'none'"
INLINE_IMAGE_POLICY = "sandbox; default-src 'none'; img-src 'self'; frame-ancestors 'none'"
INLINE_VIEWER_POLICY = (
    # The browser's PDF viewer needs its styles and the plugin (which `sandbox` would
    # block); still no script, no request elsewhere, never in a frame.
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    "object-src 'self'; frame-ancestors 'none'"
)
SIGNED_PREFIX = "f/"
"""Path of the signed links, on the files host (`/f/<token>`)."""
_SALT = "guichet.web.files"


def _stored_file(file: Any, *, filename: str, content_type: str, inline: bool) -> FileResponse:
    response = FileResponse(
        file.open("rb"), as_attachment=not inline, filename=filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    if not inline:
        response["Content-Security-Policy"] = DOWNLOAD_POLICY
    elif content_type == "application/pdf":
        response["Content-Security-Policy"] = INLINE_VIEWER_POLICY
    else:
        response["Content-Security-Policy"] = INLINE_IMAGE_POLICY
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def attachment_response(attachment: Attachment, *, inline: bool) -> FileResponse:
    """The file itself. `inline` shows an image or a PDF in the browser (staff preview)
    instead of downloading it. A quarantined file: 404, whoever asks. The caller has
    checked who asks, the scan status included (`serve_attachment` does)."""
    if attachment.scan_status == ScanStatus.INFECTED:
        raise Http404("attachment")
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


def may_fetch(attachment: Attachment, user_id: object) -> bool:
    """Clean files go to whoever the view let in; a pending one only to its uploader;
    a quarantined one to nobody."""
    if attachment.scan_status == ScanStatus.CLEAN:
        return True
    return attachment.scan_status == ScanStatus.PENDING and attachment.uploaded_by_id == user_id


def serve_attachment(
    request: HttpRequest, attachment: Attachment, *, inline: bool
) -> HttpResponseBase:
    """What a view returns once it has checked that the caller may see the dossier."""
    if not may_fetch(attachment, request.user.pk):
        raise Http404("attachment")
    if settings.FILES_HOST:
        return _to_files_host(request, {"a": str(attachment.pk), "u": request.user.pk}, inline)
    return attachment_response(attachment, inline=inline)


def serve_document(
    request: HttpRequest, document: IssuedDocument, *, inline: bool
) -> HttpResponseBase:
    if settings.FILES_HOST:
        return _to_files_host(request, {"d": document.pk}, inline)
    return document_response(document, inline=inline)


def signed_link(request: HttpRequest, payload: dict[str, Any]) -> str:
    token = signing.dumps(payload, salt=_SALT, compress=False)
    return f"{request.scheme}://{settings.FILES_HOST}/{SIGNED_PREFIX}{token}"


def _to_files_host(request: HttpRequest, payload: dict[str, Any], inline: bool) -> HttpResponse:
    response = HttpResponseRedirect(signed_link(request, {**payload, "i": inline}))
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"  # the link is a key while it lives
    return response


@public_page
def signed_file(request: HttpRequest, token: str) -> FileResponse:
    """The files host's page: the file a signed link names, while the link lives (the
    link is the authorization: made by `serve_*` after the view checked who asks). The
    scan status is read again: a file quarantined since the link was made is refused."""
    if not settings.FILES_HOST or request.get_host().lower() != settings.FILES_HOST:
        raise Http404("file")
    try:
        payload = signing.loads(token, salt=_SALT, max_age=settings.FILES_URL_SECONDS)
    except signing.BadSignature:  # expired too
        raise Http404("file") from None
    inline = bool(payload.get("i"))
    if "d" in payload:
        document = IssuedDocument.objects.filter(pk=payload["d"]).first()
        if document is None:
            raise Http404("file")
        return document_response(document, inline=inline)
    attachment = Attachment.objects.filter(pk=payload.get("a")).first()
    if attachment is None or not may_fetch(attachment, payload.get("u")):
        raise Http404("file")
    return attachment_response(attachment, inline=inline)


class FilesHostMiddleware:
    """On the files host, nothing but signed links: no page of the site, no admin."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        on_files_host = settings.FILES_HOST and request.get_host().lower() == settings.FILES_HOST
        if on_files_host and not request.path.startswith(f"/{SIGNED_PREFIX}"):
            return HttpResponse(status=404, content_type="text/plain")
        return self.get_response(request)


urlpatterns = [path(f"{SIGNED_PREFIX}<str:token>", signed_file, name="signed-file")]
"""Included at the root of guichet/urls.py, outside the language prefixes."""
