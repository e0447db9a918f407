"""The published catalog: a procedure and the immutable versions of its definition."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Country(models.TextChoices):
    MALI = "ML", _("Mali")
    BURKINA_FASO = "BF", _("Burkina Faso")
    NIGER = "NE", _("Niger")


class Theme(models.TextChoices):
    """Kept equal to the `theme` enum of the definition schema (a test checks it)."""

    CIVIL_STATUS = "etat-civil", _("État civil")
    IDENTITY = "identite", _("Identité et voyage")
    NATIONALITY = "nationalite", _("Nationalité")
    JUSTICE = "justice", _("Justice et police")
    BUSINESS = "entreprise", _("Entreprise")
    TAXES = "fiscalite", _("Impôts")
    PLANNING = "urbanisme", _("Urbanisme et construction")
    TRANSPORT = "transport", _("Transport")
    EDUCATION = "education", _("Études et bourses")
    EMPLOYMENT = "emploi", _("Emploi et concours")


class Procedure(models.Model):
    """A procedure as citizens know it, identified by a stable slug (`ml-passeport`).

    Its content lives in `ProcedureVersion`; the few columns here are copied from the
    current version so that lists and filters do not read JSON.
    """

    id = models.SlugField(primary_key=True, max_length=80)
    country = models.CharField(max_length=2, choices=Country.choices)
    title = models.CharField(max_length=300)
    theme = models.SlugField(max_length=40, choices=Theme.choices)
    authority_id = models.SlugField(max_length=80)
    current_version = models.OneToOneField(
        "ProcedureVersion", on_delete=models.PROTECT, related_name="+", null=True
    )
    is_published = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["country", "title"]
        indexes = [models.Index(fields=["country", "theme"])]

    def __str__(self) -> str:
        return self.title

    @property
    def definition(self) -> dict[str, Any]:
        assert self.current_version is not None
        definition: dict[str, Any] = self.current_version.definition
        return definition


class ProcedureVersion(models.Model):
    """One definition of a procedure, never changed once written: old versions stay readable."""

    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition: models.JSONField[dict[str, Any]] = models.JSONField()
    content_hash = models.CharField(max_length=64)
    source = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        ordering = ["procedure", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["procedure", "number"], name="unique_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.procedure_id} v{self.number}"
