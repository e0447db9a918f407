"""Which service's queue a submitted dossier lands in.

A procedure's `workflow` names its services, the first being the default, and may name
fields to route by (`route_by`: commune or region fields, the first answered one counts).
The dossier goes to the listed service whose territory matches the answer most closely:
the same commune, else the whole region, else the whole country, else the default.
"""

from __future__ import annotations

from typing import Any

from guichet.formdefs import references
from guichet.organisation.models import Service


def _place(country: str, answer: Any) -> tuple[str, str] | None:
    """(region, commune) of a region or commune code; None for "other commune" or no answer."""
    if not isinstance(answer, str) or not answer:
        return None
    known = references.territories(country)
    if known is None:
        return None
    commune = known.communes.get(answer)
    if commune is not None:
        return commune.region, commune.code
    if answer in known.regions:
        return answer, ""
    return None


def _closeness(service: Service, region: str, commune: str) -> int:
    if service.commune:
        return 3 if service.commune == commune else -1
    if service.region:
        return 2 if service.region == region else -1
    return 1


def route(*, workflow: dict[str, Any], country: str, answers: dict[str, Any]) -> Service | None:
    """The service for these answers, among the active services the procedure names; None
    when none of them exists (the organisation file was not loaded): submission refuses."""
    wanted: list[str] = workflow.get("services", [])
    by_id = {s.id: s for s in Service.objects.filter(pk__in=wanted, is_active=True)}
    candidates = [by_id[i] for i in wanted if i in by_id]
    if not candidates:
        return None
    place = None
    for field_id in workflow.get("route_by", []):
        place = _place(country, answers.get(field_id))
        if place is not None:
            break
    if place is None:
        return candidates[0]
    best = max(candidates, key=lambda s: _closeness(s, *place))  # first of equals wins
    return best if _closeness(best, *place) > 0 else candidates[0]
