from __future__ import annotations

import pytest

from guichet.catalog.models import Procedure
from guichet.web.tests.pages import BUDGET_BYTES, measure, public_urls

pytestmark = pytest.mark.django_db


def test_every_public_page_fits_the_2g_budget_and_loads_nothing_external(client, demo_catalog):
    ids = list(Procedure.objects.values_list("pk", flat=True))
    assert len(ids) == 45
    for url in public_urls(ids):
        page = measure(client, url)
        assert page.status == 200, url
        assert page.transferred <= BUDGET_BYTES, f"{url}: {page.transferred} B > {BUDGET_BYTES} B"
        assert page.external == [], f"{url} loads {page.external}"
        assert not page.has_script, f"{url} needs JavaScript"


def test_home_offers_search_and_entry_by_country_theme_and_authority(client, demo_catalog):
    html = client.get("/").content.decode()
    assert '<form class="search" role="search" method="get" action="/demarches/">' in html
    assert '<label for="q">' in html
    for country in ("Mali", "Burkina Faso", "Niger"):
        assert country in html
    assert 'href="/demarches/?theme=etat-civil"' in html
    assert "administration=bf-oni" in html
    assert "45 démarches décrites" in html


def test_catalog_lists_the_45_procedures_and_filters_by_country(client, demo_catalog):
    assert "45 démarches" in client.get("/demarches/").content.decode()
    html = client.get("/demarches/?pays=BF").content.decode()
    assert "14 démarches" in html
    assert "bf-cnib" in html and "ml-passeport" not in html


def test_catalog_filters_by_theme_and_authority(client, demo_catalog):
    html = client.get("/demarches/?theme=justice&pays=NE").content.decode()
    assert "/demarches/ne-casier-judiciaire/" in html
    assert "/demarches/bf-casier-judiciaire/" not in html
    html = client.get("/demarches/?pays=BF&administration=bf-oni").content.decode()
    assert "2 démarches" in html


def test_search_tolerates_missing_accents_and_typos(client, demo_catalog):
    html = client.get("/demarches/", {"q": "extrait de naissanse", "pays": "ML"}).content.decode()
    first = html.index('<ul class="results">')
    assert html.index("/demarches/ml-extrait-acte-naissance/", first) < html.index("</ul>", first)


def test_search_without_result_says_so_plainly(client, demo_catalog):
    html = client.get("/demarches/", {"q": "match de football ce soir"}).content.decode()
    assert "Aucune démarche ne correspond à votre recherche." in html


def test_bad_filters_are_ignored_not_errors(client, demo_catalog):
    response = client.get("/demarches/", {"pays": "XX", "theme": "<script>", "q": "x" * 5000})
    assert response.status_code == 200
    assert "<script>" not in response.content.decode()


def test_procedure_sheet_shows_what_a_citizen_needs(client, demo_catalog):
    html = client.get("/demarches/ml-casier-judiciaire/").content.decode()
    for heading in (
        "Qui peut faire la demande ?",
        "Pièces à fournir",
        "Étapes",
        "Où s'adresser ?",
        "Base légale",
        "Sources",
    ):
        assert heading in html
    assert "750\xa0FCFA" in html
    assert "24 heures" in html
    assert "Copie de l&#x27;extrait d&#x27;acte de naissance" in html
    assert 'href="https://guindo.ml/justice/" rel="noopener noreferrer nofollow"' in html
    assert "ne se fait pas encore en ligne" in html


def test_unknown_fee_and_delay_are_shown_as_unknown(client, demo_catalog):
    html = client.get("/demarches/ml-jugement-suppletif/").content.decode()
    assert "Non connu : renseignez-vous auprès du service." in html
    assert "Non connu." in html


def test_confidence_flag_is_for_staff_only(client, demo_catalog, staff_user, citizen):
    url = "/demarches/ml-jugement-suppletif/"
    assert "à vérifier" not in client.get(url).content.decode()
    client.force_login(citizen)
    assert "à vérifier" not in client.get(url).content.decode()
    client.force_login(staff_user)
    assert "sources partielles ou secondaires : à vérifier" in client.get(url).content.decode()


def test_unknown_procedure_and_version_are_404(client, demo_catalog):
    assert client.get("/demarches/ml-inexistante/").status_code == 404
    assert client.get("/demarches/ml-passeport/versions/9/").status_code == 404


def test_unpublished_procedure_is_404(client, demo_catalog):
    Procedure.objects.filter(pk="ml-passeport").update(is_published=False)
    assert client.get("/demarches/ml-passeport/").status_code == 404
    assert "ml-passeport" not in client.get("/demarches/?pays=ML").content.decode()


def test_pages_forbid_any_third_party_resource(client, demo_catalog):
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy


def test_missing_page_answers_in_french_with_a_way_forward(client, demo_catalog):
    response = client.get("/page-qui-n-existe-pas/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page introuvable" in html
    assert 'action="/demarches/"' in html
