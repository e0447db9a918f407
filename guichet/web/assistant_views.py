"""The assistant where citizens meet it: a page that works without script, and JSON.

Both call `assistant.services.ask`, which answers from the catalog by code and logs the
exchange. The citizen may then say whether the answer helped (a signed reference to the
exchange in the form, so nobody can rate another person's exchange).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django import forms
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from guichet.accounts.models import User
from guichet.assistant import services
from guichet.assistant.models import Channel, Exchange
from guichet.catalog.models import Country
from guichet.core.ratelimit import Limit, RateLimited, client_ip, consume
from guichet.web.access import public_page
from guichet.web.limited import too_many, wait_text

QUESTIONS_PER_ADDRESS = Limit("assistant.ask.address", 60, timedelta(minutes=10))
"""Far above a person asking; a script scraping the catalog through the assistant stops."""
QUESTIONS_PER_ACCOUNT = Limit("assistant.ask.account", 30, timedelta(minutes=10))
"""A signed-in person, wherever they ask from (a script hopping addresses stops too)."""
FEEDBACK_SALT = "guichet.assistant.feedback"
FEEDBACK_MAX_AGE = 24 * 3600


class QuestionForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Votre question"),
        max_length=services.MAX_QUESTION_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        error_messages={
            "required": gettext_lazy("Écrivez votre question."),
            "max_length": gettext_lazy("Votre question est trop longue (500 caractères au plus)."),
        },
    )
    pays = forms.ChoiceField(
        label=gettext_lazy("Pays"),
        required=False,
        choices=[("", gettext_lazy("— Choisissez —")), *Country.choices],
        error_messages={"invalid_choice": gettext_lazy("Choisissez un pays de la liste.")},
    )


def _asker(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _consume(request: HttpRequest) -> None:
    checks = [(QUESTIONS_PER_ADDRESS, client_ip(request))]
    if (asker := _asker(request)) is not None:
        checks.append((QUESTIONS_PER_ACCOUNT, str(asker.pk)))
    consume(checks)


@public_page
@require_http_methods(["GET"])
def question(request: HttpRequest) -> HttpResponse:
    """The question box, and the answer below it once asked (GET: the answer page can be
    bookmarked and shared, and the back button works)."""
    form = QuestionForm(request.GET or None)
    context: dict[str, Any] = {"form": form, "retention_days": services.retention().days}
    if not request.GET or not form.is_valid():
        return render(request, "public/question.html", context, status=400 if form.errors else 200)
    try:
        _consume(request)
    except RateLimited as exc:
        message = _("Trop de questions en peu de temps. Réessayez dans %(wait)s.")
        return too_many(request, "public/question.html", context, message, exc)
    asked = services.ask(
        form.cleaned_data["q"],
        country=form.cleaned_data["pays"] or None,
        language=get_language() or "fr",
        channel=Channel.WEB,
        user=_asker(request),
    )
    assert asked.exchange is not None
    context.update(
        reply=asked.reply,
        feedback_token=signing.dumps(asked.exchange.pk, salt=FEEDBACK_SALT),
    )
    response = render(request, "public/question.html", context)
    response["X-Robots-Tag"] = "noindex"
    return response


@public_page
@require_POST
def feedback(request: HttpRequest) -> HttpResponse:
    """Thumbs up or down on one answer; a bad or stale form changes nothing."""
    helpful = {"oui": True, "non": False}.get(request.POST.get("avis", ""))
    try:
        pk = signing.loads(
            request.POST.get("echange", ""), salt=FEEDBACK_SALT, max_age=FEEDBACK_MAX_AGE
        )
        exchange = Exchange.objects.get(pk=pk)
    except (signing.BadSignature, Exchange.DoesNotExist, TypeError, ValueError):
        exchange = None
    if exchange is None or helpful is None:
        message = _("Votre avis n'a pas pu être enregistré : reposez votre question.")
        return render(
            request,
            "public/question.html",
            {
                "form": QuestionForm(),
                "feedback_error": message,
                "retention_days": services.retention().days,
            },  # fmt: skip
            status=400,
        )
    services.record_feedback(exchange, helpful=helpful)
    context = {"form": QuestionForm(), "feedback_saved": True,
               "retention_days": services.retention().days}  # fmt: skip
    return render(request, "public/question.html", context)


@public_page
@csrf_exempt  # a JSON API for other applications: no session, no cookie, nothing to forge
@require_http_methods(["GET", "POST"])
def api(request: HttpRequest) -> JsonResponse:
    """`GET ?q=…&pays=ML` or `POST {"q": …, "pays": …}`: the answer as JSON, with the id and
    address of every quoted field."""
    if request.method == "POST":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return _error(_("Le corps de la requête n'est pas du JSON valide."), 400)
        data = body if isinstance(body, dict) else {}
    else:
        data = request.GET.dict()
    form = QuestionForm({"q": data.get("q", ""), "pays": data.get("pays", "")})
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        return _error(str(first), 400)
    try:
        _consume(request)
    except RateLimited as exc:
        seconds = exc.retry_after_seconds()
        message = _("Trop de questions en peu de temps. Réessayez dans %(wait)s.")
        response = _error(message % {"wait": wait_text(seconds)}, 429)
        response["Retry-After"] = str(seconds)
        return response
    asked = services.ask(
        form.cleaned_data["q"],
        country=form.cleaned_data["pays"] or None,
        language=get_language() or "fr",
        channel=Channel.API,
    )
    return JsonResponse(_as_json(request, asked), json_dumps_params={"ensure_ascii": False})


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse(
        {"erreur": message}, status=status, json_dumps_params={"ensure_ascii": False}
    )


def _as_json(request: HttpRequest, asked: services.Asked) -> dict[str, Any]:
    reply = asked.reply

    def link(value: Any) -> dict[str, str] | None:
        if value is None:
            return None
        out = {"id": value.id, "titre": value.title, "url": request.build_absolute_uri(value.url)}
        if value.apply_url:
            out["en_ligne"] = request.build_absolute_uri(value.apply_url)
        return out

    return {
        "resultat": reply.outcome,
        "introduction": reply.lead,
        "formulation": reply.phrased,
        "demarche": link(reply.procedure),
        "champs": [
            {
                "id": part.id,
                "libelle": part.label,
                "texte": part.text,
                "elements": list(part.items),
                "source": request.build_absolute_uri(part.url),
            }
            for part in reply.parts
        ],
        "suggestions": [link(s) for s in reply.suggestions],
        "contact": reply.contact,
        "moteur": reply.backend,
        "echange": asked.exchange.pk if asked.exchange else None,
    }
