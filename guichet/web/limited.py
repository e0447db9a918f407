"""Answering a request a rate limit refused: the same page, 429, a plain French message."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.functional import Promise
from django.utils.translation import ngettext

from guichet.core.ratelimit import Limit, RateLimited, client_ip, consume


def wait_text(seconds: int) -> str:
    """ "12 minutes", "2 heures": how long before trying again, rounded up."""
    minutes = math.ceil(seconds / 60)
    if minutes <= 90:
        return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    hours = math.ceil(minutes / 60)
    return ngettext("%(count)d heure", "%(count)d heures", hours) % {"count": hours}


def too_many(
    request: HttpRequest, template: str, context: dict[str, Any], message: str, exc: RateLimited
) -> HttpResponse:
    """The page again, answered 429 with a plain message and a Retry-After header.
    `message` has a `%(wait)s` placeholder; the template shows `limited`."""
    seconds = exc.retry_after_seconds()
    context["limited"] = message % {"wait": wait_text(seconds)}
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(seconds)
    add_never_cache_headers(response)
    return response


View = Callable[..., HttpResponseBase]


def limited(*, account: Limit, address: Limit, message: str | Promise) -> Callable[[View], View]:
    """A POST of a signed-in person counts one event for their account and one for their
    address; over either limit it changes nothing and answers 429 (`429.html`) with
    `message` (a `%(wait)s` placeholder) and a Retry-After header. Under `citizen_page`."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method == "POST" and request.user.is_authenticated:
                checks = [(account, str(request.user.pk)), (address, client_ip(request))]
                try:
                    consume(checks)
                except RateLimited as exc:
                    return too_many(request, "429.html", {}, str(message), exc)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
