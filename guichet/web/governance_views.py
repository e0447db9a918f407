"""Governance pages: the public register of algorithms, and the register of processing
activities for the people who answer for it (auditors, procedure administrators, the
platform administrator), with its downloads shaped like a declaration."""

from __future__ import annotations

from collections.abc import Collection
from itertools import groupby

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from guichet.catalog.models import Country
from guichet.governance import algorithms, registers
from guichet.organisation.queries import StaffRights, staff_rights
from guichet.web.access import public_page, signed_in_user, staff_page


@public_page
@require_GET
def algorithm_register(request: HttpRequest) -> HttpResponse:
    return render(request, "governance/algorithms.html", {"entries": algorithms.entries()})


def _register_scope(rights: StaffRights) -> Collection[str] | None:
    """The authorities whose register this person reads (None: all); 404 for anyone else."""
    if rights.platform_admin or rights.audits_everything:
        return None
    scope = rights.auditor_of | rights.admin_of
    if not scope:
        raise Http404
    return scope


@staff_page
@require_GET
def processing_register(request: HttpRequest) -> HttpResponse:
    scope = _register_scope(staff_rights(signed_in_user(request)))
    activities = registers.activities(authorities=scope, language=request.LANGUAGE_CODE)
    by_country = [
        (Country(country).label, registers.SUPERVISORS[country], list(items))
        for country, items in groupby(activities, key=lambda a: a.country)
    ]
    return render(
        request,
        "governance/register.html",
        {
            "by_country": by_country,
            "count": len(activities),
            "default_retention": registers.retention_text(registers.default_retention()),
            "processors": registers.platform_processors(),
            "security": registers.security_measures(),
        },
    )


def _download(request: HttpRequest, format: str) -> HttpResponse:
    user = signed_in_user(request)
    content = registers.declaration_file(
        format=format, authorities=_register_scope(staff_rights(user)), actor=user
    )
    response = HttpResponse(content, content_type=registers.CONTENT_TYPES[format])
    response["Content-Disposition"] = f'attachment; filename="registre-des-traitements.{format}"'
    return response


@staff_page
@require_GET
def processing_register_csv(request: HttpRequest) -> HttpResponse:
    return _download(request, "csv")


@staff_page
@require_GET
def processing_register_ods(request: HttpRequest) -> HttpResponse:
    return _download(request, "ods")
