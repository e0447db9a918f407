from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import translate_url
from django.utils.translation import get_language

from guichet.web.assets import inline_css


def site(request: HttpRequest) -> dict[str, Any]:
    """What every page needs: the site name, the inline stylesheet, language links."""
    current = get_language()
    languages = [
        {
            "code": code,
            "name": name,
            "url": translate_url(request.get_full_path(), code),
            "is_current": code == current,
        }
        for code, name in settings.LANGUAGES
    ]
    return {
        "site_name": settings.GUICHET_SITE_NAME,
        "inline_css": inline_css(),
        "languages": languages,
    }
