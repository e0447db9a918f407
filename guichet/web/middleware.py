"""Content-Security-Policy for Guichet's own pages.

Public pages load nothing but themselves: the stylesheet is inline and allowed by its
hash, there is no script, and forms post only to this site. A page that tried to load a
third-party resource would be blocked by the browser, not only caught by a test.
The admin keeps Django's defaults (it serves its own static files and scripts).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
