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
