"""Replies built from the catalog, never invented.

An answer is a list of quoted units of the matched procedure (cost, delay, documents, where
to go…), each with its id and the address of its section on the official sheet. A
suggestion names up to three procedures; a refusal says so plainly and says where to ask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from guichet.assistant.retrieval import Retrieval
from guichet.assistant.units import DEFAULT_FIELDS, Unit, units_of
from guichet.catalog.texts import pick


@dataclass(frozen=True)
class ProcedureLink:
    id: str
    title: str
    url: str
    apply_url: str
    """Where to start the procedure online ("" when it is not online)."""


@dataclass(frozen=True)
class Reply:
    outcome: str  # models.Outcome values
    lead: str
    """The first sentence, always written by code ("Voici ce que dit la fiche officielle…")."""
    procedure: ProcedureLink | None = None
    parts: tuple[Unit, ...] = ()
    """The quoted fields of the sheet, as they are."""
    suggestions: tuple[ProcedureLink, ...] = ()
    contact: str = ""
    """Where to ask a person, for a refusal."""
    phrased: str = ""
    """A language model's wording of the same parts, when one was configured and passed
    every check (llm.check); the parts stay the reference and are shown below it."""
    backend: str = "extractive"
    cited: tuple[str, ...] = field(default=())

    def as_text(self) -> str:
        """The whole reply as plain text (log, JSON, tests)."""
        lines = [self.lead]
        if self.phrased:
            lines.append(self.phrased)
        lines += [f"{part.label} : {part.text}" for part in self.parts]
        lines += [f"- {link.title}" for link in self.suggestions]
        if self.contact:
            lines.append(self.contact)
        return "\n".join(lines)


def link_to(definition: Mapping[str, Any], language: str | None = None) -> ProcedureLink:
    pid = str(definition["id"])
    has_form = bool(definition.get("form"))
    return ProcedureLink(
        id=pid,
        title=pick(definition.get("title"), language),
        url=reverse("public:procedure", args=[pid]),
        apply_url=reverse("dossiers:start", args=[pid]) if has_form else "",
    )


def contact_text(country: str | None) -> str:
    """Where to ask a person: the information line configured for the country, if any."""
    lines: Mapping[str, str] = getattr(settings, "ASSISTANT_INFORMATION_LINES", {})
    configured = lines.get(country or "", "")
    if configured:
        return _("Pour être aidé par une personne : %(line)s.") % {"line": configured}
    return _(
        "Pour être aidé par une personne, adressez-vous à la mairie de votre commune ou au "
        "service d'accueil de l'administration concernée."
    )


def fields_for(aspects: Sequence[str]) -> tuple[str, ...]:
    """The fields an answer quotes: what was asked, then where to go; the four main ones
    when nothing in particular is asked. "Comment…" alone asks for the whole procedure:
    the main fields and the steps; with another aspect it is only a way of asking."""
    if tuple(aspects) == ("steps",):
        return (*DEFAULT_FIELDS[:-1], "steps", DEFAULT_FIELDS[-1])
    asked = [a for a in aspects if a != "steps"]
    if not asked:
        return DEFAULT_FIELDS
    if "office" not in asked:
        asked.append("office")
    return tuple(dict.fromkeys(asked))


def compose(
    retrieval: Retrieval,
    definitions: Mapping[str, Mapping[str, Any]],
    *,
    language: str | None = None,
) -> Reply:
    """The extractive reply to a retrieval: only code-written sentences and quoted units."""
    if retrieval.decision == "greeting":
        return Reply(
            outcome="greeting",
            lead=_(
                "Bonjour. Posez votre question sur une démarche, par exemple : "
                "« combien coûte le passeport ? »"
            ),
        )
    if retrieval.decision == "refuse":
        return Reply(
            outcome="refuse",
            lead=_(
                "Je ne trouve pas de réponse à cette question dans le catalogue officiel des "
                "démarches. Je préfère ne pas deviner."
            ),
            contact=contact_text(retrieval.country),
        )
    if retrieval.decision == "suggest":
        return Reply(
            outcome="suggest",
            lead=_("Je ne suis pas sûr d'avoir compris. Vouliez-vous dire :"),
            suggestions=tuple(
                link_to(definitions[c.procedure_id], language) for c in retrieval.suggestions
            ),
            contact=contact_text(retrieval.country),
        )
    definition = definitions[retrieval.candidates[0].procedure_id]
    units = units_of(definition, language)
    parts = tuple(units[f] for f in fields_for(retrieval.aspects) if f in units)
    link = link_to(definition, language)
    return Reply(
        outcome="answer",
        lead=_("D'après la fiche officielle « %(title)s » :") % {"title": link.title},
        procedure=link,
        parts=parts,
        cited=tuple(part.id for part in parts),
    )
