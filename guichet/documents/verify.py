"""Check a code or a PDF against a key set. No database: the same function serves the
public page (with the live key set), `manage.py verify_document` (with a saved one) and
the tests. The standalone page does the same in JavaScript (templates/verifier/offline.html).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.utils.translation import gettext_lazy as _

from guichet.documents import codes
from guichet.documents.codes import Claims, CodeError

KEYSET_FORMAT = 1


class Outcome(StrEnum):
    AUTHENTIC = "authentic"
    ALTERED = "altered"
    REVOKED = "revoked"
    KEY_REVOKED = "key_revoked"
    UNKNOWN_KEY = "unknown_key"
    UNREADABLE = "unreadable"


OUTCOME_TEXT = {
    Outcome.AUTHENTIC: (
        _("Authentique"),
        _(
            "Ce document a bien été délivré par l'administration indiquée. Comparez le texte "
            "ci-dessous avec celui du papier : il doit être identique."
        ),
    ),
    Outcome.ALTERED: (
        _("Modifié ou falsifié"),
        _(
            "La signature ne correspond pas au contenu : le document a été modifié après sa "
            "délivrance, ou ce n'est pas un document de l'administration."
        ),
    ),
    Outcome.REVOKED: (
        _("Annulé"),
        _("Ce document a été délivré, puis annulé par l'administration. Il n'est plus valable."),
    ),
    Outcome.KEY_REVOKED: (
        _("Clé révoquée"),
        _(
            "La clé qui a signé ce document a été retirée par l'administration : le document ne "
            "peut plus être tenu pour authentique. Demandez-en un nouveau au service."
        ),
    ),
    Outcome.UNKNOWN_KEY: (
        _("Clé inconnue"),
        _(
            "Ce document est signé par une clé qui n'appartient à aucune administration de la "
            "liste. Si votre liste de clés est ancienne, téléchargez la liste à jour."
        ),
    ),
    Outcome.UNREADABLE: (
        _("Code illisible"),
        _(
            "Ce n'est pas un code de document : vérifiez que vous l'avez copié en entier, ou "
            "envoyez le fichier PDF du document."
        ),
    ),
}


@dataclass(frozen=True)
class PublicKey:
    kid: str
    public_key: bytes
    authority_id: str
    authority_name: str
    country: str
    status: str
    """active, retired (still verifies what it signed) or revoked."""
    created_at: str
    revoked_at: str | None = None

    def verifies(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class KeySet:
    keys: dict[str, PublicKey]
    revoked_documents: dict[str, str] = field(default_factory=dict)
    """Number of each cancelled document → the day it was cancelled."""
    published_at: str = ""
    publisher: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "format": KEYSET_FORMAT,
            "publisher": self.publisher,
            "published_at": self.published_at,
            "algorithm": "Ed25519",
            "keys": [
                {
                    "kid": k.kid,
                    "public_key": codes.b64url(k.public_key),
                    "authority": k.authority_id,
                    "authority_name": k.authority_name,
                    "country": k.country,
                    "status": k.status,
                    "created_at": k.created_at,
                    "revoked_at": k.revoked_at,
                }
                for k in self.keys.values()
            ],
            "revoked_documents": [
                {"number": number, "revoked_at": at}
                for number, at in sorted(self.revoked_documents.items())
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeySet:
        if not isinstance(data, dict) or data.get("format") != KEYSET_FORMAT:
            raise ValueError("not a Guichet key set (format 1)")
        keys = {
            k["kid"]: PublicKey(
                kid=k["kid"],
                public_key=codes.unb64url(k["public_key"]),
                authority_id=k["authority"],
                authority_name=k["authority_name"],
                country=k["country"],
                status=k["status"],
                created_at=k["created_at"],
                revoked_at=k.get("revoked_at"),
            )
            for k in data["keys"]
        }
        revoked = {d["number"]: d["revoked_at"] for d in data.get("revoked_documents", [])}
        return cls(keys, revoked, data.get("published_at", ""), data.get("publisher", ""))

    @classmethod
    def load(cls, path: str) -> KeySet:
        with open(path, encoding="utf-8") as handle:
            return cls.from_json(json.load(handle))


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    claims: Claims | None = None
    """Shown only when the signature holds: forged text is never displayed as the document's."""
    key: PublicKey | None = None
    revoked_on: str | None = None

    @property
    def title(self) -> str:
        return str(OUTCOME_TEXT[self.outcome][0])

    @property
    def explanation(self) -> str:
        return str(OUTCOME_TEXT[self.outcome][1])

    @property
    def is_authentic(self) -> bool:
        return self.outcome == Outcome.AUTHENTIC


def verify_code(text: str, keyset: KeySet) -> Verdict:
    try:
        claims, message, signature = codes.decode(text)
    except CodeError:
        return Verdict(Outcome.UNREADABLE)
    key = keyset.keys.get(claims.kid)
    if key is None:
        return Verdict(Outcome.UNKNOWN_KEY)
    if not key.verifies(message, signature):
        return Verdict(Outcome.ALTERED, key=key)
    if key.status == "revoked":
        return Verdict(Outcome.KEY_REVOKED, claims, key, revoked_on=key.revoked_at)
    revoked_on = keyset.revoked_documents.get(claims.number)
    if revoked_on is not None:
        return Verdict(Outcome.REVOKED, claims, key, revoked_on=revoked_on)
    return Verdict(Outcome.AUTHENTIC, claims, key)


def verify_pdf(data: bytes, keyset: KeySet) -> Verdict:
    """The file's own signature first (one changed byte fails), then the code inside it."""
    try:
        seal = codes.read_seal(data)
    except CodeError:
        return Verdict(Outcome.UNREADABLE)
    key = keyset.keys.get(seal.kid)
    if key is None:
        return Verdict(Outcome.UNKNOWN_KEY)
    if not key.verifies(seal.signed, seal.signature):
        return Verdict(Outcome.ALTERED, key=key)
    verdict = verify_code(seal.code, keyset)
    if verdict.claims is not None and verdict.claims.kid != seal.kid:
        return Verdict(Outcome.ALTERED, key=key)
    return verdict


def verify_any(data: bytes, keyset: KeySet) -> Verdict:
    """A PDF file, or a file or text holding the code or the QR's URL."""
    if data.lstrip().startswith(b"%PDF"):
        return verify_pdf(data, keyset)
    try:
        return verify_code(data.decode(), keyset)
    except UnicodeDecodeError:
        return Verdict(Outcome.UNREADABLE)
