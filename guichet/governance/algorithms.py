"""The public register of algorithms: every piece of code that computes something about a
dossier or for the public, with what it is for, what it reads, on what legal basis, how a
person oversees it, its version and whom to ask.

The texts are the public's (French, translatable). An entry that reads dossiers says how
to tell whether it touched one (`TOUCHED`: one small function per entry), so that each
dossier page, the citizen's and the agent's, lists the algorithms that worked on it.

None of them decides: accepting, refusing or closing a dossier is always a named agent's
act (`workflow.services.transition` refuses anyone else; governance/tests/test_algorithms.py
checks it).
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from guichet.assistant.models import AttachmentReading
from guichet.dossiers.models import Attachment, Dossier


@dataclass(frozen=True)
class AlgorithmEntry:
    id: str
    name: str | Promise
    purpose: str | Promise
    data: str | Promise
    legal_basis: str | Promise
    human_oversight: str | Promise
    version: str
    contact: str | Promise
    touches_dossiers: bool
    """True when it reads a dossier (it is then listed on the dossier's pages)."""


CONTACT = _("Le délégué à la protection des données de l'administration qui gère le service.")


@cache
def _code_version(*functions: Callable[..., object]) -> str:
    """A short fingerprint of the code that computes: it changes whenever the rule does."""
    source = "".join(inspect.getsource(f) for f in functions)
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:10]


def _platform_entries() -> list[AlgorithmEntry]:
    from guichet.dossiers.services import deadline_days
    from guichet.organisation import routing
    from guichet.workflow import services as moves

    return [
        AlgorithmEntry(
            id="routing",
            name=_("Orientation des dossiers vers le service compétent"),
            purpose=_(
                "Mettre chaque dossier déposé dans la file du service qui doit le traiter, "
                "d'après la commune ou la région indiquée dans le formulaire."
            ),
            data=_(
                "La commune ou la région déclarée (les champs que la démarche désigne) et la "
                "liste des services de la démarche avec leur territoire."
            ),
            legal_basis=_(
                "Organisation du service public : les règles sont écrites dans la définition "
                "publiée de chaque démarche."
            ),
            human_oversight=_(
                "Règle fixe, sans apprentissage : les mêmes réponses mènent au même service. "
                "Elle choisit une file, jamais une réponse à la demande : un agent du service "
                "instruit le dossier et décide."
            ),
            version=f"orientation {_code_version(routing.route)}",
            contact=CONTACT,
            touches_dossiers=True,
        ),
        AlgorithmEntry(
            id="deadline",
            name=_("Calcul de la date limite de réponse"),
            purpose=_(
                "Fixer la date avant laquelle l'administration doit répondre, et la reporter "
                "du temps passé à attendre un complément du demandeur."
            ),
            data=_(
                "La date de dépôt, le délai légal de la démarche (ou l'engagement publié du "
                "service) et les périodes d'attente d'un complément."
            ),
            legal_basis=_(
                "Le délai fixé par le texte de la démarche, ou l'engagement de service publié "
                "sur sa fiche."
            ),
            human_oversight=_(
                "Calcul fixe, montré au demandeur et à l'agent. Il ne décide rien : un dossier "
                "en retard reste à instruire par un agent, il n'est ni accepté ni refusé à "
                "l'échéance."
            ),
            version=f"délai {_code_version(deadline_days, moves._move)}",
            contact=CONTACT,
            touches_dossiers=True,
        ),
    ]


def entries() -> list[AlgorithmEntry]:
    """Every registered algorithm, in the order of the public page."""
    # Imported here: the assistant's register imports this module for `AlgorithmEntry`.
    from guichet.assistant import register as assistant

    return [*_platform_entries(), *assistant.entries()]


# --- Which algorithms touched a dossier ---------------------------------------------------------


def _routed(dossier: Dossier) -> bool:
    """Every submitted dossier is routed to a service (drafts have none)."""
    return dossier.service_id is not None


def _has_deadline(dossier: Dossier) -> bool:
    return dossier.due_at is not None


def _read_by_ocr(dossier: Dossier) -> bool:
    """A reading was asked for one of its files. Uses the attachments when the page has
    prefetched them with their readings (the back office does), else one query."""
    prefetched = getattr(dossier, "_prefetched_objects_cache", {}).get("attachments")
    if prefetched is not None and all(Attachment.reading.is_cached(a) for a in prefetched):
        return any(getattr(a, "reading", None) is not None for a in prefetched)
    return AttachmentReading.objects.filter(attachment__dossier=dossier).exists()


TOUCHED: dict[str, Callable[[Dossier], bool]] = {
    "routing": _routed,
    "deadline": _has_deadline,
    "ocr": _read_by_ocr,
}
"""For each entry that reads dossiers: did it touch this one?"""


def used_for(dossier: Dossier) -> list[AlgorithmEntry]:
    """The registered algorithms that worked on this dossier, for its pages."""
    return [e for e in entries() if e.touches_dossiers and TOUCHED[e.id](dossier)]
