"""The citizen's rights on their data: the export of everything the platform holds about
them ("Mes données"), requests for rectification, objection or blocking, answered by
the service that handles the dossier within a deadline, the versioned personal-data
notice accepted at submission, and the withdrawal of consent.

Contract as elsewhere: keyword-only arguments, an explicit actor, one transaction, the
audit entry inside it, notices queued for after commit.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from guichet.accounts.models import SignInCode, User
from guichet.assistant.models import Exchange
from guichet.catalog.models import Procedure
from guichet.catalog.texts import pick
from guichet.dossiers.models import Dossier, DossierStatus
from guichet.formdefs.spec import FormSpec, NoFormError
from guichet.governance import audit
from guichet.governance.models import AuditEntry
from guichet.governance.policy import policy_for
from guichet.notifications.models import InboundSms, Notification
from guichet.notifications.services import notify
from guichet.organisation.queries import StaffRights, staff_rights
from guichet.privacy import queries
from guichet.privacy.models import (
    Notice,
    NoticeAcceptance,
    RequestKind,
    RequestStatus,
    RightsRequest,
)

EXPORT_FORMAT = "guichet-mes-donnees/1"
MAX_TEXT_LENGTH = 2000
MAX_ANSWER_LENGTH = 4000


class RightsRequestError(Exception):
    """A request or an answer that cannot be taken; `message` is plain French."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def request_days() -> int:
    """Days the administration has to answer (the laws of the three countries set none
    that we could verify; 30 is the common practice of their data-protection bodies)."""
    return int(getattr(settings, "PRIVACY_REQUEST_DAYS", 30))


# --- Requests ------------------------------------------------------------------------------------


def _clean_text(text: str, limit: int, empty: str) -> str:
    text = text.strip()
    if not text:
        raise RightsRequestError(empty)
    if len(text) > limit:
        raise RightsRequestError(_("Texte trop long : %(n)d caractères au plus.") % {"n": limit})
    return text


@transaction.atomic
def submit_request(
    *, actor: User, kind: str, text: str, dossier: Dossier | None = None
) -> RightsRequest:
    """A request by `actor` about one of their submitted dossiers, or about their account."""
    if kind not in RequestKind.values:
        raise RightsRequestError(_("Choisissez le type de demande."))
    if dossier is not None and (dossier.applicant_id != actor.pk or dossier.is_draft):
        raise RightsRequestError(_("Choisissez un de vos dossiers déposés."))
    if kind == RequestKind.BLOCKING and dossier is None:
        raise RightsRequestError(_("Un verrouillage porte sur un dossier : choisissez-le."))
    text = _clean_text(text, MAX_TEXT_LENGTH, _("Écrivez votre demande."))
    # One person's requests one at a time, so a double click cannot file two.
    User.objects.select_for_update().filter(pk=actor.pk).first()
    if RightsRequest.objects.filter(
        user=actor, dossier=dossier, kind=kind, status=RequestStatus.OPEN
    ).exists():
        raise RightsRequestError(_("Vous avez déjà une demande de ce type en attente de réponse."))
    now = timezone.now()
    rights_request = RightsRequest.objects.create(
        user=actor,
        dossier=dossier,
        kind=kind,
        text=text,
        created_at=now,
        due_at=now + timedelta(days=request_days()),
    )
    audit.record(
        "rights_request.submitted",
        obj=rights_request,
        actor=actor,
        data={
            "kind": kind,
            "dossier": dossier.reference if dossier else "",
            "due_at": rights_request.due_at.isoformat(),
        },
    )
    return rights_request


def can_answer(rights: StaffRights, rights_request: RightsRequest) -> bool:
    if rights_request.dossier is None:
        return rights.platform_admin
    return rights.can_review(rights_request.dossier.service_id)


def answered_text(language: str) -> str:
    """The SMS telling the person their request was answered (one GSM-7 SMS, nothing
    personal: it may be read by someone else)."""
    with translation.override(language or settings.LANGUAGE_CODE):
        return _(
            "Guichet : le service a répondu à votre demande sur vos données personnelles. "
            "Lisez la réponse dans Mes données."
        )


@transaction.atomic
def answer_request(
    *, rights_request: RightsRequest, actor: User, answer: str, accept: bool
) -> RightsRequest:
    """The service's answer: the request is granted (`accept`) or refused, with the reason
    either way. Answered once; the citizen is told by SMS."""
    rights_request = RightsRequest.objects.select_for_update().get(pk=rights_request.pk)
    if not can_answer(staff_rights(actor), rights_request):
        raise RightsRequestError(_("Vous n'avez pas le droit de répondre à cette demande."))
    if not rights_request.is_open:
        raise RightsRequestError(_("Cette demande a déjà reçu une réponse."))
    answer = _clean_text(answer, MAX_ANSWER_LENGTH, _("Écrivez la réponse au demandeur."))
    now = timezone.now()
    rights_request.status = RequestStatus.ANSWERED if accept else RequestStatus.REFUSED
    rights_request.answer = answer
    rights_request.answered_by = actor
    rights_request.answered_at = now
    rights_request.save(update_fields=["status", "answer", "answered_by", "answered_at"])
    audit.record(
        "rights_request.answered",
        obj=rights_request,
        actor=actor,
        data={
            "kind": rights_request.kind,
            "status": rights_request.status,
            "due_at": rights_request.due_at.isoformat(),
            "late": now > rights_request.due_at,
        },
    )
    dossier = rights_request.dossier
    notify(
        user=rights_request.user,
        event="privacy.request_answered",
        object_ref=dossier.reference if dossier else "mes-donnees",
        text=answered_text(rights_request.user.language),
    )
    return rights_request


def is_blocked(dossier: Dossier) -> bool:
    """The service granted a blocking of this dossier: its data is kept, not used."""
    return queries.blocking(dossier) is not None


# --- The personal-data notice and consent ------------------------------------------------------

NOTICE_FORMAT = "guichet-notice/1"
NOTICE_KEYS = ("purpose", "legal_basis", "retention", "recipients")


class NoticeError(Exception):
    """A submission the notice refuses; `message` is plain French. `changed`: the notice
    in force is no longer the one the citizen read (show it again)."""

    def __init__(self, message: str, *, changed: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.changed = changed


def notice_digest(texts: dict[str, Any], asks_consent: bool) -> str:
    """SHA-256 of the notice's canonical content: compact JSON, keys sorted."""
    content = json.dumps(
        [NOTICE_FORMAT, texts, asks_consent],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(content.encode()).hexdigest()


def _notice_source(dossier: Dossier) -> dict[str, Any]:
    """The definition whose notice is in force for the dossier: the procedure's current
    version (its rules apply to every dossier, docs/retention.md), or the draft's own
    version if the current one has no online form."""
    current = dossier.procedure.current_version
    definition: dict[str, Any] = dossier.version.definition
    if current is not None and (current.definition.get("form") or {}).get("privacy"):
        definition = current.definition
    return definition


def current_notice(dossier: Dossier) -> Notice:
    """The notice version to show for `dossier` now; made (numbered, audited) the first time
    its content is shown. The same content is the same version, also after a change and
    its reversal."""
    definition = _notice_source(dossier)
    privacy = definition["form"]["privacy"]
    texts = {key: dict(privacy[key]) for key in NOTICE_KEYS}
    asks_consent = policy_for(definition).legal_basis == "consent"
    digest = notice_digest(texts, asks_consent)
    found = Notice.objects.filter(procedure_id=dossier.procedure_id, digest=digest).first()
    return found or _new_notice(dossier.procedure_id, texts, asks_consent, digest)


@transaction.atomic
def _new_notice(
    procedure_id: str, texts: dict[str, Any], asks_consent: bool, digest: str
) -> Notice:
    # Numbers one at a time per procedure: two first displays at once make one version.
    Procedure.objects.select_for_update().filter(pk=procedure_id).first()
    found = Notice.objects.filter(procedure_id=procedure_id, digest=digest).first()
    if found is not None:
        return found
    last = (
        Notice.objects.filter(procedure_id=procedure_id)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    notice = Notice.objects.create(
        procedure_id=procedure_id,
        number=(last or 0) + 1,
        digest=digest,
        texts=texts,
        asks_consent=asks_consent,
    )
    audit.record(
        "privacy_notice.created",
        obj=notice,
        actor="system:privacy-notice",
        data={"procedure": procedure_id, "number": notice.number, "digest": digest},
    )
    return notice


def check_notice(*, dossier: Dossier, seen: str | None, consent: bool) -> Notice:
    """The notice the citizen accepts by submitting, or NoticeError: the one in force is
    not the one they read (`seen`: the id the summary page posted; None when the caller
    showed the notice in force itself), or it asks for a consent not given."""
    notice = current_notice(dossier)
    if seen is not None and seen != str(notice.pk):
        raise NoticeError(
            _(
                "Les mentions sur vos données ont changé depuis votre lecture. Lisez la "
                "nouvelle version ci-dessous, puis déposez votre dossier."
            ),
            changed=True,
        )
    if notice.asks_consent and not consent:
        raise NoticeError(
            _(
                "Cochez la case pour donner votre accord au traitement de vos données : "
                "sans cet accord, le dossier ne peut pas être déposé."
            )
        )
    return notice


def record_acceptance(*, dossier: Dossier, notice: Notice, at: datetime) -> NoticeAcceptance:
    """Stored with the submission, in its transaction (`check_notice` passed); the
    submission's audit entry names the version."""
    return NoticeAcceptance.objects.create(
        dossier=dossier, notice=notice, accepted_at=at, consent=notice.asks_consent
    )


@transaction.atomic
def withdraw_consent(*, dossier: Dossier, actor: User) -> NoticeAcceptance:
    """The applicant withdraws the consent their dossier rests on: processing stops (the
    workflow refuses every move, `queries.processing_stopped`) and the next daily purge
    erases the dossier (retention.services)."""
    if dossier.applicant_id != actor.pk:
        raise NoticeError(_("Ce dossier n'est pas le vôtre."))
    # The dossier's lock, which every move takes: none goes through while this commits.
    dossier = Dossier.objects.select_for_update().get(pk=dossier.pk)
    acceptance = NoticeAcceptance.objects.filter(dossier_id=dossier.pk).first()
    if acceptance is None or not acceptance.consent:
        raise NoticeError(_("Ce dossier ne repose pas sur votre consentement."))
    if acceptance.is_withdrawn:
        raise NoticeError(_("Vous avez déjà retiré votre consentement pour ce dossier."))
    acceptance.consent_withdrawn_at = timezone.now()
    acceptance.save(update_fields=["consent_withdrawn_at"])
    audit.record(
        "consent.withdrawn",
        obj=dossier,
        actor=actor,
        data={"notice": acceptance.notice.number, "status": dossier.status},
    )
    return acceptance


# --- Export --------------------------------------------------------------------------------------


def record_export(*, actor: User, form: str) -> None:
    """The person downloaded (`json`) or displayed (`html`) their data."""
    audit.record("personal_data.exported", obj=actor, actor=actor, data={"format": form})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _answers(dossier: Dossier, language: str) -> list[dict[str, Any]]:
    """Every stored answer with its question, hidden or not: what is held, not what shows."""
    try:
        spec: FormSpec | None = FormSpec.from_definition(dossier.version.definition)
    except NoFormError:
        spec = None
    rows = []
    for field_id, value in dossier.answers.items():
        try:
            label = pick(spec.field(field_id).label, language) if spec else field_id
        except KeyError:
            label = field_id
        rows.append({"field": field_id, "label": label, "value": value})
    return rows


def _notice(dossier: Dossier) -> dict[str, Any] | None:
    """The notice version the dossier was submitted under, and the consent given."""
    acceptance = queries.acceptance_of(dossier)
    if acceptance is None:
        return None
    return {
        "procedure": acceptance.notice.procedure_id,
        "version": acceptance.notice.number,
        "digest": acceptance.notice.digest,
        "accepted_at": _iso(acceptance.accepted_at),
        "consent": acceptance.consent,
        "consent_withdrawn_at": _iso(acceptance.consent_withdrawn_at),
    }


def _dossier(dossier: Dossier, user: User, language: str) -> dict[str, Any]:
    service = dossier.service.name if dossier.service else ""
    return {
        "reference": dossier.reference,
        "procedure": dossier.procedure_id,
        "title": pick(dossier.version.definition.get("title"), language),
        "status": dossier.status,
        "status_label": str(DossierStatus(dossier.status).label),
        "service": service,
        "created_at": _iso(dossier.created_at),
        "submitted_at": _iso(dossier.submitted_at),
        "due_at": _iso(dossier.due_at),
        "applicant_name": dossier.applicant_name,
        "answers": _answers(dossier, language),
        "privacy_notice": _notice(dossier),
        "files": [
            {
                "name": a.original_name,
                "field": a.field_id,
                "kind": a.kind,
                "size": a.size,
                "sha256": a.sha256,
                "scan": a.scan_status,
                "sent_by_you": a.uploaded_by_id == user.pk,
                "at": _iso(a.created_at),
            }
            for a in dossier.attachments.all()
        ],
        # The administration's messages name the service, never the agent.
        "messages": [
            {
                "from": _("Vous") if m.from_applicant else service,
                "from_you": m.from_applicant,
                "body": m.body,
                "file": m.attachment.original_name if m.attachment else None,
                "at": _iso(m.created_at),
            }
            for m in dossier.messages.all()
        ],
        "timeline": [
            {
                "from": c.from_status,
                "to": c.to_status,
                "to_label": str(DossierStatus(c.to_status).label),
                "reason": c.reason,
                "at": _iso(c.at),
            }
            for c in dossier.changes.all()
        ],
        "information_requests": [
            {
                "message": r.message,
                "fields": r.fields,
                "at": _iso(r.created_at),
                "answered_at": _iso(r.answered_at),
            }
            for r in dossier.info_requests.all()
        ],
        "documents": [
            {
                "number": d.number,
                "title": d.title,
                "kind": str(d.get_kind_display()),
                "file": d.filename,
                "size": d.size,
                "sha256": d.sha256,
                "issued_at": _iso(d.issued_at),
                "revoked_at": _iso(d.revoked_at),
                "revoked_reason": d.revoked_reason,
            }
            for d in dossier.documents.all()
        ],
    }


def _request(r: RightsRequest) -> dict[str, Any]:
    return {
        "kind": r.kind,
        "kind_label": str(r.get_kind_display()),
        "dossier": r.dossier.reference if r.dossier else None,
        "text": r.text,
        "status": r.status,
        "status_label": str(r.get_status_display()),
        "answer": r.answer,
        "created_at": _iso(r.created_at),
        "due_at": _iso(r.due_at),
        "answered_at": _iso(r.answered_at),
    }


def export_for(user: User, *, language: str = "fr") -> dict[str, Any]:
    """Everything the platform holds about `user`, JSON-serialisable: the account, each
    dossier with its answers, the notice version accepted (and the consent), file names
    (never their content), messages, timeline and documents, the requests on their data,
    the questions put to the assistant, the messages sent and received, their own
    actions, and who in the administration opened their dossiers (role and service, not
    names). Nothing about anyone else: each part is read from the person's own rows."""
    with translation.override(language):
        dossiers = (
            Dossier.objects.filter(applicant=user)
            .select_related("version", "service", "notice_acceptance__notice")
            .prefetch_related(
                "attachments", "messages__attachment", "changes", "info_requests", "documents"
            )
            .order_by("created_at", "pk")
        )
        phone = user.phone or ""
        by_number = Q(user__isnull=True, to=phone) if phone else Q(pk__in=[])
        return {
            "format": EXPORT_FORMAT,
            "generated_at": _iso(timezone.now()),
            "account": {
                "username": user.get_username(),
                "phone": user.phone,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "display_name": user.display_name,
                "email": user.email,
                "notify_by_sms": user.notify_by_sms,
                "notify_by_email": user.notify_by_email,
                "language": user.language,
                "date_joined": _iso(user.date_joined),
                "last_login": _iso(user.last_login),
            },
            "dossiers": [_dossier(d, user, language) for d in dossiers],
            "rights_requests": [_request(r) for r in queries.requests_of(user)],
            "assistant_questions": [
                {
                    "at": _iso(e.created_at),
                    "channel": e.channel,
                    "question": e.question,
                    "answer": e.answer,
                    "procedure": e.procedure_id,
                    "helpful": e.helpful,
                }
                for e in Exchange.objects.filter(user=user).order_by("created_at", "pk")
            ],
            "notifications": [
                {
                    "at": _iso(n.created_at),
                    "channel": n.channel,
                    "to": n.to,
                    "about": n.object_ref,
                    "text": n.text,
                    "status": n.status,
                }
                for n in Notification.objects.filter(Q(user=user) | by_number)
            ],
            "sms_received": [
                {"at": _iso(s.received_at), "text": s.text, "reply": s.reply}
                for s in (
                    InboundSms.objects.filter(sender=phone).order_by("received_at", "pk")
                    if phone
                    else []
                )
            ],
            "sign_in_codes": [
                {"at": _iso(c.created_at), "status": c.status}
                for c in (SignInCode.objects.filter(phone=phone) if phone else [])
            ],
            "activity": [
                {
                    "at": _iso(e.at),
                    "action": e.action,
                    "description": audit.ACTIONS.get(e.action, e.action),
                }
                for e in AuditEntry.objects.filter(
                    Q(actor=user) | Q(object_type="accounts.user", object_id=str(user.pk))
                ).only("action", "at")
            ],
            "access_log": [
                {
                    "date": a.day.isoformat(),
                    "dossier": a.dossier,
                    "what": a.what,
                    "role": a.role,
                    "service": a.service,
                    "times": a.times,
                }
                for a in queries.access_log(user)
            ],
        }
