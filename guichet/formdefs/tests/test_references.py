from __future__ import annotations

import pytest

from guichet.formdefs import references


def test_countries_cover_africa_and_destinations_with_french_names():
    countries = references.countries()
    assert len(countries) == 249
    assert countries["CI"].name("fr") == "Côte d'Ivoire"
    assert countries["CD"].name("fr") == "République démocratique du Congo"
    assert countries["NO"].name("fr") == "Norvège"  # not YAML's false
    assert countries["FR"].name("en") == "France"
    assert countries["ML"].name("bm") == "Mali"  # French fallback
    names = [c.names["fr"] for c in countries.values()]
    assert names.index("Égypte") < names.index("Érythrée") < names.index("Espagne")


def test_mali_has_nineteen_regions_and_the_bamako_district():
    mali = references.territories("ML")
    assert mali is not None
    assert len(mali.regions) == 20
    assert "bamako" in mali.regions and "taoudenit" in mali.regions and "nioro" in mali.regions
    assert [c.name for c in mali.communes_of("bamako")][0] == "Bamako – Commune I"
    assert len(mali.communes_of("bamako")) == 6


def test_burkina_and_niger_regions():
    burkina, niger = references.territories("BF"), references.territories("NE")
    assert burkina is not None and niger is not None
    assert len(burkina.regions) == 13
    assert len(niger.regions) == 8
    assert {c.code for c in niger.communes_of("niamey")} == {f"niamey-{i}" for i in range(1, 6)}


@pytest.mark.parametrize("country", ["ML", "BF", "NE"])
def test_commune_lists_are_marked_partial_and_point_at_known_regions(country):
    territories = references.territories(country)
    assert territories is not None
    assert territories.communes_complete is False  # until the official lists are imported
    assert all(c.region in territories.regions for c in territories.communes.values())


def test_unknown_country_has_no_territories():
    assert references.territories("FR") is None


def test_national_id_schemes_are_data_and_unconfirmed():
    schemes = references.id_schemes()
    assert set(schemes) == {"nina", "cnib", "niger_cni"}
    assert {s.country for s in schemes.values()} == {"ML", "BF", "NE"}
    assert not any(s.confirmed for s in schemes.values())


def test_a_bad_reference_file_fails_loudly(tmp_path, monkeypatch):
    (tmp_path / "territories").mkdir()
    (tmp_path / "territories" / "ml.yaml").write_text(
        "country: ML\nregions:\n- {code: kayes, name: Kayes}\n"
        "communes:\n  complete: false\n  items:\n  - {code: kati, name: Kati, region: koulikoro}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(references, "REFERENCES_DIR", tmp_path)
    references.territories.cache_clear()
    try:
        with pytest.raises(references.ReferenceDataError, match="région inconnue 'koulikoro'"):
            references.territories("ML")
    finally:
        references.territories.cache_clear()
