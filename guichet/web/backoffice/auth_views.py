"""Staff sign-in: username, password and the 6-digit code of an authenticator app.

The checks live in `accounts/totp.py`; these views parse the form, call it, and sign the
session in. A session signed in with the password alone (an agent whose app is not set up
yet) opens only the set-up page (`staff_enrolment_page`), never a staff page.
"""

from __future__ import annotations

from base64 import b32encode
from typing import Any
from urllib.parse import urlencode

import django_otp
import segno
from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from guichet.accounts import totp
from guichet.accounts.models import User
from guichet.core.ratelimit import RateLimited, client_ip
from guichet.web.access import is_verified, public_page, safe_next_url, staff_enrolment_page
from guichet.web.accounts_views import sign_out_page
from guichet.web.limited import too_many

SIGN_IN_TEMPLATE = "backoffice/auth/login.html"
SETUP_TEMPLATE = "backoffice/auth/totp_setup.html"


def _code_field(*, required: bool) -> forms.CharField:
    return forms.CharField(required=required, max_length=20, strip=True)


def _clean_code(value: str) -> str:
    if not value:
        return ""
    code = totp.clean_token(value)
    if not code:
        raise forms.ValidationError(_("Le code compte 6 chiffres, sans lettre."))
    return code


class StaffSignInForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(max_length=4096, strip=False)
    # Optional only for an account whose app is not set up yet; the service decides.
    code = _code_field(required=False)

    def clean_code(self) -> str:
        return _clean_code(self.cleaned_data["code"])


class CodeForm(forms.Form):
    code = _code_field(required=True)

    def clean_code(self) -> str:
        return _clean_code(self.cleaned_data["code"])


def staff_home() -> str:
    """Where a signed-in agent lands: the back office's home page."""
    try:
        return reverse("backoffice:home")
    except NoReverseMatch:  # until the back office's pages are routed
        return "/instruction/"


def _typed_next(request: HttpRequest) -> str:
    typed = request.POST.get("next") if request.method == "POST" else request.GET.get("next")
    return safe_next_url(request, typed)


def _setup_url(next_url: str) -> str:
    url = reverse("staff:totp-setup")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


@public_page
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    next_url = _typed_next(request)
    form = StaffSignInForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        username = form.cleaned_data["username"]
        try:
            result = totp.sign_in_staff(
                username=username,
                password=form.cleaned_data["password"],
                token=form.cleaned_data["code"],
                address=client_ip(request),
            )
        except RateLimited as exc:
            message = _(
                "Trop d'essais incorrects pour cet identifiant ou depuis cette connexion. "
                "Réessayez dans %(wait)s."
            )
            context = {"form": StaffSignInForm(initial={"username": username}), "next": next_url}
            return too_many(request, SIGN_IN_TEMPLATE, context, message, exc)
        except totp.StaffSignInRefused:
            form.add_error(None, _("Identifiant, mot de passe ou code incorrect."))
        else:
            # A new session key, and a new CSRF token, for the signed-in session.
            login(request, result.user)
            if result.device is None:
                return redirect(_setup_url(next_url))
            django_otp.login(request, result.device)
            return redirect(next_url or staff_home())
    response = render(request, SIGN_IN_TEMPLATE, {"form": form, "next": next_url})
    add_never_cache_headers(response)
    return response


def _qr_svg(device: Any) -> SafeString:
    """The device's otpauth:// URL as an inline SVG QR code: no image file, no request."""
    svg = segno.make(device.config_url).svg_inline(
        scale=4, dark="#000", light="#fff", title=_("Code QR à scanner avec l'application")
    )
    return mark_safe(svg)  # noqa: S308 - segno's own markup; the title is escaped by segno


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _setup_context(device: Any, form: CodeForm, next_url: str) -> dict[str, Any]:
    return {
        "form": form,
        "next": next_url,
        "qr_svg": _qr_svg(device),
        "secret": _grouped(b32encode(device.bin_key).decode("ascii")),
    }


@staff_enrolment_page
@require_http_methods(["GET", "POST"])
def totp_setup(request: HttpRequest) -> HttpResponse:
    """Set up the authenticator app: scan the QR code, type the code it shows."""
    user = request.user
    assert isinstance(user, User)
    next_url = _typed_next(request)
    if totp.confirmed_totp_device(user) is not None:
        # Replacing an app is an administrator's act (a stolen password must not do it).
        context = {"done": True, "verified": is_verified(request), "home": staff_home()}
        return render(request, SETUP_TEMPLATE, context)
    device = totp.enrolment_device(user)
    form = CodeForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            confirmed = totp.confirm_totp_device(user=user, token=form.cleaned_data["code"])
        except RateLimited as exc:
            message = _("Trop de codes incorrects. Réessayez dans %(wait)s.")
            context = _setup_context(device, CodeForm(), next_url)
            return too_many(request, SETUP_TEMPLATE, context, message, exc)
        if confirmed is not None:
            request.session.cycle_key()
            django_otp.login(request, confirmed)
            messages.success(
                request,
                _(
                    "Votre application est configurée. À chaque connexion, saisissez le code "
                    "qu'elle affiche."
                ),
            )
            return redirect(next_url or staff_home())
        form.add_error(
            "code",
            _(
                "Code incorrect. Saisissez le code affiché maintenant, et vérifiez que "
                "l'heure de votre téléphone est juste."
            ),
        )
    return render(request, SETUP_TEMPLATE, _setup_context(device, form, next_url))


@public_page
@require_http_methods(["GET", "POST"])
def sign_out(request: HttpRequest) -> HttpResponse:
    return sign_out_page(request, template="backoffice/auth/logout.html", then="staff:login")
