"""Background delivery of notifications."""

from __future__ import annotations

from django_tasks import task

from guichet.notifications import services


@task()
def deliver_notification(notification_id: int) -> str:
    return services.deliver(notification_id=notification_id)
