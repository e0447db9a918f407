from __future__ import annotations

from django.db.models import QuerySet

from guichet.notifications.models import OutboxSms


def outbox_messages(*, limit: int = 100) -> QuerySet[OutboxSms]:
    """The latest SMS kept by the development backend, newest first."""
    return OutboxSms.objects.order_by("-created_at", "-id")[:limit]
