"""What the applicant is told by SMS when their dossier moves. Plain, one SMS each, and
nothing personal but the reference and the state: an SMS may be read by someone else."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from guichet.dossiers.models import Dossier, DossierStatus
from guichet.notifications.services import notify


def _texts() -> dict[str, str]:
    return {
        "dossier.submitted": _(
            "Guichet : dossier %(ref)s bien déposé. Vous serez prévenu à chaque étape. "
            "Suivi : Mes démarches."
        ),
        "dossier.info_requested": _(
            "Guichet : il manque quelque chose au dossier %(ref)s. Voyez la demande du "
            "service dans Mes démarches."
        ),
        "dossier.accepted": _(
            "Guichet : votre dossier %(ref)s est accepté. Détails : Mes démarches."
        ),
        "dossier.accepted_document": _(
            "Guichet : votre dossier %(ref)s est accepté. Téléchargez votre document dans "
            "Mes démarches."
        ),
        "dossier.rejected": _(
            "Guichet : votre dossier %(ref)s est refusé. La raison est dans Mes démarches."
        ),
        "dossier.closed_without_decision": _(
            "Guichet : votre dossier %(ref)s est classé sans suite. "
            "La raison est dans Mes démarches."
        ),
        "dossier.reopened": _(
            "Guichet : votre dossier %(ref)s est de nouveau à l'étude. Détails : Mes démarches."
        ),
        "dossier.message": _(
            "Guichet : nouveau message du service sur le dossier %(ref)s. "
            "Lisez-le dans Mes démarches."
        ),
    }


EVENTS = tuple(_texts())

STATUS_EVENTS = {
    DossierStatus.SUBMITTED: "dossier.submitted",
    DossierStatus.INFO_REQUESTED: "dossier.info_requested",
    DossierStatus.ACCEPTED: "dossier.accepted",
    DossierStatus.REJECTED: "dossier.rejected",
    DossierStatus.CLOSED: "dossier.closed_without_decision",
}


NEXT_STEP = {
    DossierStatus.SUBMITTED: "Le service l'instruit.",
    DossierStatus.IN_REVIEW: "Le service l'instruit.",
    DossierStatus.INFO_REQUESTED: "Complétez-le dans Mes démarches.",
    DossierStatus.ACCEPTED: "Les détails sont dans Mes démarches.",
    DossierStatus.REJECTED: "La raison est dans Mes démarches.",
    DossierStatus.CLOSED: "La raison est dans Mes démarches.",
}
DOCUMENT_READY = "Votre document est dans Mes démarches."


def state_text(dossier: Dossier, *, has_document: bool) -> str:
    """Where a dossier stands and what comes next, for an SMS or a USSD screen (GSM-7,
    nothing personal). `has_document`: an acceptance document stands for it."""
    step = DOCUMENT_READY if has_document else NEXT_STEP[DossierStatus(dossier.status)]
    return f"Dossier {dossier.reference} : {dossier.get_status_display()}. {step}"


def text(event: str, reference: str, language: str = "") -> str:
    """The notice in the person's language (French where it has no translation yet)."""
    with translation.override(language or settings.LANGUAGE_CODE):
        return _texts()[event] % {"ref": reference}


def tell_applicant(dossier: Dossier, event: str) -> None:
    """Queue the SMS in the caller's transaction; it leaves after commit."""
    notify(
        user=dossier.applicant,
        event=event,
        object_ref=dossier.reference,
        text=text(event, dossier.reference, dossier.applicant.language),
    )
