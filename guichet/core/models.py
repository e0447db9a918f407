"""The tables behind the shared pieces of `core` (only rate limits for now)."""

from __future__ import annotations

from django.db import models


class RateLimitWindow(models.Model):
    """How many times one key was counted in its current window (see `core/ratelimit.py`).

    One row per bucket, reused when its window closes, so the table grows with the number
    of distinct keys, not with traffic; `ratelimit.purge_expired` drops the closed rows.
    """

    bucket = models.CharField(max_length=150, unique=True)
    """`<scope>:<keyed hash of the key>`: no phone number or address is stored in clear."""
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField(db_index=True)
    hits = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.bucket} {self.hits} until {self.ends_at:%Y-%m-%d %H:%M:%S}"
