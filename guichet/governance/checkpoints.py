"""Signed checkpoints of the audit chain, in a file meant to leave the machine.

`write_checkpoint` checks what was appended since the last checkpoint, then signs the
chain's end (seq, hash, time) with an Ed25519 key kept outside the database and appends
one JSON line to `AUDIT_CHECKPOINT_DIR/checkpoints.jsonl`:

    {"at": "2026-11-29T08:50:00.000000Z", "hash": "…", "key": "3f2a…", "seq": 1234,
     "sig": "<base64url Ed25519 signature>", "v": 1}

The signature covers `guichet-audit-checkpoint/1\\n` followed by the compact, sorted JSON
of {"at", "hash", "seq"}. Someone who can rewrite the database but not this file (or its
copy elsewhere) cannot make a rewritten, truncated or extended chain match it: audit_verify
compares every checkpoint with the chain and the last one with its end.

The key: `AUDIT_CHECKPOINT_KEY` (the 32-byte private key in base64url, for a secrets
manager) or the PEM file `AUDIT_CHECKPOINT_KEY_FILE`, made on first use with mode 0600.
Its public half is written beside the checkpoints (`checkpoint-key.pub`, base64url) so a
copy can be verified elsewhere: `audit_verify --checkpoints COPY --public-key KEY`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings
from django.utils import timezone

from guichet.governance import chain

FILE_NAME = "checkpoints.jsonl"
PUBLIC_KEY_NAME = "checkpoint-key.pub"
DOMAIN = b"guichet-audit-checkpoint/1\n"


class CheckpointError(Exception):
    """A checkpoint file or key that cannot be trusted or read."""


class CheckpointRefused(Exception):
    """The chain does not verify since the last checkpoint: nothing is signed."""

    def __init__(self, problem: chain.Problem):
        super().__init__(problem.detail)
        self.problem = problem


def path() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_DIR) / FILE_NAME


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw_public(key)).hexdigest()[:16]


def private_key(*, create: bool = True) -> Ed25519PrivateKey | None:
    """The signing key: from the environment, else the PEM file, made if missing."""
    if settings.AUDIT_CHECKPOINT_KEY:
        return Ed25519PrivateKey.from_private_bytes(_unb64(settings.AUDIT_CHECKPOINT_KEY))
    key_file = Path(settings.AUDIT_CHECKPOINT_KEY_FILE)
    if not key_file.is_file():
        if not create:
            return None
        _create(key_file)
    key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{key_file} is not an Ed25519 private key.")
    return key


def _create(key_file: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def public_key(source: str | None = None) -> Ed25519PublicKey | None:
    """The key checkpoints are checked with: `source` (a file holding the base64url key,
    or the key itself), else the public half of the configured key (None if there is none)."""
    if source:
        text = Path(source).read_text().strip() if Path(source).is_file() else source
        try:
            return Ed25519PublicKey.from_public_bytes(_unb64(text))
        except ValueError as exc:
            raise CheckpointError(f"not an Ed25519 public key (base64url): {exc}") from exc
    key = private_key(create=False)
    return key.public_key() if key is not None else None


def _message(seq: int, hash_: str, at: str) -> bytes:
    body = {"at": at, "hash": hash_, "seq": seq}
    return DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def load(file: Path, key: Ed25519PublicKey) -> list[chain.Checkpoint]:
    """Every checkpoint of `file`, each signature checked; CheckpointError names the
    first line that is not a checkpoint signed by `key`."""
    if not file.is_file():
        return []
    found: list[chain.Checkpoint] = []
    with file.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                seq, hash_, at = int(item["seq"]), str(item["hash"]), str(item["at"])
                key.verify(_unb64(item["sig"]), _message(seq, hash_, at))
            except InvalidSignature:
                raise CheckpointError(
                    f"{file}, ligne {number} : signature invalide (point de contrôle falsifié "
                    "ou signé par une autre clé)."
                ) from None
            except (ValueError, KeyError, TypeError) as exc:
                raise CheckpointError(f"{file}, ligne {number} : illisible ({exc}).") from None
            found.append(chain.Checkpoint(seq, hash_, at, number))
    return found


@dataclass(frozen=True)
class Written:
    checkpoint: chain.Checkpoint
    file: Path
    checked: int
    """Entries verified since the previous checkpoint."""


def write_checkpoint(*, using: str = "default") -> Written:
    """Verify the entries since the last checkpoint, then sign and append the chain's end."""
    key = private_key()
    assert key is not None  # made if missing
    public = key.public_key()
    file = path()
    file.parent.mkdir(parents=True, exist_ok=True)
    _write_public_key(file.parent / PUBLIC_KEY_NAME, public)
    earlier = load(file, public)
    report = chain.verify(
        checkpoints=earlier[-1:], after=earlier[-1] if earlier else None, using=using
    )
    if report.problem is not None:
        raise CheckpointRefused(report.problem)
    seq, hash_ = (report.last_seq, report.last_hash) if report.last_seq else (0, chain.GENESIS)
    at = chain.utc_text(timezone.now())
    line = {
        "v": 1,
        "seq": seq,
        "hash": hash_,
        "at": at,
        "key": key_id(public),
        "sig": _b64(key.sign(_message(seq, hash_, at))),
    }
    fd = os.open(file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return Written(chain.Checkpoint(seq, hash_, at), file, report.entries)


def _write_public_key(file: Path, key: Ed25519PublicKey) -> None:
    text = _b64(_raw_public(key)) + "\n"
    if not file.is_file() or file.read_text() != text:
        file.write_text(text)
