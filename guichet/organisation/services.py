"""Writing the organisation: loading authorities and services from a file, granting roles."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction

from guichet.accounts.models import User
from guichet.catalog.models import Country
from guichet.formdefs import references
from guichet.governance import audit
from guichet.organisation.models import Authority, RoleKind, Service, StaffRole


class OrganisationError(Exception):
    """The organisation file or a role request is wrong; the message is in French."""


@dataclass(frozen=True)
class LoadReport:
    authorities: int
    services: int


def _check_territory(service: dict[str, Any], country: str, where: str) -> None:
    region, commune = service.get("region", ""), service.get("commune", "")
    known = references.territories(country)
    if region and (known is None or region not in known.regions):
        raise OrganisationError(f"{where} : région « {region} » inconnue pour {country}")
    if commune:
        if not region:
            raise OrganisationError(f"{where} : une commune demande sa région")
        found = known.communes.get(commune) if known else None
        if found is None or found.region != region:
            raise OrganisationError(
                f"{where} : commune « {commune} » inconnue dans la région « {region} »"
            )


def parse_organisation(path: Path) -> list[dict[str, Any]]:
    """Read and check the whole file before anything is written."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("authorities"), list):
        raise OrganisationError(f"{path.name} : une liste « authorities » est attendue")
    seen: set[str] = set()
    for i, authority in enumerate(data["authorities"]):
        where = f"{path.name}, authorities[{i}]"
        if not isinstance(authority, dict) or not {"id", "country", "name"} <= authority.keys():
            raise OrganisationError(f"{where} : id, country et name sont obligatoires")
        if authority["country"] not in Country.values:
            raise OrganisationError(f"{where} : pays « {authority['country']} » inconnu")
        if authority.get("kind", "other") not in Authority.Kind.values:
            raise OrganisationError(f"{where} : kind « {authority['kind']} » inconnu")
        for j, service in enumerate(authority.get("services", [])):
            here = f"{where}.services[{j}]"
            if not isinstance(service, dict) or not {"id", "name"} <= service.keys():
                raise OrganisationError(f"{here} : id et name sont obligatoires")
            if service["id"] in seen:
                raise OrganisationError(f"{here} : service « {service['id']} » en double")
            seen.add(service["id"])
            _check_territory(service, authority["country"], here)
    authorities: list[dict[str, Any]] = data["authorities"]
    return authorities


@transaction.atomic
def load_organisation(*, path: Path, actor: str) -> LoadReport:
    """Create or update every authority and service of the file; nothing is deleted (a
    service that disappears from the file keeps its dossiers: deactivate it in the admin)."""
    authorities = parse_organisation(path)
    services = 0
    for entry in authorities:
        authority, _ = Authority.objects.update_or_create(
            id=entry["id"],
            defaults={
                "country": entry["country"],
                "name": entry["name"],
                "kind": entry.get("kind", Authority.Kind.OTHER),
            },
        )
        for service in entry.get("services", []):
            Service.objects.update_or_create(
                id=service["id"],
                defaults={
                    "authority": authority,
                    "name": service["name"],
                    "country": entry["country"],
                    "region": service.get("region", ""),
                    "commune": service.get("commune", ""),
                },
            )
            services += 1
    report = LoadReport(authorities=len(authorities), services=services)
    marker = Authority.objects.order_by("pk").first()
    if marker is not None:
        audit.record(
            "organisation.loaded",
            obj=marker,
            actor=actor,
            data={"file": path.name, "authorities": report.authorities, "services": services},
        )
    return report


@transaction.atomic
def grant_role(
    *,
    user: User,
    role: RoleKind,
    actor: User | str,
    service: Service | None = None,
    authority: Authority | None = None,
) -> StaffRole:
    """Give a staff account one role; granting the same role twice changes nothing."""
    if not user.is_staff:
        raise OrganisationError("Seul un compte du personnel peut recevoir un rôle.")
    staff_role, created = StaffRole.objects.get_or_create(
        user=user, role=role, service=service, authority=authority
    )
    if created:
        audit.record(
            "staff.role_granted",
            obj=user,
            actor=actor,
            data={
                "role": role.value,
                "service": staff_role.service_id,
                "authority": staff_role.authority_id,
            },
        )
    return staff_role


@transaction.atomic
def revoke_role(*, staff_role: StaffRole, actor: User | str) -> None:
    """Takes effect on the person's next request: rights are read from this table each time."""
    audit.record(
        "staff.role_revoked",
        obj=staff_role.user,
        actor=actor,
        data={
            "role": staff_role.role,
            "service": staff_role.service_id,
            "authority": staff_role.authority_id,
        },
    )
    staff_role.delete()
