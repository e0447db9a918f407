"""The sealed answers of all dossiers: which keys they use, and re-sealing them.

Sealing itself happens on every save (`SealedAnswersField`, core/sealing.py). This module
serves key rotation: `key_usage` counts sealed values per key, reading rows as stored;
`reseal` saves again every dossier holding a value sealed with an older key, or a value
its procedure's current version marks sensitive that is still in clear, so that the
older key can then be retired. Both walk the table in primary-key batches: memory stays
flat at a million dossiers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.db import transaction

from guichet.catalog.models import Procedure
from guichet.core import sealing
from guichet.dossiers.models import Dossier
from guichet.formdefs.definition import sensitive_paths
from guichet.governance import audit

BATCH = 500


def _rows(batch: int = BATCH) -> Iterator[list[tuple[int, str, dict[str, Any], str]]]:
    """(pk, reference, answers as stored, procedure id), by batches, without opening."""
    last = 0
    while True:
        rows = list(
            Dossier.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "reference", "answers", "procedure_id")[:batch]
        )
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def key_usage() -> Counter[str]:
    """How many answers each key has sealed."""
    used: Counter[str] = Counter()
    for rows in _rows():
        for _pk, _ref, answers, _procedure in rows:
            used.update(sealing.key_of(c[k]) for _p, c, k in sealing.sealed_paths(answers))
    return used


def _current_paths() -> dict[str, tuple[str, ...]]:
    return {
        p.pk: sensitive_paths(p.current_version.definition)
        for p in Procedure.objects.select_related("current_version")
        if p.current_version is not None
    }


def _stale(answers: dict[str, Any], marked: tuple[str, ...], current: str) -> bool:
    sealed = list(sealing.sealed_paths(answers))
    if any(sealing.key_of(c[k]) != current for _p, c, k in sealed):
        return True
    done = {p for p, _c, _k in sealed}
    return any(p not in done for p, _c, _k in sealing.places(answers, marked))


def reseal(*, actor: str, dry_run: bool = False, batch: int = BATCH) -> int:
    """Seal again, with the current key, every dossier that needs it; the count."""
    current = sealing.ring().current
    marked_now = _current_paths()
    count = 0
    for rows in _rows(batch):
        stale = [
            pk
            for pk, _ref, answers, procedure in rows
            if _stale(answers, marked_now.get(procedure, ()), current)
        ]
        count += len(stale)
        if dry_run or not stale:
            continue
        with transaction.atomic():
            for dossier in Dossier.objects.select_related("version").filter(pk__in=stale):
                extra = marked_now.get(dossier.procedure_id, ())
                dossier._sealed = tuple(dict.fromkeys(dossier._sealed + extra))
                dossier.save(update_fields=["answers"])
    if count and not dry_run:
        with transaction.atomic():
            audit.record(
                "field_keys.resealed",
                obj=None,
                actor=actor,
                data={"dossiers": count, "key": current},
            )
    return count
