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
    "health": "/sante/",
    "public:home": "/",
    "public:catalog": "/demarches/",
    "public:procedure": "/demarches/ml-passeport/",
    "public:procedure-version": "/demarches/ml-passeport/versions/1/",
    "accounts:login": "/connexion/",
    "accounts:login-code": "/connexion/code/",
    "accounts:login-resend": "/connexion/code/renvoyer/",
    "accounts:logout": "/deconnexion/",
    "accounts:profile": "/mon-compte/",
    "dossiers:start": "/demarches/ml-extrait-acte-naissance/en-ligne/",
    "dossiers:list": "/mes-demarches/",
    # Pages of one dossier: {ref} and {file} are the `citizen` persona's draft and its file.
    "dossiers:detail": "/mes-demarches/{ref}/",
    "dossiers:page": "/mes-demarches/{ref}/pages/demande/",
    "dossiers:upload": "/mes-demarches/{ref}/pages/pieces/fichiers/volet_2/",
    "dossiers:download": "/mes-demarches/{ref}/fichiers/{file}/",
    "dossiers:remove-file": "/mes-demarches/{ref}/fichiers/{file}/retirer/",
    "dossiers:summary": "/mes-demarches/{ref}/recapitulatif/",
    "dossiers:submit": "/mes-demarches/{ref}/deposer/",
    "dossiers:messages": "/mes-demarches/{ref}/messages/",
    "dossiers:resubmit": "/mes-demarches/{ref}/renvoyer/",
    "dossiers:receipt": "/mes-demarches/{ref}/recepisse.pdf",
}

# Pages anyone may reach whose plain GET is not a 200 page.
GET_STATUS = {
    "accounts:login-code": 302,  # no code asked for in this session: back to the number
    "accounts:login-resend": 405,  # POST only
    "dossiers:detail": 302,  # a draft: back to the page to fill
    "dossiers:receipt": 302,  # no receipt before submission
    "dossiers:upload": 405,
    "dossiers:remove-file": 405,
    "dossiers:submit": 405,
    "dossiers:messages": 405,
    "dossiers:resubmit": 405,
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


def _expected(access: str, name: str, persona: str, url: str) -> int:
    if access == PUBLIC:
        return GET_STATUS.get(name, 200)
    if access == STAFF:
        return 200 if persona == "staff" else 404
    # Citizen pages: signed-in only, others go to the sign-in page; a page of one dossier
    # answers its owner only, and everyone else the same 404 as a missing dossier.
    if persona == "anonymous":
        return 302
    if GET_STATUS.get(name) == 405:
        return 405  # POST-only, whatever the dossier: says nothing about it
    if "{ref}" in url and persona != "citizen":
        return 404
    return GET_STATUS.get(name, 200)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["anonymous", "citizen", "other_citizen", "staff"])
def test_each_persona_gets_what_the_declaration_says(
    client, demo_catalog, persona, citizen, other_citizen, staff_user, draft_with_file
):
    dossier, attachment = draft_with_file
    if persona == "citizen":
        client.force_login(citizen)
    elif persona == "other_citizen":
        client.force_login(other_citizen)
    elif persona == "staff":
        client.force_login(staff_user)
    for _, name, pattern in _our_pages():
        template = SAMPLE_URLS[name]
        url = template.format(ref=dossier.reference, file=attachment.pk)
        expected = _expected(pattern.callback.access, name, persona, template)
        response = client.get(url)
        if response.streaming:  # read it through: the client then closes the file
            b"".join(response.streaming_content)
        assert response.status_code == expected, (name, persona)
        if pattern.callback.access == CITIZEN and persona == "anonymous":
            assert response["Location"] == f"/connexion/?next={url}", name
