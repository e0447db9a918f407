"""Reads of the privacy pages: who in the administration opened a person's dossiers, the
rights requests a staff member may answer (404 alike for missing and not theirs), the
notice a dossier was submitted under, and whether its processing has stopped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.catalog.texts import pick
from guichet.dossiers.models import Dossier
from guichet.formdefs.spec import PrivacyNotice
from guichet.governance.models import AuditEntry
from guichet.organisation.models import SERVICE_ROLES, RoleKind, StaffRole
from guichet.organisation.queries import StaffRights
from guichet.privacy.models import (
    Notice,
    NoticeAcceptance,
    RequestKind,
    RequestStatus,
    RightsRequest,
)

OPENING_ACTIONS = ("dossier.viewed", "attachment.viewed")


@dataclass(frozen=True)
class Access:
    """Openings of one dossier on one day by people of one role in one service. Never the
    person's name: the citizen sees who in the administration, not which individual."""

    day: date
    dossier: str
    """The dossier's reference."""
    what: str
    role: str
    service: str
    """The service (or, for an auditor, the authority) the role is held in; '' if unknown."""
    times: int


def _role_and_service(roles: list[StaffRole], dossier: Dossier) -> tuple[str, str]:
    """The role that let this person open this dossier, read from their roles today (the
    audit entry names the account only); the first that fits, most specific first."""
    service = dossier.service
    held = {r.role for r in roles if r.role in SERVICE_ROLES and r.service_id == dossier.service_id}
    if held:
        kind = RoleKind.SUPERVISOR if RoleKind.SUPERVISOR in held else RoleKind.AGENT
        return str(kind.label), service.name if service else ""
    for role in roles:
        if role.role != RoleKind.AUDITOR:
            continue
        if role.authority_id is None:
            return str(RoleKind.AUDITOR.label), _("Toute la plateforme")
        if service is not None and role.authority_id == service.authority_id:
            return str(RoleKind.AUDITOR.label), role.authority.name if role.authority else ""
    return _("Membre du personnel"), ""


def access_log(user: User) -> list[Access]:
    """Who opened the person's dossiers or their files, most recent day first."""
    dossiers = {
        str(d.pk): d for d in Dossier.objects.filter(applicant=user).select_related("service")
    }
    if not dossiers:
        return []
    entries = list(
        AuditEntry.objects.filter(
            action__in=OPENING_ACTIONS, object_type="dossiers.dossier", object_id__in=dossiers
        )
        .exclude(actor=user)
        .only("action", "actor_id", "object_id", "at")
    )
    roles: dict[int, list[StaffRole]] = {}
    actor_ids = {e.actor_id for e in entries if e.actor_id is not None}
    for held in StaffRole.objects.filter(user_id__in=actor_ids).select_related("authority"):
        roles.setdefault(held.user_id, []).append(held)
    what = {"dossier.viewed": _("Dossier"), "attachment.viewed": _("Pièce jointe")}
    counts: Counter[tuple[date, str, str, str, str]] = Counter()
    for entry in entries:
        dossier = dossiers[entry.object_id]
        role, service = _role_and_service(roles.get(entry.actor_id or 0, []), dossier)
        counts[(entry.at.date(), dossier.reference, what[entry.action], role, service)] += 1
    return [
        Access(day=day, dossier=ref, what=kind, role=role, service=service, times=n)
        for (day, ref, kind, role, service), n in sorted(
            counts.items(), key=lambda item: (item[0][0], item[0][1]), reverse=True
        )
    ]


def requests_of(user: User) -> list[RightsRequest]:
    """The person's own requests, newest first."""
    return list(
        RightsRequest.objects.filter(user=user).select_related("dossier", "dossier__service")
    )


def _answerable(rights: StaffRights) -> Q:
    """Requests about a dossier go to its service's agents and supervisors; requests about
    an account (no dossier) to the platform administrators."""
    scope = Q(dossier__service_id__in=rights.agent_of)
    if rights.platform_admin:
        scope |= Q(dossier__isnull=True)
    return scope


def requests_to_answer(rights: StaffRights) -> list[RightsRequest]:
    """Open requests the person may answer, the nearest deadline first."""
    if rights.is_empty:
        return []
    return list(
        RightsRequest.objects.filter(_answerable(rights), status=RequestStatus.OPEN)
        .select_related("dossier", "dossier__service")
        .order_by("due_at", "pk")
    )


def request_for_staff(rights: StaffRights, pk: int) -> RightsRequest:
    """One request the person may answer (open or not), or 404."""
    found = (
        RightsRequest.objects.filter(_answerable(rights), pk=pk)
        .select_related("dossier", "dossier__service")
        .first()
        if not rights.is_empty
        else None
    )
    if found is None:
        raise Http404("rights request")
    return found


# --- The notice a dossier was submitted under; stopped processing ----------------------------


def acceptance_of(dossier: Dossier) -> NoticeAcceptance | None:
    """None for a draft, or a dossier submitted before notices were versioned."""
    try:
        acceptance: NoticeAcceptance = dossier.notice_acceptance
    except ObjectDoesNotExist:
        return None
    return acceptance


def blocking(dossier: Dossier) -> RightsRequest | None:
    """The blocking request the service granted on this dossier, the first one."""
    return (
        RightsRequest.objects.filter(
            dossier=dossier, kind=RequestKind.BLOCKING, status=RequestStatus.ANSWERED
        )
        .order_by("answered_at", "pk")
        .first()
    )


def processing_stopped(dossier: Dossier) -> str | None:
    """Why the dossier may no longer be processed, in plain French for the applicant and
    for staff alike, or None. The workflow refuses every move while it holds."""
    acceptance = acceptance_of(dossier)
    if acceptance is not None and acceptance.consent_withdrawn_at is not None:
        return _(
            "Traitement arrêté : le consentement a été retiré le %(date)s. Le dossier ne "
            "peut plus avancer et ses données seront effacées."
        ) % {"date": acceptance.consent_withdrawn_at.strftime("%d/%m/%Y")}
    blocked = blocking(dossier)
    if blocked is not None:
        when = blocked.answered_at or blocked.created_at
        return _(
            "Traitement arrêté : une demande de verrouillage des données a été acceptée le "
            "%(date)s. Les données sont conservées mais ne peuvent plus être utilisées."
        ) % {"date": when.strftime("%d/%m/%Y")}
    return None


@dataclass(frozen=True)
class DossierPrivacy:
    """What the dossier pages show about the personal-data notice and stopped processing."""

    acceptance: NoticeAcceptance | None
    stopped: str | None

    @property
    def can_withdraw(self) -> bool:
        found = self.acceptance
        return found is not None and found.consent and not found.is_withdrawn


def dossier_privacy(dossier: Dossier) -> DossierPrivacy:
    return DossierPrivacy(acceptance=acceptance_of(dossier), stopped=processing_stopped(dossier))


def notice_by_number(procedure_id: str, number: int) -> Notice:
    """One version of a procedure's notice, or 404."""
    found = Notice.objects.filter(procedure_id=procedure_id, number=number).first()
    if found is None:
        raise Http404("notice")
    return found


def latest_notice(procedure_id: str) -> Notice | None:
    """The procedure's newest notice version, if it has any."""
    return Notice.objects.filter(procedure_id=procedure_id).order_by("-number").first()


def notice_text(notice: Notice, language: str | None = None) -> PrivacyNotice:
    """The notice's texts in `language` (French where a text lacks it)."""
    return PrivacyNotice(**{key: pick(text, language) for key, text in notice.texts.items()})
