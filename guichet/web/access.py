"""Every page declares who may see it; tests/test_access_matrix.py checks that none forgets.

A view is wrapped by exactly one of these decorators. The wrapper enforces the rule and
leaves a mark (`view.access`) that the authorization matrix test reads.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.utils.cache import add_never_cache_headers

View = TypeVar("View", bound=Callable[..., HttpResponseBase])

PUBLIC = "public"
CITIZEN = "citizen"
STAFF = "staff"


def public_page(view: View) -> View:
    """Anyone, signed in or not, may see this page."""
    view.access = PUBLIC  # type: ignore[attr-defined]
    return view


def citizen_page(view: View) -> View:
    """Anyone signed in (a citizen's own pages). Others are sent to the sign-in page, which
    brings them back here: a redirect, not a 404, since the page exists for everyone.
    Never cached: on a shared computer the back button must not show the previous person's
    page after they signed out."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    wrapper.access = CITIZEN  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def staff_page(view: View) -> View:
    """Only staff accounts; everyone else gets the same 404 as a missing page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not (request.user.is_authenticated and request.user.is_staff):
            raise Http404
        return view(request, *args, **kwargs)

    wrapper.access = STAFF  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
