"""Assistant rows for other apps' tests (export, retention)."""

from __future__ import annotations

from typing import Any

from guichet.assistant.models import Exchange


def exchange(question: str, **fields: Any) -> Exchange:
    """A logged question, answered extractively unless `fields` say otherwise."""
    values: dict[str, Any] = {
        "channel": "web",
        "language": "fr",
        "outcome": "answer",
        "answer": "…",
        "backend": "extractive",
        "version": "test",
        "latency_ms": 3,
    }
    return Exchange.objects.create(question=question, **{**values, **fields})
