"""Asking the assistant: retrieve, decide, compose, optionally phrase, and log.

`ask` is the one entry point of every channel (web page, JSON, SMS). It reads the catalog
and writes one `Exchange` row; it never touches a dossier.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from django.conf import settings

from guichet.accounts.models import User
from guichet.assistant import dense, llm
from guichet.assistant.answers import Reply, compose
from guichet.assistant.models import Exchange
from guichet.assistant.retrieval import Retrieval, Retriever
from guichet.assistant.units import units_of
from guichet.catalog import queries
from guichet.catalog.search import SearchIndex
from guichet.catalog.texts import pick

logger = logging.getLogger(__name__)

VERSION = "1"
"""Bumped when retrieval, gates or composition change, so logged answers can be compared."""
MAX_QUESTION_LENGTH = 500


@dataclass(frozen=True)
class Asked:
    reply: Reply
    retrieval: Retrieval
    exchange: Exchange | None
    latency_ms: float


@dataclass(frozen=True)
class _Model:
    index: SearchIndex
    retriever: Retriever
    definitions: Mapping[str, Mapping[str, Any]]
    vocabulary: tuple[str, ...]
    """Every document name of the catalog, for the checks of a phrased answer."""
    dense_version: str


_lock = threading.Lock()
_model: _Model | None = None
_builder: threading.Thread | None = None


def _current() -> _Model:
    """The retriever of the current catalog, rebuilt when the catalog's index is. The dense
    ranking, when on, is built in the background: until it is ready (embedding the catalog
    takes seconds the first time), questions are answered with the lexical ranking alone."""
    global _model
    index = queries.search_index()
    with _lock:
        if _model is None or _model.index is not index:
            definitions = [p.definition for p in queries.published_procedures()]
            _model = _Model(
                index=index,
                retriever=Retriever(index, definitions),
                definitions={str(d["id"]): d for d in definitions},
                vocabulary=tuple(
                    sorted({pick(doc) for d in definitions for doc in d.get("documents") or []})
                ),
                dense_version="",
            )
            if dense.available():
                _build_dense(index, definitions)
        return _model


def _build_dense(index: SearchIndex, definitions: list[dict[str, Any]]) -> None:
    global _builder

    def build() -> None:
        global _model
        ranker = _dense_index(definitions)
        if ranker is None:
            return
        with _lock:
            if _model is not None and _model.index is index:  # the catalog has not moved
                _model = replace(
                    _model,
                    retriever=Retriever(index, definitions, dense=ranker),
                    dense_version=ranker.model_version,
                )

    _builder = threading.Thread(target=build, name="assistant-dense", daemon=True)
    _builder.start()


def warm_up() -> None:
    """Build the retriever now and wait for the dense ranking when it is on (evaluation,
    benchmarks and tests measure the assistant as it runs once warm)."""
    _current()
    builder = _builder
    if builder is not None:
        builder.join()


def _dense_index(definitions: list[dict[str, Any]]) -> dense.DenseIndex | None:
    if not dense.available():
        return None
    passages = [
        (unit.id, f"{pick(d.get('title'))} — {unit.label} : {unit.text}")
        for d in definitions
        for unit in units_of(d, "fr").values()
    ]
    try:
        return dense.DenseIndex.build(passages, cache_dir=settings.DATA_DIR / "cache")
    except Exception:  # the extra is optional: the assistant works fully without it
        logger.exception("assistant: dense index unavailable, lexical ranking only")
        return None


def reset() -> None:
    """Forget the built retriever (tests that change settings such as ASSISTANT_DENSE)."""
    global _model, _builder
    if _builder is not None:
        _builder.join()
    with _lock:
        _model, _builder = None, None


def ask(
    question: str,
    *,
    country: str | None = None,
    language: str = "fr",
    channel: str = "web",
    user: User | None = None,
    log: bool = True,
) -> Asked:
    started = time.perf_counter()
    question = " ".join(question.split())[:MAX_QUESTION_LENGTH]
    model = _current()
    retrieval = model.retriever.retrieve(question, country=country or None)
    reply = compose(retrieval, model.definitions, language=language)
    if reply.outcome == "answer" and llm.configured():
        reply = _phrase(question, reply, model, language)
    latency_ms = (time.perf_counter() - started) * 1000
    exchange = None
    if log:
        exchange = Exchange.objects.create(
            channel=channel,
            user=user,
            language=language,
            country=country or "",
            question=question,
            outcome=reply.outcome,
            procedure_id=_first_procedure(reply),
            retrieved=[c.as_log() for c in retrieval.candidates[:5]],
            cited=list(reply.cited),
            answer=reply.as_text(),
            backend=reply.backend + (f" + {model.dense_version}" if model.dense_version else ""),
            version=VERSION,
            latency_ms=round(latency_ms),
        )
    return Asked(reply=reply, retrieval=retrieval, exchange=exchange, latency_ms=latency_ms)


def _first_procedure(reply: Reply) -> str:
    if reply.procedure:
        return reply.procedure.id
    return reply.suggestions[0].id if reply.suggestions else ""


def _phrase(question: str, reply: Reply, model: _Model, language: str) -> Reply:
    """The model's wording when every check passes, else the extractive reply as it is."""
    assert reply.procedure is not None
    units = units_of(model.definitions[reply.procedure.id], language)
    shown = {part.id for part in reply.parts}
    # The quoted fields first, then the rest of the sheet: the model may use any of them.
    ordered = sorted(units.values(), key=lambda u: u.id not in shown)
    sources = [llm.Source(id=u.id, label=u.label, text=u.text) for u in ordered]
    result = llm.phrase(question, sources, language=language, vocabulary=model.vocabulary)
    if isinstance(result, llm.Rejected):
        logger.info("assistant: phrasing rejected (%s), extractive answer kept", result.reason)
        return replace(reply, backend=f"extractive; llm rejected: {result.reason}"[:120])
    return replace(
        reply,
        phrased=result.text,
        backend=f"llm:{result.model}",
        cited=tuple(dict.fromkeys((*result.used, *reply.cited))),
    )


def record_feedback(exchange: Exchange, *, helpful: bool) -> None:
    """The citizen's thumbs up or down; the last one given counts."""
    Exchange.objects.filter(pk=exchange.pk).update(helpful=helpful)


def retention() -> timedelta:
    return timedelta(days=int(getattr(settings, "ASSISTANT_LOG_RETENTION_DAYS", 180)))


def definition(procedure_id: str) -> Mapping[str, Any] | None:
    """The current definition of a published procedure, as the assistant sees it."""
    return _current().definitions.get(procedure_id)
