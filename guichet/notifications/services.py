"""Queue a notification with the event that causes it; deliver it after commit."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from guichet.accounts.models import User
from guichet.notifications import gsm7, sms
from guichet.notifications.models import Notification


def notify(
    *, user: User | None, event: str, object_ref: str, text: str, to: str = ""
) -> Notification | None:
    """Write the notification in the caller's transaction; None when the person has no
    channel (no mobile number). `to` (E.164) sends to a number with no account, or another
    number than the account's (a USSD caller). SMS texts must fit one GSM-7 message
    (checked here, so a template that grows too long fails in the tests, not in a
    citizen's phone)."""
    to = to or (user.phone if user is not None and user.phone else "")
    if not to:
        return None
    if not gsm7.fits_one_sms(text):
        raise ValueError(f"notification {event!r} does not fit one GSM-7 SMS: {text!r}")
    notification = Notification.objects.create(
        user=user, event=event, object_ref=object_ref, to=to, text=text
    )
    transaction.on_commit(lambda: _enqueue(notification.pk))
    return notification


def _enqueue(notification_id: int) -> None:
    from guichet.notifications.tasks import deliver_notification

    deliver_notification.enqueue(notification_id=notification_id)


@transaction.atomic
def deliver(*, notification_id: int) -> str:
    """Hand one queued notification to its channel, at most once; returns its status."""
    notification = Notification.objects.select_for_update().get(pk=notification_id)
    if notification.status != Notification.Status.QUEUED:
        return notification.status
    try:
        notification.provider_id = sms.send_sms(to=notification.to, text=notification.text)
    except Exception as exc:  # noqa: BLE001 - any provider failure is recorded, not raised
        notification.status = Notification.Status.FAILED
        notification.error = str(exc)[:200]
    else:
        notification.status = Notification.Status.SENT
        notification.sent_at = timezone.now()
    notification.save(update_fields=["provider_id", "status", "error", "sent_at"])
    return notification.status
