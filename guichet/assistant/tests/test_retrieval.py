"""The gates and the extractive answer, on the real catalog, without a database."""

from __future__ import annotations

import pytest
from django.conf import settings

from guichet.assistant.answers import compose, fields_for
from guichet.assistant.retrieval import Retriever, aspects_of
from guichet.assistant.units import units_of
from guichet.catalog.definition import load_definitions
from guichet.catalog.search import SearchIndex


@pytest.fixture(scope="module")
def definitions():
    return {d.data["id"]: d.data for d in load_definitions([settings.DEMO_PROCEDURES_DIR])}


@pytest.fixture(scope="module")
def retriever(definitions):
    return Retriever(SearchIndex.build(definitions.values()), definitions.values())


@pytest.mark.parametrize(
    ("question", "country", "expected"),
    [
        ("combien coute le passeport", "NE", "ne-passeport"),
        ("kel papie pr la cnib a ouaga svp", "BF", "bf-cnib"),
        (
            "mon bebe est né hier, combien de temps pour le declarer",
            "ML",
            "ml-declaration-naissance",
        ),
        ("casier judiciaire b3 delai", "NE", "ne-casier-judiciaire"),
        ("pasport biometrique prix", "ML", "ml-passeport"),
    ],
)
def test_a_question_that_names_a_procedure_gets_an_answer_about_it(
    retriever, question, country, expected
):
    retrieval = retriever.retrieve(question, country=country)
    assert retrieval.decision == "answer", retrieval.reason
    assert retrieval.candidates[0].procedure_id == expected


@pytest.mark.parametrize(
    ("question", "country"),
    [
        ("Il va pleuvoir demain à Bamako ?", "ML"),  # nothing in common with the catalog
        ("recette du riz au gras", "ML"),
        ("carte grise moto comment faire la mutation", "ML"),  # "carte" alone, unknown words
        ("acte de mariage a la mairie", "NE"),  # reaches naturalisation by its documents
        ("certificat de vie pour la pension", "BF"),
        # "chasse" is only guessed ("classe"?) and names nothing: it is not explained.
        ("permis de port d'arme pour la chasse", "ML"),
        ("taux du franc cfa en euro", None),
    ],
)
def test_out_of_scope_questions_are_refused_rather_than_guessed(retriever, question, country):
    retrieval = retriever.retrieve(question, country=country)
    assert retrieval.decision == "refuse", (retrieval.reason, retrieval.candidates[:1])


def test_a_question_that_names_a_procedure_in_part_gets_suggestions(retriever):
    retrieval = retriever.retrieve("nationalite malienne pour une femme mariee", country="ML")
    assert retrieval.decision == "suggest", retrieval.reason
    ids = [c.procedure_id for c in retrieval.suggestions]
    assert "ml-nationalite-par-mariage" in ids
    assert len(ids) <= 3


def test_a_greeting_is_answered_as_such(retriever):
    assert retriever.retrieve("Bonjour !", country="ML").decision == "greeting"


def test_the_country_chosen_restricts_the_answer(retriever):
    for country in ("ML", "BF", "NE"):
        top = retriever.retrieve("passeport", country=country).candidates[0]
        assert top.procedure_id.startswith(country.lower() + "-")


class _Dense:
    """A dense ranker that finds only what it is told, with a given similarity."""

    model_version = "test"

    def __init__(self, found: dict[str, float]) -> None:
        self.found = found

    def search(self, query: str, limit: int = 20) -> list[tuple[str, float]]:
        return sorted(self.found.items(), key=lambda item: -item[1])[:limit]


def test_a_dense_result_alone_never_passes(definitions):
    index = SearchIndex.build(definitions.values())
    # The dense side is sure of a procedure the words of the question do not reach at all.
    dense = _Dense({"ml-permis-construire#title": 0.99})
    retriever = Retriever(index, definitions.values(), dense=dense)
    retrieval = retriever.retrieve("recette du riz au gras", country="ML")
    assert retrieval.decision == "refuse"
    assert retrieval.candidates == ()
    retrieval = retriever.retrieve("combien coute le passeport", country="ML")
    assert "ml-permis-construire" not in [c.procedure_id for c in retrieval.candidates]


def test_an_answer_the_dense_side_does_not_corroborate_becomes_a_suggestion(definitions):
    index = SearchIndex.build(definitions.values())
    weak = Retriever(index, definitions.values(), dense=_Dense({"ml-passeport#fees": 0.5}))
    strong = Retriever(index, definitions.values(), dense=_Dense({"ml-passeport#fees": 0.9}))
    assert weak.retrieve("prix du passeport", country="ML").decision == "suggest"
    assert strong.retrieve("prix du passeport", country="ML").decision == "answer"


@pytest.mark.parametrize(
    ("question", "aspects"),
    [
        ("combien coute la cnib", ("fees",)),
        ("cmb de temps pour le passeport", ("delay",)),
        ("sɔngɔ ye joli ye", ("fees",)),
        ("quelles pieces a fournir", ("documents",)),
        ("où deposer le dossier", ("documents", "office")),
        ("passeport 45 000 ou 55 000", ()),  # "ou" without its accent is "or"
    ],
)
def test_what_the_question_asks_for_is_recognised(question, aspects):
    assert aspects_of(question) == aspects


def test_an_answer_quotes_the_asked_fields_of_the_sheet_word_for_word(retriever, definitions):
    retrieval = retriever.retrieve("combien coute le passeport au niger", country="NE")
    reply = compose(retrieval, definitions)
    units = units_of(definitions["ne-passeport"])
    assert [p.id for p in reply.parts] == ["ne-passeport#fees", "ne-passeport#office"]
    for part in reply.parts:
        assert part.text == units[part.field].text
        assert part.url.startswith("/demarches/ne-passeport/#")
    assert "50 000" in reply.parts[0].text
    assert reply.cited == ("ne-passeport#fees", "ne-passeport#office")


def test_a_question_about_nothing_in_particular_gets_the_four_main_fields():
    assert fields_for(()) == ("documents", "fees", "delay", "office")
    assert fields_for(("steps",)) == ("documents", "fees", "delay", "steps", "office")
    assert fields_for(("steps", "fees")) == ("fees", "office")


def test_a_refusal_says_where_to_ask_a_person(retriever, definitions, settings):
    settings.ASSISTANT_INFORMATION_LINES = {"ML": "le 8000 (appel gratuit)"}
    reply = compose(retriever.retrieve("recette du riz", country="ML"), definitions)
    assert reply.outcome == "refuse"
    assert reply.parts == () and reply.cited == ()
    assert "8000" in reply.contact
    reply = compose(retriever.retrieve("recette du riz", country="BF"), definitions)
    assert "mairie" in reply.contact
