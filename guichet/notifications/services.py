"""The outbox: queue a notification with the event that causes it; deliver it after commit,
once per row, retrying with backoff; record what the gateway reports.

A delivery moves a row `queued → sending` in its own transaction before calling the
gateway, then `sending → sent` after. If the worker dies in between, the row stays
`sending`: the gateway's first delivery report (Kannel sends one within a second of
accepting) settles it; a row still `sending` after `stale_sending()` without any report is
put back in the queue by `retry_due` — the one case where a message could go twice,
traded against never losing one. A backend whose messages are rows of this very database
(the development outbox) is handed the message in the transaction that marks it sent: a
crash leaves both or neither, so it goes exactly once (bench/crash.py counts on it).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from guichet.accounts.models import User
from guichet.notifications import gsm7, sms
from guichet.notifications.models import Notification, NotificationStatus

log = logging.getLogger(__name__)

Status = Notification.Status
MAX_ATTEMPTS = 6
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10))
"""Wait before attempt 2, 3, 4; then the last value again (at most MAX_ATTEMPTS in all)."""


def stale_sending() -> timedelta:
    """How long a row may stay `sending` with no news before it is queued again."""
    return timedelta(seconds=settings.NOTIFICATION_STALE_SECONDS)


# Kannel's delivery report codes (dlr-mask=31 asks for all of them).
DLR_DELIVERED, DLR_UNDELIVERED, DLR_QUEUED, DLR_ACK, DLR_REJECTED = 1, 2, 4, 8, 16
DLR_STATUS = {
    DLR_DELIVERED: Status.DELIVERED,
    DLR_UNDELIVERED: Status.FAILED,
    DLR_REJECTED: Status.FAILED,
    DLR_QUEUED: Status.SENT,
    DLR_ACK: Status.SENT,
}
DLR_TEXT = {
    DLR_DELIVERED: "rapport : reçu par le téléphone",
    DLR_UNDELIVERED: "rapport : non remis",
    DLR_REJECTED: "rapport : refusé par l'opérateur",
    DLR_QUEUED: "rapport : en attente chez l'opérateur",
    DLR_ACK: "rapport : accepté par l'opérateur",
}


def _step(notification: Notification, status: str, detail: str = "") -> None:
    NotificationStatus.objects.create(notification=notification, status=status, detail=detail)


MANDATORY_EVENTS = frozenset(
    {
        "dossier.info_requested",
        "dossier.accepted",
        "dossier.accepted_document",
        "dossier.rejected",
        "dossier.closed_without_decision",
    }
)
"""Notices the law requires to reach the person (a deadline runs, a decision is taken):
sent by SMS even to someone who turned SMS notices off."""
SECRET_EVENTS = frozenset({"account.code"})
"""Messages whose text is a secret (a sign-in code): erased from the row once handed over
or given up. The code's hash stays with the sign-in (accounts.SignInCode)."""
ERASED = "(texte effacé après l'envoi)"


def notify(
    *, user: User | None, event: str, object_ref: str, text: str, to: str = ""
) -> Notification | None:
    """Write the notification(s) in the caller's transaction, by the person's channels:
    SMS (unless turned off, and always for MANDATORY_EVENTS) and email (when they gave an
    address and did not turn it off). Returns the SMS one, or None when there is none.
    `to` (E.164) sends to a number with no account, or another number than the account's
    (a USSD caller). SMS texts must fit one GSM-7 message (checked here, so a template that
    grows too long fails in the tests, not in a citizen's phone)."""
    if not gsm7.fits_one_sms(text):
        raise ValueError(f"notification {event!r} does not fit one GSM-7 SMS: {text!r}")
    # A message to a given number answers that number's own request (USSD): always sent.
    wants_sms = bool(to) or user is None or user.notify_by_sms or event in MANDATORY_EVENTS
    phone = to or (user.phone if user is not None and user.phone else "")
    sms_row = (
        _queue(user, event, object_ref, Notification.Channel.SMS, phone, text)
        if (phone and wants_sms)
        else None
    )
    if user is not None and user.email and user.notify_by_email and not to:
        subject = f"{settings.GUICHET_SITE_NAME} : {object_ref}"
        _queue(user, event, object_ref, Notification.Channel.EMAIL, user.email, text, subject)
    return sms_row


def _queue(
    user: User | None,
    event: str,
    object_ref: str,
    channel: str,
    to: str,
    text: str,
    subject: str = "",
) -> Notification:
    notification = Notification.objects.create(
        user=user,
        event=event,
        object_ref=object_ref,
        channel=channel,
        to=to,
        text=text,
        subject=subject,
    )
    _step(notification, Status.QUEUED)
    transaction.on_commit(lambda: _enqueue(notification.pk))
    return notification


def _enqueue(notification_id: int, run_after: datetime | None = None) -> None:
    from guichet.notifications.tasks import deliver_notification

    task = deliver_notification
    if run_after is not None:
        if not task.get_backend().supports_defer:
            return  # `retry_due` (manage.py notifications_retry) will pick it up
        task = task.using(run_after=run_after)
    task.enqueue(notification_id=notification_id)


def dlr_token(notification_id: int) -> str:
    return salted_hmac("guichet.notifications.dlr", str(notification_id)).hexdigest()[:32]


def callback_url(notification_id: int) -> str:
    """Where the gateway reports on this message (Kannel replaces %d with the code)."""
    base = (settings.SMS_CALLBACK_BASE_URL or settings.GUICHET_PUBLIC_URL).rstrip("/")
    path = reverse("sms-dlr", args=[notification_id, dlr_token(notification_id)])
    return f"{base}{path}?status=%d"


def deliver(*, notification_id: int) -> str:
    """Hand one queued notification to the gateway, at most once per attempt; returns
    its status. Not atomic as a whole, on purpose (see the module's docstring)."""
    now = timezone.now()
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification_id)
        if notification.status != Status.QUEUED:
            return notification.status
        if notification.next_attempt_at and notification.next_attempt_at > now:
            return notification.status  # too early: a retry task will come
        notification.status = Status.SENDING
        notification.attempts += 1
        notification.save(update_fields=["status", "attempts", "updated_at"])
        _step(notification, Status.SENDING, f"tentative {notification.attempts}")
        if _is_kept_in_database(notification):
            return _mark_sent(notification, _hand_over(notification))
    try:
        provider_id = _hand_over(notification)
    except Exception as exc:  # noqa: BLE001 - any gateway failure is recorded, then retried
        log.warning("SMS %s attempt %s failed: %s", notification.pk, notification.attempts, exc)
        return _failed_attempt(notification.pk, str(exc))
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification_id)
        return _mark_sent(notification, provider_id)


def _is_kept_in_database(notification: Notification) -> bool:
    """The SMS backend writes its messages in this database (`in_database`)."""
    return notification.channel == Notification.Channel.SMS and bool(
        getattr(sms.get_backend(), "in_database", False)
    )


def _mark_sent(notification: Notification, provider_id: str) -> str:
    """In the caller's transaction, holding the row's lock."""
    notification.provider_id = provider_id[:100]
    if notification.status == Status.SENDING:  # a report may have come first
        notification.status = Status.SENT
        notification.sent_at = timezone.now()
    if notification.event in SECRET_EVENTS:
        notification.text = ERASED
    notification.save(update_fields=["provider_id", "status", "sent_at", "text", "updated_at"])
    _step(notification, Status.SENT, "remis à la passerelle")
    return notification.status


def _hand_over(notification: Notification) -> str:
    """Give the message to its channel's provider; its id there."""
    if notification.channel == Notification.Channel.EMAIL:
        send_mail(
            notification.subject or settings.GUICHET_SITE_NAME,
            notification.text,
            settings.DEFAULT_FROM_EMAIL,
            [notification.to],
        )
        return f"email:{notification.pk}"
    return sms.get_backend().send(
        to=notification.to,
        text=notification.text,
        reference=str(notification.pk),
        callback_url=callback_url(notification.pk),
    )


def _failed_attempt(notification_id: int, error: str) -> str:
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification_id)
        if notification.status != Status.SENDING:
            return notification.status
        notification.error = error[:200]
        if notification.attempts >= MAX_ATTEMPTS:
            notification.status = Status.FAILED
            if notification.event in SECRET_EVENTS:
                notification.text = ERASED
            _step(notification, Status.FAILED, f"abandon après {notification.attempts} essais")
        else:
            wait = BACKOFF[min(notification.attempts, len(BACKOFF)) - 1]
            notification.status = Status.QUEUED
            notification.next_attempt_at = timezone.now() + wait
            _step(notification, Status.QUEUED, f"échec, nouvel essai dans {wait}")
            retry_at = notification.next_attempt_at
            transaction.on_commit(lambda: _enqueue(notification_id, retry_at))
        notification.save(update_fields=["status", "error", "next_attempt_at", "updated_at"])
        return notification.status


@transaction.atomic
def record_delivery_report(*, notification_id: int, code: int) -> bool:
    """Apply one gateway report; False when there is no such notification. A report
    never moves a message back (a late "accepted" after "delivered" is only kept)."""
    notification = Notification.objects.select_for_update().filter(pk=notification_id).first()
    if notification is None:
        return False
    status = DLR_STATUS.get(code)
    _step(notification, status or notification.status, DLR_TEXT.get(code, f"rapport {code}"))
    if status is None:
        return True
    moves_on = {
        Status.SENDING: {Status.SENT, Status.DELIVERED, Status.FAILED},
        Status.SENT: {Status.DELIVERED, Status.FAILED},
        Status.QUEUED: {Status.SENT, Status.DELIVERED, Status.FAILED},  # stale, then settled
    }
    if status in moves_on.get(Status(notification.status), set()):
        notification.status = status
        if status != Status.FAILED and notification.sent_at is None:
            notification.sent_at = timezone.now()
        notification.save(update_fields=["status", "sent_at", "updated_at"])
    return True


def retry_due(*, now: datetime | None = None) -> int:
    """Enqueue every queued notification that is due (also after a worker or a server
    was down), and put back in the queue those stuck `sending` with no report. Run every
    minute (`manage.py notifications_retry`, started by `manage.py serve`)."""
    now = now or timezone.now()
    stale = Notification.objects.filter(status=Status.SENDING, updated_at__lt=now - stale_sending())
    requeued = []
    for notification_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            notification = Notification.objects.select_for_update().get(pk=notification_id)
            if notification.status != Status.SENDING:
                continue
            notification.status = Status.QUEUED
            notification.next_attempt_at = None
            notification.save(update_fields=["status", "next_attempt_at", "updated_at"])
            _step(notification, Status.QUEUED, "sans nouvelles de la passerelle : nouvel essai")
            requeued.append(notification_id)
    due = Notification.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        status=Status.QUEUED,
        updated_at__lt=now - timedelta(seconds=30),  # not one just written, whose task comes
    )
    ids = requeued + list(due.order_by("pk").values_list("pk", flat=True)[:1000])
    for notification_id in ids:
        _enqueue(notification_id)
    return len(ids)
