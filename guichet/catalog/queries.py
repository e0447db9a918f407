"""Reads of the published catalog."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, Max, QuerySet
from django.http import Http404

from guichet.catalog.models import Procedure, ProcedureVersion
from guichet.catalog.search import SearchIndex


def published_procedures() -> QuerySet[Procedure]:
    return Procedure.objects.filter(
        is_published=True, current_version__isnull=False
    ).select_related("current_version")


def get_procedure(procedure_id: str) -> Procedure:
    """The published procedure, or 404 (the same answer for missing and unpublished)."""
    procedure = published_procedures().filter(pk=procedure_id).first()
    if procedure is None:
        raise Http404(procedure_id)
    return procedure


def get_version(procedure: Procedure, number: int) -> ProcedureVersion:
    version = procedure.versions.filter(number=number).first()
    if version is None:
        raise Http404(f"{procedure.pk} v{number}")
    return version


@dataclass(frozen=True)
class Facet:
    value: str
    count: int


def facets(field: str, *, country: str | None = None) -> list[Facet]:
    queryset = published_procedures()
    if country:
        queryset = queryset.filter(country=country)
    rows = queryset.order_by().values(field).annotate(n=Count("pk")).order_by(field)
    return [Facet(value=row[field], count=row["n"]) for row in rows]


# --- Search --------------------------------------------------------------------------------------
# The index is built in memory from the current versions and rebuilt when the catalog
# changes (a new version or a publication change moves `updated_at`). Each process keeps
# its own copy; the catalog is small (thousands of procedures at most) and rarely changes.

_index_lock = threading.Lock()
_index: tuple[tuple[object, int], SearchIndex] | None = None


def _catalog_stamp() -> tuple[object, int]:
    row = published_procedures().aggregate(last=Max("updated_at"), n=Count("pk"))
    return (row["last"], row["n"])


def search_index() -> SearchIndex:
    global _index
    stamp = _catalog_stamp()
    with _index_lock:
        if _index is None or _index[0] != stamp:
            definitions = [p.definition for p in published_procedures()]
            _index = (stamp, SearchIndex.build(definitions))
        return _index[1]


def search_procedures(
    query: str, *, country: str | None = None, limit: int = 20
) -> Sequence[Procedure]:
    """Published procedures that match `query`, best first."""
    hits = search_index().search(query, country=country, limit=limit)
    by_id = published_procedures().in_bulk([hit.procedure_id for hit in hits])
    return [by_id[hit.procedure_id] for hit in hits if hit.procedure_id in by_id]
