"""What a staff account may do, read from its roles on each request."""

from __future__ import annotations

from dataclasses import dataclass, field

from guichet.accounts.models import User
from guichet.organisation.models import RoleKind, Service, StaffRole


@dataclass(frozen=True)
class StaffRights:
    """The scope of one person's roles. Empty for citizens and for disabled accounts."""

    agent_of: frozenset[str] = frozenset()
    """Services whose dossiers the person reviews (agents and supervisors)."""
    supervisor_of: frozenset[str] = frozenset()
    admin_of: frozenset[str] = frozenset()
    """Authorities whose procedures the person configures."""
    auditor_of: frozenset[str] = frozenset()
    """Authorities the person audits (read-only)."""
    audits_everything: bool = False
    platform_admin: bool = False
    roles: tuple[tuple[str, str], ...] = field(default=())
    """(role label, scope name) pairs, for the person's own page."""

    @property
    def is_empty(self) -> bool:
        return not (
            self.agent_of
            or self.admin_of
            or self.auditor_of
            or self.audits_everything
            or self.platform_admin
        )

    def can_review(self, service_id: str | None) -> bool:
        return service_id is not None and service_id in self.agent_of

    def can_supervise(self, service_id: str | None) -> bool:
        return service_id is not None and service_id in self.supervisor_of

    def can_audit(self, authority_id: str | None) -> bool:
        return self.audits_everything or (
            authority_id is not None and authority_id in self.auditor_of
        )


NO_RIGHTS = StaffRights()


def staff_rights(user: User) -> StaffRights:
    """One query. Only active staff accounts have rights, whatever roles remain attached."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return NO_RIGHTS
    agent: set[str] = set()
    supervisor: set[str] = set()
    admin: set[str] = set()
    auditor: set[str] = set()
    audits_everything = platform_admin = False
    labels: list[tuple[str, str]] = []
    for role in StaffRole.objects.filter(user=user).select_related("service", "authority"):
        kind = RoleKind(role.role)
        scope = role.service or role.authority
        labels.append((str(kind.label), str(scope) if scope else "Toute la plateforme"))
        if kind in (RoleKind.AGENT, RoleKind.SUPERVISOR) and role.service_id:
            agent.add(role.service_id)
            if kind == RoleKind.SUPERVISOR:
                supervisor.add(role.service_id)
        elif kind == RoleKind.PROCEDURE_ADMIN and role.authority_id:
            admin.add(role.authority_id)
        elif kind == RoleKind.AUDITOR:
            if role.authority_id:
                auditor.add(role.authority_id)
            else:
                audits_everything = True
        elif kind == RoleKind.PLATFORM_ADMIN:
            platform_admin = True
    return StaffRights(
        agent_of=frozenset(agent),
        supervisor_of=frozenset(supervisor),
        admin_of=frozenset(admin),
        auditor_of=frozenset(auditor),
        audits_everything=audits_everything,
        platform_admin=platform_admin,
        roles=tuple(labels),
    )


def services_visible_to(rights: StaffRights) -> list[Service]:
    """The queues a person may open: the services they work in or audit."""
    services = Service.objects.select_related("authority")
    if rights.audits_everything:
        return list(services)
    return list(
        services.filter(pk__in=rights.agent_of)
        | services.filter(authority_id__in=rights.auditor_of)
    )


def colleagues(service_id: str) -> list[User]:
    """The people a supervisor may assign a dossier of this service to."""
    return list(
        User.objects.filter(
            is_active=True,
            is_staff=True,
            staff_roles__service_id=service_id,
            staff_roles__role__in=[RoleKind.AGENT, RoleKind.SUPERVISOR],
        )
        .distinct()
        .order_by("username")
    )
