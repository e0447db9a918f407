"""Reading the codes the development outbox kept, as a citizen reads their SMS."""

from __future__ import annotations

import re

from guichet.notifications.models import OutboxSms

OWNER = "+22370123456"
"""A Malian mobile number: the citizen of these tests."""


def last_code(phone: str = OWNER) -> str:
    text = OutboxSms.objects.filter(to=phone).order_by("-id").values_list("text", flat=True)[0]
    match = re.search(r"\b(\d{6})\b", text)
    assert match, text
    return match.group(1)


def wrong(code: str) -> str:
    """Another six-digit code."""
    return f"{(int(code) + 1) % 1_000_000:06d}"
