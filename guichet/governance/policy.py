"""What a procedure declares about the personal data it processes (`data_protection` in
its definition), with the platform's defaults for what it leaves out.

The processing register, the retention task and the notice shown at submission all read
this one structure. Durations are in days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LEGAL_BASES = ("legal_obligation", "public_task", "consent", "contract", "vital_interest")
FINAL_STATES = ("accepted", "rejected", "closed")

DEFAULT_RETENTION: dict[str, Any] = {
    # Dossier rows, counted from the final decision (accepted, rejected, closed).
    "dossier": {"accepted": 3650, "rejected": 1825, "closed": 1825},
    # Drafts never submitted, counted from their last change.
    "draft": 90,
    # Files and messages, counted from the final decision; never longer than the dossier.
    "attachments": 365,
    "messages": 1825,
}


@dataclass(frozen=True)
class Retention:
    dossier: Mapping[str, int]
    """Days after the final decision, per final state."""
    draft: int
    attachments: int
    messages: int

    def dossier_days(self, state: str) -> int | None:
        return self.dossier.get(state)


@dataclass(frozen=True)
class Policy:
    purpose: Any = None
    """Translatable text; None when the procedure does not state it (the register says so)."""
    legal_basis: str = "public_task"
    legal_basis_text: Any = None
    data: tuple[str, ...] = ()
    sensitive: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    recipients: tuple[Any, ...] = ()
    processors: tuple[str, ...] = ()
    transfers: tuple[str, ...] = ()
    """Countries outside the procedure's own to which data goes: none by default."""
    retention: Retention = field(default_factory=lambda: _retention(DEFAULT_RETENTION))


def _retention(data: Mapping[str, Any]) -> Retention:
    merged = {**DEFAULT_RETENTION, **data}
    dossier = {**DEFAULT_RETENTION["dossier"], **(data.get("dossier") or {})}
    return Retention(
        dossier={state: int(dossier[state]) for state in FINAL_STATES},
        draft=int(merged["draft"]),
        attachments=int(merged["attachments"]),
        messages=int(merged["messages"]),
    )


def policy_for(definition: Mapping[str, Any]) -> Policy:
    """The data-protection policy of a procedure definition (defaults where it is silent)."""
    data = definition.get("data_protection") or {}
    return Policy(
        purpose=data.get("purpose"),
        legal_basis=str(data.get("legal_basis") or "public_task"),
        legal_basis_text=data.get("legal_basis_text") or definition.get("legal_basis"),
        data=tuple(data.get("data") or ()),
        sensitive=tuple(data.get("sensitive") or ()),
        people=tuple(data.get("people") or ()),
        recipients=tuple(data.get("recipients") or ()),
        processors=tuple(data.get("processors") or ()),
        transfers=tuple(data.get("transfers") or ()),
        retention=_retention(data.get("retention") or {}),
    )
