"""Where the private signing keys live: never in the database.

A key store makes keys and signs with them; the database keeps only the public half
(models.SigningKey). The default store keeps each private key in a PEM file
(`SIGNING_KEYS_DIR/<kid>.pem`, mode 0600, encrypted when `SIGNING_KEYS_PASSPHRASE` is set)
or takes it from the environment (`GUICHET_SIGNING_KEY_<KID>`, the 32-byte private key in
base64url), which suits a secrets manager. An HSM can be plugged in through the same
interface (`SIGNING_KEY_STORE`, a dotted path): `create` asks the HSM for a key pair and
`signer` returns a function that asks it to sign; the private key never leaves it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

Sign = Callable[[bytes], bytes]


class MissingKeyError(ImproperlyConfigured):
    """A key the database lists as usable has no private half here."""


class KeyStore(Protocol):
    def create(self) -> tuple[str, bytes]:
        """Make a key pair; return (kid, raw 32-byte public key)."""

    def signer(self, kid: str) -> Sign:
        """A function signing with the key `kid`; MissingKeyError if it is not here."""

    def has(self, kid: str) -> bool: ...


def kid_for(public_key: bytes) -> str:
    """A short stable id: the first 40 bits of the key's SHA-256, in base32 (8 characters)."""
    return base64.b32encode(hashlib.sha256(public_key).digest()[:5]).decode()


def _public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def env_name(kid: str) -> str:
    return f"GUICHET_SIGNING_KEY_{kid}"


class FileKeyStore:
    def __init__(self, directory: str | Path | None = None, passphrase: str | None = None):
        self.directory = Path(directory or settings.SIGNING_KEYS_DIR)
        self.passphrase = passphrase if passphrase is not None else settings.SIGNING_KEYS_PASSPHRASE

    def path(self, kid: str) -> Path:
        return self.directory / f"{kid}.pem"

    def create(self) -> tuple[str, bytes]:
        key = Ed25519PrivateKey.generate()
        public = _public_bytes(key)
        kid = kid_for(public)
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(self.passphrase.encode())
            if self.passphrase
            else serialization.NoEncryption()
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path(kid), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return kid, public

    def has(self, kid: str) -> bool:
        return bool(os.environ.get(env_name(kid))) or self.path(kid).is_file()

    def signer(self, kid: str) -> Sign:
        return _load(kid, str(self.path(kid)), self.passphrase or "").sign


@lru_cache(maxsize=64)
def _load(kid: str, path: str, passphrase: str) -> Ed25519PrivateKey:
    from_env = os.environ.get(env_name(kid))
    if from_env:
        raw = base64.urlsafe_b64decode(from_env + "=" * (-len(from_env) % 4))
        return Ed25519PrivateKey.from_private_bytes(raw)
    try:
        pem = Path(path).read_bytes()
    except FileNotFoundError:
        raise MissingKeyError(
            f"The private signing key {kid} is missing: no file {path} and no "
            f"{env_name(kid)} variable. Restore the key from its backup, or revoke it and "
            "create a new one (manage.py signing_keys)."
        ) from None
    key = serialization.load_pem_private_key(pem, passphrase.encode() or None)
    if not isinstance(key, Ed25519PrivateKey):
        raise MissingKeyError(f"{path} is not an Ed25519 private key.")
    return key


def key_store() -> KeyStore:
    store: KeyStore = import_string(settings.SIGNING_KEY_STORE)()
    return store
