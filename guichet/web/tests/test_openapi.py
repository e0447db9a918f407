"""The OpenAPI description (guichet/web/openapi.yaml, served at /api/openapi.json) names
every JSON route, and schemathesis finds no server error and no answer that breaks it.

Schemathesis calls the Django WSGI application in this process (no server), with a
bounded number of generated requests per operation, valid ones and invalid ones.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import werkzeug.test
from django.core.handlers.wsgi import WSGIHandler
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode, checks
from schemathesis.specs.openapi import checks as openapi_checks

from guichet.core.models import RateLimitWindow
from guichet.web.api_views import openapi_schema

pytestmark = pytest.mark.django_db

EXAMPLES = 50
"""Generated requests per operation and per mode: the whole run stays well under a minute."""

PLAIN = {"Accept-Encoding": "identity"}
CHECKS = [
    checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]


def _routes(resolver: URLResolver, prefix: str = "") -> Iterator[str]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def json_routes() -> set[str]:
    """Routes that serve JSON by the project's convention: under `api/`, or `*.json`."""
    return {f"/{r}" for r in _routes(get_resolver()) if r.startswith("api/") or r.endswith(".json")}


def test_the_schema_describes_every_json_route_and_only_those():
    described = set(openapi_schema()["paths"])
    routes = json_routes()
    assert "/api/assistant/" in routes and "/verifier/cles.json" in routes
    assert routes - described == set(), "JSON routes missing from guichet/web/openapi.yaml"
    assert described - routes == set(), "paths in guichet/web/openapi.yaml that do not exist"


def test_a_new_json_route_without_description_is_caught(settings):
    settings.ROOT_URLCONF = "guichet.web.tests.openapi_urls"
    from django.urls import clear_url_caches

    clear_url_caches()
    try:
        assert json_routes() - set(openapi_schema()["paths"]) == {"/api/oubli/"}
    finally:
        clear_url_caches()


@pytest.fixture
def citizen_session(citizen, submitted_dossier, client) -> str:
    """The session cookie of a citizen with a submitted dossier (and its file, timeline,
    notice…): "Mes données" then has something in every part."""
    client.force_login(citizen)
    return str(client.cookies["sessionid"].value)


def test_the_json_api_never_fails_and_keeps_to_its_schema(citizen_session, demo_catalog):
    """Valid requests and invalid ones (wrong types, missing or extra fields, out of the
    enums, over the lengths) to every operation: no 5xx, only the statuses, types,
    headers and bodies the schema gives."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", WSGIHandler())
    session = {"sessionid": citizen_session}
    calls: dict[str, int] = {}
    statuses: dict[str, set[int]] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    # Schemathesis leaves out the address it read the schema from (tested below).
    assert {op.label for op in operations} == {
        "GET /api/assistant/",
        "POST /api/assistant/",
        "GET /verifier/cles.json",
        "GET /mes-donnees/export.json",
    }

    def call(case: Any) -> None:
        # Rate limits are checked on their own below: here every request gets through.
        RateLimitWindow.objects.all().delete()
        cookies = session if case.operation.path == "/mes-donnees/export.json" else None
        # In process there is no HTTP client to undo GZipMiddleware: ask for none.
        response = case.call_and_validate(cookies=cookies, headers=PLAIN, checks=CHECKS)
        calls[case.operation.label] = calls.get(case.operation.label, 0) + 1
        statuses.setdefault(case.operation.label, set()).add(response.status_code)

    for operation, mode in itertools.product(operations, GenerationMode):
        has_input = bool(operation.path_parameters or operation.query or operation.body)
        if mode == GenerationMode.NEGATIVE and not has_input:
            continue  # nothing to get wrong

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: Any) -> None:
            call(case)

        conforms()
    assert set(calls) == {op.label for op in operations}, calls
    # Valid requests answered and invalid ones refused; "Mes données" read with the session.
    assert {200, 400} <= statuses["GET /api/assistant/"] and 400 in statuses["POST /api/assistant/"]
    assert statuses["GET /mes-donnees/export.json"] == {200}, statuses


def _validate(schema: Any, path: str, method: str, response: Any) -> None:
    schema[path][method].Case().validate_response(response, checks=CHECKS)


def test_the_refusals_keep_to_the_schema_too(demo_catalog, settings):
    """What the generator may miss: a body that is not JSON, a NUL, the rate limit (429
    with Retry-After), and "Mes données" without a session (to the sign-in page)."""
    application = WSGIHandler()
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)
    app = werkzeug.test.Client(application)
    not_json = app.post("/api/assistant/", data=b"{q", content_type="application/json")
    assert not_json.status_code == 400
    _validate(schema, "/api/assistant/", "POST", not_json)
    nul = app.get("/api/assistant/", query_string={"q": "passeport\x00"})
    assert nul.status_code == 400
    _validate(schema, "/api/assistant/", "GET", nul)
    settings.RATE_LIMIT_SCALE = 0.001  # one question per address, then 429
    assert app.get("/api/assistant/", query_string={"q": "passeport"}).status_code == 200
    limited = app.get("/api/assistant/", query_string={"q": "passeport"})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    _validate(schema, "/api/assistant/", "GET", limited)
    anonymous = app.get("/mes-donnees/export.json")
    assert anonymous.status_code == 302
    _validate(schema, "/mes-donnees/export.json", "GET", anonymous)


def test_the_schema_is_served_as_json(client):
    response = client.get("/api/openapi.json")
    assert response["Content-Type"] == "application/json"
    assert response.json()["openapi"].startswith("3.")
    assert response.json() == openapi_schema()
