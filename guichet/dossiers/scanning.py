"""Virus scanning of uploaded files, behind one small interface.

The scanner is chosen by the `ATTACHMENT_SCANNER` setting (a dotted path). Production uses
`ClamdScanner`, which streams each file to the ClamAV daemon (Debian's `clamav-daemon`)
with its INSTREAM command; development may keep `AcceptAllScanner`. Either way a file is
served to nobody but its uploader until the scanner has called it clean.

The clamd protocol is small enough to speak by hand (ADR 0014): a command ends with a NUL
byte (the `z` prefix), INSTREAM sends chunks each preceded by its length as 4 bytes in
network order and ends with a zero length, and the answer is one NUL-terminated line:
`stream: OK`, `stream: <signature> FOUND`, or `<reason> ERROR`.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from functools import cache
from typing import IO, Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class ScanResult:
    is_clean: bool
    detail: str = ""
    """For an infected file, what the scanner found (ClamAV's signature name)."""


class ScannerUnavailable(Exception):
    """The scanner could not give a verdict: the file stays pending (fail closed)."""


class Scanner(Protocol):
    def scan(self, stream: IO[bytes]) -> ScanResult: ...


class AcceptAllScanner:
    """Development default: marks every file clean. Replace with ClamAV in production."""

    def scan(self, stream: IO[bytes]) -> ScanResult:
        return ScanResult(is_clean=True, detail="non analysé (aucun antivirus configuré)")


CHUNK_BYTES = 64 * 1024


class ClamdScanner:
    """The ClamAV daemon, over a unix socket (`CLAMD_ADDRESS=/run/clamav/clamd.ctl`) or
    TCP (`CLAMD_ADDRESS=127.0.0.1:3310`).

    Anything short of a verdict raises `ScannerUnavailable` with a message for the staff:
    daemon down or slow (`CLAMD_TIMEOUT` seconds per socket operation), a file larger than
    `CLAMD_MAX_STREAM_BYTES` (which must not exceed clamd's own StreamMaxLength), an
    answer that is neither OK nor FOUND. The file is then retried later, never let through.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        timeout: float | None = None,
        max_stream_bytes: int | None = None,
    ) -> None:
        self.address = address or settings.CLAMD_ADDRESS
        self.timeout = timeout if timeout is not None else settings.CLAMD_TIMEOUT
        self.max_stream_bytes = max_stream_bytes or settings.CLAMD_MAX_STREAM_BYTES

    def _connect(self) -> socket.socket:
        try:
            if self.address.startswith("/"):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(self.timeout)
                    sock.connect(self.address)
                except OSError:
                    sock.close()
                    raise
                return sock
            host, _, port = self.address.rpartition(":")
            return socket.create_connection((host.strip("[]"), int(port)), timeout=self.timeout)
        except (OSError, ValueError) as exc:
            raise ScannerUnavailable(f"antivirus injoignable ({self.address}) : {exc}") from exc

    def _command(self, command: bytes) -> str:
        with self._connect() as sock:
            try:
                sock.sendall(b"z" + command + b"\0")
                return _read_reply(sock)
            except OSError as exc:
                raise ScannerUnavailable(f"antivirus sans réponse : {exc}") from exc

    def ping(self) -> bool:
        """True when clamd answers PONG; False when it cannot be reached."""
        try:
            return self._command(b"PING") == "PONG"
        except ScannerUnavailable:
            return False

    def version(self) -> str:
        """`ClamAV 1.4.6/27400/…`: the engine and its signature database."""
        return self._command(b"VERSION")

    def scan(self, stream: IO[bytes]) -> ScanResult:
        with self._connect() as sock:
            sent = 0
            try:
                sock.sendall(b"zINSTREAM\0")
                for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
                    sent += len(chunk)
                    if sent > self.max_stream_bytes:
                        raise ScannerUnavailable(
                            f"fichier plus gros que la limite de l'antivirus "
                            f"({self.max_stream_bytes} octets, CLAMD_MAX_STREAM_BYTES)"
                        )
                    sock.sendall(struct.pack("!L", len(chunk)) + chunk)
                sock.sendall(struct.pack("!L", 0))
                reply = _read_reply(sock)
            except (BrokenPipeError, ConnectionResetError):
                # clamd hangs up on a stream over its StreamMaxLength after saying so.
                reply = _read_reply(sock, quiet=True) or "connexion coupée par l'antivirus"
            except OSError as exc:
                raise ScannerUnavailable(f"antivirus sans réponse : {exc}") from exc
        result = _verdict(reply)
        if result.is_clean:
            # Which engine and signatures said so, for whoever reviews a verdict later.
            try:
                return ScanResult(is_clean=True, detail=self.version())
            except ScannerUnavailable:
                pass
        return result


def _read_reply(sock: socket.socket, *, quiet: bool = False) -> str:
    """One NUL-terminated answer (at most 4 KB: clamd's lines are short)."""
    data = b""
    try:
        while not data.endswith(b"\0") and len(data) < 4096:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        if not quiet:
            raise
    return data.rstrip(b"\0").decode("utf-8", "replace").strip()


def _verdict(reply: str) -> ScanResult:
    if reply == "stream: OK":
        return ScanResult(is_clean=True, detail="ClamAV")
    if reply.startswith("stream: ") and reply.endswith(" FOUND"):
        return ScanResult(is_clean=False, detail=reply.removeprefix("stream: ")[:-6].strip())
    if "size limit exceeded" in reply:
        raise ScannerUnavailable(
            "fichier plus gros que la limite de l'antivirus (StreamMaxLength de clamd)"
        )
    raise ScannerUnavailable(f"réponse inattendue de l'antivirus : {reply[:120]!r}")


@cache
def get_scanner() -> Scanner:
    scanner: Scanner = import_string(settings.ATTACHMENT_SCANNER)()
    return scanner
