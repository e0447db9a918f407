"""Sign-in pages: a mobile number, then the code received by SMS (ADR 0006).

What a sign-in in progress needs (the number, the id of the code sent, where to go next)
lives in the server-side session, never in a form field: the code page cannot be pointed
at another number or another code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guichet.accounts import services
from guichet.accounts.forms import CodeForm, PhoneForm, ProfileForm, default_country
from guichet.accounts.models import User
from guichet.accounts.phones import allowed_countries, example_number, international_format
from guichet.accounts.services import PROFILE_FIELDS
from guichet.core.ratelimit import RateLimited, client_ip
from guichet.notifications.queries import outbox_messages
from guichet.web.access import citizen_page, public_page, safe_next_url
from guichet.web.limited import too_many

SESSION_KEY = "accounts.sign_in"
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@dataclass(frozen=True)
class PendingSignIn:
    phone: str
    code_id: int
    next: str
    country: str


def _pending(request: HttpRequest) -> PendingSignIn | None:
    """The sign-in in progress in this session, if its shape is sound."""
    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    phone, code_id = data.get("phone"), data.get("code_id")
    if not (isinstance(phone, str) and _E164.match(phone)):
        return None
    if not isinstance(code_id, int) or isinstance(code_id, bool):
        return None
    next_url, country = data.get("next"), data.get("country")
    return PendingSignIn(
        phone=phone,
        code_id=code_id,
        next=next_url if isinstance(next_url, str) else "",
        country=country if isinstance(country, str) else "",
    )


def _remember(request: HttpRequest, pending: PendingSignIn) -> None:
    request.session[SESSION_KEY] = {
        "phone": pending.phone,
        "code_id": pending.code_id,
        "next": pending.next,
        "country": pending.country,
    }


def _sign_in_context(form: PhoneForm, *, next_url: str) -> dict[str, Any]:
    country = form["country"].value() or default_country()
    if country not in allowed_countries():
        country = default_country()
    return {"form": form, "country": country, "example": example_number(country), "next": next_url}


@public_page
@require_http_methods(["GET", "POST"])
def login_phone(request: HttpRequest) -> HttpResponse:
    pending = _pending(request)
    typed_next = request.POST.get("next") if request.method == "POST" else request.GET.get("next")
    next_url = safe_next_url(request, typed_next) or (pending.next if pending else "")
    if request.method == "POST":
        form = PhoneForm(request.POST)
        if form.is_valid():
            phone = form.cleaned_data["phone"]
            try:
                sign_in_code = services.request_code(
                    phone=phone,
                    address=client_ip(request),
                    replaces=pending.code_id if pending else None,
                    actor=request.user,
                )
            except RateLimited as exc:
                message = _(
                    "Trop de codes ont été demandés pour ce numéro ou depuis cette connexion. "
                    "Vous pourrez en demander un nouveau dans %(wait)s."
                )
                context = _sign_in_context(form, next_url=next_url)
                # A code this session already received for this number still works.
                context["has_code"] = pending is not None and pending.phone == phone
                return too_many(request, "accounts/login.html", context, message, exc)
            _remember(
                request,
                PendingSignIn(
                    phone=phone,
                    code_id=sign_in_code.pk,
                    next=next_url,
                    country=form.cleaned_data["country"],
                ),
            )
            return redirect("accounts:login-code")
    else:
        form = PhoneForm(initial={"country": pending.country if pending else default_country()})
    return render(request, "accounts/login.html", _sign_in_context(form, next_url=next_url))


def _code_page(pending: PendingSignIn, form: CodeForm, *, is_dead: bool = False) -> dict[str, Any]:
    return {
        "form": form,
        "phone": international_format(pending.phone),
        "is_dead": is_dead,
        "outbox_url": _outbox_url(),
    }


def _outbox_url() -> str:
    """In development no SMS leaves the machine: where to read it (routed only in DEBUG)."""
    if not settings.DEBUG:
        return ""
    try:
        return reverse("accounts:sms-outbox")
    except NoReverseMatch:
        return ""


def _start_again(request: HttpRequest) -> HttpResponse:
    request.session.pop(SESSION_KEY, None)
    messages.info(request, _("Saisissez votre numéro de mobile pour recevoir un code."))
    return redirect("accounts:login")


@public_page
@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    pending = _pending(request)
    if pending is None:
        return _start_again(request)
    form = CodeForm(request.POST if request.method == "POST" else None)
    is_dead = False
    if form.is_valid():
        try:
            user = services.sign_in_with_code(
                code_id=pending.code_id,
                phone=pending.phone,
                code=form.cleaned_data["code"],
                address=client_ip(request),
            )
        except RateLimited as exc:
            message = _("Trop de codes incorrects depuis cette connexion. Réessayez dans %(wait)s.")
            context = _code_page(pending, CodeForm())
            return too_many(request, "accounts/login_code.html", context, message, exc)
        except services.SignInError as exc:
            form.add_error("code", exc.message)
            is_dead = isinstance(exc, services.CodeNotValid) or (
                isinstance(exc, services.WrongCode) and exc.attempts_left == 0
            )
        else:
            request.session.pop(SESSION_KEY, None)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(safe_next_url(request, pending.next) or reverse("dossiers:list"))
    response = render(
        request, "accounts/login_code.html", _code_page(pending, form, is_dead=is_dead)
    )
    add_never_cache_headers(response)
    return response


@public_page
@require_POST
def resend_code(request: HttpRequest) -> HttpResponse:
    pending = _pending(request)
    if pending is None:
        return _start_again(request)
    try:
        sign_in_code = services.request_code(
            phone=pending.phone,
            address=client_ip(request),
            replaces=pending.code_id,
            actor=request.user,
        )
    except RateLimited as exc:
        message = _(
            "Trop de codes ont été demandés. Vous pourrez en demander un nouveau dans "
            "%(wait)s. Le dernier code reçu reste valable 10 minutes."
        )
        context = _code_page(pending, CodeForm())
        return too_many(request, "accounts/login_code.html", context, message, exc)
    _remember(
        request,
        PendingSignIn(
            phone=pending.phone,
            code_id=sign_in_code.pk,
            next=pending.next,
            country=pending.country,
        ),
    )
    messages.success(request, _("Un nouveau code vous a été envoyé. Le précédent ne marche plus."))
    return redirect("accounts:login-code")


@public_page
@require_http_methods(["GET", "POST"])
def logout_page(request: HttpRequest) -> HttpResponse:
    return sign_out_page(request, template="accounts/logout.html", then="accounts:login")


def sign_out_page(request: HttpRequest, *, template: str, then: str) -> HttpResponse:
    """GET asks to confirm (a link can lead here); only POST signs out (CSRF-protected)."""
    if request.method == "POST":
        logout(request)
        messages.info(request, _("Vous êtes déconnecté."))
        return redirect(then)
    return render(request, template)


@citizen_page
def profile(request: HttpRequest) -> HttpResponse:
    """The account: the number it signs in with, and an optional name and email."""
    user = request.user
    assert isinstance(user, User)
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            services.update_profile(user=user, **form.cleaned_data)
            messages.success(request, _("Vos informations sont enregistrées."))
            return redirect("accounts:profile")
    else:
        form = ProfileForm(initial={name: getattr(user, name) for name in PROFILE_FIELDS})
    phone = international_format(user.phone) if user.phone else ""
    status = 400 if form.is_bound else 200
    return render(request, "accounts/profile.html", {"form": form, "phone": phone}, status=status)


@public_page
def sms_outbox(request: HttpRequest) -> HttpResponse:
    """Development only: the SMS the outbox backend kept. Routed only when DEBUG is on."""
    if not settings.DEBUG:
        raise Http404
    response = render(request, "accounts/sms_outbox.html", {"outbox": outbox_messages()})
    add_never_cache_headers(response)
    return response
