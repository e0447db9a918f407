"""Answering a request a rate limit refused: the same page, 429, a plain French message."""

from __future__ import annotations

import math
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import ngettext

from guichet.core.ratelimit import RateLimited


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
