"""The back office: queues of dossiers per service, and one dossier's page with its actions.

Every view is a `staff_page` (signed in with the second factor). What a person may see is
then decided per object by `workflow.queries` (404 alike for missing and not yours) and
what they may do by `workflow.services`, which check the roles again: a hidden button is
a convenience, never the protection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.db.models import Prefetch, prefetch_related_objects
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from guichet.accounts.models import User
from guichet.assistant import casework
from guichet.assistant.tasks import request_readings
from guichet.catalog.texts import pick
from guichet.core.ratelimit import client_ip
from guichet.documents import services as document_services
from guichet.dossiers import services as dossier_services
from guichet.dossiers.models import (
    MESSAGE_FIELD,
    OPEN_STATUSES,
    Attachment,
    Dossier,
    DossierStatus,
    ScanStatus,
)
from guichet.governance import algorithms, audit
from guichet.notifications.models import Notification
from guichet.organisation.queries import StaffRights, colleagues, services_visible_to, staff_rights
from guichet.web.access import safe_next_url, signed_in_user, staff_page
from guichet.web.files import attachment_response, document_response
from guichet.workflow import queries, services
from guichet.workflow.transitions import TRANSITIONS, Role

S = DossierStatus


def _rights(request: HttpRequest) -> StaffRights:
    """Read once per request (never kept longer: a removed role counts at the next click)."""
    rights: StaffRights | None = getattr(request, "_staff_rights", None)
    if rights is None:
        rights = staff_rights(signed_in_user(request))
        request._staff_rights = rights  # type: ignore[attr-defined]
    return rights


# --- Home and queues -----------------------------------------------------------------------------


@staff_page
def home(request: HttpRequest) -> HttpResponse:
    rights = _rights(request)
    return render(
        request,
        "backoffice/home.html",
        {
            "rights": rights,
            "services": services_visible_to(rights),
            "mine": queries.my_open_dossiers(signed_in_user(request)).count(),
        },
    )


STATUS_FILTERS = [
    ("open", gettext_lazy("À traiter")),
    *[(value, label) for value, label in S.choices if value != S.DRAFT],
    ("all", gettext_lazy("Tous")),
]


@staff_page
def queue(request: HttpRequest, service_id: str) -> HttpResponse:
    rights = _rights(request)
    service = queries.service_for_staff(rights, service_id)
    filters = queries.filters_from_params(request.GET)
    rows, has_next = queries.queue_page(service, filters, signed_in_user(request))
    if not rights.can_review(service.pk):
        audit.record(
            "queue.viewed", obj=service, actor=signed_in_user(request), data=filters.describe()
        )
    params = filters.describe()
    return render(
        request,
        "backoffice/queue.html",
        {
            "service": service,
            "filters": filters,
            "status_filters": STATUS_FILTERS,
            "procedures": queries.procedures_of(service.pk),
            "rows": [(d, queries.is_overdue(d)) for d in rows],
            "previous_url": _page_url(params, filters.page - 1) if filters.page > 1 else "",
            "next_url": _page_url(params, filters.page + 1) if has_next else "",
            "can_review": rights.can_review(service.pk),
            "can_supervise": rights.can_supervise(service.pk),
            "colleagues": colleagues(service.pk) if rights.can_supervise(service.pk) else [],
            "next": request.get_full_path(),
        },
    )


@staff_page
def workload(request: HttpRequest, service_id: str) -> HttpResponse:
    """A supervisor's view of the service: who holds what, what is late, what waits."""
    rights = _rights(request)
    service = queries.service_for_staff(rights, service_id, to_act=True)
    if not rights.can_supervise(service.pk):
        raise Http404
    loads = queries.workload(service)
    columns = [(value, label) for value, label in S.choices if value in queries.OPEN]
    return render(
        request,
        "backoffice/workload.html",
        {
            "service": service,
            "columns": columns,
            "rows": [
                (load, [load.by_status.get(value, 0) for value, _ in columns]) for load in loads
            ],
            "overdue": sum(load.overdue for load in loads),
        },
    )


def _page_url(params: dict[str, str], page: int) -> str:
    return "?" + urlencode({**params, "page": str(page)})


def _assignee(request: HttpRequest, service_id: str) -> User | None:
    """`me`, `none` or the id of a colleague of the service (anyone else: refused later)."""
    choice = request.POST.get("to", "")
    if choice == "me":
        return signed_in_user(request)
    if choice == "none" or not choice.isdigit():
        return None
    found = {str(u.pk): u for u in colleagues(service_id)}
    if choice not in found:
        raise services.TransitionError(
            _("Vous n'avez pas le droit de faire cette action sur ce dossier.")
        )
    return found[choice]


@staff_page
@require_POST
def assign_many(request: HttpRequest, service_id: str) -> HttpResponse:
    rights = _rights(request)
    service = queries.service_for_staff(rights, service_id, to_act=True)
    back = safe_next_url(request, request.POST.get("next")) or reverse(
        "backoffice:queue", args=[service.pk]
    )
    references = request.POST.getlist("dossiers")[: queries.PAGE_SIZE]
    chosen = list(Dossier.objects.filter(service=service, reference__in=references))
    try:
        count = services.assign(
            dossiers=chosen, to=_assignee(request, service.pk), actor=signed_in_user(request)
        )
    except services.TransitionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(n)d dossier(s) attribué(s).") % {"n": count})
    return redirect(back)


# --- One dossier ---------------------------------------------------------------------------------

ACTION_LABELS = {
    (S.SUBMITTED, S.IN_REVIEW): gettext_lazy("Commencer l'instruction"),
    (S.IN_REVIEW, S.ACCEPTED): gettext_lazy("Accepter"),
    (S.IN_REVIEW, S.REJECTED): gettext_lazy("Refuser"),
    (S.IN_REVIEW, S.CLOSED): gettext_lazy("Classer sans suite"),
    (S.INFO_REQUESTED, S.CLOSED): gettext_lazy("Classer sans suite"),
    (S.ACCEPTED, S.IN_REVIEW): gettext_lazy("Rouvrir le dossier"),
    (S.REJECTED, S.IN_REVIEW): gettext_lazy("Rouvrir le dossier"),
    (S.CLOSED, S.IN_REVIEW): gettext_lazy("Rouvrir le dossier"),
}


@dataclass(frozen=True)
class Action:
    to: str
    label: str
    needs_reason: bool


def _actions(dossier: Dossier, user: User, rights: StaffRights) -> list[Action]:
    """The moves this person may make now (the service checks again when they do)."""
    found = []
    for (source, target), rule in TRANSITIONS.items():
        if source != dossier.status or rule.role == Role.APPLICANT:
            continue
        if target == S.INFO_REQUESTED:
            continue  # its own form: which answers or documents to complete
        roles = [rule.role] + ([Role.SUPERVISOR] if rule.role == Role.AGENT else [])
        if any(services.can_act(user, role, dossier, rights) for role in roles):
            found.append(Action(target, str(ACTION_LABELS[(source, target)]), rule.needs_reason))
    return found


def _render_dossier(
    request: HttpRequest, dossier: Dossier, *, error: str = "", status: int = 200
) -> HttpResponse:
    user = signed_in_user(request)
    rights = _rights(request)
    spec = dossier_services.form_spec(dossier)
    language = request.LANGUAGE_CODE
    _with_readings(dossier)
    attachments = list(dossier.attachments.all())
    can_review = rights.can_review(dossier.service_id)
    info_fields = [
        (f.id, pick(f.label, language))
        for page in spec.pages
        for f in page.fields
        if f.holds_answer
    ]
    return render(
        request,
        "backoffice/dossier.html",
        {
            "dossier": dossier,
            "procedure_title": pick(dossier.version.definition["title"], language),
            "overdue": queries.is_overdue(dossier),
            # Sensitive answers in full only for those who decide on the dossier.
            "sections": spec.summary(dossier.answers, language, masked=not can_review),
            "files": [
                (a, getattr(a, "reading", None))  # None: not read yet
                for a in attachments
                if a.field_id != MESSAGE_FIELD
            ],
            "clean": ScanStatus.CLEAN,
            "timeline": dossier.changes.select_related("actor"),
            "used_algorithms": algorithms.used_for(dossier),
            "thread": dossier.messages.select_related("attachment"),
            "notes": dossier.annotations.select_related("author") if can_review else [],
            "notifications": Notification.objects.filter(
                object_ref=dossier.reference
            ).prefetch_related("history"),
            "documents": dossier.documents.all(),
            "info_request": dossier_services.open_information_request(dossier),
            "actions": _actions(dossier, user, rights) if can_review else [],
            "can_request_info": can_review and dossier.status == S.IN_REVIEW,
            "info_fields": info_fields,
            "can_review": can_review,
            "can_supervise": rights.can_supervise(dossier.service_id),
            "colleagues": colleagues(str(dossier.service_id))
            if rights.can_supervise(dossier.service_id)
            else [],
            "max_reason": services.MAX_REASON_LENGTH,
            "checklist": casework.checklist(dossier, language, spec=spec),
            "case_summary": casework.summary(dossier, language, spec=spec),
            "error": error,
        },
        status=status,
    )


def _with_readings(dossier: Dossier) -> None:
    """The files and what OCR read in them, in one query for the page and the assistant."""
    prefetch_related_objects(
        [dossier],
        Prefetch("attachments", queryset=Attachment.objects.select_related("reading")),
    )


@staff_page
def dossier_page(request: HttpRequest, reference: str) -> HttpResponse:
    dossier = queries.dossier_for_staff(_rights(request), reference)
    audit.record(
        "dossier.viewed", obj=dossier, actor=signed_in_user(request), ip=client_ip(request)
    )
    if dossier.status in OPEN_STATUSES:
        _with_readings(dossier)
        request_readings(dossier)  # the text of the files, read in the background
    return _render_dossier(request, dossier)


def _act(
    request: HttpRequest, reference: str, action: Callable[[Dossier, User], str]
) -> HttpResponse:
    """One action on one dossier by someone who works in its service: the service call,
    then back to the dossier with what was done, or the page again with the refusal."""
    dossier = queries.dossier_for_staff(_rights(request), reference, to_act=True)
    try:
        done = action(dossier, signed_in_user(request))
    except dossier_services.DossierError as exc:  # TransitionError is one
        return _render_dossier(request, dossier, error=exc.message, status=400)
    messages.success(request, done)
    return redirect(reverse("backoffice:dossier", args=[dossier.reference]))


@staff_page
@require_POST
def transition(request: HttpRequest, reference: str) -> HttpResponse:
    def move(dossier: Dossier, actor: User) -> str:
        target = request.POST.get("to", "")
        if target not in S.values:
            raise services.TransitionError(_("Choisissez une action."))
        moved = services.transition(
            dossier=dossier, to=S(target), actor=actor, reason=request.POST.get("reason", "")
        )
        return _("Dossier passé à l'état « %(state)s ».") % {"state": moved.get_status_display()}

    return _act(request, reference, move)


@staff_page
@require_POST
def request_information(request: HttpRequest, reference: str) -> HttpResponse:
    def ask(dossier: Dossier, actor: User) -> str:
        services.request_information(
            dossier=dossier,
            fields=request.POST.getlist("fields"),
            message=request.POST.get("message", ""),
            actor=actor,
        )
        return _("Demande de complément envoyée.")

    return _act(request, reference, ask)


@staff_page
@require_POST
def assign_one(request: HttpRequest, reference: str) -> HttpResponse:
    def give(dossier: Dossier, actor: User) -> str:
        to = _assignee(request, str(dossier.service_id))
        services.assign(dossiers=[dossier], to=to, actor=actor)
        return _("Attribution enregistrée.")

    return _act(request, reference, give)


@staff_page
@require_POST
def post_message(request: HttpRequest, reference: str) -> HttpResponse:
    def send(dossier: Dossier, actor: User) -> str:
        body, upload = request.POST.get("body", ""), request.FILES.get("file")
        dossier_services.post_message(dossier=dossier, body=body, upload=upload, actor=actor)
        return _("Message envoyé au demandeur.")

    return _act(request, reference, send)


@staff_page
@require_POST
def annotate(request: HttpRequest, reference: str) -> HttpResponse:
    def note(dossier: Dossier, actor: User) -> str:
        services.annotate(dossier=dossier, body=request.POST.get("body", ""), actor=actor)
        return _("Note enregistrée.")

    return _act(request, reference, note)


@staff_page
def attachment(request: HttpRequest, reference: str, attachment_id: str) -> FileResponse:
    """A clean file, shown in the browser (images, PDF) rather than downloaded."""
    dossier = queries.dossier_for_staff(_rights(request), reference)
    found = queries.attachment_for_staff(dossier, attachment_id)
    audit.record(
        "attachment.viewed",
        obj=dossier,
        actor=signed_in_user(request),
        data={"attachment": str(found.pk)},
        ip=client_ip(request),
    )
    return attachment_response(found, inline=True)


@staff_page
def document(request: HttpRequest, reference: str, number: str) -> FileResponse:
    """An issued document shown in the browser, to print it; each opening is audited."""
    dossier = queries.dossier_for_staff(_rights(request), reference)
    issued = get_object_or_404(dossier.documents, number=number)
    document_services.record_download(issued, signed_in_user(request), by_staff=True)
    return document_response(issued, inline=True)


@staff_page
@require_POST
def revoke_document(request: HttpRequest, reference: str, number: str) -> HttpResponse:
    def cancel(dossier: Dossier, actor: User) -> str:
        issued = get_object_or_404(dossier.documents, number=number)
        document_services.revoke(
            document=issued, actor=actor, reason=request.POST.get("reason", "")
        )
        return _("Document %(number)s annulé.") % {"number": issued.number}

    return _act(request, reference, cancel)
