"""Public pages: home, catalog, procedure sheet. Views parse input, call a query, render."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from guichet.catalog import queries
from guichet.catalog.models import Country, Procedure, Theme
from guichet.catalog.texts import pick
from guichet.web.access import public_page

MAX_QUERY_LENGTH = 200


def _authorities(procedures: list[Procedure]) -> list[dict[str, Any]]:
    """Distinct authorities of these procedures, with a count, sorted by name."""
    found: dict[str, dict[str, Any]] = {}
    for procedure in procedures:
        authority = procedure.definition["authority"]
        entry = found.setdefault(
            authority["id"],
            {
                "id": authority["id"],
                "name": pick(authority["name"]),
                "country": procedure.country,
                "count": 0,
            },
        )
        entry["count"] += 1
    return sorted(found.values(), key=lambda a: (a["country"], pick(a["name"])))


@public_page
def health(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers and monitoring: the process answers, nothing more."""
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")


@public_page
def home(request: HttpRequest) -> HttpResponse:
    procedures = list(queries.published_procedures())
    countries = [
        {"code": code, "label": label, "count": sum(p.country == code for p in procedures)}
        for code, label in Country.choices
    ]
    themes = [
        {"code": code, "label": label, "count": sum(p.theme == code for p in procedures)}
        for code, label in Theme.choices
    ]
    return render(
        request,
        "public/home.html",
        {
            "countries": countries,
            "themes": [t for t in themes if t["count"]],
            "authorities": _authorities(procedures),
            "total": len(procedures),
        },
    )


@public_page
def catalog(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]
    country = request.GET.get("pays", "").upper()
    theme = request.GET.get("theme", "")
    authority = request.GET.get("administration", "")
    country = country if country in Country.values else ""
    theme = theme if theme in Theme.values else ""

    if query:
        results = list(queries.search_procedures(query, country=country or None))
    else:
        results = list(queries.published_procedures())
        if country:
            results = [p for p in results if p.country == country]
    scope = results
    if theme:
        results = [p for p in results if p.theme == theme]
    if authority:
        results = [p for p in results if p.authority_id == authority]
    return render(
        request,
        "public/catalog.html",
        {
            "query": query,
            "country": country,
            "country_label": Country(country).label if country else "",
            "theme": theme,
            "theme_label": Theme(theme).label if theme else "",
            "authority": authority,
            "results": results,
            "countries": Country.choices,
            "themes": Theme.choices,
            "authorities": _authorities(scope),
        },
    )


@public_page
def procedure_detail(request: HttpRequest, procedure_id: str) -> HttpResponse:
    procedure = queries.get_procedure(procedure_id)
    assert procedure.current_version is not None
    return _render_sheet(
        request, procedure, procedure.definition, version=procedure.current_version.number
    )


@public_page
def procedure_version(request: HttpRequest, procedure_id: str, number: int) -> HttpResponse:
    procedure = queries.get_procedure(procedure_id)
    version = queries.get_version(procedure, number)
    return _render_sheet(request, procedure, version.definition, version=version.number)


def _render_sheet(
    request: HttpRequest, procedure: Procedure, definition: dict[str, Any], *, version: int
) -> HttpResponse:
    assert procedure.current_version is not None
    current = procedure.current_version.number
    return render(
        request,
        "public/procedure.html",
        {
            "procedure": procedure,
            "d": definition,
            "country_label": Country(definition["country"]).label,
            "theme_label": Theme(definition["theme"]).label,
            "version": version,
            "is_current": version == current,
            "older_versions": list(range(current - 1, 0, -1)),
            "apply_url": reverse("dossiers:start", args=[procedure.pk])
            if version == current and definition.get("form")
            else "",
        },
    )
