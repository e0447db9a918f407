"""Who handles dossiers: authorities, their services with a territory, and staff roles.

Countries → authorities (a ministry, a mairie, a tribunal…) → services. A service has a
territory (a country, optionally a region, optionally a commune, with the codes of
formdefs' reference lists) so that a procedure can route a dossier to the service of the
place it concerns. A staff account holds any number of roles, each scoped to a service (agent,
supervisor), an authority (procedure administrator, auditor) or the whole platform.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from guichet.catalog.models import Country


class Authority(models.Model):
    class Kind(models.TextChoices):
        MINISTRY = "ministry", _("Ministère")
        AGENCY = "agency", _("Agence ou office")
        MAIRIE = "mairie", _("Mairie")
        COURT = "court", _("Juridiction")
        OTHER = "other", _("Autre")

    id = models.SlugField(primary_key=True, max_length=80)
    """The `authority.id` procedure definitions use (`ml-mairie-etat-civil`)."""
    country = models.CharField(max_length=2, choices=Country.choices)
    name = models.CharField(max_length=300)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OTHER)

    class Meta:
        ordering = ["country", "name"]
        verbose_name_plural = "authorities"

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    """A team that handles dossiers: one queue. Its territory is what routing matches."""

    id = models.SlugField(primary_key=True, max_length=80)
    authority = models.ForeignKey(Authority, on_delete=models.PROTECT, related_name="services")
    name = models.CharField(max_length=300)
    country = models.CharField(max_length=2, choices=Country.choices)
    region = models.CharField(max_length=80, blank=True)
    """A region code of formdefs/references/territories/<country>.yaml, or blank: the country."""
    commune = models.CharField(max_length=80, blank=True)
    """A commune code of the same file, or blank: the whole region (or country)."""
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["country", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(commune="") | ~Q(region=""), name="service_commune_needs_region"
            )
        ]

    def __str__(self) -> str:
        return self.name


class RoleKind(models.TextChoices):
    AGENT = "agent", _("Agent")
    SUPERVISOR = "supervisor", _("Superviseur")
    PROCEDURE_ADMIN = "procedure_admin", _("Administrateur des démarches")
    AUDITOR = "auditor", _("Auditeur")
    PLATFORM_ADMIN = "platform_admin", _("Administrateur de la plateforme")


SERVICE_ROLES = (RoleKind.AGENT, RoleKind.SUPERVISOR)
AUTHORITY_ROLES = (RoleKind.PROCEDURE_ADMIN, RoleKind.AUDITOR)


class StaffRole(models.Model):
    """One role of one person, scoped to a service, an authority, or (auditor, platform
    administrator) the whole platform when both are empty. Read on every request: a role
    removed here takes effect on the person's next click."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_roles"
    )
    role = models.CharField(max_length=20, choices=RoleKind.choices)
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, null=True, blank=True, related_name="roles"
    )
    authority = models.ForeignKey(
        Authority, on_delete=models.CASCADE, null=True, blank=True, related_name="roles"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user", "role"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(role__in=SERVICE_ROLES, service__isnull=False, authority__isnull=True)
                    | Q(
                        role=RoleKind.PROCEDURE_ADMIN, service__isnull=True, authority__isnull=False
                    )
                    | Q(role=RoleKind.AUDITOR, service__isnull=True)
                    | Q(role=RoleKind.PLATFORM_ADMIN, service__isnull=True, authority__isnull=True)
                ),
                name="staff_role_scope_matches_role",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "service", "authority"],
                name="unique_staff_role",
            ),
        ]

    def __str__(self) -> str:
        scope = self.service_id or self.authority_id or "plateforme"
        return f"{self.user_id} {self.role} {scope}"
