"""The encrypted, authenticated container every backup is written in (ADR 0015).

    magic       16 bytes   b"GUICHET-BACKUP" 0x00 0x01
    length       4 bytes   big-endian length of the header
    header      JSON       {"v": 1, "kind": "data" | "keys", "key": "<key id>",
                            "salt": "<32 random bytes, base64url>", "chunk": 1048576}
    header MAC  32 bytes   HMAC-SHA256(mac key, magic ‖ length ‖ header)
    chunks      each       4-byte big-endian length ‖ AES-256-GCM ciphertext and tag

The backup key (32 random bytes, BACKUP_KEY or BACKUP_KEYS_KEY) never encrypts anything
itself: HKDF-SHA256 over it, the archive's random salt and its kind gives this archive's
AES key and MAC key, so two archives never share a key and a keys archive cannot be read
as a data archive. Chunk i (1 MiB of plaintext, the last one shorter, possibly empty) is
sealed with the nonce `i` (11 bytes, big-endian) ‖ `1` for the last chunk, `0` otherwise
(the STREAM construction that age and Tink use) and the header's SHA-256 as associated
data: a changed, removed, reordered or appended chunk, a cut-off end or a changed header
all fail before the reader hands out a single byte from them.

The key id in the header (a hash of the key, not the key) only lets the reader say "wrong
key" rather than "damaged archive"; the MAC is what checks it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import struct
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"GUICHET-BACKUP\x00\x01"
CHUNK = 1 << 20
TAG = 16
DATA, KEYS = "data", "keys"
_LENGTH = struct.Struct(">I")
_MAX_HEADER = 64 * 1024


class ArchiveError(Exception):
    """An archive that cannot be trusted or read: the message says why, in French."""


def new_key() -> str:
    """A fresh backup key, as BACKUP_KEY expects it."""
    return _b64(secrets.token_bytes(32))


def parse_key(text: str, name: str) -> bytes:
    """The 32-byte key a variable holds (base64url); ArchiveError naming it otherwise."""
    if not text:
        raise ArchiveError(
            f"{name} n'est pas défini : donnez la clé des sauvegardes ({name} ou {name}_FILE ; "
            "`manage.py backup --new-key` en crée une)."
        )
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ArchiveError(
            f"{name} doit être 32 octets en base64url (`manage.py backup --new-key` en crée une)."
        )
    return raw


def key_id(key: bytes) -> str:
    """Names a backup key in headers and messages without revealing it."""
    return hashlib.sha256(b"guichet-backup-key/1" + key).hexdigest()[:16]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(key: bytes, salt: bytes, kind: str) -> tuple[bytes, bytes]:
    okm = HKDF(
        algorithm=hashes.SHA256(), length=64, salt=salt, info=f"guichet-backup/1 {kind}".encode()
    ).derive(key)
    return okm[:32], okm[32:]


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class Writer:
    """A write-only stream that encrypts what it is given into `out` (tarfile writes to it).
    `close()` seals the last chunk: an archive whose writer was not closed does not open."""

    def __init__(self, out: IO[bytes], key: bytes, kind: str):
        salt = secrets.token_bytes(32)
        self._aead_key, mac_key = _derive(key, salt, kind)
        header = json.dumps(
            {"v": 1, "kind": kind, "key": key_id(key), "salt": _b64(salt), "chunk": CHUNK},
            sort_keys=True,
        ).encode()
        prefix = MAGIC + _LENGTH.pack(len(header)) + header
        out.write(prefix + hmac.new(mac_key, prefix, hashlib.sha256).digest())
        self._aad = hashlib.sha256(prefix).digest()
        self._aead = AESGCM(self._aead_key)
        self._out = out
        self._buffer = bytearray()
        self._index = 0
        self.closed = False
        self.chunks = 0
        self.plaintext_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self.closed:
            raise ValueError("write to a closed archive")
        self._buffer += data
        self.plaintext_bytes += len(data)
        # Keep at least one byte back: the last chunk must be sealed as the last one.
        while len(self._buffer) > CHUNK:
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
            self.closed = True

    def _seal(self, plain: bytes, *, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._index, last), plain, self._aad)
        self._out.write(_LENGTH.pack(len(sealed)) + sealed)
        self._index += 1
        self.chunks += 1


class Reader:
    """A read-only stream of the plaintext (tarfile reads from it). Every chunk is checked
    before any of its bytes is returned; `finish()` checks the archive ended where it should
    (its last chunk read, nothing after it)."""

    def __init__(self, source: IO[bytes], key: bytes, kind: str, name: str = "archive"):
        self._source = source
        self._name = name
        if source.read(len(MAGIC)) != MAGIC:
            raise ArchiveError(f"{name} n'est pas une archive de sauvegarde Guichet.")
        raw_length = source.read(_LENGTH.size)
        if len(raw_length) != _LENGTH.size or _LENGTH.unpack(raw_length)[0] > _MAX_HEADER:
            raise ArchiveError(f"{name} : en-tête illisible (archive abîmée).")
        raw_header = source.read(_LENGTH.unpack(raw_length)[0])
        mac = source.read(32)
        try:
            header: dict[str, Any] = json.loads(raw_header)
            salt = _unb64(str(header["salt"]))
            found_kind, found_key = str(header["kind"]), str(header["key"])
        except (ValueError, KeyError, TypeError):
            raise ArchiveError(f"{name} : en-tête illisible (archive abîmée).") from None
        if found_kind != kind:  # checked by the MAC below; said first, as the likelier mix-up
            what = {DATA: "de données", KEYS: "de clés"}
            raise ArchiveError(
                f"{name} est une archive {what.get(found_kind, found_kind)}, pas une archive "
                f"{what.get(kind, kind)}."
            )
        if found_key != key_id(key):
            raise ArchiveError(
                f"{name} a été chiffrée avec une autre clé (clé {found_key}, la clé donnée est "
                f"{key_id(key)})."
            )
        self._aead_key, mac_key = _derive(key, salt, found_kind)
        prefix = MAGIC + raw_length + raw_header
        if not hmac.compare_digest(mac, hmac.new(mac_key, prefix, hashlib.sha256).digest()):
            raise ArchiveError(f"{name} : en-tête modifié ou mauvaise clé : archive refusée.")
        self.header = header
        self._aad = hashlib.sha256(prefix).digest()
        self._aead = AESGCM(self._aead_key)
        self._buffer = b""
        self._pos = 0
        self._index = 0
        self._ended = False
        self.chunks = 0

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        wanted = size if size >= 0 else None
        while wanted is None or wanted > 0:
            if self._pos >= len(self._buffer):
                if self._ended:
                    break
                self._buffer, self._pos = self._open_next(), 0
                continue
            end = len(self._buffer)
            if wanted is not None:
                end = min(end, self._pos + wanted)
            parts.append(self._buffer[self._pos : end])
            if wanted is not None:
                wanted -= end - self._pos
            self._pos = end
        return b"".join(parts)

    def _open_next(self) -> bytes:
        raw_length = self._source.read(_LENGTH.size)
        if not raw_length:
            raise ArchiveError(
                f"{self._name} est tronquée (elle s'arrête au bloc n° {self._index + 1}) : "
                "archive refusée."
            )
        length = _LENGTH.unpack(raw_length)[0] if len(raw_length) == _LENGTH.size else -1
        sealed = self._source.read(length) if 0 <= length <= CHUNK + TAG else b""
        if len(sealed) != length or length < TAG:
            raise ArchiveError(f"{self._name} : bloc n° {self._index + 1} abîmé : archive refusée.")
        for last in (False, True):
            try:
                plain = self._aead.decrypt(_nonce(self._index, last), sealed, self._aad)
            except InvalidTag:
                continue
            self._index += 1
            self.chunks += 1
            self._ended = last
            return plain
        raise ArchiveError(
            f"{self._name} a été modifiée ou abîmée (bloc n° {self._index + 1} non "
            "authentique) : archive refusée."
        )

    def finish(self) -> None:
        """Read to the end: the last chunk must be there, and nothing after it."""
        while not self._ended:
            self._open_next()
        self._buffer, self._pos = b"", 0
        if self._source.read(1):
            raise ArchiveError(f"{self._name} : données après la fin de l'archive : refusée.")
