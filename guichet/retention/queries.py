"""Reading what retention left: audit entries as they may be shown, and the documents of
purged dossiers (for verifiers)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from guichet.governance.models import AuditEntry
from guichet.retention.models import AuditRedaction, PurgedDocument

REDACTED = "[effacé]"


@dataclass(frozen=True)
class ShownEntry:
    """An audit entry as any page, export or report shows it: redacted fields replaced."""

    id: int
    at: datetime
    action: str
    actor_label: str
    on_behalf_of: str
    object_type: str
    object_id: str
    data: dict[str, Any]
    ip: str
    purpose: str
    redacted: tuple[str, ...]
    """The fields shown as "[effacé]" (`actor`, `ip`, `data.phone`…)."""


SEARCH_TERMS = {"queue.viewed": "data.q", "export.requested": "data.filters.q"}
"""Where an entry keeps what staff typed in a queue's search box (often a name)."""


def redacted_fields(entry_ids: Iterable[int]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    rows = AuditRedaction.objects.filter(entry_id__in=list(entry_ids))
    for entry_id, fields in rows.values_list("entry_id", "fields"):
        found.setdefault(entry_id, set()).update(fields)
    return found


def aged_fields(entry: AuditEntry, now: datetime) -> set[str]:
    """What the log's own keeping period hides: the client's address and search terms
    after AUDIT_DETAILS_RETENTION_DAYS. Decided at display, so nothing is stored for it."""
    if entry.at > now - timedelta(days=settings.AUDIT_DETAILS_RETENTION_DAYS):
        return set()
    return {"ip", SEARCH_TERMS.get(entry.action, "data.q")}


def shown_entries(
    entries: Iterable[AuditEntry], *, now: datetime | None = None
) -> list[ShownEntry]:
    """The entries with what retention redacted replaced by "[effacé]". The stored rows are
    never changed (they are chained); every display and export goes through here."""
    now = now or timezone.now()
    entries = list(entries)
    redactions = redacted_fields(e.pk for e in entries)
    return [_shown(e, redactions.get(e.pk, set()) | aged_fields(e, now)) for e in entries]


def _shown(entry: AuditEntry, fields: set[str]) -> ShownEntry:
    data = copy.deepcopy(entry.data)
    hidden = set()
    for name in fields:
        path = name.split(".")
        node: Any = data if path[0] == "data" else None
        for key in path[1:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and path[-1] in node:
            node[path[-1]] = REDACTED
            hidden.add(name)

    def plain(name: str) -> str:
        value = str(getattr(entry, name, "") or "")
        if value and name in fields:
            hidden.add(name)
            return REDACTED
        return value

    actor = plain("actor_label") if "actor" not in fields else REDACTED
    if "actor" in fields:
        hidden.add("actor")
    return ShownEntry(
        id=entry.pk,
        at=entry.at,
        action=entry.action,
        actor_label=actor,
        on_behalf_of=plain("on_behalf_of"),
        object_type=entry.object_type,
        object_id=entry.object_id,
        data=data,
        ip=plain("ip"),
        purpose=plain("purpose"),
        redacted=tuple(sorted(hidden)),
    )


def purged_cancellations() -> dict[str, str]:
    """Number → day cancelled (ISO), for the documents cancelled before their dossier was
    purged. The key set (`documents.services.published_keyset`) must go on listing them:
    without their row, a cancelled paper would otherwise verify as authentic again."""
    rows = PurgedDocument.objects.filter(cancelled_on__isnull=False).order_by("number")
    return {number: f"{day:%Y-%m-%d}" for number, day in rows.values_list("number", "cancelled_on")}


def purged_document(number: str) -> PurgedDocument | None:
    """What is known of a document whose dossier was purged, or None. Its signature still
    proves who issued it; the administration no longer holds it and can no longer cancel
    it: what a verifier page should add to an authentic verdict."""
    digest = hashlib.sha256(number.encode()).hexdigest()
    return PurgedDocument.objects.filter(number_hash=digest).first()
