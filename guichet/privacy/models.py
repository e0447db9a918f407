"""A citizen's requests about their personal data (rectification, objection, blocking),
each with the deadline the administration has to answer and the answer given; the
versions of each procedure's personal-data notice, and which one a dossier was submitted
under (with the consent given, and its withdrawal).

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


class Notice(models.Model):
    """One version of a procedure's personal-data notice, as shown before submission: the
    texts of its form's `privacy` block in every language, and whether it asks for consent
    (the procedure's legal basis). Created the first time a content is shown
    (`services.current_notice`); the same content is always the same version."""

    procedure = models.ForeignKey(
        "catalog.Procedure", on_delete=models.PROTECT, related_name="privacy_notices"
    )
    number = models.PositiveIntegerField()
    """1, 2, 3… per procedure, in the order the contents were first shown."""
    digest = models.CharField(max_length=64)
    """SHA-256 of the canonical content (`services.notice_digest`)."""
    texts: models.JSONField[dict[str, dict[str, str]]] = models.JSONField()
    """`purpose`, `legal_basis`, `retention`, `recipients`, each `{language: text}`."""
    asks_consent = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["procedure", "number"]
        constraints = [
            models.UniqueConstraint(fields=["procedure", "number"], name="notice_number"),
            models.UniqueConstraint(fields=["procedure", "digest"], name="notice_digest"),
        ]

    def __str__(self) -> str:
        return f"{self.procedure_id} v{self.number}"


class NoticeAcceptance(models.Model):
    """The notice version a dossier was submitted under, and the consent given with it when
    consent is the legal basis. Goes with the dossier when retention erases it."""

    dossier = models.OneToOneField(
        "dossiers.Dossier", on_delete=models.CASCADE, related_name="notice_acceptance"
    )
    notice = models.ForeignKey(Notice, on_delete=models.PROTECT, related_name="acceptances")
    accepted_at = models.DateTimeField()
    consent = models.BooleanField(default=False)
    """The applicant ticked the consent box (only for a notice that asks for it)."""
    consent_withdrawn_at = models.DateTimeField(null=True, blank=True)
    """Set once, by the applicant: processing stops and the next purge erases the dossier."""

    class Meta:
        ordering = ["accepted_at", "pk"]
        indexes = [
            models.Index(
                fields=["consent_withdrawn_at"],
                name="consent_withdrawn",
                condition=models.Q(consent_withdrawn_at__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.dossier_id} → {self.notice}"

    @property
    def is_withdrawn(self) -> bool:
        return self.consent_withdrawn_at is not None
