"""Content-Security-Policy for Guichet's own pages; requests holding a NUL refused.

Public pages load nothing but themselves: the stylesheet is inline and allowed by its
hash, there is no script, and forms post only to this site. A page that tried to load a
third-party resource would be blocked by the browser, not only caught by a test.
The admin keeps Django's defaults (it serves its own static files and scripts).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext as _

from guichet.web.assets import inline_css_hash


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = (
            "default-src 'none'; "
            f"style-src '{inline_css_hash()}'; "
            "img-src 'self' data:; "
            "form-action 'self'; "
            "base-uri 'none'; "
            "frame-ancestors 'none'"
        )
        self.admin_policy = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            is_admin = request.path.startswith("/admin/")
            response["Content-Security-Policy"] = self.admin_policy if is_admin else self.policy
        return response


class RejectNulMiddleware:
    """Refuse, with a 400, a request whose address or form fields hold a NUL character.

    Nobody types one. PostgreSQL cannot store one in a text column (psycopg raises
    DataError: the request would end in a server error), and Django's form fields refuse
    it already; this covers the texts that reach a service without a form (messages,
    reasons, notes, searches, the SMS and USSD gateways) and the ids read from the address.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not _holds_nul(request):
            return self.get_response(request)
        message = _("Requête refusée : elle contient un caractère nul.")
        if "/api/" in request.path:
            return JsonResponse(
                {"erreur": message}, status=400, json_dumps_params={"ensure_ascii": False}
            )
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


def _holds_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path:
        return True
    # Reading POST here parses the body as CsrfViewMiddleware would for most views.
    for data in (request.GET, request.POST):
        for key, values in data.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return True
    return False
