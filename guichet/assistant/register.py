"""The assistant's entries for the public register of algorithms (governance issue).

Each entry says what the algorithm is for, what data it uses, on what legal basis, how a
person oversees it, its version and whom to contact. The governance pages list them; the
texts are the public's, in French.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from guichet.assistant import ocr, services
from guichet.governance.algorithms import AlgorithmEntry

CONTACT = _("Le délégué à la protection des données de l'administration qui gère le service.")


def _ocr_version() -> str:
    try:
        return ocr.engine_name()
    except ocr.OcrError:
        return f"tesseract ({ocr.LANGUAGE}), not installed on this server"


def entries() -> list[AlgorithmEntry]:
    return [
        AlgorithmEntry(
            id="assistant",
            name=_("Assistant : réponses aux questions sur les démarches"),
            purpose=_(
                "Répondre aux questions des usagers sur les démarches (pièces, coût, délai, "
                "où s'adresser) à partir des fiches officielles, ou dire qu'il ne sait pas."
            ),
            data=_(
                "La question, le pays et la langue choisis ; le compte de l'usager s'il est "
                "connecté ou son numéro pour un SMS. Aucune donnée de dossier."
            ),
            legal_basis=_("Mission d'information du public de l'administration."),
            human_oversight=_(
                "Les réponses citent mot pour mot les fiches, vérifiées par l'administration ; "
                "des règles écrites dans le code décident de répondre, de proposer ou de "
                "refuser ; le journal des questions et les avis des usagers sont relus. "
                "L'assistant ne prend aucune décision sur un dossier."
            ),
            version=f"assistant {services.VERSION}",
            contact=CONTACT,
            touches_dossiers=False,
        ),
        AlgorithmEntry(
            id="ocr",
            name=_("Lecture automatique des pièces jointes (aide aux agents)"),
            purpose=_(
                "Montrer à l'agent le texte des documents scannés et les pièces demandées "
                "qui semblent présentes ou manquantes."
            ),
            data=_("Les fichiers joints au dossier et la liste des pièces de la démarche."),
            legal_basis=_("Instruction de la demande par l'administration compétente."),
            human_oversight=_(
                "Indicatif seulement : l'agent ouvre et vérifie les pièces, et décide. Rien "
                "n'est refusé ni accepté automatiquement."
            ),
            version=_ocr_version(),
            contact=CONTACT,
            touches_dossiers=True,
        ),
    ]
