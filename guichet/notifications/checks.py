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


@register(Tags.security, deploy=True)
def check_gateway_secrets(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The addresses the SMS gateway and the USSD aggregator call answer dossier states:
    without their secret, anyone could ask them while pretending to be a caller."""
    missing = [name for name in ("SMS_INBOUND_TOKEN", "USSD_TOKEN") if not getattr(settings, name)]
    if not missing:
        return []
    return [
        Warning(
            f"{' and '.join(missing)} not set: /passerelle/sms/entrant/ and /passerelle/ussd/ "
            "accept calls from anyone who knows the address.",
            hint="Set long random values and write them in Kannel's get-url and in the "
            "aggregator's callback address (docs/sms.md).",
            id="guichet.notifications.W002",
        )
    ]
