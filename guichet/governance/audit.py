"""Write audit entries from inside the service that makes the change (same transaction)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import models

from guichet.accounts.models import User
from guichet.governance.models import AuditEntry

ACTIONS = {
    "procedure.imported": "Nouvelle version d'une démarche importée",
    "account.code_sent": "Code de connexion envoyé par SMS",
    "account.created": "Compte citoyen créé à la première connexion",
    "account.signed_in": "Connexion avec un code reçu par SMS",
    "account.profile_updated": "Nom ou e-mail du compte modifié par son titulaire",
    "staff.signed_in": "Connexion d'un agent (mot de passe, puis code de son application)",
    "staff.sign_in_failed": "Connexion d'agent refusée (mot de passe, code ou compte désactivé)",
    "staff.totp_confirmed": "Application d'authentification configurée par un agent",
    "dossier.started": "Brouillon de dossier commencé",
    "dossier.submitted": "Dossier déposé",
    "attachment.added": "Pièce jointe ajoutée à un brouillon",
    "attachment.removed": "Pièce jointe retirée d'un brouillon",
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
}

Actor = User | AnonymousUser | str | None


def record(
    action: str, *, obj: models.Model | None, actor: Actor, data: dict[str, Any] | None = None
) -> AuditEntry:
    """Append one entry. `actor` is a user, or a string naming a system actor; `obj` is
    None only when the action concerns nothing stored (a code that matches no document)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: add it to governance.audit.ACTIONS")
    user = actor if isinstance(actor, User) else None
    label = actor if isinstance(actor, str) else (user.get_username() if user else "anonyme")
    return AuditEntry.objects.create(
        action=action,
        actor=user,
        actor_label=label,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        data=data or {},
    )
