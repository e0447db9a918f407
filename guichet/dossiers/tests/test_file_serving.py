"""How stored files go out (guichet/web/files.py): sandboxing headers, nobody but the
uploader before the antivirus has passed a file, nobody at all once it is quarantined, and
the separate files host with short-lived signed links."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.http import Http404, HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from guichet.documents.models import IssuedDocument
from guichet.dossiers.models import Attachment, DossierStatus, ScanStatus
from guichet.dossiers.tests.samples import PNG_BYTES
from guichet.web import files

pytestmark = pytest.mark.django_db

FILES_HOST = "fichiers.test"


def _set(attachment: Attachment, status: ScanStatus) -> Attachment:
    Attachment.objects.filter(pk=attachment.pk).update(scan_status=status)
    attachment.refresh_from_db()
    return attachment


def _request(user, host: str = "testserver"):
    request = RequestFactory().get("/", HTTP_HOST=host)
    request.user = user
    return request


def _body(response) -> bytes:
    try:
        return b"".join(response.streaming_content)
    finally:
        response.close()


def test_a_download_is_sandboxed_and_never_sniffed(client, citizen, draft_with_file):
    dossier, attachment = draft_with_file
    client.force_login(citizen)
    response = client.get(f"/mes-demarches/{dossier.reference}/fichiers/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="volet.png"'
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == files.DOWNLOAD_POLICY
    assert response["Content-Security-Policy"].startswith("sandbox; default-src 'none'")
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert _body(response) == PNG_BYTES


def test_inline_previews_keep_a_policy_without_script(draft_with_file):
    _, attachment = draft_with_file
    _set(attachment, ScanStatus.CLEAN)
    image = files.attachment_response(attachment, inline=True)
    assert image["Content-Disposition"].startswith("inline")
    assert image["Content-Security-Policy"].startswith("sandbox;")
    image.close()
    attachment.kind = "pdf"
    pdf = files.attachment_response(attachment, inline=True)
    assert "script-src" not in pdf["Content-Security-Policy"]
    assert "default-src 'none'" in pdf["Content-Security-Policy"]
    pdf.close()


def test_a_pending_file_goes_only_to_its_uploader(draft_with_file, citizen, staff_user):
    _, attachment = draft_with_file
    assert attachment.scan_status == ScanStatus.PENDING
    response = files.serve_attachment(_request(citizen), attachment, inline=False)
    assert _body(response) == PNG_BYTES
    with pytest.raises(Http404):
        files.serve_attachment(_request(staff_user), attachment, inline=True)
    _set(attachment, ScanStatus.CLEAN)
    response = files.serve_attachment(_request(staff_user), attachment, inline=True)
    assert _body(response) == PNG_BYTES


def test_a_quarantined_file_goes_to_nobody(client, citizen, draft_with_file):
    dossier, attachment = draft_with_file
    _set(attachment, ScanStatus.INFECTED)
    with pytest.raises(Http404):
        files.serve_attachment(_request(citizen), attachment, inline=False)
    with pytest.raises(Http404):
        files.attachment_response(attachment, inline=False)
    client.force_login(citizen)
    url = f"/mes-demarches/{dossier.reference}/fichiers/{attachment.pk}/"
    assert client.get(url).status_code == 404


@pytest.fixture
def files_host(settings) -> str:
    settings.FILES_HOST = FILES_HOST
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, FILES_HOST]
    return FILES_HOST


def _follow(redirect) -> tuple[str, str]:
    """(host, token) of a redirect to the files host."""
    assert redirect.status_code == 302
    assert redirect["Referrer-Policy"] == "no-referrer"
    scheme_host, _, token = redirect["Location"].partition(f"/{files.SIGNED_PREFIX}")
    return scheme_host.removeprefix("http://"), token


def test_with_a_files_host_downloads_redirect_to_a_signed_link_there(
    files_host, draft_with_file, citizen
):
    _, attachment = draft_with_file
    host, token = _follow(files.serve_attachment(_request(citizen), attachment, inline=False))
    assert host == FILES_HOST
    response = files.signed_file(_request(None, host=FILES_HOST), token)
    assert _body(response) == PNG_BYTES
    assert response["Content-Security-Policy"] == files.DOWNLOAD_POLICY
    assert response["Content-Disposition"].startswith("attachment;")
    # Not on the main site, not tampered with, not after it has lived.
    with pytest.raises(Http404):
        files.signed_file(_request(None), token)
    with pytest.raises(Http404):
        files.signed_file(_request(None, host=FILES_HOST), token[:-2] + "xx")
    with time_machine.travel(timezone.now() + timedelta(seconds=61)), pytest.raises(Http404):
        files.signed_file(_request(None, host=FILES_HOST), token)


def test_a_signed_link_reads_the_scan_status_again(files_host, draft_with_file, citizen):
    _, attachment = draft_with_file
    _, token = _follow(files.serve_attachment(_request(citizen), attachment, inline=False))
    _set(attachment, ScanStatus.INFECTED)  # quarantined after the link was made
    with pytest.raises(Http404):
        files.signed_file(_request(None, host=FILES_HOST), token)


def test_the_files_host_serves_nothing_but_signed_links(files_host):
    middleware = files.FilesHostMiddleware(lambda request: HttpResponse("page"))
    on_files_host = RequestFactory().get("/demarches/", HTTP_HOST=FILES_HOST)
    assert middleware(on_files_host).status_code == 404
    signed = RequestFactory().get(f"/{files.SIGNED_PREFIX}abc", HTTP_HOST=FILES_HOST)
    assert middleware(signed).status_code == 200
    assert middleware(RequestFactory().get("/demarches/")).status_code == 200


def test_an_issued_document_goes_through_the_files_host_too(
    files_host, submitted_dossier, staff_user, citizen
):
    from guichet.workflow import services as workflow

    dossier, _ = submitted_dossier
    workflow.transition(dossier=dossier, to=DossierStatus.IN_REVIEW, actor=staff_user)
    workflow.transition(dossier=dossier, to=DossierStatus.ACCEPTED, actor=staff_user)
    document = IssuedDocument.objects.get(dossier=dossier)
    _, token = _follow(files.serve_document(_request(citizen), document, inline=False))
    response = files.signed_file(_request(None, host=FILES_HOST), token)
    assert _body(response).startswith(b"%PDF")
    assert response["Content-Security-Policy"] == files.DOWNLOAD_POLICY


def test_the_site_with_a_files_host_end_to_end(
    files_host, client, citizen, other_citizen, draft_with_file
):
    dossier, attachment = draft_with_file
    client.force_login(citizen)
    redirect = client.get(f"/mes-demarches/{dossier.reference}/fichiers/{attachment.pk}/")
    host, token = _follow(redirect)
    assert host == FILES_HOST
    served = client.get(f"/{files.SIGNED_PREFIX}{token}", HTTP_HOST=FILES_HOST)
    assert served.status_code == 200
    assert _body(served) == PNG_BYTES
    assert served["Content-Security-Policy"] == files.DOWNLOAD_POLICY
    # The link works on the files host only, and the files host serves nothing else.
    assert client.get(f"/{files.SIGNED_PREFIX}{token}").status_code == 404
    assert client.get("/demarches/", HTTP_HOST=FILES_HOST).status_code == 404
    assert client.get("/admin/", HTTP_HOST=FILES_HOST).status_code == 404
    # Another citizen gets no link at all.
    client.force_login(other_citizen)
    url = f"/mes-demarches/{dossier.reference}/fichiers/{attachment.pk}/"
    assert client.get(url).status_code == 404
