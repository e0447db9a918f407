"""Signing keys (their public half) and the documents issued with them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from guichet.documents.codes import DocumentKind
from guichet.dossiers.models import _attachments_storage


class SigningKey(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("En service")
        RETIRED = "retired", _("Remplacée (vérifie encore ce qu'elle a signé)")
        REVOKED = "revoked", _("Révoquée")

    kid = models.CharField(primary_key=True, max_length=16)
    """`keys.kid_for(public_key)`: printed in every code the key signs."""
    authority = models.ForeignKey(
        "organisation.Authority", on_delete=models.PROTECT, related_name="signing_keys"
    )
    public_key = models.CharField(max_length=64)
    """The raw 32-byte Ed25519 public key, base64url. The private half is in the key store."""
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["authority", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["authority"],
                condition=Q(status="active"),
                name="one_active_key_per_authority",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kid} ({self.authority_id}, {self.status})"


class IssuedDocument(models.Model):
    class Kind(models.TextChoices):
        ACCEPTANCE = DocumentKind.ACCEPTANCE, _("Document délivré")
        REFUSAL = DocumentKind.REFUSAL, _("Lettre de refus")

    number = models.CharField(max_length=24, unique=True)
    """The dossier's reference and a sequence (`ML-7K3Q-9DXC-1`): printed and signed."""
    dossier = models.ForeignKey(
        "dossiers.Dossier", on_delete=models.PROTECT, related_name="documents"
    )
    kind = models.CharField(max_length=1, choices=Kind.choices)
    title = models.CharField(max_length=200)
    key = models.ForeignKey(SigningKey, on_delete=models.PROTECT, related_name="documents")
    code = models.TextField()
    """The signed code printed as a QR (codes.py)."""
    file = models.FileField(storage=_attachments_storage, upload_to="documents/%Y/%m/")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_reason = models.CharField(max_length=2000, blank=True)

    class Meta:
        ordering = ["issued_at", "id"]
        indexes = [models.Index(fields=["revoked_at"], name="document_revoked")]

    def __str__(self) -> str:
        return self.number

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def filename(self) -> str:
        return f"{self.number}.pdf"
