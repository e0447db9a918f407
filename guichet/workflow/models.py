"""What the back office adds to a dossier: private notes."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Annotation(models.Model):
    """A note staff write on a dossier for each other; never shown to the applicant."""

    dossier = models.ForeignKey(
        "dossiers.Dossier", on_delete=models.CASCADE, related_name="annotations"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.dossier_id} {self.created_at:%Y-%m-%d %H:%M}"
