"""Lexical search over the public catalog of procedures, in pure Python.

Citizens type procedure names the way they text: no accents, typos, SMS spelling,
acronyms, a word of Bambara or Hausa, sometimes English. The index is built from the
normalised definitions (`Definition.data`) and kept in memory, so it behaves the same on
SQLite and PostgreSQL and can be reused by the assistant's retrieval.

Scoring is BM25F: each field keeps its own term frequencies and length, weighted so that a
word of the title counts more than a word of a step. Per-field frequencies are kept after
the build so that a score can be split by field (`SearchIndex.explain`), which is what the
assistant needs to cite the field that answered.

Pipeline of a query (`normalise_query`): fold case and accents, split words (elisions and
punctuation fall away), rewrite SMS and national-language words and add the words behind
acronyms (data in `lexicon.yaml`), drop stopwords, split glued elisions ("didentite"),
stem with the Snowball French stemmer. The index then treats words naming a country as a
boost, and matches words it does not know to its vocabulary by prefix or small edit
distance, at a discount so that an exact word always weighs more than a guess.
"""

from __future__ import annotations

import heapq
import math
import re
import threading
import unicodedata
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import snowballstemmer
import yaml
from rapidfuzz import process
from rapidfuzz.distance import OSA

LEXICON_PATH = Path(__file__).with_name("lexicon.yaml")

# Field weights of BM25F: the words that name a procedure first, the details last.
FIELD_WEIGHTS: dict[str, float] = {
    "title": 5.0,
    "keywords": 4.0,
    "authority": 2.0,
    "summary": 1.5,
    "documents": 1.0,
    "audience": 0.5,
    "steps": 0.5,
    "details": 0.3,
}
K1 = 1.2
B = 0.75

# Matches of unknown words are discounted so that an exact word outranks any guess.
PREFIX_FACTOR = 0.7
TYPO_FACTORS = {1: 0.6, 2: 0.4}
MIN_GUESS_LENGTH = 4  # shorter words are too ambiguous to guess at
MIN_STEM_PREFIX = 6  # "passe" (from "passee") must not reach "passeport"
COUNTRY_BOOST = 2.0

# Elided words that citizens glue to the next one ("didentite", "lacte"), longest first.
_ELISIONS = ("qu", "d", "l", "j", "n", "s", "m", "t", "c")
# Titles say "volet III"; citizens say "volet 3". "i" is not mapped: it is a Bambara word.
_ROMAN_NUMERALS = {"ii": "2", "iii": "3", "iv": "4"}

_WORD = re.compile(r"[a-z0-9]+")
_NUMBER_SIGN = re.compile(r"\bn\s*[°º]\s*(?=\d)")  # "n°3", "N° 3" -> "3"
# Letters of the national languages and ligatures that NFKD leaves whole.
_LETTERS = str.maketrans(
    {"ɛ": "e", "ɔ": "o", "ŋ": "ng", "ɲ": "ny", "ɓ": "b", "ɗ": "d", "ƙ": "k", "ƴ": "y",
     "ʋ": "u", "ɩ": "i", "œ": "oe", "æ": "ae", "ß": "ss"}
)  # fmt: skip


@dataclass(frozen=True)
class Hit:
    procedure_id: str
    score: float


@dataclass(frozen=True)
class Lexicon:
    """The language data of `lexicon.yaml`, folded the same way as the text it applies to."""

    stopwords: frozenset[str]
    rewrites: Mapping[str, tuple[str, ...]]
    expansions: Mapping[str, tuple[str, ...]]
    countries: Mapping[str, str]  # folded word -> country code
    elsewhere: frozenset[str] = frozenset()  # words naming other countries and their people


@dataclass(frozen=True)
class Analysis:
    """What the index understood of a query (`SearchIndex.analyse`)."""

    terms: Mapping[str, float]
    """Each known stem the query stands for, with its factor (1 exact, less for a guess)."""
    unknown: tuple[str, ...]
    """Words of the query the catalog does not know and could not be guessed: neither a
    stopword, a place nor a number. "carte grise moto": ("grise", "moto")."""
    countries: frozenset[str]
    guessed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Words the catalog does not know, read as known stems by prefix or typo ("peche"
    may be "piece"): a guess, not a certainty."""
    groups: tuple[tuple[tuple[str, float], ...], ...] = ()
    """One group of (stem, factor) per distinct query word: what ranking scores."""


# --- Text --------------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lowercase, without accents, with "n°3" as "3"."""
    text = _NUMBER_SIGN.sub(" ", text.lower()).translate(_LETTERS)
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded words of a text; apostrophes, hyphens and punctuation separate words."""
    return [_ROMAN_NUMERALS.get(w, w) for w in _WORD.findall(fold(text))]


_local = threading.local()


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    # A Snowball stemmer keeps state between calls, hence one per thread.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = snowballstemmer.stemmer("french")
    return str(stemmer.stemWord(word))


def _is_noise(word: str, lexicon: Lexicon) -> bool:
    return (len(word) == 1 and not word.isdigit()) or word in lexicon.stopwords


def _split_glued(word: str, vocabulary: Container[str], lexicon: Lexicon) -> str | None:
    """Split "didentite" into "identite", only when the rest is a word the index knows."""
    for prefix in _ELISIONS:
        rest = word[len(prefix) :]
        if (
            word.startswith(prefix)
            and len(rest) >= 3
            and rest[0] in "aeiouyh"  # French elides only before a vowel: "sport" stays whole
            and rest not in lexicon.stopwords
            and stem(rest) in vocabulary
        ):
            return rest
    return None


def _query_words(
    text: str, lexicon: Lexicon, vocabulary: Container[str] | None
) -> list[tuple[str, str]]:
    """(folded word, stem) of each meaningful word of a query, without repeats."""
    expanded: list[str] = []
    for word in words(text):
        if word in lexicon.rewrites:
            expanded.extend(lexicon.rewrites[word])
            continue
        expanded.append(word)
        expanded.extend(lexicon.expansions.get(word, ()))
    out: list[tuple[str, str]] = []
    for word in expanded:
        if _is_noise(word, lexicon):
            continue
        stemmed = stem(word)
        if vocabulary is not None and stemmed not in vocabulary and word not in lexicon.countries:
            rest = _split_glued(word, vocabulary, lexicon)
            if rest is not None:
                word, stemmed = rest, stem(rest)
        if (word, stemmed) not in out:
            out.append((word, stemmed))
    return out


def normalise_query(
    text: str,
    *,
    vocabulary: Container[str] | None = None,
    lexicon: Lexicon | None = None,
) -> list[str]:
    """The stems a query is searched with. Glued elisions are split only given a vocabulary."""
    lexicon = lexicon or load_lexicon()
    stems: list[str] = []
    for _, stemmed in _query_words(text, lexicon, vocabulary):
        if stemmed not in stems:
            stems.append(stemmed)
    return stems


# --- Lexicon -----------------------------------------------------------------------------------


def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    if path == LEXICON_PATH:
        return _default_lexicon()
    return _read_lexicon(path)


@cache
def _default_lexicon() -> Lexicon:
    return _read_lexicon(LEXICON_PATH)


def _read_lexicon(path: Path) -> Lexicon:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of sections")

    def section(name: str) -> dict[str, Any]:
        value = data.get(name) or {}
        if not isinstance(value, dict):
            raise ValueError(f"{path}: section {name!r} must be a mapping")
        return value

    def mapping(*names: str) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for name in names:
            for key, value in section(name).items():
                out[fold(str(key))] = tuple(words(str(value or "")))
        return out

    stopwords = data.get("stopwords") or []
    if not isinstance(stopwords, list):
        raise ValueError(f"{path}: section 'stopwords' must be a list")
    countries: dict[str, str] = {}
    for code, names in section("countries").items():
        for name in names:
            countries[fold(str(name))] = str(code).upper()
    elsewhere = data.get("elsewhere") or []
    if not isinstance(elsewhere, list):
        raise ValueError(f"{path}: section 'elsewhere' must be a list")
    return Lexicon(
        elsewhere=frozenset(fold(str(w)) for w in elsewhere),
        stopwords=frozenset(fold(str(w)) for w in stopwords),
        # National-language words are kept apart in the file for review; both replace a word.
        rewrites=mapping("rewrites", "national"),
        expansions=mapping("expansions"),
        countries=countries,
    )


# --- Index -------------------------------------------------------------------------------------


def all_texts(value: Any) -> list[str]:
    """Every language of a translatable text, or of a list of them."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [v for v in value.values() if isinstance(v, str)]
    if isinstance(value, list):
        return [text for item in value for text in all_texts(item)]
    return []


def _field_texts(data: Mapping[str, Any]) -> dict[str, list[str]]:
    authority = data.get("authority") or {}
    fees = data.get("fees") or {}
    delay = data.get("delay") or {}
    return {
        "title": all_texts(data.get("title")),
        "keywords": all_texts(data.get("keywords")) + [str(data.get("theme") or "")],
        "authority": all_texts(authority.get("name")) + all_texts(authority.get("service")),
        "summary": all_texts(data.get("summary")),
        "documents": all_texts(data.get("documents")),
        "audience": all_texts(data.get("audience")),
        "steps": all_texts(data.get("steps")),
        "details": all_texts(fees.get("details"))
        + all_texts(delay.get("text"))
        + all_texts(data.get("legal_basis"))
        + all_texts(data.get("office")),
    }


class SearchIndex:
    """An in-memory inverted index of procedures; build once, search many times."""

    def __init__(
        self,
        *,
        ids: list[str],
        countries: list[str],
        field_tf: dict[str, dict[int, dict[str, float]]],
        postings: dict[str, dict[int, float]],
        surfaces: dict[str, str],
        lexicon: Lexicon,
    ) -> None:
        self._ids = ids
        self._countries = countries
        self._field_tf = field_tf
        self._postings = postings
        self._surfaces = surfaces  # folded word seen in a procedure -> its stem
        self._sorted_surfaces = sorted(surfaces)
        self._sorted_stems = sorted(postings)
        self._lexicon = lexicon
        self._country_words = sorted(w for w in lexicon.countries if len(w) >= 5)
        self._guesses: dict[str, tuple[tuple[str, float], ...]] = {}

    @classmethod
    def build(
        cls, definitions: Iterable[Mapping[str, Any]], *, lexicon: Lexicon | None = None
    ) -> SearchIndex:
        lexicon = lexicon or load_lexicon()
        ids: list[str] = []
        countries: list[str] = []
        raw_tf: dict[str, dict[int, dict[str, int]]] = defaultdict(dict)
        lengths: dict[str, list[int]] = {name: [] for name in FIELD_WEIGHTS}
        surfaces: dict[str, str] = {}
        for doc, data in enumerate(definitions):
            ids.append(str(data["id"]))
            countries.append(str(data.get("country", "")).upper())
            for name, texts in _field_texts(data).items():
                count = 0
                for text in texts:
                    for word in words(text):
                        if _is_noise(word, lexicon):
                            continue
                        stemmed = surfaces.setdefault(word, stem(word))
                        field_counts = raw_tf[stemmed].setdefault(doc, {})
                        field_counts[name] = field_counts.get(name, 0) + 1
                        count += 1
                lengths[name].append(count)

        n = len(ids)
        average = {name: (sum(ls) / n if n and sum(ls) else 1.0) for name, ls in lengths.items()}
        field_tf: dict[str, dict[int, dict[str, float]]] = {}
        postings: dict[str, dict[int, float]] = {}
        for term, docs in raw_tf.items():
            idf = math.log(1 + (n - len(docs) + 0.5) / (len(docs) + 0.5))
            field_tf[term] = {}
            postings[term] = {}
            for doc, counts in docs.items():
                # BM25F: normalise each field by its own length, weight, then saturate once.
                weighted = {
                    name: FIELD_WEIGHTS[name] * tf
                    / (1 - B + B * lengths[name][doc] / average[name])
                    for name, tf in counts.items()
                }  # fmt: skip
                total = sum(weighted.values())
                field_tf[term][doc] = weighted
                postings[term][doc] = idf * total * (K1 + 1) / (K1 + total)
        return cls(
            ids=ids,
            countries=countries,
            field_tf=field_tf,
            postings=postings,
            surfaces=surfaces,
            lexicon=lexicon,
        )

    @property
    def vocabulary(self) -> frozenset[str]:
        return frozenset(self._postings)

    def normalise(self, text: str) -> list[str]:
        """`normalise_query` with this index's vocabulary and lexicon."""
        return normalise_query(text, vocabulary=self._postings, lexicon=self._lexicon)

    def search(
        self,
        query: str,
        *,
        country: str | None = None,
        limit: int = 20,
        analysis: Analysis | None = None,
    ) -> list[Hit]:
        """Best procedures first. `analysis`: `analyse(query)` when the caller has it."""
        plan = analysis or self.analyse(query)
        scores = self._scores(plan)
        wanted = country.upper() if country else None
        ranked: list[tuple[float, str]] = []
        for doc, score in scores.items():
            doc_country = self._countries[doc]
            if wanted and doc_country != wanted:
                continue
            if not wanted and doc_country in plan.countries:
                score *= COUNTRY_BOOST
            ranked.append((score, self._ids[doc]))
        best = heapq.nsmallest(limit, ranked, key=lambda item: (-item[0], item[1]))
        return [Hit(procedure_id=pid, score=round(score, 6)) for score, pid in best]

    def explain(self, query: str, procedure_id: str) -> dict[str, float]:
        """How much each field of one procedure contributes to its score (before any boost)."""
        doc = self._ids.index(procedure_id)
        by_field: dict[str, float] = defaultdict(float)
        for group in self.analyse(query).groups:
            matches = [(self._postings[s].get(doc, 0.0) * f, s) for s, f in group]
            score, term = max(matches)
            if score <= 0:
                continue
            weighted = self._field_tf[term][doc]
            total = sum(weighted.values())
            for name, value in weighted.items():
                by_field[name] += score * value / total
        return dict(by_field)

    def analyse(self, query: str) -> Analysis:
        terms: dict[str, float] = {}
        unknown: list[str] = []
        countries: set[str] = set()
        guessed: dict[str, tuple[str, ...]] = {}
        groups: list[tuple[tuple[str, float], ...]] = []
        for word, stemmed in _query_words(query, self._lexicon, self._postings):
            if word in self._lexicon.countries:
                countries.add(self._lexicon.countries[word])
                continue
            if stemmed in self._postings:
                group: tuple[tuple[str, float], ...] = ((stemmed, 1.0),)
            else:
                group = self._guess(word, stemmed)
                if group:
                    guessed[word] = tuple(term for term, _ in group)
            for term, factor in group:
                terms[term] = max(terms.get(term, 0.0), factor)
            if group:
                groups.append(group)
            if group or word in self._lexicon.elsewhere or not word.isalpha():
                continue
            if country := self._guess_country(word):
                countries.add(country)
            elif len(word) >= MIN_GUESS_LENGTH:
                unknown.append(word)
        return Analysis(
            terms=terms,
            unknown=tuple(unknown),
            countries=frozenset(countries),
            guessed=guessed,
            groups=tuple(dict.fromkeys(groups)),
        )

    def name_terms(self, text: str) -> list[str]:
        """The stems of a procedure's name (title or keyword), as `analyse` would match them."""
        stems: list[str] = []
        for word in words(text):
            if _is_noise(word, self._lexicon) or word in self._lexicon.countries:
                continue
            stemmed = stem(word)
            if stemmed not in stems:
                stems.append(stemmed)
        return stems

    def document_frequency(self, term: str) -> int:
        return len(self._postings.get(term, ()))

    @property
    def size(self) -> int:
        return len(self._ids)

    # --- internals ---

    def _scores(self, plan: Analysis) -> dict[int, float]:
        scores: dict[int, float] = defaultdict(float)
        for group in plan.groups:
            # A query word scores once per procedure, by its best reading: a typo that
            # resembles three words must not count three times.
            best: dict[int, float] = {}
            for term, factor in group:
                for doc, value in self._postings[term].items():
                    value *= factor
                    if value > best.get(doc, 0.0):
                        best[doc] = value
            for doc, value in best.items():
                scores[doc] += value
        return scores

    def _guess(self, word: str, stemmed: str) -> tuple[tuple[str, float], ...]:
        """Known stems an unknown word may stand for, each with its discount."""
        if len(word) < MIN_GUESS_LENGTH or not word.isalpha():
            return ()
        if word in self._guesses:
            return self._guesses[word]
        found: dict[str, float] = {}

        def add(term: str, factor: float) -> None:
            found[term] = max(found.get(term, 0.0), factor)

        for surface in _with_prefix(self._sorted_surfaces, word):
            add(self._surfaces[surface], PREFIX_FACTOR)
        if len(stemmed) >= MIN_STEM_PREFIX:
            # "judicier" is far from "judiciaire" but its stem is a prefix of the other's.
            for term in _with_prefix(self._sorted_stems, stemmed):
                add(term, PREFIX_FACTOR)
        # One edit in a word of four letters already lands on another word ("soir", "soit").
        max_distance = 0 if len(word) <= 4 else 1 if len(word) < 8 else 2
        for surface, distance, _ in process.extract(
            word,
            self._sorted_surfaces,
            scorer=OSA.distance,
            score_cutoff=max_distance,
            limit=None,
        ):
            add(self._surfaces[surface], TYPO_FACTORS[int(distance)] if distance else 1.0)
        guesses = tuple(sorted(found.items()))
        if len(self._guesses) > 10_000:  # bounded: queries are open-ended
            self._guesses.clear()
        self._guesses[word] = guesses
        return guesses

    def _guess_country(self, word: str) -> str | None:
        if len(word) < 5 or not word.isalpha():
            return None
        match = process.extractOne(word, self._country_words, scorer=OSA.distance, score_cutoff=1)
        return self._lexicon.countries[match[0]] if match else None


def _with_prefix(sorted_words: list[str], prefix: str) -> Iterable[str]:
    start = bisect_left(sorted_words, prefix)
    for candidate in sorted_words[start:]:
        if not candidate.startswith(prefix):
            break
        if candidate != prefix:
            yield candidate
