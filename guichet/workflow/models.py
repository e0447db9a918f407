"""What the back office adds to a dossier: private notes; and exports of a queue."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.utils.translation import gettext_lazy as _


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


def _exports_storage() -> Any:
    # Resolved when used, like the dossiers' attachments (a folder, or S3 in production).
    return storages["attachments"]


def _export_path(instance: Export, filename: str) -> str:
    # Never a name anyone typed: the row's number and the format.
    return f"exports/{instance.created_at:%Y/%m}/{instance.pk}.{instance.format}"


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"
    ODS = "ods", "OpenDocument (ODS)"


class ExportStatus(models.TextChoices):
    PENDING = "pending", _("En attente")
    RUNNING = "running", _("En préparation")
    READY = "ready", _("Prêt")
    FAILED = "failed", _("Échec")


class Export(models.Model):
    """A service's queue written to a file in the background (workflow/exports.py), kept
    seven days for its supervisors to download."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    service = models.ForeignKey(
        "organisation.Service", on_delete=models.CASCADE, related_name="exports"
    )
    filters: models.JSONField[dict[str, str]] = models.JSONField(default=dict)
    """The queue's filters, as `QueueFilters.describe()` gives them."""
    format = models.CharField(max_length=4, choices=ExportFormat.choices)
    status = models.CharField(
        max_length=10, choices=ExportStatus.choices, default=ExportStatus.PENDING
    )
    row_count = models.PositiveIntegerField(null=True, blank=True)
    file = models.FileField(storage=_exports_storage, upload_to=_export_path, blank=True)
    error = models.CharField(max_length=300, blank=True)
    """Why the file could not be built, in plain French."""
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["service", "created_at"], name="exports_by_service")]

    def __str__(self) -> str:
        return f"{self.service_id} {self.format} {self.created_at:%Y-%m-%d %H:%M}"
