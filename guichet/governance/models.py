"""The audit log: a hash chain of entries, appended and never edited (governance/chain.py).

Each entry holds its place in the chain (`seq`, gapless), the hash of the entry before it
and the hash of its own canonical content with that previous hash. The one `AuditHead` row
is the chain's end: appending locks it, so two transactions never take the same place. On
PostgreSQL a trigger refuses UPDATE and DELETE on the entries (migration 0004); signed
checkpoints of the head go to a file outside the database (governance/checkpoints.py).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    seq = models.BigIntegerField(unique=True)
    """Place in the chain: 1, 2, 3… with no gap; assigned under the head's lock."""
    action = models.CharField(max_length=80)
    """Dotted, past tense, listed in `governance.audit.ACTIONS` (e.g. `procedure.imported`)."""
    # No database constraint and nothing done when the account goes: the entry is never
    # updated (SET_NULL would be an UPDATE, refused by the trigger and breaking the hash).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
    )
    actor_label = models.CharField(max_length=150)
    """Who acted, kept even if the account goes: a username, or `system:<command>`."""
    on_behalf_of = models.CharField(max_length=150, blank=True, default="")
    """For whom, when someone acts for another person (an intermediary for a citizen)."""
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=80)
    data: models.JSONField[dict[str, Any]] = models.JSONField(default=dict)
    at = models.DateTimeField(default=timezone.now)
    ip = models.CharField(max_length=45, blank=True, default="")
    """The client's address as the rate limiter sees it (`core.ratelimit.client_ip`)."""
    purpose = models.TextField(blank=True, default="")
    """Why, when staff open a dossier outside their own queue."""
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"#{self.seq} {self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"


class AuditHead(models.Model):
    """The last entry of the chain (one row, id 1): its place and its hash."""

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"#{self.seq} {self.hash[:12]}"
