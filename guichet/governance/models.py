"""The audit log. Entries are appended, never edited; the governance issue chains them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    action = models.CharField(max_length=80)
    """Dotted, past tense, listed in `governance.audit.ACTIONS` (e.g. `procedure.imported`)."""
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    actor_label = models.CharField(max_length=150)
    """Who acted, kept even if the account goes: a username, or `system:<command>`."""
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=80)
    data: models.JSONField[dict[str, Any]] = models.JSONField(default=dict)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_id}"
