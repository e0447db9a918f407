"""`manage.py check --deploy` warns when SMS would not reach anyone."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

from guichet.notifications.sms import OutboxSmsBackend

OUTBOX_PATH = f"{OutboxSmsBackend.__module__}.{OutboxSmsBackend.__qualname__}"


@register(Tags.security, deploy=True)
def check_sms_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.SMS_BACKEND != OUTBOX_PATH:
        return []
    return [
        Warning(
            "SMS_BACKEND is the development outbox: no SMS leaves the server, and sign-in "
            "codes are stored readable in the notifications_outboxsms table.",
            hint="Set SMS_BACKEND to a real gateway backend before opening the service.",
            id="guichet.notifications.W001",
        )
    ]
