"""Public verification of issued documents: anyone, no account, no script needed.

`/V/<code>` is what a phone opens when it scans a document's QR; `/verifier/` takes a
pasted code or the PDF. Both show the outcome and the text the code signs (what the paper
must say), nothing else about the person. The key set is published as a page, a JSON file
and a standalone HTML page that verifies with no server at all.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from guichet.core.ratelimit import Limit, RateLimited, client_ip, consume
from guichet.documents import services
from guichet.documents.models import SigningKey
from guichet.documents.verify import Verdict, verify_code, verify_pdf
from guichet.web.access import public_page
from guichet.web.limited import too_many

MAX_PDF_BYTES = 2 * 1024 * 1024
MAX_CODE_LENGTH = 4000
VERIFICATIONS_PER_ADDRESS = Limit("documents.verify.address", 120, timedelta(minutes=10))
"""A counter checking a queue of papers stays far below; a script harvesting the audit log
or probing codes does not."""


class VerifyForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code du document, ou adresse lue dans le QR"),
        required=False,
        max_length=MAX_CODE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
    )
    pdf = forms.FileField(label=gettext_lazy("Ou le fichier PDF du document"), required=False)

    def clean_pdf(self) -> bytes | None:
        upload = self.cleaned_data.get("pdf")
        if upload is None:
            return None
        if upload.size > MAX_PDF_BYTES:
            raise forms.ValidationError(
                gettext_lazy("Fichier trop lourd : un document fait moins de 2 Mo.")
            )
        data: bytes = upload.read()
        return data

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if not self.errors and not data.get("code", "").strip() and not data.get("pdf"):
            raise forms.ValidationError(
                gettext_lazy("Collez le code du document ou choisissez son PDF.")
            )
        return data


def _limited(request: HttpRequest) -> HttpResponse | None:
    """Count one verification for the caller's address; the page with a 429 if over."""
    try:
        consume([(VERIFICATIONS_PER_ADDRESS, client_ip(request))])
    except RateLimited as exc:
        message = _("Trop de vérifications depuis cette adresse. Réessayez dans %(wait)s.")
        return too_many(request, "verifier/verify.html", {"form": VerifyForm()}, message, exc)
    return None


def _result(request: HttpRequest, verdict: Verdict, form: VerifyForm, status: int) -> HttpResponse:
    return render(
        request,
        "verifier/verify.html",
        {"form": form, "verdict": verdict, "authentic": verdict.is_authentic},
        status=status,
    )


@public_page
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "verifier/verify.html", {"form": VerifyForm()})
    form = VerifyForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "verifier/verify.html", {"form": form}, status=400)
    if refused := _limited(request):
        return refused
    keyset = services.published_keyset()
    pdf = form.cleaned_data.get("pdf")
    verdict = verify_pdf(pdf, keyset) if pdf else verify_code(form.cleaned_data["code"], keyset)
    services.record_verification(verdict, via="pdf" if pdf else "code")
    return _result(request, verdict, VerifyForm(), 200)


@public_page
@require_http_methods(["GET"])
def verify_link(request: HttpRequest, code: str) -> HttpResponse:
    """The address in a document's QR code."""
    if refused := _limited(request):
        return refused
    verdict = verify_code(code[:MAX_CODE_LENGTH], services.published_keyset())
    services.record_verification(verdict, via="qr")
    return _result(request, verdict, VerifyForm(), 200)


@public_page
@require_http_methods(["GET"])
def keys(request: HttpRequest) -> HttpResponse:
    rows = SigningKey.objects.select_related("authority").order_by(
        "authority__country", "authority__name", "-created_at"
    )
    return render(request, "verifier/keys.html", {"keys": rows})


@public_page
@require_http_methods(["GET"])
def keys_json(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(
        services.published_keyset().as_json(), json_dumps_params={"ensure_ascii": False}
    )
    response["Content-Disposition"] = 'inline; filename="guichet-cles.json"'
    return response


@public_page
@require_http_methods(["GET"])
def offline_page(request: HttpRequest) -> HttpResponse:
    """The standalone verifier, with today's key set inside: save it, open it anywhere."""
    keyset = services.published_keyset()
    html = render_to_string("verifier/offline.html", {"keyset": keyset})
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="verifier-guichet.html"'
    # Downloaded, not shown here: once saved, its own meta policy applies (no network).
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
