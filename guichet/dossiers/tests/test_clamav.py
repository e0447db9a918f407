"""The ClamAV client, against a fake daemon (the protocol's edge cases) and the real one
(guichet/dossiers/tests/clamav.py): verdicts, quarantine, fail-closed when it is down."""

from __future__ import annotations

import contextlib
import io
import socket
import struct
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from guichet.dossiers import services, tasks
from guichet.dossiers.models import Attachment, ScanStatus
from guichet.dossiers.scanning import ClamdScanner, ScannerUnavailable
from guichet.dossiers.tests.clamav import EICAR, SIGNATURE
from guichet.dossiers.tests.samples import PDF_BYTES, PNG_BYTES
from guichet.governance.models import AuditEntry

pytestmark = pytest.mark.django_db

Handler = Callable[[socket.socket], None]


def _read_command(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\0"):
        data += conn.recv(1)
    return data[1:-1]


def _read_stream(conn: socket.socket) -> list[bytes]:
    chunks: list[bytes] = []
    while True:
        (length,) = struct.unpack("!L", _recv_exact(conn, 4))
        if length == 0:
            return chunks
        chunks.append(_recv_exact(conn, length))


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        part = conn.recv(size - len(data))
        if not part:
            raise ConnectionError("closed")
        data += part
    return data


@pytest.fixture
def fake_clamd(tmp_path) -> Iterator[Callable[[Handler], str]]:
    """A daemon on a unix socket whose every connection `handler` answers."""
    servers: list[socket.socket] = []

    def start(handler: Handler) -> str:
        path = str(tmp_path / f"fake{len(servers)}.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen()
        servers.append(server)

        def serve() -> None:
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                with conn, contextlib.suppress(OSError):
                    handler(conn)

        threading.Thread(target=serve, daemon=True).start()
        return path

    yield start
    for server in servers:
        server.close()


def test_a_file_goes_in_chunks_and_a_clean_verdict_names_the_signatures(fake_clamd):
    received: list[list[bytes]] = []

    def clamd(conn: socket.socket) -> None:
        command = _read_command(conn)
        if command == b"VERSION":
            conn.sendall(b"ClamAV 1.4.6/27500/Sun Nov 29 09:00:00 2026\0")
        elif command == b"INSTREAM":
            received.append(_read_stream(conn))
            conn.sendall(b"stream: OK\0")

    data = bytes(range(256)) * 800  # 200 KB
    result = ClamdScanner(fake_clamd(clamd), timeout=2).scan(io.BytesIO(data))
    assert result.is_clean
    assert result.detail == "ClamAV 1.4.6/27500/Sun Nov 29 09:00:00 2026"
    [chunks] = received
    assert b"".join(chunks) == data
    assert len(chunks) > 1 and max(map(len, chunks)) <= 64 * 1024


def test_a_found_reply_is_an_infected_verdict_with_the_signature(fake_clamd):
    def clamd(conn: socket.socket) -> None:
        _read_command(conn)
        _read_stream(conn)
        conn.sendall(b"stream: Win.Test.EICAR_HDB-1 FOUND\0")

    result = ClamdScanner(fake_clamd(clamd), timeout=2).scan(io.BytesIO(EICAR))
    assert not result.is_clean
    assert result.detail == "Win.Test.EICAR_HDB-1"


def test_clamd_refusing_a_stream_over_its_limit_leaves_the_file_pending(fake_clamd):
    def clamd(conn: socket.socket) -> None:
        _read_command(conn)
        _recv_exact(conn, 70_000)
        conn.sendall(b"INSTREAM size limit exceeded. ERROR\0")
        conn.shutdown(socket.SHUT_RDWR)

    with pytest.raises(ScannerUnavailable, match="StreamMaxLength"):
        ClamdScanner(fake_clamd(clamd), timeout=2).scan(io.BytesIO(b"x" * 5_000_000))


def test_a_file_over_the_configured_limit_is_not_sent(fake_clamd):
    received: list[bytes] = []

    def clamd(conn: socket.socket) -> None:
        _read_command(conn)
        while part := conn.recv(65536):
            received.append(part)

    scanner = ClamdScanner(fake_clamd(clamd), timeout=2, max_stream_bytes=100_000)
    with pytest.raises(ScannerUnavailable, match="CLAMD_MAX_STREAM_BYTES"):
        scanner.scan(io.BytesIO(b"x" * 200_000))
    assert sum(map(len, received)) <= 100_000


def test_a_daemon_that_does_not_answer_times_out(fake_clamd):
    def clamd(conn: socket.socket) -> None:
        _read_command(conn)
        _read_stream(conn)
        time.sleep(3)  # never answers in time

    started = time.monotonic()
    with pytest.raises(ScannerUnavailable, match="sans réponse"):
        ClamdScanner(fake_clamd(clamd), timeout=0.5).scan(io.BytesIO(b"data"))
    assert time.monotonic() - started < 2.5


def test_an_unexpected_reply_is_not_taken_for_a_verdict(fake_clamd):
    def clamd(conn: socket.socket) -> None:
        _read_command(conn)
        _read_stream(conn)
        conn.sendall(b"stream: lstat() failed. ERROR\0")

    with pytest.raises(ScannerUnavailable, match="réponse inattendue"):
        ClamdScanner(fake_clamd(clamd), timeout=2).scan(io.BytesIO(b"data"))


def test_no_daemon_means_unavailable(tmp_path):
    scanner = ClamdScanner(str(tmp_path / "absent.sock"), timeout=1)
    assert scanner.ping() is False
    with pytest.raises(ScannerUnavailable, match="injoignable"):
        scanner.scan(io.BytesIO(b"data"))
    with pytest.raises(ScannerUnavailable, match="injoignable"):
        ClamdScanner("127.0.0.1:1", timeout=1).scan(io.BytesIO(b"data"))


def test_clamd_over_tcp():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            _read_command(conn)
            conn.sendall(b"PONG\0")

    threading.Thread(target=serve, daemon=True).start()
    try:
        assert ClamdScanner(f"127.0.0.1:{port}", timeout=2).ping()
    finally:
        server.close()


# --- The real daemon ------------------------------------------------------------------------


def _zip(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return out.getvalue()


def pdf_with_eicar() -> bytes:
    """A PDF that passes every content check, carrying the EICAR file in a stream: only
    the antivirus can tell."""
    return (
        b"%PDF-1.4\n1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj\n"
        b"2 0 obj <</Type/Pages/Kids[]/Count 0>> endobj\n"
        b"3 0 obj <</Length " + str(len(EICAR)).encode() + b">>\nstream\n" + EICAR + b"\n"
        b"endstream\nendobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"
    )


EICAR_WRAPPINGS = {
    "as-is": EICAR,
    "in-a-zip": _zip("eicar.com", EICAR),
    "zip-in-a-zip": _zip("inner.zip", _zip("eicar.com", EICAR)),
    "in-a-pdf": pdf_with_eicar(),
    "after-a-png": PNG_BYTES + EICAR,
}


@pytest.mark.parametrize("wrapping", EICAR_WRAPPINGS)
def test_clamd_finds_eicar_however_it_is_wrapped(clamd_address, wrapping):
    result = ClamdScanner(clamd_address).scan(io.BytesIO(EICAR_WRAPPINGS[wrapping]))
    assert not result.is_clean
    assert result.detail.startswith(SIGNATURE)


def test_clamd_passes_clean_files_and_names_its_engine(clamd_address):
    scanner = ClamdScanner(clamd_address)
    assert scanner.ping()
    for data in (PNG_BYTES, PDF_BYTES, b"x" * 3_000_000):
        result = scanner.scan(io.BytesIO(data))
        assert result.is_clean
        assert result.detail.startswith("ClamAV 1.")


def _upload(client, dossier, name: str, content: bytes):
    return client.post(
        f"/mes-demarches/{dossier.reference}/pages/pieces/fichiers/volet_2/",
        {"file": SimpleUploadedFile(name, content)},
    )


@pytest.fixture
def draft(client, citizen, demo_catalog):
    from guichet.catalog.models import Procedure

    client.force_login(citizen)
    procedure = Procedure.objects.get(pk="ml-extrait-acte-naissance")
    dossier = services.start_dossier(procedure=procedure, actor=citizen)
    dossier.answers = {"objet": "extrait", "pour": "enfant"}
    dossier.save(update_fields=["answers"])
    return dossier


def test_an_infected_upload_is_quarantined_and_the_citizen_told(
    clamd, client, draft, citizen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert _upload(client, draft, "acte.pdf", pdf_with_eicar()).status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.scan_status == ScanStatus.INFECTED
    assert attachment.scan_detail.startswith(SIGNATURE)
    assert attachment.quarantined_at is not None
    assert attachment.file.name.startswith("quarantine/")
    entry = AuditEntry.objects.get(action="attachment.quarantined")
    assert entry.actor_label == "system:antivirus" and entry.object_id == str(draft.pk)
    assert entry.data["signature"].startswith(SIGNATURE)
    storage = attachment.file.storage
    assert storage.exists(attachment.file.name)
    assert not storage.exists(f"{draft.created_at:%Y/%m}/{attachment.pk}")  # moved aside
    page = client.get(f"/mes-demarches/{draft.reference}/pages/pieces/").content.decode()
    assert "contient un virus ou un programme dangereux" in page
    assert f'/fichiers/{attachment.pk}/"' not in page  # no download link
    download = f"/mes-demarches/{draft.reference}/fichiers/{attachment.pk}/"
    assert client.get(download).status_code == 404  # not even to its uploader
    with pytest.raises(services.DossierError, match="refusé par l'antivirus"):
        services.submit_dossier(dossier=draft, token=str(draft.submission_token), actor=citizen)
    # Removing it deletes the quarantined copy too.
    quarantined = attachment.file.name
    with django_capture_on_commit_callbacks(execute=True):
        services.remove_attachment(attachment=attachment, actor=citizen)
    assert not storage.exists(quarantined)


def test_a_clean_upload_is_passed_by_clamd(
    clamd, client, draft, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert _upload(client, draft, "volet.png", PNG_BYTES).status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.scan_status == ScanStatus.CLEAN
    assert attachment.scan_detail.startswith("ClamAV")
    assert attachment.quarantined_at is None


def test_with_clamd_down_files_stay_pending_and_are_scanned_once_it_is_back(
    clamd_address, use_scanner, client, draft, tmp_path, django_capture_on_commit_callbacks
):
    use_scanner("guichet.dossiers.scanning.ClamdScanner", CLAMD_ADDRESS=str(tmp_path / "down"))
    with django_capture_on_commit_callbacks(execute=True):
        assert _upload(client, draft, "volet.png", PNG_BYTES).status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.scan_status == ScanStatus.PENDING  # fail closed
    assert "injoignable" in attachment.scan_detail
    assert attachment.scanned_at is not None
    # Its uploader may fetch it meanwhile; staff may not (test_file_serving).
    download = client.get(f"/mes-demarches/{draft.reference}/fichiers/{attachment.pk}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG_BYTES
    use_scanner("guichet.dossiers.scanning.ClamdScanner", CLAMD_ADDRESS=clamd_address)
    later = timezone.now() + timedelta(minutes=11)
    assert services.requeue_pending_scans(now=later) == 1
    attachment.refresh_from_db()
    assert attachment.scan_status == ScanStatus.CLEAN
    assert services.requeue_pending_scans(now=later) == 0


class DownScanner:
    def scan(self, stream):
        raise ScannerUnavailable("clamd ne répond pas")


def test_the_task_comes_back_later_while_the_antivirus_is_down(
    settings, use_scanner, draft_with_file
):
    from django_tasks import task_backends
    from django_tasks.backends.dummy import DummyBackend

    _, attachment = draft_with_file
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    use_scanner(f"{__name__}.DownScanner")
    backend = task_backends["default"]
    assert isinstance(backend, DummyBackend)
    for attempt, wait in [(0, 30), (1, 60), (7, 600)]:
        backend.clear()
        before = timezone.now()
        assert tasks.scan_attachment.call(str(attachment.pk), attempt) == ScanStatus.PENDING
        [retry] = backend.results
        assert retry.kwargs == {"attachment_id": str(attachment.pk), "attempt": attempt + 1}
        assert retry.task.run_after is not None
        assert abs((retry.task.run_after - before).total_seconds() - wait) < 5
    attachment.refresh_from_db()
    assert attachment.scan_status == ScanStatus.PENDING


def test_the_periodic_command_requeues_what_is_still_pending(draft_with_file, time_machine):
    """`scans_retry --every 300` runs beside the worker (`serve`): a lost scan comes back."""
    from io import StringIO

    from django.core.management import call_command

    _dossier, attachment = draft_with_file
    Attachment.objects.filter(pk=attachment.pk).update(
        scan_status=ScanStatus.PENDING, scanned_at=None
    )
    time_machine.move_to(timezone.now() + timedelta(minutes=11), tick=False)
    out = StringIO()
    call_command("scans_retry", stdout=out)
    assert "Analyses remises en file : 1" in out.getvalue()
