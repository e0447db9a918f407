"""Sending SMS through a configured backend (setting `SMS_BACKEND`, a dotted path).

Every provider (the Kannel gateway, an operator's API) is a class with one method, `send`,
that hands one message to the provider and returns the provider's message id. The default
backend sends nothing: it keeps the message in a table that developers read on the
outbox page (DEBUG only).
"""

from __future__ import annotations

from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from guichet.notifications.models import OutboxSms


class SmsBackend(Protocol):
    def send(self, *, to: str, text: str) -> str:
        """Hand one SMS to the provider; return its message id. `to` is E.164."""
        ...


class OutboxSmsBackend:
    """Development backend: stores the message instead of sending it."""

    def send(self, *, to: str, text: str) -> str:
        message = OutboxSms.objects.create(to=to, text=text)
        return f"outbox:{message.pk}"


def get_backend() -> SmsBackend:
    backend_class = import_string(settings.SMS_BACKEND)
    backend: SmsBackend = backend_class()
    return backend


def send_sms(*, to: str, text: str) -> str:
    """Send one SMS through the configured backend; returns the provider's message id."""
    return get_backend().send(to=to, text=text)
