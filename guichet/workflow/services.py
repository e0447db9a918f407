"""Moves of a dossier through the workflow (transitions.py), assignment and notes.

Each move checks the actor's right and the table, refuses a dossier whose processing has
stopped (consent withdrawn, blocking granted: privacy.queries), requires a reason where
the table says so, records a `StatusChange` (the timeline) and an audit entry in the same
transaction, keeps the deadline honest (time waiting for the applicant is added back) and
queues the applicant's notification, sent after commit.

Rights: the applicant acts on their own dossier; agents and supervisors of the service the
dossier is routed to act as agents; only its supervisors reopen a decided dossier or
assign it to someone else (organisation/queries.py reads the roles on every call).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.documents import services as documents
from guichet.documents.codes import DocumentKind
from guichet.dossiers import notices
from guichet.dossiers import services as dossier_services
from guichet.dossiers.models import Dossier, DossierStatus, InformationRequest, StatusChange
from guichet.dossiers.services import DossierError
from guichet.governance import audit
from guichet.organisation.queries import StaffRights, colleagues, staff_rights
from guichet.privacy import queries as privacy
from guichet.workflow.models import Annotation
from guichet.workflow.transitions import FINAL, TRANSITIONS, WAITING_FOR_APPLICANT, Role

MAX_REASON_LENGTH = 2000
DECISION_DOCUMENTS = {
    DossierStatus.ACCEPTED: DocumentKind.ACCEPTANCE,
    DossierStatus.REJECTED: DocumentKind.REFUSAL,
}
"""The document a decision issues, when the procedure defines one (issued_documents)."""


class TransitionError(DossierError):
    """A move the table or the actor's rights do not allow; `message` is in plain French."""


def can_act(actor: User, role: Role, dossier: Dossier, rights: StaffRights | None = None) -> bool:
    """`rights`: the actor's, when the caller has read them already (one page, many checks)."""
    if role == Role.APPLICANT:
        return dossier.applicant_id == actor.pk
    rights = rights or staff_rights(actor)
    if role == Role.AGENT:
        return rights.can_review(dossier.service_id)
    return rights.can_supervise(dossier.service_id)


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
    # Consent withdrawn or a blocking granted: the data is kept, or awaits the purge, but is
    # no longer used, whoever asks.
    stopped = privacy.processing_stopped(dossier)
    if stopped:
        raise TransitionError(stopped)
    if rule.needs_reason and not reason.strip():
        raise TransitionError(_("Écrivez la raison : la personne qui a déposé le dossier la lira."))
    if len(reason) > MAX_REASON_LENGTH:
        raise TransitionError(
            _("Raison trop longue : %(n)d caractères au plus.") % {"n": MAX_REASON_LENGTH}
        )


def _move(
    dossier: Dossier, to: DossierStatus, actor: User, reason: str, event: str | None = None
) -> StatusChange:
    change = StatusChange.objects.create(
        dossier=dossier, from_status=dossier.status, to_status=to, actor=actor, reason=reason
    )
    now = timezone.now()
    if to in WAITING_FOR_APPLICANT:
        dossier.waiting_since = now
    elif dossier.waiting_since is not None:
        # The clock was stopped while the applicant had the dossier: give that time back.
        if dossier.due_at is not None:
            dossier.due_at += now - dossier.waiting_since
        dossier.waiting_since = None
    dossier.status = to
    dossier.save(update_fields=["status", "updated_at", "due_at", "waiting_since"])
    audit.record(
        "dossier.status_changed",
        obj=dossier,
        actor=actor,
        data={"from": change.from_status, "to": to.value},
    )
    reopened = change.from_status in FINAL and to == DossierStatus.IN_REVIEW
    if reopened:
        documents.revoke_all(dossier=dossier, actor=actor, reason=reason)
        event = "dossier.reopened"
    event = event or notices.STATUS_EVENTS.get(to)
    if event is not None:
        notices.tell_applicant(dossier, event)
    return change


@transaction.atomic
def transition(*, dossier: Dossier, to: DossierStatus, actor: User, reason: str = "") -> Dossier:
    """Move a dossier along the table (not for asking information or resubmitting, which
    carry more: see `request_information` and `resubmit`)."""
    if to == DossierStatus.INFO_REQUESTED or (
        dossier.status == DossierStatus.INFO_REQUESTED and to == DossierStatus.IN_REVIEW
    ):
        raise TransitionError(_("Utilisez la demande de complément ou le renvoi du dossier."))
    if not (isinstance(actor, User) and actor.is_active and actor.is_staff):
        # Every move here, decisions first, is a named person's act: never a command, a
        # task or an algorithm (governance/algorithms.py), even one handed a user-like value.
        raise TransitionError(_("Vous n'avez pas le droit de faire cette action sur ce dossier."))
    dossier = Dossier.objects.select_for_update().get(pk=dossier.pk)
    _check(dossier, to, actor, reason)
    starting = dossier.status == DossierStatus.SUBMITTED
    event = None
    if to in DECISION_DOCUMENTS:
        # Signed in the decision's transaction: no decision without its document.
        issued = documents.issue(
            dossier=dossier, kind=DECISION_DOCUMENTS[to], actor=actor, reason=reason.strip()
        )
        if issued is not None and to == DossierStatus.ACCEPTED:
            event = "dossier.accepted_document"
    _move(dossier, to, actor, reason.strip(), event)
    if starting and dossier.assigned_to_id is None:
        # Whoever starts the review holds the dossier until they give it back.
        dossier.assigned_to = actor
        dossier.save(update_fields=["assigned_to"])
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


# --- Assignment and notes -----------------------------------------------------------------------


@transaction.atomic
def assign(*, dossiers: Iterable[Dossier], to: User | None, actor: User) -> int:
    """Give dossiers to `to` (None: back to the queue). An agent takes dossiers for
    themself or gives back their own; a supervisor assigns anyone of the service. All or
    nothing: one dossier the actor may not assign refuses the whole batch."""
    rights = staff_rights(actor)
    locked = list(
        Dossier.objects.select_for_update().filter(pk__in=[d.pk for d in dossiers]).order_by("pk")
    )
    if not locked:
        raise TransitionError(_("Choisissez au moins un dossier."))
    team: dict[str, list[User]] = {}
    for dossier in locked:
        if dossier.is_draft or not rights.can_review(dossier.service_id):
            raise TransitionError(
                _("Vous n'avez pas le droit de faire cette action sur ce dossier.")
            )
        service_id = str(dossier.service_id)
        if rights.can_supervise(service_id):
            if service_id not in team:
                team[service_id] = colleagues(service_id)
            allowed = to is None or to in team[service_id]
        elif to is None:
            allowed = dossier.assigned_to_id == actor.pk
        else:  # an agent takes a free dossier; only a supervisor takes one from a colleague
            allowed = to.pk == actor.pk and dossier.assigned_to_id in (None, actor.pk)
        if not allowed:
            raise TransitionError(
                _("Seul un superviseur du service attribue un dossier à une autre personne.")
            )
    for dossier in locked:
        if dossier.assigned_to_id == (to.pk if to else None):
            continue
        dossier.assigned_to = to
        dossier.save(update_fields=["assigned_to", "updated_at"])
        audit.record(
            "dossier.assigned",
            obj=dossier,
            actor=actor,
            data={"to": to.get_username() if to else None},
        )
    return len(locked)


MAX_NOTE_LENGTH = 4000


@transaction.atomic
def annotate(*, dossier: Dossier, body: str, actor: User) -> Annotation:
    """A private note for the service's staff; the applicant never sees it."""
    if not staff_rights(actor).can_review(dossier.service_id):
        raise TransitionError(_("Vous n'avez pas le droit de faire cette action sur ce dossier."))
    body = body.strip()
    if not body:
        raise TransitionError(_("Écrivez la note."))
    if len(body) > MAX_NOTE_LENGTH:
        raise TransitionError(
            _("Note trop longue : %(n)d caractères au plus.") % {"n": MAX_NOTE_LENGTH}
        )
    note = Annotation.objects.create(dossier=dossier, author=actor, body=body)
    audit.record("annotation.added", obj=dossier, actor=actor, data={"annotation": note.pk})
    return note
