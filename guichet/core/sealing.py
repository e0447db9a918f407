"""Field-level encryption of sensitive answers ("sealing"), with keys outside the database.

A procedure marks form fields `sensitive: true` (identity numbers, health…). Their answers
are stored sealed: in the dossier's JSON, the value is replaced by

    {"$sealed": "<key id>.<base64url(nonce ‖ AES-256-GCM ciphertext ‖ tag)>"}

The plaintext is the value's JSON; the associated data binds it to its place
(`guichet-field/1|<dossier reference>|<field path>`), so a sealed value copied into
another dossier or field does not open. Someone who reads the database, a dump or a
backup of it without the key file sees neither the value nor its length to the byte
(values are padded to 16 bytes).

The key ring: `FIELD_KEYS` (its JSON, for a secrets manager) or the file `FIELD_KEY_RING`
(mode 0600, to back up apart from the database):

    {"current": "f2", "keys": {"f1": {"key": "<32 bytes, base64url>", "created": "…"},
                               "f2": {"key": "…", "created": "…"}}}

New values are sealed with the current key; every key of the ring opens. Rotation
(`manage.py field_keys rotate`, then `reseal`, then `retire OLD`) is documented in
docs/governance.md. With `FIELD_KEYS_AUTO_CREATE` (development and tests) a missing ring
is made on first use; in production a missing ring is a start-up error
(`guichet.core.E001`), never a silently new key that could not open older values.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MARK = "$sealed"
DOMAIN = "guichet-field/1"
_PAD = 16


class SealingError(ImproperlyConfigured):
    """No key ring, a broken one, or a sealed value none of its keys opens."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class KeyRing:
    current: str
    keys: Mapping[str, bytes]
    created: Mapping[str, str]

    @classmethod
    def parse(cls, text: str, where: str) -> KeyRing:
        try:
            data = json.loads(text)
            keys = {kid: _unb64(item["key"]) for kid, item in data["keys"].items()}
            created = {kid: str(item.get("created", "")) for kid, item in data["keys"].items()}
            current = str(data["current"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SealingError(f"{where}: not a field key ring ({exc!r})") from None
        if current not in keys or any(len(k) != 32 for k in keys.values()):
            raise SealingError(f"{where}: the current key is missing or a key is not 32 bytes")
        return cls(current=current, keys=keys, created=created)

    def dumps(self) -> str:
        keys = {
            kid: {"key": _b64(key), "created": self.created.get(kid, "")}
            for kid, key in self.keys.items()
        }
        return json.dumps({"current": self.current, "keys": keys}, indent=2) + "\n"

    def with_new_key(self) -> KeyRing:
        """A ring whose current key is new; older keys stay to open older values."""
        number = 1 + max((int(k[1:]) for k in self.keys if k[1:].isdigit()), default=0)
        kid = f"f{number}"
        now = datetime.now(UTC).isoformat(timespec="seconds")
        return KeyRing(
            current=kid,
            keys={**self.keys, kid: secrets.token_bytes(32)},
            created={**self.created, kid: now},
        )

    def without(self, kid: str) -> KeyRing:
        if kid == self.current:
            raise SealingError(f"{kid} is the current key: rotate first")
        return KeyRing(
            current=self.current,
            keys={k: v for k, v in self.keys.items() if k != kid},
            created={k: v for k, v in self.created.items() if k != kid},
        )


_ring: KeyRing | None = None
_ring_source: tuple[str, str] | None = None


def _source() -> tuple[str, str]:
    return (settings.FIELD_KEYS, str(settings.FIELD_KEY_RING))


def key_file() -> Path:
    return Path(settings.FIELD_KEY_RING)


def ring(*, create: bool | None = None) -> KeyRing:
    """The configured ring (read once per configuration). `create`: make the file when
    missing (default: `FIELD_KEYS_AUTO_CREATE`)."""
    global _ring, _ring_source
    source = _source()
    if _ring is not None and _ring_source == source:
        return _ring
    if settings.FIELD_KEYS:
        found = KeyRing.parse(settings.FIELD_KEYS, "FIELD_KEYS")
    else:
        path = key_file()
        if not path.is_file():
            if not (settings.FIELD_KEYS_AUTO_CREATE if create is None else create):
                raise SealingError(
                    f"No field key ring ({path} or FIELD_KEYS): sensitive answers cannot be "
                    "sealed or read. Restore the file from its backup, or create a ring with "
                    "`manage.py field_keys create`."
                )
            write(KeyRing(current="", keys={}, created={}).with_new_key(), exclusive=True)
        found = KeyRing.parse(path.read_text(), str(path))
    _ring, _ring_source = found, source
    return found


def has_ring() -> bool:
    try:
        ring(create=False)
    except SealingError:
        return False
    return True


def write(new: KeyRing, *, exclusive: bool = False) -> Path:
    """Store `new` in FIELD_KEY_RING (0600), atomically; the cached ring is dropped."""
    global _ring
    if settings.FIELD_KEYS:
        raise SealingError("FIELD_KEYS is set: change the ring where that variable comes from")
    path = key_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if exclusive:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return path
        with os.fdopen(fd, "w") as handle:
            handle.write(new.dumps())
    else:
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(new.dumps())
        os.replace(temporary, path)
    _ring = None
    return path


def _aad(context: str, path: str) -> bytes:
    return f"{DOMAIN}|{context}|{path}".encode()


def seal(value: Any, *, context: str, path: str) -> dict[str, str]:
    keys = ring()
    plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    plain += b" " * (-len(plain) % _PAD)  # JSON ignores trailing spaces
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(keys.keys[keys.current]).encrypt(nonce, plain, _aad(context, path))
    return {MARK: f"{keys.current}.{_b64(nonce + sealed)}"}


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(MARK), str)


def key_of(value: Any) -> str:
    return str(value[MARK]).partition(".")[0] if is_sealed(value) else ""


def unseal(value: Mapping[str, str], *, context: str, path: str) -> Any:
    kid, _, body = value[MARK].partition(".")
    key = ring().keys.get(kid)
    if key is None:
        raise SealingError(f"{context} {path}: sealed with key {kid}, which is not in the ring")
    raw = _unb64(body)
    try:
        plain = AESGCM(key).decrypt(raw[:12], raw[12:], _aad(context, path))
    except InvalidTag:
        raise SealingError(f"{context} {path}: the sealed value does not open here") from None
    return json.loads(plain)


# --- Answers: which values, where -----------------------------------------------------------


def places(answers: Mapping[str, Any], paths: Iterable[str]) -> Iterable[tuple[str, Any, Any]]:
    """(path, container, key) of each value at `paths` ("field" or "group.child")."""
    for path in paths:
        top, _, child = path.partition(".")
        if not child:
            if top in answers:
                yield path, answers, top
            continue
        items = answers.get(top)
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict) and child in item:
                yield path, item, child


def seal_answers(answers: Mapping[str, Any], paths: Iterable[str], *, context: str) -> Any:
    """A copy of `answers` with the values at `paths` sealed (already sealed ones kept)."""
    copy = json.loads(json.dumps(answers))
    for path, container, key in places(copy, paths):
        if not is_sealed(container[key]):
            container[key] = seal(container[key], context=context, path=path)
    return copy


def sealed_paths(answers: Mapping[str, Any]) -> Iterable[tuple[str, Any, Any]]:
    """(path, container, key) of every sealed value, whatever the definition says."""
    for top, value in answers.items():
        if is_sealed(value):
            yield top, answers, top
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    for child, inner in item.items():
                        if is_sealed(inner):
                            yield f"{top}.{child}", item, child


def open_answers(answers: dict[str, Any], *, context: str) -> tuple[str, ...]:
    """Open every sealed value of `answers` in place (answers read from the database);
    returns the paths that were sealed."""
    opened = []
    for path, container, key in list(sealed_paths(answers)):
        container[key] = unseal(container[key], context=context, path=path)
        opened.append(path)
    return tuple(dict.fromkeys(opened))


def mask(text: str) -> str:
    """What a person who does not need a sensitive value sees of it: its last two
    characters of a long value, nothing of a short one."""
    text = str(text)
    return "••••" + text[-2:] if len(text) >= 8 else "••••"
