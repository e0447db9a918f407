"""Find the procedure a question is about, and decide in code whether to answer.

Ranking is the catalog's BM25F index (`guichet.catalog.search`), the same on SQLite and
PostgreSQL, optionally fused with a dense ranking (`dense.py`, an install extra) by
reciprocal rank fusion. The decision is never left to a model or a prompt; three gates,
calibrated on the development questions (see docs/assistant.md):

1. **Score floor**: the best lexical score must reach `SCORE_FLOOR`.
2. **The question names the procedure**: the share of one of its names (title, or one of
   the aliases citizens use) found in the question, each word weighted by its rarity
   among names. "carte grise" names "carte d'identité" only in part (its common word).
   Full enough (`ANSWER_COVERAGE`) → answer; in part (`SUGGEST_COVERAGE`) → "Vouliez-vous
   dire…" with up to three procedures; less → "I don't know".
3. **Nothing unexplained**: when a question names a procedure only in part *and* uses
   words the catalog does not know ("carte grise moto mutation"), it is most likely about
   something the catalog lacks: no suggestion, an honest refusal.

A dense similarity alone never passes: a candidate without lexical support is dropped,
and when the dense model is on, an answer it does not corroborate becomes a suggestion.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from guichet.catalog.search import Analysis, SearchIndex, all_texts, load_lexicon, words
from guichet.catalog.texts import pick

SCORE_FLOOR = 2.0
ANSWER_COVERAGE = 0.75
SUGGEST_COVERAGE = 0.3
MAX_SUGGESTIONS = 3
CANDIDATES = 10
RRF_K = 20
# When the dense model is on: a similarity below this for the answered procedure turns the
# answer into a suggestion (corroboration). See docs/assistant.md for the calibration.
DENSE_FLOOR = 0.80

Decision = Literal["answer", "suggest", "refuse", "greeting"]

# Words that say what the citizen wants to know about a procedure (folded, after the
# lexicon's rewrites, so "cmb" and the Bambara "joli" count as "combien").
ASPECT_WORDS: dict[str, tuple[str, ...]] = {
    "fees": ("combien", "cout", "coute", "coutent", "couter", "prix", "tarif", "tarifs",
             "montant", "frais", "payer", "paie", "paye", "payant", "payante", "gratuit",
             "gratuite", "argent", "fcfa", "cfa", "timbre", "timbres", "cher", "somme"),
    "delay": ("delai", "delais", "temps", "duree", "jours", "jour", "semaines", "semaine",
              "mois", "heures", "attendre", "long", "longtemps", "rapide", "vite", "quand"),
    "documents": ("pieces", "piece", "papiers", "papier", "documents", "document",
                  "dossier", "fournir", "amener", "apporter", "constituer", "quoi"),
    "office": ("ou", "adresse", "adresser", "bureau", "guichet", "aller", "lieu", "deposer",
               "depot", "service"),
    "audience": ("qui", "conditions", "condition", "age", "droit", "eligible", "ans"),
    "steps": ("etapes", "etape", "procedure", "comment", "demarche", "inscrire",
              "inscription", "ligne"),
}  # fmt: skip
# "combien de temps" asks for a delay, not a price.
_DELAY_PHRASES = ("combien de temps", "combien de jours", "combien de jour", "en combien")
GREETINGS = frozenset(
    {"bonjour", "bonsoir", "salut", "slt", "bjr", "bsr", "merci", "hello", "allo", "coucou",
     "ce", "ni", "teri", "yibeogo", "sannu", "kwana", "fofo", "ok", "svp"}
)  # fmt: skip


class DenseRanker(Protocol):
    model_version: str

    def search(self, query: str, limit: int = 20) -> list[tuple[str, float]]: ...


@dataclass(frozen=True)
class Candidate:
    procedure_id: str
    score: float
    """BM25F score (0 when only the dense side found it; such a candidate never passes)."""
    coverage: float
    """Best share of one of the procedure's names found in the question (0–1)."""
    dense: float | None = None

    def as_log(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": self.procedure_id, "score": round(self.score, 3)}
        entry["coverage"] = round(self.coverage, 3)
        if self.dense is not None:
            entry["dense"] = round(self.dense, 4)
        return entry


@dataclass(frozen=True)
class Retrieval:
    decision: Decision
    candidates: tuple[Candidate, ...]
    """Ranked, best first; for "answer" the first is the procedure answered about."""
    aspects: tuple[str, ...]
    reason: str
    """Why this decision, for the log and the evaluation ("coverage 0.36 < 0.75", …)."""
    unknown: tuple[str, ...] = ()
    country: str | None = None
    suggestions: tuple[Candidate, ...] = field(default=())


def aspects_of(question: str) -> tuple[str, ...]:
    """What the question asks about a procedure, in the order of `ASPECT_WORDS`."""
    lexicon = load_lexicon()
    expanded: list[str] = []
    for word in words(question):
        expanded.extend(lexicon.rewrites.get(word, (word,)))
    found = [name for name, keys in ASPECT_WORDS.items() if any(w in keys for w in expanded)]
    phrase = " ".join(expanded)
    if any(p in phrase for p in _DELAY_PHRASES):
        found.append("delay")
        if not any(w in ASPECT_WORDS["fees"] and w != "combien" for w in expanded):
            found = [a for a in found if a != "fees"]
    # "où" is folded to "ou" ("or"): only its accented spelling or a verb of place count.
    if (
        "office" in found
        and "où" not in question.lower()
        and not any(w in ASPECT_WORDS["office"] for w in expanded if w != "ou")
    ):
        found.remove("office")
    return tuple(name for name in ASPECT_WORDS if name in found)


def _is_greeting(question: str) -> bool:
    ws = words(question)
    return bool(ws) and all(w in GREETINGS or len(w) <= 2 for w in ws)


class Retriever:
    """Ranking and gates over one state of the catalog. Build once per catalog change."""

    def __init__(
        self,
        index: SearchIndex,
        definitions: Iterable[Mapping[str, Any]],
        *,
        dense: DenseRanker | None = None,
    ) -> None:
        self.index = index
        self.dense = dense
        self.definitions = {str(d["id"]): d for d in definitions}
        self._names: dict[str, list[list[str]]] = {}
        name_df: dict[str, int] = {}
        for pid, definition in self.definitions.items():
            names = []
            for text in all_texts(definition.get("title")) + all_texts(definition.get("keywords")):
                stems = index.name_terms(text)
                if stems:
                    names.append(stems)
            self._names[pid] = names
            for term in {t for name in names for t in name}:
                name_df[term] = name_df.get(term, 0) + 1
        n = max(len(self.definitions), 1)
        # Rarity of a word among the names of procedures: "carte" is common, "grise" is not.
        self._weight = {
            term: math.log(1 + (n - df + 0.5) / (df + 0.5)) for term, df in name_df.items()
        }

    def coverage(self, analysis: Analysis, procedure_id: str) -> float:
        """A misspelt word names as well as a correct one: any reading of it counts."""
        best = 0.0
        for name in self._names.get(procedure_id, []):
            total = sum(self._weight[t] for t in name)
            found = sum(self._weight[t] for t in name if t in analysis.terms)
            if total and found / total > best:
                best = found / total
        return best

    def named(self, analysis: Analysis, procedure_id: str) -> int:
        """How many words of the question are words of the procedure's names."""
        names = {t for name in self._names.get(procedure_id, []) for t in name}
        return len(names & set(analysis.terms))

    def unexplained(self, analysis: Analysis, procedure_id: str) -> list[str]:
        """Words of the question the catalog does not know, and those it only guessed at
        when the guess is not a word of this procedure's names ("peche" read as "piece"
        does not explain "permis de peche" as a "permis de conduire")."""
        names = {t for name in self._names.get(procedure_id, []) for t in name}
        guessed = [w for w, terms in analysis.guessed.items() if not names.intersection(terms)]
        return [*analysis.unknown, *guessed]

    def retrieve(self, question: str, *, country: str | None = None) -> Retrieval:
        aspects = aspects_of(question)
        analysis = self.index.analyse(question)
        hits = self.index.search(question, country=country, limit=CANDIDATES, analysis=analysis)
        dense_scores = self._dense(question, country) if self.dense is not None and hits else {}
        lexical = tuple(
            Candidate(
                procedure_id=hit.procedure_id,
                score=hit.score,
                coverage=self.coverage(analysis, hit.procedure_id),
                dense=dense_scores.get(hit.procedure_id) if self.dense is not None else None,
            )
            for hit in hits
        )
        # The dense ranking only reorders what the words found: a procedure it alone
        # found is never a candidate. The gates below read the lexical best.
        candidates = lexical
        if dense_scores:
            fused = _fuse(
                [c.procedure_id for c in lexical],
                sorted(dense_scores, key=lambda p: -dense_scores[p]),
            )
            by_id = {c.procedure_id: c for c in lexical}
            candidates = tuple(by_id[pid] for pid in fused if pid in by_id)

        def result(decision: Decision, reason: str, **extra: Any) -> Retrieval:
            return Retrieval(
                decision=decision,
                candidates=candidates,
                aspects=aspects,
                reason=reason,
                unknown=analysis.unknown,
                country=country,
                **extra,
            )

        if not candidates:
            if not analysis.terms and not analysis.unknown and _is_greeting(question):
                return result("greeting", "greeting")
            return result("refuse", "no lexical match")
        top = lexical[0]
        if top.score < SCORE_FLOOR:
            return result("refuse", f"score {top.score:.2f} < {SCORE_FLOOR}")
        suggestions = tuple(
            c for c in candidates if c.score >= SCORE_FLOOR and c.coverage >= SUGGEST_COVERAGE
        )[:MAX_SUGGESTIONS]
        named = self.named(analysis, top.procedure_id)
        unexplained = self.unexplained(analysis, top.procedure_id)
        if top.coverage >= ANSWER_COVERAGE:
            if len(unexplained) > named:
                reason = f"more unknown words ({' '.join(unexplained)}) than named ({named})"
                return result("suggest", reason, suggestions=suggestions)
            # Among the procedures the question names in full, the fused ranking chooses.
            chosen = next(
                c for c in candidates if c.score >= SCORE_FLOOR and c.coverage >= ANSWER_COVERAGE
            )
            if chosen.dense is not None and chosen.dense < DENSE_FLOOR:
                reason = f"dense {chosen.dense:.3f} < {DENSE_FLOOR} does not corroborate"
                return result("suggest", reason, suggestions=suggestions)
            ranked = (chosen, *(c for c in candidates if c is not chosen))
            return replace(result("answer", f"coverage {chosen.coverage:.2f}"), candidates=ranked)
        if unexplained and len(unexplained) >= named:
            unknown = " ".join(unexplained)
            return result("refuse", f"coverage {top.coverage:.2f} and unknown words: {unknown}")
        if top.coverage >= SUGGEST_COVERAGE:
            return result("suggest", f"coverage {top.coverage:.2f}", suggestions=suggestions)
        # The best match by content is not even named in part ("acte de mariage" reaches
        # naturalisation through its list of documents): the subject is not in the catalog.
        return result("refuse", f"coverage {top.coverage:.2f} < {SUGGEST_COVERAGE}")

    def _dense(self, question: str, country: str | None) -> dict[str, float]:
        """Best dense similarity per procedure (over its units), within the country."""
        assert self.dense is not None
        best: dict[str, float] = {}
        for unit, similarity in self.dense.search(question, limit=60):
            pid = unit.split("#", 1)[0]
            definition = self.definitions.get(pid)
            if definition is None or (country and definition.get("country") != country):
                continue
            best[pid] = max(best.get(pid, -1.0), similarity)
        return best


def _fuse(*rankings: Sequence[str]) -> list[str]:
    """Reciprocal rank fusion, ties broken by the first ranking (the lexical one)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, pid in enumerate(ranking):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (RRF_K + rank + 1)
    first = {pid: rank for rank, pid in enumerate(rankings[0])}
    return sorted(scores, key=lambda p: (-scores[p], first.get(p, len(first)), p))


def title_of(definition: Mapping[str, Any], language: str | None = None) -> str:
    return pick(definition.get("title"), language)
