"""Exports of a service's queue: the page that asks for one and lists the last seven days'
exports, and the download. Only the service's supervisors see either (404 for anyone
else, as for a missing page); `workflow.exports` checks the role again.

The page needs no script: while an export is being built, the response carries a
`Refresh: 5` header, so the browser reloads it until the file is ready.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from guichet.catalog.models import Procedure
from guichet.organisation.models import Service
from guichet.organisation.queries import StaffRights, staff_rights
from guichet.web.access import signed_in_user, staff_page
from guichet.web.backoffice.views import STATUS_FILTERS
from guichet.workflow import exports as export_service
from guichet.workflow.models import ExportFormat, ExportStatus
from guichet.workflow.queries import QueueFilters, filters_from_params, service_for_staff
from guichet.workflow.services import TransitionError

REFRESH_SECONDS = 5


def _supervised(rights: StaffRights, service_id: str) -> Service:
    service = service_for_staff(rights, service_id)
    if not rights.can_supervise(service.pk):
        raise Http404
    return service


def _filter_labels(filters: QueueFilters) -> list[str]:
    """The filters in words, for the person choosing what to export."""
    labels = [str(dict(STATUS_FILTERS).get(filters.status, filters.status))]
    if filters.procedure:
        procedure = Procedure.objects.filter(pk=filters.procedure).only("title").first()
        labels.append(procedure.title if procedure else filters.procedure)
    if filters.overdue:
        labels.append(_("en retard seulement"))
    if filters.assigned == "me":
        labels.append(_("attribués à moi"))
    elif filters.assigned == "none":
        labels.append(_("non attribués"))
    if filters.q:
        labels.append(_("recherche « %(q)s »") % {"q": filters.q})
    return labels


def _page_url(service: Service, filters: QueueFilters) -> str:
    params = filters.describe()
    url = reverse("backoffice:exports", args=[service.pk])
    return f"{url}?{urlencode(params)}" if params else url


@staff_page
@require_http_methods(["GET", "POST"])
def exports(request: HttpRequest, service_id: str) -> HttpResponse:
    rights = staff_rights(signed_in_user(request))
    service = _supervised(rights, service_id)
    params = request.POST if request.method == "POST" else request.GET
    filters = filters_from_params(params)
    if request.method == "POST":
        try:
            export_service.request_export(
                service=service,
                filters=filters,
                format=request.POST.get("format", ""),
                actor=signed_in_user(request),
            )
        except TransitionError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("Export demandé : il sera prêt dans quelques instants. Rechargez cette page."),
            )
        return redirect(_page_url(service, filters))
    recent = list(export_service.recent_exports(service, limit=50))
    waiting = any(e.status in (ExportStatus.PENDING, ExportStatus.RUNNING) for e in recent)
    queue_params = urlencode(filters.describe())
    context: dict[str, Any] = {
        "service": service,
        "filters": filters,
        "hidden": filters.describe(),
        "filter_labels": _filter_labels(filters),
        "formats": ExportFormat.choices,
        "exports": recent,
        "waiting": waiting,
        "keep_days": export_service.KEEP_DAYS,
        "queue_url": reverse("backoffice:queue", args=[service.pk])
        + (f"?{queue_params}" if queue_params else ""),
    }
    response = render(request, "backoffice/exports.html", context)
    if waiting:
        response["Refresh"] = str(REFRESH_SECONDS)
    return response


@staff_page
def export_download(request: HttpRequest, export_id: int) -> FileResponse:
    export = export_service.export_for_download(staff_rights(signed_in_user(request)), export_id)
    export_service.record_download(export, signed_in_user(request))
    response = FileResponse(
        export.file.open("rb"),
        as_attachment=True,
        filename=export_service.download_name(export),
        content_type=export_service.CONTENT_TYPES[ExportFormat(export.format)],
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
