"""Every page declares who may see it, and the declaration holds for each persona."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from guichet.web.access import PUBLIC, STAFF

# Pages that are not ours: Django's admin guards itself (staff + permissions).
THIRD_PARTY_PREFIXES = ("admin/",)

# One concrete URL per page, to check the rule with real requests.
SAMPLE_URLS = {
    "public:home": "/",
    "public:catalog": "/demarches/",
    "public:procedure": "/demarches/ml-passeport/",
    "public:procedure-version": "/demarches/ml-passeport/versions/1/",
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
        if getattr(p.callback, "access", None) not in (PUBLIC, STAFF)
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
        expected = 200 if pattern.callback.access == PUBLIC or persona == "staff" else 404
        assert client.get(SAMPLE_URLS[name]).status_code == expected, (name, persona)
