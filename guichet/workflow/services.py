"""Moves of a dossier through the workflow (transitions.py). One function per move kind.

Each move checks the actor's right and the table, requires a reason where the table says
so, records a `StatusChange` (the timeline) and an audit entry in the same transaction.

Rights, for now: the applicant acts on their own dossier; any staff account may act as an
agent and a superuser as a supervisor. The back-office issue narrows this to the agents of
the service and territory the dossier is routed to, through `can_act`.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.dossiers import services as dossier_services
from guichet.dossiers.models import Dossier, DossierStatus, InformationRequest, StatusChange
from guichet.dossiers.services import DossierError
from guichet.governance import audit
from guichet.workflow.transitions import TRANSITIONS, Role

MAX_REASON_LENGTH = 2000


class TransitionError(DossierError):
    """A move the table or the actor's rights do not allow; `message` is in plain French."""


def can_act(actor: User, role: Role, dossier: Dossier) -> bool:
    if role == Role.APPLICANT:
        return dossier.applicant_id == actor.pk
    if role == Role.AGENT:
        return actor.is_staff and actor.is_active
    return actor.is_superuser and actor.is_active


def _check(dossier: Dossier, to: DossierStatus, actor: User, reason: str) -> None:
    rule = TRANSITIONS.get((DossierStatus(dossier.status), to))
    if rule is None:
        raise TransitionError(
            _("Impossible de passer de « %(from)s » à « %(to)s ».")
            % {"from": dossier.get_status_display(), "to": to.label}
        )
    roles = [rule.role] + ([Role.SUPERVISOR] if rule.role == Role.AGENT else [])
    if not any(can_act(actor, role, dossier) for role in roles):
        raise TransitionError(_("Vous n'avez pas le droit de faire cette action sur ce dossier."))
    if rule.needs_reason and not reason.strip():
        raise TransitionError(_("Écrivez la raison : la personne qui a déposé le dossier la lira."))
    if len(reason) > MAX_REASON_LENGTH:
        raise TransitionError(
            _("Raison trop longue : %(n)d caractères au plus.") % {"n": MAX_REASON_LENGTH}
        )


def _move(dossier: Dossier, to: DossierStatus, actor: User, reason: str) -> StatusChange:
    change = StatusChange.objects.create(
        dossier=dossier, from_status=dossier.status, to_status=to, actor=actor, reason=reason
    )
    dossier.status = to
    dossier.save(update_fields=["status", "updated_at"])
    audit.record(
        "dossier.status_changed",
        obj=dossier,
        actor=actor,
        data={"from": change.from_status, "to": to.value},
    )
    return change


@transaction.atomic
def transition(*, dossier: Dossier, to: DossierStatus, actor: User, reason: str = "") -> Dossier:
    """Move a dossier along the table (not for asking information or resubmitting, which
    carry more: see `request_information` and `resubmit`)."""
    if to == DossierStatus.INFO_REQUESTED or (
        dossier.status == DossierStatus.INFO_REQUESTED and to == DossierStatus.IN_REVIEW
    ):
        raise TransitionError(_("Utilisez la demande de complément ou le renvoi du dossier."))
    dossier = Dossier.objects.select_for_update().get(pk=dossier.pk)
    _check(dossier, to, actor, reason)
    _move(dossier, to, actor, reason.strip())
    return dossier


@transaction.atomic
def request_information(
    *, dossier: Dossier, fields: Iterable[str], message: str, actor: User
) -> InformationRequest:
    """Ask the applicant to correct the listed answers or add the listed documents."""
    dossier = Dossier.objects.select_for_update().get(pk=dossier.pk)
    _check(dossier, DossierStatus.INFO_REQUESTED, actor, message)
    spec = dossier_services.form_spec(dossier)
    wanted = list(dict.fromkeys(fields))
    known = {f.id for page in spec.pages for f in page.fields if f.holds_answer}
    unknown = [f for f in wanted if f not in known]
    if not wanted or unknown:
        raise TransitionError(_("Choisissez les réponses ou les pièces à compléter."))
    _move(dossier, DossierStatus.INFO_REQUESTED, actor, message.strip())
    return InformationRequest.objects.create(
        dossier=dossier, message=message.strip(), fields=wanted, requested_by=actor
    )


@transaction.atomic
def resubmit(*, dossier: Dossier, token: str, actor: User) -> Dossier:
    """The applicant sends the dossier back after completing it; done once per request."""
    dossier = Dossier.objects.select_for_update().get(pk=dossier.pk)
    if dossier.applicant_id != actor.pk:
        raise TransitionError(_("Ce dossier n'est pas le vôtre."))
    if str(dossier.submission_token) != str(token):
        raise TransitionError(_("Ce formulaire n'est plus à jour : rechargez la page."))
    if dossier.status != DossierStatus.INFO_REQUESTED:
        return dossier  # already sent back: a double click or a retry
    _check(dossier, DossierStatus.IN_REVIEW, actor, "")
    dossier.answers = dossier_services.final_answers(dossier)
    dossier.save(update_fields=["answers"])
    InformationRequest.objects.filter(dossier=dossier, answered_at__isnull=True).update(
        answered_at=timezone.now()
    )
    _move(dossier, DossierStatus.IN_REVIEW, actor, "")
    return dossier
