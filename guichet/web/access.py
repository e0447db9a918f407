"""Every page declares who may see it; tests/test_access_matrix.py checks that none forgets.

A view is wrapped by exactly one of these decorators. The wrapper enforces the rule and
leaves a mark (`view.access`) that the authorization matrix test reads.

Staff sign in with a password and a code from an authenticator app (TOTP, django-otp):
`staff_page` requires both; `staff_enrolment_page` (the page where an agent sets up the
app) requires the password only, since the second factor does not exist yet.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme

from guichet.accounts.models import User

View = TypeVar("View", bound=Callable[..., HttpResponseBase])

MAX_NEXT_LENGTH = 2000


def signed_in_user(request: HttpRequest) -> User:
    """The account of a request a citizen or staff decorator has let through."""
    assert isinstance(request.user, User)
    return request.user


def safe_next_url(request: HttpRequest, url: str | None) -> str:
    """`url` if it is a path on this site, else "" (no open redirect). A path only: given
    anything else (`mes-demarches`), `redirect()` would look for a view of that name and
    fail with a server error."""
    if not url or len(url) > MAX_NEXT_LENGTH or not url.startswith("/"):
        return ""
    is_safe = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if is_safe else ""


def check_gateway_secret(request: HttpRequest, secret: str) -> None:
    """For addresses a gateway calls (SMS, USSD): when `secret` is set, the request's
    `?token=` must match it, or the address answers like a missing page."""
    if secret and not constant_time_compare(request.GET.get("token", ""), secret):
        raise Http404


PUBLIC = "public"
CITIZEN = "citizen"
STAFF_ENROLMENT = "staff-enrolment"
STAFF = "staff"
ACCESS_LEVELS = (PUBLIC, CITIZEN, STAFF_ENROLMENT, STAFF)


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


def is_staff_account(request: HttpRequest) -> bool:
    """Signed in (with a password at least) to an active staff account."""
    user = request.user
    return user.is_authenticated and user.is_active and user.is_staff


def is_verified(request: HttpRequest) -> bool:
    """This session passed the second factor (set by django_otp's OTPMiddleware).

    False when the middleware did not run: a missing check never opens a staff page."""
    check = getattr(request.user, "is_verified", None)
    return bool(callable(check) and check())


def _to_staff_sign_in(request: HttpRequest) -> HttpResponseBase:
    return redirect_to_login(request.get_full_path(), login_url=reverse("staff:login"))


def staff_enrolment_page(view: View) -> View:
    """Staff signed in with their password, second factor or not: the page where an agent
    sets up the authenticator app. Anonymous visitors go to the staff sign-in page; other
    accounts get the same 404 as a missing page. Never cached (it shows a secret key)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return _to_staff_sign_in(request)
        if not is_staff_account(request):
            raise Http404
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    wrapper.access = STAFF_ENROLMENT  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def staff_page(view: View) -> View:
    """Only staff accounts signed in with both factors. Anonymous visitors, and staff who
    have not given their code in this session, go to the staff sign-in page, which brings
    them back here; every other account gets the same 404 as a missing page. Never
    cached."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return _to_staff_sign_in(request)
        if not is_staff_account(request):
            raise Http404
        if not is_verified(request):
            return _to_staff_sign_in(request)
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    wrapper.access = STAFF  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
