"""Procedure administrators: the procedures of their authority, and new versions of them.

A new version is a YAML definition (docs/procedure-format.md) sent as a file: checked
whole, with every problem located by line, and published only when it is right. Earlier
versions stay readable; drafts already started keep the version they began with.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from guichet.catalog import services as catalog_services
from guichet.catalog.definition import DefinitionError, DefinitionSetError, dump_definition
from guichet.catalog.models import Procedure
from guichet.organisation.queries import StaffRights, staff_rights
from guichet.web.access import signed_in_user, staff_page


def _administered(rights: StaffRights) -> list[Procedure]:
    procedures = Procedure.objects.exclude(current_version=None).select_related("current_version")
    if rights.platform_admin:
        return list(procedures)
    return list(procedures.filter(authority_id__in=rights.admin_of))


def _procedure_for_admin(rights: StaffRights, procedure_id: str) -> Procedure:
    """One procedure the person administers; the same 404 otherwise."""
    procedure = (
        Procedure.objects.select_related("current_version")
        .exclude(current_version=None)
        .filter(pk=procedure_id)
        .first()
    )
    if procedure is None or not (
        rights.platform_admin or procedure.authority_id in rights.admin_of
    ):
        raise Http404
    return procedure


def _located(error: DefinitionError) -> str:
    parts = [_("ligne %(n)d") % {"n": error.line} if error.line else "", error.path]
    where = " — ".join(p for p in parts if p)
    return f"{where} : {error.message}" if where else error.message


@staff_page
def procedures(request: HttpRequest) -> HttpResponse:
    rights = staff_rights(signed_in_user(request))
    if not (rights.admin_of or rights.platform_admin):
        raise Http404
    return render(request, "backoffice/procedures.html", {"procedures": _administered(rights)})


@staff_page
def procedure(request: HttpRequest, procedure_id: str) -> HttpResponse:
    found = _procedure_for_admin(staff_rights(signed_in_user(request)), procedure_id)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("definition")
        if upload is None:
            errors = [_("Choisissez le fichier YAML de la nouvelle version.")]
        else:
            try:
                text = upload.read(catalog_services.MAX_DEFINITION_BYTES + 1).decode("utf-8")
                report = catalog_services.publish_new_version(
                    procedure=found, text=text, actor=signed_in_user(request)
                )
            except UnicodeDecodeError:
                errors = [_("Le fichier doit être du texte en UTF-8.")]
            except DefinitionSetError as exc:
                errors = [_located(error) for error in exc.errors]
            else:
                if report.changed:
                    messages.success(request, _("Nouvelle version publiée."))
                else:
                    messages.info(request, _("Rien n'a changé : aucune version créée."))
                return redirect(reverse("backoffice:procedure", args=[found.pk]))
        status = 400
    return render(
        request,
        "backoffice/procedure.html",
        {
            "procedure": found,
            "versions": found.versions.select_related("created_by").only(
                "number", "created_at", "created_by__username", "procedure_id"
            ),
            "errors": errors,
        },
        status=status,
    )


@staff_page
def procedure_yaml(request: HttpRequest, procedure_id: str) -> HttpResponse:
    """The current definition as YAML: the starting point of the next version."""
    found = _procedure_for_admin(staff_rights(signed_in_user(request)), procedure_id)
    response = HttpResponse(
        dump_definition(found.definition), content_type="application/yaml; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{found.pk}.yaml"'
    return response
