"""The OpenAPI description of the JSON Guichet serves (guichet/web/openapi.yaml), as JSON.

Written by hand next to the views it describes; guichet/web/tests/test_openapi.py checks
that it names every JSON route and fuzzes them against it with schemathesis.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from guichet.web.access import public_page

SCHEMA_FILE = Path(__file__).resolve().parent / "openapi.yaml"


@cache
def openapi_schema() -> dict[str, Any]:
    schema: dict[str, Any] = yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))
    return schema


@public_page
@require_GET
def openapi(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi_schema(), json_dumps_params={"ensure_ascii": False})
