"""A citizen's requests about their personal data (rectification, objection, blocking),
each with the deadline the administration has to answer and the answer given.

The access right itself needs no row: the export (`services.export_for`) is computed on
demand and its download is audited.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RequestKind(models.TextChoices):
    RECTIFICATION = "rectification", _("Rectification")
    OBJECTION = "objection", _("Opposition")
    BLOCKING = "blocking", _("Verrouillage")


class RequestStatus(models.TextChoices):
    OPEN = "open", _("En attente de réponse")
    ANSWERED = "answered", _("Acceptée")
    REFUSED = "refused", _("Refusée")


class RightsRequest(models.Model):
    """One request by one person, about one of their dossiers or (no dossier) their
    account. Handled by the dossier's service; requests about an account by the platform
    administrators."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="rights_requests"
    )
    # A request about a dossier says things about it: it goes when retention erases the
    # dossier (the audit entries of the request and its answer stay).
    dossier = models.ForeignKey(
        "dossiers.Dossier",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="rights_requests",
    )
    kind = models.CharField(max_length=16, choices=RequestKind.choices)
    text = models.TextField()
    """What the person asks, in their words."""
    status = models.CharField(
        max_length=10, choices=RequestStatus.choices, default=RequestStatus.OPEN
    )
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    """Kept for the audit; the person sees the service, never the agent's name."""
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    """When the answer is due: `created_at` plus settings.PRIVACY_REQUEST_DAYS."""
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "due_at"], name="rights_request_open")]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == RequestStatus.OPEN

    @property
    def is_late(self) -> bool:
        return self.is_open and self.due_at < timezone.now()
