"""Every page declares who may see it, and the declaration holds for each persona."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from guichet.web.access import CITIZEN, PUBLIC, STAFF

# Pages that are not ours: Django's admin guards itself (staff + permissions).
THIRD_PARTY_PREFIXES = ("admin/",)

# One concrete URL per page, to check the rule with real requests.
SAMPLE_URLS = {
    "public:home": "/",
    "public:catalog": "/demarches/",
    "public:procedure": "/demarches/ml-passeport/",
    "public:procedure-version": "/demarches/ml-passeport/versions/1/",
    "accounts:login": "/connexion/",
    "accounts:login-code": "/connexion/code/",
    "accounts:login-resend": "/connexion/code/renvoyer/",
    "accounts:logout": "/deconnexion/",
    "accounts:my-dossiers": "/mes-demarches/",
}

# Pages anyone may reach whose plain GET is not a 200 page.
GET_STATUS = {
    "accounts:login-code": 302,  # no code asked for in this session: back to the number
    "accounts:login-resend": 405,  # POST only
}


def _patterns(
    resolver: URLResolver, prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str, URLPattern]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _patterns(entry, prefix + str(entry.pattern), ns)
        else:
            yield prefix + str(entry.pattern), f"{namespace}{entry.name}", entry


def _our_pages() -> list[tuple[str, str, URLPattern]]:
    return [p for p in _patterns(get_resolver()) if not p[0].startswith(THIRD_PARTY_PREFIXES)]


def test_every_page_declares_its_audience():
    undeclared = [
        route
        for route, _, p in _our_pages()
        if getattr(p.callback, "access", None) not in (PUBLIC, CITIZEN, STAFF)
    ]
    assert undeclared == []


def test_every_page_has_a_sample_url_in_this_matrix():
    assert {name for _, name, _ in _our_pages()} == set(SAMPLE_URLS)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["anonymous", "citizen", "staff"])
def test_each_persona_gets_what_the_declaration_says(
    client, demo_catalog, persona, citizen, staff_user
):
    if persona == "citizen":
        client.force_login(citizen)
    elif persona == "staff":
        client.force_login(staff_user)
    for _, name, pattern in _our_pages():
        access = pattern.callback.access
        if access == PUBLIC:
            expected = GET_STATUS.get(name, 200)
        elif access == CITIZEN:  # signed-in only; others are sent to the sign-in page
            expected = 302 if persona == "anonymous" else 200
        else:
            expected = 200 if persona == "staff" else 404
        response = client.get(SAMPLE_URLS[name])
        assert response.status_code == expected, (name, persona)
        if access == CITIZEN and persona == "anonymous":
            assert response["Location"] == f"/connexion/?next={SAMPLE_URLS[name]}", name
