"""Write audit entries from inside the service that makes the change (same transaction).

Each entry takes the next place in the hash chain (governance/chain.py); `manage.py
audit_verify` checks the chain, `manage.py audit_checkpoint` signs its head."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import models
from django.utils import timezone

from guichet.accounts.models import User
from guichet.governance import chain
from guichet.governance.models import AuditEntry

ACTIONS = {
    "procedure.imported": "Nouvelle version d'une démarche importée",
    "privacy_notice.created": "Nouvelle version des mentions sur les données d'une démarche",
    "account.code_sent": "Code de connexion envoyé par SMS",
    "account.created": "Compte citoyen créé à la première connexion",
    "account.signed_in": "Connexion avec un code reçu par SMS",
    "account.profile_updated": "Nom ou e-mail du compte modifié par son titulaire",
    "staff.signed_in": "Connexion d'un agent (mot de passe, puis code de son application)",
    "staff.sign_in_failed": "Connexion d'agent refusée (mot de passe, code ou compte désactivé)",
    "staff.totp_confirmed": "Application d'authentification configurée par un agent",
    "dossier.started": "Brouillon de dossier commencé",
    "dossier.submitted": "Dossier déposé",
    "consent.withdrawn": "Consentement retiré par le demandeur : le dossier n'est plus traité",
    "attachment.added": "Pièce jointe ajoutée à un brouillon",
    "attachment.removed": "Pièce jointe retirée d'un brouillon",
    "attachment.quarantined": "Pièce jointe mise en quarantaine par l'antivirus",
    "message.posted": "Message envoyé sur un dossier",
    "dossier.status_changed": "Dossier passé à un autre état",
    "dossier.viewed": "Dossier ouvert par un membre du personnel",
    "queue.viewed": "File d'un service consultée par un auditeur",
    "dossier.assigned": "Dossier attribué à un agent (ou rendu à la file)",
    "attachment.viewed": "Pièce jointe ouverte par un membre du personnel",
    "annotation.added": "Note interne ajoutée à un dossier",
    "export.requested": "Export d'une file de dossiers demandé",
    "export.downloaded": "Export d'une file de dossiers téléchargé",
    "organisation.loaded": "Autorités et services chargés depuis un fichier",
    "staff.role_granted": "Rôle donné à un membre du personnel",
    "staff.role_revoked": "Rôle retiré à un membre du personnel",
    "document.issued": "Document signé délivré sur une décision",
    "document.downloaded": "Document délivré téléchargé par son titulaire",
    "document.printed": "Document délivré ouvert par un membre du personnel (impression)",
    "document.revoked": "Document délivré annulé",
    "document.verified": "Document vérifié (résultat seulement, rien de personnel)",
    "signing_key.created": "Clé de signature créée pour une autorité",
    "signing_key.retired": "Clé de signature remplacée par une nouvelle",
    "signing_key.revoked": "Clé de signature révoquée",
    "processing_register.downloaded": "Registre des traitements téléchargé (CSV ou ODS)",
    "rights_request.submitted": "Demande sur ses données : rectifier, s'opposer, verrouiller",
    "rights_request.answered": "Réponse du service à une demande d'un citoyen sur ses données",
    "personal_data.exported": "Données d'un citoyen téléchargées ou affichées par lui-même",
    "field_keys.rotated": "Nouvelle clé de chiffrement des réponses sensibles mise en service",
    "field_keys.resealed": "Réponses sensibles rechiffrées avec la clé courante",
    "field_keys.retired": "Ancienne clé de chiffrement des réponses sensibles retirée",
}

Actor = User | AnonymousUser | str | None


class _FloatInData(ValueError):
    pass


def _no_float(text: str) -> float:
    raise _FloatInData(text)


def _plain(data: dict[str, Any] | None) -> dict[str, Any]:
    """`data` as it reads back from either database (JSON types, string keys). Floats are
    refused: PostgreSQL's jsonb rewrites some of them (1e+23), which would change the
    entry's hash; write a string or an integer."""
    try:
        plain: dict[str, Any] = json.loads(json.dumps(data or {}), parse_float=_no_float)
    except _FloatInData as exc:
        raise ValueError(f"audit data cannot hold a float ({exc}): write a string") from None
    return plain


def _label(who: Actor) -> str:
    if isinstance(who, str):
        return who
    return who.get_username() if isinstance(who, User) else ""


def _address(ip: str) -> str:
    """The address in one spelling (`2001:db8::1`), so it reads back as it was hashed."""
    try:
        return str(ipaddress.ip_address(ip.strip()))
    except ValueError:
        return ip.strip()[:45]


def record(
    action: str,
    *,
    obj: models.Model | None,
    actor: Actor,
    data: dict[str, Any] | None = None,
    on_behalf_of: Actor = None,
    ip: str = "",
    purpose: str = "",
) -> AuditEntry:
    """Append one entry to the chain, in the caller's transaction.

    `actor` is a user, or a string naming a system actor; `obj` is None only when the
    action concerns nothing stored (a code that matches no document). `on_behalf_of`: the
    person someone acts for; `ip`: the client's address (`core.ratelimit.client_ip`);
    `purpose`: why staff open a dossier outside their queue."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: add it to governance.audit.ACTIONS")
    user = actor if isinstance(actor, User) else None
    entry = AuditEntry(
        action=action,
        actor=user,
        actor_label=_label(actor) or "anonyme",
        on_behalf_of=_label(on_behalf_of),
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        data=_plain(data),
        # Microseconds kept: both databases store them, and the hash covers them.
        at=timezone.now(),
        ip=_address(ip) if ip else "",
        purpose=purpose,
    )
    chain.append(entry)
    return entry
