"""The one state machine of every procedure, as one table.

    draft → submitted → in_review → (info_requested ↔ in_review)
          → accepted | rejected | closed_without_decision,
    plus a supervisor-only reopen from a final state.

`draft → submitted` is the citizen's submission (dossiers.services.submit_dossier: it
freezes the answers); every other move goes through `workflow.services.transition`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from guichet.dossiers.models import DossierStatus as S


class Role(StrEnum):
    APPLICANT = "applicant"
    AGENT = "agent"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class Rule:
    role: Role
    """Who may make this move (a supervisor may also do what an agent does)."""
    needs_reason: bool = False
    """A written reason the citizen will read: refusing, closing, asking for more."""


TRANSITIONS: dict[tuple[S, S], Rule] = {
    (S.SUBMITTED, S.IN_REVIEW): Rule(Role.AGENT),
    (S.IN_REVIEW, S.INFO_REQUESTED): Rule(Role.AGENT, needs_reason=True),
    (S.INFO_REQUESTED, S.IN_REVIEW): Rule(Role.APPLICANT),
    (S.IN_REVIEW, S.ACCEPTED): Rule(Role.AGENT),
    (S.IN_REVIEW, S.REJECTED): Rule(Role.AGENT, needs_reason=True),
    (S.IN_REVIEW, S.CLOSED): Rule(Role.AGENT, needs_reason=True),
    (S.INFO_REQUESTED, S.CLOSED): Rule(Role.AGENT, needs_reason=True),
    (S.ACCEPTED, S.IN_REVIEW): Rule(Role.SUPERVISOR, needs_reason=True),
    (S.REJECTED, S.IN_REVIEW): Rule(Role.SUPERVISOR, needs_reason=True),
    (S.CLOSED, S.IN_REVIEW): Rule(Role.SUPERVISOR, needs_reason=True),
}

FINAL = frozenset({S.ACCEPTED, S.REJECTED, S.CLOSED})
WAITING_FOR_APPLICANT = frozenset({S.INFO_REQUESTED})
"""Time in these states is not counted against the administration's legal deadline."""
