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
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
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
from guichet.privacy.queries import dossier_privacy
from guichet.web.access import safe_next_url, signed_in_user, staff_page
from guichet.web.files import serve_attachment, serve_document
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
            # The same rules as the pages themselves (governance_views._register_scope,
            # privacy.queries.requests_to_answer): a link only where there is something.
            "reads_register": bool(
                rights.platform_admin
                or rights.audits_everything
                or rights.auditor_of
                or rights.admin_of
            ),
            "answers_requests": bool(rights.agent_of or rights.platform_admin),
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
    privacy = dossier_privacy(dossier)  # notice accepted; processing stopped
    # No decision buttons while processing is stopped (the workflow refuses them anyway).
    can_review = rights.can_review(dossier.service_id)
    can_act = can_review and privacy.stopped is None
    info_fields = [
        (f.id, pick(f.label, language))
        for page in spec.pages
        for f in page.fields
        if f.holds_answer
    ]
    # Shown on the page and read by the summary: loaded once.
    thread = list(dossier.messages.select_related("attachment"))
    info_request = dossier_services.open_information_request(dossier)
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
            "privacy": privacy,
            "thread": thread,
            "notes": dossier.annotations.select_related("author") if can_review else [],
            "notifications": Notification.objects.filter(
                object_ref=dossier.reference
            ).prefetch_related("history"),
            "documents": dossier.documents.all(),
            "info_request": info_request,
            "actions": _actions(dossier, user, rights) if can_act else [],
            "can_request_info": can_act and dossier.status == S.IN_REVIEW,
            "info_fields": info_fields,
            "can_review": can_review,
            "can_supervise": rights.can_supervise(dossier.service_id),
            "colleagues": colleagues(str(dossier.service_id))
            if rights.can_supervise(dossier.service_id)
            else [],
            "max_reason": services.MAX_REASON_LENGTH,
            "checklist": casework.checklist(dossier, language, spec=spec),
            "case_summary": casework.summary(
                dossier, language, spec=spec, thread=thread, open_request=info_request
            ),
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


# --- Why someone outside the service opens a dossier ---------------------------------------------

PURPOSES = {
    "audit": gettext_lazy("Contrôle / audit"),
    "complaint": gettext_lazy("Réclamation du demandeur"),
    "authority": gettext_lazy("Demande d'une autorité"),
    "other": gettext_lazy("Autre"),
}
MAX_PURPOSE_DETAIL = 200
PURPOSES_KEY = "dossier_purposes"
"""In the session: dossier id → the purpose given for it, kept until signing out."""
MAX_KEPT_PURPOSES = 200
"""Dossiers whose purpose a session remembers (the oldest is asked for again)."""


def _purpose(request: HttpRequest, dossier: Dossier) -> str | None:
    """What the audit entries of this reading say as purpose: "" for the people who work
    in the dossier's service (their queue is the reason), the purpose given earlier in this
    session by anyone else (an auditor), or None: to be asked before anything is shown."""
    if _rights(request).can_review(dossier.service_id):
        return ""
    purpose: str | None = request.session.get(PURPOSES_KEY, {}).get(str(dossier.pk))
    return purpose


def _parse_purpose(data: QueryDict) -> str:
    """The purpose as the audit log keeps it, in French whatever the page's language:
    "Contrôle / audit", or with the detail typed, "Autre : saisine du médiateur"."""
    choice = data.get("purpose", "")
    words = data.get("detail", "").split()  # line breaks and tabs become single spaces
    detail = "".join(c for c in " ".join(words) if c.isprintable())
    if choice not in PURPOSES:
        raise ValueError(_("Choisissez le motif de la consultation."))
    if choice == "other" and not detail:
        raise ValueError(_("Précisez le motif de la consultation."))
    if len(detail) > MAX_PURPOSE_DETAIL:
        raise ValueError(
            _("La précision ne doit pas dépasser %(n)d caractères.") % {"n": MAX_PURPOSE_DETAIL}
        )
    with translation.override("fr"):
        label = str(PURPOSES[choice])
    return f"{label} : {detail}" if detail else label


def _ask_purpose(
    request: HttpRequest, dossier: Dossier, *, error: str = "", status: int = 200
) -> HttpResponse:
    """The form shown instead of the dossier: nothing of the applicant, nothing recorded."""
    page = reverse("backoffice:dossier", args=[dossier.reference])
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    return render(
        request,
        "backoffice/purpose.html",
        {
            "dossier": dossier,
            "purposes": list(PURPOSES.items()),
            "max_detail": MAX_PURPOSE_DETAIL,
            "posted": request.POST,
            "next": wanted if wanted.startswith(page) else "",
            "error": error,
        },
        status=status,
    )


def _to_purpose(request: HttpRequest, dossier: Dossier) -> HttpResponse:
    """To the form, then back to what was asked for (a file, a document)."""
    page = reverse("backoffice:dossier", args=[dossier.reference])
    return redirect(f"{page}?{urlencode({'next': request.get_full_path()})}")


@staff_page
@require_POST
def give_purpose(request: HttpRequest, reference: str) -> HttpResponse:
    """Why someone who does not work in the dossier's service opens it: kept in the session
    for this dossier and written with every reading (dossier, files, documents)."""
    dossier = queries.dossier_for_staff(_rights(request), reference)
    page = reverse("backoffice:dossier", args=[dossier.reference])
    wanted = safe_next_url(request, request.POST.get("next"))
    back = wanted if wanted.startswith(page) else page
    if _rights(request).can_review(dossier.service_id):
        return redirect(back)  # their own queue: nothing to give
    try:
        purpose = _parse_purpose(request.POST)
    except ValueError as exc:
        return _ask_purpose(request, dossier, error=str(exc), status=400)
    kept = {k: v for k, v in request.session.get(PURPOSES_KEY, {}).items() if k != str(dossier.pk)}
    kept[str(dossier.pk)] = purpose
    request.session[PURPOSES_KEY] = dict(list(kept.items())[-MAX_KEPT_PURPOSES:])
    return redirect(back)


@staff_page
def dossier_page(request: HttpRequest, reference: str) -> HttpResponse:
    dossier = queries.dossier_for_staff(_rights(request), reference)
    purpose = _purpose(request, dossier)
    if purpose is None:
        return _ask_purpose(request, dossier)
    audit.record(
        "dossier.viewed",
        obj=dossier,
        actor=signed_in_user(request),
        ip=client_ip(request),
        purpose=purpose,
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
def attachment(request: HttpRequest, reference: str, attachment_id: str) -> HttpResponseBase:
    """A clean file, shown in the browser (images, PDF) rather than downloaded."""
    dossier = queries.dossier_for_staff(_rights(request), reference)
    purpose = _purpose(request, dossier)
    if purpose is None:
        return _to_purpose(request, dossier)
    found = queries.attachment_for_staff(dossier, attachment_id)
    audit.record(
        "attachment.viewed",
        obj=dossier,
        actor=signed_in_user(request),
        data={"attachment": str(found.pk)},
        ip=client_ip(request),
        purpose=purpose,
    )
    return serve_attachment(request, found, inline=True)


@staff_page
def document(request: HttpRequest, reference: str, number: str) -> HttpResponseBase:
    """An issued document shown in the browser, to print it; each opening is audited, with
    the purpose like every staff reading."""
    dossier = queries.dossier_for_staff(_rights(request), reference)
    purpose = _purpose(request, dossier)
    if purpose is None:
        return _to_purpose(request, dossier)
    issued = get_object_or_404(dossier.documents, number=number)
    document_services.record_download(
        issued, signed_in_user(request), by_staff=True, ip=client_ip(request), purpose=purpose
    )
    return serve_document(request, issued, inline=True)


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
