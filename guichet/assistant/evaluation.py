"""Evaluation of the assistant on a question set, component by component.

Lines of the set: `{"q": question, "expected": procedure id or null, "country": "ML" or
null}` (null expected: the assistant must refuse). Nothing is logged while evaluating.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guichet.assistant import services
from guichet.assistant.units import units_of


@dataclass(frozen=True)
class Question:
    q: str
    expected: str | None
    country: str | None


@dataclass
class Report:
    answerable: int = 0
    top1: int = 0
    top3: int = 0
    wrongly_refused: int = 0
    out_of_scope: int = 0
    refused: int = 0
    citations: int = 0
    valid_citations: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    @staticmethod
    def _share(part: int, whole: int) -> float:
        return part / whole if whole else 1.0

    @property
    def top1_rate(self) -> float:
        return self._share(self.top1, self.answerable)

    @property
    def top3_rate(self) -> float:
        return self._share(self.top3, self.answerable)

    @property
    def refusal_rate(self) -> float:
        return self._share(self.refused, self.out_of_scope)

    @property
    def wrong_refusal_rate(self) -> float:
        return self._share(self.wrongly_refused, self.answerable)

    @property
    def citation_validity(self) -> float:
        return self._share(self.valid_citations, self.citations)

    def latency(self, quantile: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        if quantile == 0.5:
            return statistics.median(ordered)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]

    def as_dict(self) -> dict[str, Any]:
        return {
            "answerable": self.answerable,
            "out_of_scope": self.out_of_scope,
            "top1": round(self.top1_rate, 4),
            "top3": round(self.top3_rate, 4),
            "out_of_scope_refused": round(self.refusal_rate, 4),
            "answerable_refused": round(self.wrong_refusal_rate, 4),
            "citation_validity": round(self.citation_validity, 4),
            "citations": self.citations,
            "latency_p50_ms": round(self.latency(0.5), 2),
            "latency_p95_ms": round(self.latency(0.95), 2),
        }


def read_questions(path: Path) -> list[Question]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(Question(q=str(row["q"]), expected=row.get("expected"),
                                      country=row.get("country")))  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}, ligne {number} : {exc}") from exc
    return questions


def evaluate(questions: Iterable[Question], *, rounds: int = 1) -> Report:
    """Ask every question (`rounds` times for latency; the first round decides)."""
    report = Report()
    services.warm_up()
    for question in questions:
        timings = []
        asked = None
        for _ in range(max(rounds, 1)):
            asked = services.ask(question.q, country=question.country, log=False)
            timings.append(asked.latency_ms)
        assert asked is not None
        report.latencies_ms.append(statistics.median(timings))
        _score(report, question, asked)
    return report


def _score(report: Report, question: Question, asked: services.Asked) -> None:
    reply = asked.reply
    shown = _ranking(asked)
    if question.expected is None:
        report.out_of_scope += 1
        if reply.outcome == "refuse":
            report.refused += 1
        else:
            report.misses.append(f"non refusée ({reply.outcome} {shown[:1]}) : {question.q}")
    else:
        report.answerable += 1
        report.top1 += shown[:1] == [question.expected]
        report.top3 += question.expected in shown[:3]
        if reply.outcome == "refuse":
            report.wrongly_refused += 1
        if shown[:1] != [question.expected]:
            report.misses.append(f"attendu {question.expected}, {shown[:3]} : {question.q}")
    for unit in reply.cited:
        report.citations += 1
        report.valid_citations += citation_is_valid(unit, asked)


def _ranking(asked: services.Asked) -> list[str]:
    """What the citizen is shown, in order: the answered procedure and the others ranked
    after it, or the suggestions; nothing for a refusal."""
    reply = asked.reply
    if reply.outcome == "answer":
        return [c.procedure_id for c in asked.retrieval.candidates]
    return [link.id for link in reply.suggestions]


def citation_is_valid(unit_id: str, asked: services.Asked) -> bool:
    """A cited unit exists in the catalog, belongs to a retrieved procedure, and every
    quoted part is the unit's text word for word."""
    procedure_id, _, field_name = unit_id.partition("#")
    retrieved = {c.procedure_id for c in asked.retrieval.candidates}
    if procedure_id not in retrieved:
        return False
    definition = services.definition(procedure_id)
    if definition is None:
        return False
    units = units_of(definition)
    if field_name not in units:
        return False
    return all(part.text == units[part.field].text
               for part in asked.reply.parts if part.id == unit_id)  # fmt: skip


def check_thresholds(report: Report, minimums: Sequence[tuple[str, float, float]]) -> list[str]:
    """The failures among (name, measured, minimum) — or maximum when the name says so."""
    failures = []
    for name, measured, limit in minimums:
        too_high = name.endswith("_max")
        if (measured > limit) if too_high else (measured < limit):
            failures.append(f"{name} : {measured:.4g} (seuil {limit:g})")
    return failures
