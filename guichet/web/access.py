"""Every page declares who may see it; tests/test_access_matrix.py checks that none forgets.

A view is wrapped by exactly one of these decorators. The wrapper enforces the rule and
leaves a mark (`view.access`) that the authorization matrix test reads.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.http import Http404, HttpRequest, HttpResponse

View = TypeVar("View", bound=Callable[..., HttpResponse])

PUBLIC = "public"
STAFF = "staff"


def public_page(view: View) -> View:
    """Anyone, signed in or not, may see this page."""
    view.access = PUBLIC  # type: ignore[attr-defined]
    return view


def staff_page(view: View) -> View:
    """Only staff accounts; everyone else gets the same 404 as a missing page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not (request.user.is_authenticated and request.user.is_staff):
            raise Http404
        return view(request, *args, **kwargs)

    wrapper.access = STAFF  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
