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
    """One message to one person about one event, written in the transaction of the event
    and delivered after commit by a task (`tasks.deliver_notification`): an event that rolls
    back sends nothing, and a delivery is attempted once per row."""

    class Channel(models.TextChoices):
        SMS = "sms", "SMS"

    class Status(models.TextChoices):
        QUEUED = "queued", "en attente d'envoi"
        SENT = "sent", "envoyé"
        FAILED = "failed", "échec"

    user = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, related_name="notifications"
    )
    event = models.CharField(max_length=40)
    """What happened, e.g. `dossier.accepted`."""
    object_ref = models.CharField(max_length=40, db_index=True)
    """The dossier reference the message is about: staff see the history on the dossier."""
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.SMS)
    to = models.CharField(max_length=254)
    text = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    provider_id = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.event} → {self.object_ref} ({self.status})"
