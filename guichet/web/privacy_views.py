"""'Mes données': what the platform holds about the signed-in person (JSON and a readable
page), their requests on it (rectification, objection, blocking) with the answers, and who
in the administration opened their dossiers; the withdrawal of a dossier's consent; every
version of a procedure's personal-data notice (public: it holds nothing personal). For
staff, the requests to answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from guichet.accounts.models import User
from guichet.catalog.texts import pick
from guichet.dossiers.models import Dossier, DossierStatus
from guichet.dossiers.queries import dossiers_of, get_dossier_for
from guichet.organisation.queries import staff_rights
from guichet.privacy import queries, services
from guichet.privacy.models import RequestKind
from guichet.web.access import citizen_page, public_page, signed_in_user, staff_page

ACCESS_ROWS = 30
"""Lines of the access list on the page (the export has them all): the page stays small."""


def _language() -> str:
    return (get_language() or "fr").split("-")[0]


def _submitted(user: User) -> list[Dossier]:
    return list(dossiers_of(user).exclude(status=DossierStatus.DRAFT).order_by("-submitted_at"))


# --- The citizen's page ----------------------------------------------------------------------


def _render_home(
    request: HttpRequest,
    *,
    error: str = "",
    posted: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = signed_in_user(request)
    access = queries.access_log(user)
    return render(
        request,
        "privacy/home.html",
        {
            "dossiers": _submitted(user),
            "requests": queries.requests_of(user),
            "access": access[:ACCESS_ROWS],
            "more_access": len(access) > ACCESS_ROWS,
            "kinds": RequestKind.choices,
            "days": services.request_days(),
            "max_text": services.MAX_TEXT_LENGTH,
            "error": error,
            "posted": posted or {},
        },
        status=status,
    )


@citizen_page
def home(request: HttpRequest) -> HttpResponse:
    return _render_home(request)


@citizen_page
@require_POST
def submit_request(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    posted = {name: request.POST.get(name, "") for name in ("kind", "dossier", "text")}
    dossier = None
    try:
        if posted["dossier"]:
            dossier = next((d for d in _submitted(user) if d.reference == posted["dossier"]), None)
            if dossier is None:
                raise services.RightsRequestError(_("Choisissez un de vos dossiers déposés."))
        made = services.submit_request(
            actor=user, kind=posted["kind"], text=posted["text"], dossier=dossier
        )
    except services.RightsRequestError as exc:
        return _render_home(request, error=exc.message, posted=posted, status=400)
    messages.success(
        request,
        _("Demande envoyée. Réponse attendue avant le %(date)s.")
        % {"date": made.due_at.strftime("%d/%m/%Y")},
    )
    return redirect(reverse("privacy:home") + "#demandes")


@citizen_page
def export_json(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    data = services.export_for(user, language=_language())
    services.record_export(actor=user, form="json")
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False, "indent": 1})
    response["Content-Disposition"] = 'attachment; filename="mes-donnees.json"'
    return response


def _readable(value: Any) -> str:
    """An answer as text: lists joined, items of a group one after the other."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("oui") if value else _("non")
    if isinstance(value, list):
        return " ; ".join(_readable(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} : {_readable(v)}" for k, v in value.items())
    return str(value)


DATE_KEYS = ("date_joined", "last_login")


def _with_dates(value: Any) -> Any:
    """The export with its ISO timestamps as datetimes, for the template's `date` filter."""
    if isinstance(value, list):
        return [_with_dates(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        is_date = key == "at" or key.endswith("_at") or key in DATE_KEYS or key == "date"
        if is_date and isinstance(item, str):
            out[key] = datetime.fromisoformat(item)
        elif key != "answers":  # answers are the citizen's values: never reinterpreted
            out[key] = _with_dates(item)
        else:
            out[key] = item
    return out


@citizen_page
def export_html(request: HttpRequest) -> HttpResponse:
    """The same data as the JSON file, to read or print."""
    user = signed_in_user(request)
    data = _with_dates(services.export_for(user, language=_language()))
    services.record_export(actor=user, form="html")
    for dossier in data["dossiers"]:
        dossier["answer_rows"] = [(a["label"], _readable(a["value"])) for a in dossier["answers"]]
    return render(request, "privacy/export.html", {"data": data})


# --- The personal-data notice and consent -------------------------------------------------------


@public_page
@require_GET
def notice(request: HttpRequest, procedure_id: str, number: int) -> HttpResponse:
    """One version of a procedure's notice, as citizens read it before submitting. Public,
    like the procedure's past versions: it says what the administration does with data,
    nothing about anyone."""
    shown = queries.notice_by_number(procedure_id, number)
    latest = queries.latest_notice(procedure_id)
    return render(
        request,
        "privacy/notice.html",
        {
            "notice": shown,
            "text": queries.notice_text(shown, _language()),
            "title": pick(shown.procedure.definition.get("title"), _language()),
            "latest": latest if latest is not None and latest.pk != shown.pk else None,
        },
    )


@citizen_page
def withdraw_consent(request: HttpRequest, reference: str) -> HttpResponse:
    """GET: what withdrawing means, and the button; POST: withdraw (owner only)."""
    user = signed_in_user(request)
    dossier = get_dossier_for(user, reference)
    state = queries.dossier_privacy(dossier)
    if dossier.is_draft or not state.can_withdraw or state.acceptance is None:
        return redirect("dossiers:detail", dossier.reference)
    if request.method == "POST":
        try:
            services.withdraw_consent(dossier=dossier, actor=user)
        except services.NoticeError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _(
                    "Consentement retiré. L'administration ne traite plus ce dossier ; il "
                    "sera effacé sous 24 heures."
                ),
            )
        return redirect("dossiers:detail", dossier.reference)
    return render(
        request,
        "privacy/withdraw.html",
        {
            "dossier": dossier,
            "acceptance": state.acceptance,
            "title": pick(dossier.version.definition.get("title"), _language()),
            "has_documents": dossier.documents.filter(revoked_at__isnull=True).exists(),
        },
    )


# --- Staff: requests to answer ----------------------------------------------------------------


@staff_page
def staff_requests(request: HttpRequest) -> HttpResponse:
    rights = staff_rights(signed_in_user(request))
    return render(
        request,
        "privacy/staff_list.html",
        {"requests": queries.requests_to_answer(rights), "days": services.request_days()},
    )


@staff_page
def staff_answer(request: HttpRequest, pk: int) -> HttpResponse:
    """One request and the form to answer it (404 alike for missing and not yours)."""
    actor = signed_in_user(request)
    rights_request = queries.request_for_staff(staff_rights(actor), pk)
    error, answer, status = "", "", 200
    if request.method == "POST":
        answer = request.POST.get("answer", "")
        decision = request.POST.get("decision", "")
        try:
            if decision not in ("accept", "refuse"):
                raise services.RightsRequestError(_("Choisissez : accepter ou refuser."))
            services.answer_request(
                rights_request=rights_request,
                actor=actor,
                answer=answer,
                accept=decision == "accept",
            )
        except services.RightsRequestError as exc:
            error, status = exc.message, 400
        else:
            messages.success(request, _("Réponse envoyée au demandeur."))
            return redirect("privacy:staff-requests")
    return render(
        request,
        "privacy/staff_answer.html",
        {
            "r": rights_request,
            "error": error,
            "answer": answer,
            "max_answer": services.MAX_ANSWER_LENGTH,
        },
        status=status,
    )
