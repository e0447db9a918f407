"""What the development SMS backend keeps instead of sending."""

from __future__ import annotations

from django.db import models


class OutboxSms(models.Model):
    """An SMS kept by `sms.OutboxSmsBackend`, readable on the development outbox page.

    Development only: a sign-in SMS holds its code in clear here. A deployment that keeps
    this backend gets a warning from `manage.py check --deploy`.
    """

    to = models.CharField(max_length=16)
    """E.164, e.g. +22370123456."""
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "SMS (boîte d'envoi de développement)"
        verbose_name_plural = "SMS (boîte d'envoi de développement)"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} → {self.to}"


class Notification(models.Model):
    """One message to one person about one event: the transactional outbox. Written in the
    transaction of the event and delivered after commit by a task
    (`tasks.deliver_notification`): an event that rolls back sends nothing. Delivery is
    keyed by the row's id: a row is handed to the gateway once; a failed attempt is
    retried with backoff; the gateway's delivery reports move it on (`NotificationStatus`
    keeps each step, shown to staff on the dossier)."""

    class Channel(models.TextChoices):
        SMS = "sms", "SMS"
        EMAIL = "email", "e-mail"

    class Status(models.TextChoices):
        QUEUED = "queued", "en attente d'envoi"
        SENDING = "sending", "en cours d'envoi"
        SENT = "sent", "envoyé"
        DELIVERED = "delivered", "reçu"
        FAILED = "failed", "échec"

    user = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, related_name="notifications"
    )
    event = models.CharField(max_length=40)
    """What happened, e.g. `dossier.accepted`."""
    object_ref = models.CharField(max_length=40, db_index=True)
    subject = models.CharField(max_length=200, blank=True)
    """Emails only."""
    """The dossier reference the message is about: staff see the history on the dossier."""
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.SMS)
    to = models.CharField(max_length=254)
    text = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    provider_id = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    """When a queued row may be tried (again); NULL: at once."""
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=models.Q(status__in=["queued", "sending"]),
                name="notification_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.object_ref} ({self.status})"


class NotificationStatus(models.Model):
    """One step of a notification's life: queued, each attempt, sent, each delivery report."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="history")
    status = models.CharField(max_length=10, choices=Notification.Status.choices)
    detail = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name_plural = "notification statuses"

    def __str__(self) -> str:
        return f"{self.notification_id} {self.status} {self.detail}"


class InboundSms(models.Model):
    """Every SMS the gateway passes on (commands like STATUT), with what was answered."""

    sender = models.CharField(max_length=20)
    """E.164 when it parses, else as received."""
    text = models.CharField(max_length=500)
    reply = models.CharField(max_length=500, blank=True)
    command = models.CharField(max_length=20, blank=True)
    provider_id = models.CharField(max_length=100, blank=True)
    """The gateway's message id: a retried delivery of the same SMS is recognised."""
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["sender", "received_at"], name="inbound_by_sender")]

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M} {self.sender} {self.command}"
