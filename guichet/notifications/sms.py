"""Sending SMS through a configured backend (setting `SMS_BACKEND`, a dotted path).

Every provider is a class with one method, `send`, that hands one message to the provider
and returns the provider's message id, or raises `SmsError`. Guichet never speaks SMPP:
- `KannelSmsBackend` (production): Kannel's `sendsms` over HTTP; Kannel holds the SMPP
  link to the operator and calls back with delivery reports (docs/sms.md);
- `HttpAggregatorSmsBackend`: a generic HTTP provider (form POST, configurable address);
- `OutboxSmsBackend` (development, the default): keeps the message in a table that
  developers read on the outbox page (DEBUG only).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from guichet.notifications import gsm7
from guichet.notifications.models import OutboxSms

TIMEOUT_SECONDS = 10


class SmsError(Exception):
    """The provider did not take the message (unreachable, refused): worth a retry."""


class SmsBackend(Protocol):
    def send(self, *, to: str, text: str, reference: str = "", callback_url: str = "") -> str:
        """Hand one SMS to the provider; return its message id. `to` is E.164;
        `reference` is Guichet's id of the message; `callback_url` receives its delivery
        reports (with `%d` where the provider puts the report's code)."""
        ...


class OutboxSmsBackend:
    """Development backend: stores the message instead of sending it."""

    in_database = True
    """Its messages are rows of Guichet's database: `services.deliver` writes one in the
    transaction that marks the notification sent, so a crash never leaves it doubled."""

    def send(self, *, to: str, text: str, reference: str = "", callback_url: str = "") -> str:
        message = OutboxSms.objects.create(to=to, text=text)
        return f"outbox:{message.pk}"


def _request(url: str, data: bytes | None = None) -> urllib.request.Request:
    if not url.startswith(("http://", "https://")):
        raise SmsError(f"the gateway address must be http(s): {url[:60]!r}")
    return urllib.request.Request(url, data=data, method="POST" if data else "GET")  # noqa: S310 - scheme checked above


def _call(request: urllib.request.Request) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - the configured gateway
            return response.status, response.read(2000).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read(2000).decode("utf-8", "replace")
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise SmsError(f"gateway unreachable: {exc}") from exc


class KannelSmsBackend:
    """Kannel's smsbox `sendsms` interface (HTTP GET on the operator side).

    Settings: KANNEL_SENDSMS_URL (`http://127.0.0.1:13013/cgi-bin/sendsms`),
    KANNEL_USERNAME, KANNEL_PASSWORD (a `sendsms-user`), KANNEL_FROM (the sender shown),
    KANNEL_SMSC (optional: route through one SMSC). GSM-7 texts go as 7-bit; anything else
    as UCS-2 (coding 2), which Kannel splits at 70 characters.
    """

    def send(self, *, to: str, text: str, reference: str = "", callback_url: str = "") -> str:
        params = {
            "username": settings.KANNEL_USERNAME,
            "password": settings.KANNEL_PASSWORD,
            "to": to,
            "text": text,
            "charset": "UTF-8",
            "coding": "0" if gsm7.is_gsm7(text) else "2",
        }
        if settings.KANNEL_FROM:
            params["from"] = settings.KANNEL_FROM
        if settings.KANNEL_SMSC:
            params["smsc"] = settings.KANNEL_SMSC
        if callback_url:
            params["dlr-mask"] = "31"
            params["dlr-url"] = callback_url
        url = f"{settings.KANNEL_SENDSMS_URL}?{urllib.parse.urlencode(params)}"
        status, body = _call(_request(url))
        # Kannel answers 202 "0: Accepted for delivery" (or "3: Queued for later delivery").
        if status not in (200, 202) or not body.lstrip().startswith(("0:", "3:")):
            raise SmsError(f"Kannel refused the message: {status} {body.strip()[:120]}")
        return f"kannel:{reference}" if reference else "kannel"


class HttpAggregatorSmsBackend:
    """A provider with a simple HTTP API: a form POST of `to`, `text`, `reference` and
    `callback_url` to SMS_HTTP_URL, with `Authorization: Bearer SMS_HTTP_TOKEN`; any 2xx
    is accepted, and the message id is read from a JSON answer's `id` when there is one."""

    def send(self, *, to: str, text: str, reference: str = "", callback_url: str = "") -> str:
        data = urllib.parse.urlencode(
            {"to": to, "text": text, "reference": reference, "callback_url": callback_url}
        ).encode()
        request = _request(settings.SMS_HTTP_URL, data)
        if settings.SMS_HTTP_TOKEN:
            request.add_header("Authorization", f"Bearer {settings.SMS_HTTP_TOKEN}")
        status, body = _call(request)
        if not 200 <= status < 300:
            raise SmsError(f"provider refused the message: {status} {body.strip()[:120]}")
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        if isinstance(answer, dict) and answer.get("id"):
            return str(answer["id"])[:100]
        return f"http:{reference}"


def get_backend() -> SmsBackend:
    backend_class = import_string(settings.SMS_BACKEND)
    backend: SmsBackend = backend_class()
    return backend


def send_sms(*, to: str, text: str) -> str:
    """Send one SMS through the configured backend now, outside the outbox (tools and
    tests; every notification goes through `services.notify`); the provider's id."""
    return get_backend().send(to=to, text=text)
