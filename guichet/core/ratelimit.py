"""Rate limits shared by every process and every server, kept in the database.

A `Limit` allows `limit` events per `period` for one key (a phone number, an address…).
Each key has a fixed window that opens at its first event and closes `period` later. The
count is one row incremented by `UPDATE … SET hits = hits + 1`: the database serialises
concurrent increments (a row lock on PostgreSQL, the write lock on SQLite), so processes
and servers never lose a count and need no cache server. Keys are stored as keyed hashes
(HMAC with a key derived from SECRET_KEY): the table holds no number or address in clear.

A fixed window may let through up to twice the limit around the moment it reopens
(`limit` events just before it closes, `limit` just after). These limits are ceilings on
abuse, not quotas; pair a short window with a daily one where that matters (ADR 0006).

Usage: `check` before an attempt whose failures are counted, `hit` after a failure;
`consume` for events counted whether or not they succeed (sending an SMS).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from guichet.core.models import RateLimitWindow

_MAX_SCOPE_LENGTH = 100


@dataclass(frozen=True)
class Limit:
    """At most `limit` events per `period` for each key. One scope, one rate."""

    scope: str
    limit: int
    period: timedelta

    def __post_init__(self) -> None:
        if not 0 < len(self.scope) <= _MAX_SCOPE_LENGTH or ":" in self.scope:
            raise ValueError(f"bad rate-limit scope {self.scope!r}")
        if self.limit < 1 or self.period <= timedelta(0):
            raise ValueError(f"{self.scope}: limit and period must be positive")


@dataclass(frozen=True)
class Usage:
    """Where a key stands in its current window."""

    hits: int
    limit: int
    resets_at: datetime | None
    """When the window closes; None when no window is open."""

    @property
    def is_exceeded(self) -> bool:
        """The last event counted went over the limit."""
        return self.hits > self.limit

    @property
    def is_full(self) -> bool:
        """One more event would go over the limit."""
        return self.hits >= self.limit


class RateLimited(Exception):
    """Refused until `retry_at`."""

    def __init__(self, *, retry_at: datetime, scopes: list[str]) -> None:
        super().__init__(f"rate limited ({', '.join(scopes)}) until {retry_at.isoformat()}")
        self.retry_at = retry_at
        self.scopes = scopes

    def retry_after_seconds(self, now: datetime | None = None) -> int:
        """Whole seconds to wait, at least 1 (the value of a `Retry-After` header)."""
        remaining = (self.retry_at - (now or timezone.now())).total_seconds()
        return max(1, math.ceil(remaining))


def allowed(limit: Limit) -> int:
    """The limit in force: `limit.limit` times `RATE_LIMIT_SCALE` (1 in production; a load
    test whose clients all come from 127.0.0.1 raises it, and says so in its report)."""
    return max(1, round(limit.limit * settings.RATE_LIMIT_SCALE))


Check = tuple[Limit, str]
"""A limit and the key it applies to, e.g. `(SENDS_PER_NUMBER, "+22370123456")`."""


def _bucket(limit: Limit, key: str) -> str:
    digest = salted_hmac("guichet.core.ratelimit", key, algorithm="sha256").hexdigest()
    return f"{limit.scope}:{digest[:40]}"


def peek(limit: Limit, key: str, *, now: datetime | None = None) -> Usage:
    """The key's usage, without counting anything."""
    now = now or timezone.now()
    row = (
        RateLimitWindow.objects.filter(bucket=_bucket(limit, key), ends_at__gt=now)
        .values_list("hits", "ends_at")
        .first()
    )
    if row is None:
        return Usage(hits=0, limit=allowed(limit), resets_at=None)
    return Usage(hits=row[0], limit=allowed(limit), resets_at=row[1])


def hit(limit: Limit, key: str, *, now: datetime | None = None) -> Usage:
    """Count one event for the key and return its usage, this event included.

    Call it outside any transaction that may roll back, or the count goes with it.
    """
    now = now or timezone.now()
    bucket = _bucket(limit, key)
    windows = RateLimitWindow.objects.filter(bucket=bucket)
    with transaction.atomic():
        for _ in range(3):
            if windows.filter(ends_at__gt=now).update(hits=F("hits") + 1):
                break
            # The window closed: reopen it with this event. If another process reopened it
            # meanwhile, PostgreSQL re-reads the row, this matches nothing, and the next
            # turn counts on the fresh window.
            if windows.filter(ends_at__lte=now).update(
                started_at=now, ends_at=now + limit.period, hits=1
            ):
                break
            try:
                with transaction.atomic():
                    RateLimitWindow.objects.create(
                        bucket=bucket, started_at=now, ends_at=now + limit.period, hits=1
                    )
                break
            except IntegrityError:
                continue  # another process opened the window first: count on it
        else:  # pragma: no cover - three conflicting writers in a row
            raise RuntimeError(f"could not count an event for {limit.scope}")
        hits, ends_at = windows.values_list("hits", "ends_at").get()
    return Usage(hits=hits, limit=allowed(limit), resets_at=ends_at)


def check(checks: Iterable[Check], *, now: datetime | None = None) -> None:
    """Raise `RateLimited` if any limit is full for its key. Counts nothing."""
    now = now or timezone.now()
    full = [(limit, usage) for limit, key in checks if (usage := peek(limit, key, now=now)).is_full]
    _refuse(full)


def consume(checks: Iterable[Check], *, now: datetime | None = None) -> None:
    """Count one event on every limit, or raise `RateLimited`.

    Nothing is counted when a limit is already full, so a refused request does not use up
    the other limits (a blocked address does not eat the quota of the number it asked for).
    Two requests racing past the check are still caught by the atomic count.
    """
    checks = list(checks)
    now = now or timezone.now()
    check(checks, now=now)
    counted = [(limit, hit(limit, key, now=now)) for limit, key in checks]
    _refuse([(limit, usage) for limit, usage in counted if usage.is_exceeded])


def _refuse(blocked: list[tuple[Limit, Usage]]) -> None:
    if not blocked:
        return
    # Every blocking limit must have reopened before a retry can succeed.
    retry_at = max(usage.resets_at for _, usage in blocked if usage.resets_at is not None)
    raise RateLimited(retry_at=retry_at, scopes=[limit.scope for limit, _ in blocked])


def reset(limit: Limit, key: str) -> None:
    """Forget the key's count (e.g. an agent unblocks someone)."""
    RateLimitWindow.objects.filter(bucket=_bucket(limit, key)).delete()


def purge_expired(*, now: datetime | None = None) -> int:
    """Delete closed windows; returns how many. Safe to run at any time."""
    deleted, _ = RateLimitWindow.objects.filter(ends_at__lte=now or timezone.now()).delete()
    return deleted


def client_ip(request: HttpRequest) -> str:
    """The address to count a request against.

    REMOTE_ADDR, unless Guichet runs behind `TRUSTED_PROXY_HOPS` reverse proxies that each
    append to X-Forwarded-For: then the entry the outermost trusted proxy wrote. Entries to
    the left of it were written by the client and cannot be trusted.
    """
    address = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_HOPS
    if hops:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        entries = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
        if len(entries) >= hops:
            address = entries[-hops]
    return address_key(address)


def address_key(address: str) -> str:
    """The key for an address: IPv4 as is, IPv6 by its /64 (one subscriber's prefix).

    An IPv6 subscriber usually gets a whole /64, so counting single IPv6 addresses would
    give an attacker billions of fresh keys.
    """
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)
