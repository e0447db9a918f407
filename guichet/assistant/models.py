"""What the assistant keeps: each question it answered (for accountability, kept for a
limited time) and what OCR read in an attachment (advice for agents, never a decision)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    WEB = "web", _("Site")
    API = "api", _("API")
    SMS = "sms", _("SMS")


class Outcome(models.TextChoices):
    ANSWER = "answer", _("Réponse")
    SUGGEST = "suggest", _("Suggestions")
    REFUSE = "refuse", _("Pas de réponse")
    GREETING = "greeting", _("Salutation")


class Exchange(models.Model):
    """One question and the answer given, as the accountability log the issue asks for."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assistant_exchanges",
    )
    """The citizen who asked, when signed in (or known by their phone number for SMS)."""
    language = models.CharField(max_length=8)
    country = models.CharField(max_length=2, blank=True)
    question = models.TextField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    procedure_id = models.CharField(max_length=80, blank=True)
    """The procedure answered about (answer) or proposed first (suggestions)."""
    retrieved: models.JSONField[list[dict[str, Any]]] = models.JSONField(default=list)
    """The ranking behind the answer: [{"id": procedure id, "score": ..., "dense": ...}]."""
    cited: models.JSONField[list[str]] = models.JSONField(default=list)
    """Ids of the catalog units the answer quotes (`<procedure id>#<field>`)."""
    answer = models.TextField()
    backend = models.CharField(max_length=200)
    """`extractive`, or `llm:<model>` when a language model phrased the answer."""
    version = models.CharField(max_length=40)
    latency_ms = models.PositiveIntegerField()
    helpful = models.BooleanField(null=True, blank=True)
    """The citizen's thumbs up (True) or down (False), if given."""

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.channel} {self.outcome}"


class ReadingStatus(models.TextChoices):
    PENDING = "pending", _("Lecture en attente")
    DONE = "done", _("Lu")
    FAILED = "failed", _("Lecture impossible")


class AttachmentReading(models.Model):
    """The text OCR read in an attachment: shown to agents beside the file, as a hint."""

    attachment = models.OneToOneField(
        "dossiers.Attachment", on_delete=models.CASCADE, related_name="reading"
    )
    status = models.CharField(
        max_length=10, choices=ReadingStatus.choices, default=ReadingStatus.PENDING
    )
    text = models.TextField(blank=True)
    engine = models.CharField(max_length=80, blank=True)
    """e.g. `tesseract 5.3.0 fra`: what read it, for the algorithm register."""
    confidence = models.FloatField(null=True, blank=True)
    """Mean word confidence reported by the engine, 0–100."""
    detail = models.CharField(max_length=200, blank=True)
    """Why reading failed, in French, for the agent."""
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.attachment_id} {self.status}"
