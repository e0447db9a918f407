"""Write interface of dossiers: start, fill page by page, attach files, submit.

Contract: every function takes keyword-only arguments and the acting user, runs in one
transaction, writes its audit entry inside it and queues side effects after commit.
A draft keeps the procedure version it was started on: the form it answers never changes
under the citizen's feet. Submission is idempotent: the draft's token submits it once;
a double click or a retry with the same token returns the same dossier.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.catalog.models import Procedure
from guichet.catalog.search import fold
from guichet.dossiers import notices
from guichet.dossiers.models import (
    MESSAGE_FIELD,
    Attachment,
    Dossier,
    DossierStatus,
    InformationRequest,
    Message,
    ScanStatus,
    StatusChange,
)
from guichet.dossiers.references import new_reference
from guichet.dossiers.scanning import ScannerUnavailable, get_scanner
from guichet.formdefs.files import (
    EXTENSIONS,
    SNIFF_BYTES,
    FileKind,
    FileRules,
    UnsafeFile,
    describe_unaccepted,
    make_safe,
    sniff_type,
)
from guichet.formdefs.spec import AnswersError, FormSpec
from guichet.governance import audit
from guichet.organisation import routing
from guichet.organisation.queries import staff_rights
from guichet.privacy import services as privacy

MAX_REFERENCE_TRIES = 5

security_log = logging.getLogger("guichet.security")


class DossierError(Exception):
    """A request the dossier cannot take; `message` is for the citizen, in plain French."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SubmissionRefused(DossierError):
    """The answers do not pass the final check; `errors` says where."""

    def __init__(self, errors: AnswersError) -> None:
        super().__init__(_("Certaines réponses sont à corriger avant le dépôt."))
        self.errors = errors


def form_spec(dossier: Dossier) -> FormSpec:
    """The form of the version the dossier was started on."""
    return FormSpec.from_definition(dossier.version.definition)


# --- Starting and filling ------------------------------------------------------------------------


@transaction.atomic
def start_dossier(*, procedure: Procedure, actor: User) -> Dossier:
    """A new draft of `procedure` for `actor`, on its current version."""
    version = procedure.current_version
    if not procedure.is_published or version is None or not version.definition.get("form"):
        raise DossierError(_("Cette démarche ne peut pas être faite en ligne."))
    spec = FormSpec.from_definition(version.definition)
    for _try in range(MAX_REFERENCE_TRIES):
        try:
            with transaction.atomic():
                dossier = Dossier.objects.create(
                    reference=new_reference(procedure.country),
                    procedure=procedure,
                    version=version,
                    applicant=actor,
                    current_page=spec.first_page({}).id,
                )
            break
        except IntegrityError:
            continue  # the reference was taken: draw another
    else:
        raise DossierError(_("Le service est très chargé : réessayez dans un instant."))
    audit.record("dossier.started", obj=dossier, actor=actor, data={"version": version.number})
    return dossier


def open_information_request(dossier: Dossier) -> InformationRequest | None:
    """The administration's pending request, when the dossier waits for the applicant."""
    if dossier.status != DossierStatus.INFO_REQUESTED:
        return None
    return dossier.info_requests.filter(answered_at__isnull=True).first()


def editable_fields(dossier: Dossier) -> set[str] | None:
    """Field ids the applicant may change now: None for all of them (a draft)."""
    if dossier.status == DossierStatus.DRAFT:
        return None
    request = open_information_request(dossier)
    return set(request.fields) if request else set()


def _require_editable(dossier: Dossier, actor: User, field_ids: set[str]) -> None:
    """A draft is open; a dossier under an information request only for the listed fields."""
    if dossier.applicant_id != actor.pk:
        raise DossierError(_("Ce dossier n'est pas le vôtre."))
    allowed = editable_fields(dossier)
    if allowed is None or allowed & field_ids:
        return
    raise DossierError(_("Ce dossier est déjà déposé : il ne peut plus être modifié ici."))


def _require_draft(dossier: Dossier, actor: User) -> None:
    _require_editable(dossier, actor, set())


def page_fields(spec: FormSpec, page_id: str) -> set[str]:
    return {f.id for f in spec.page(page_id).fields}


@transaction.atomic
def save_page(
    *, dossier: Dossier, page_id: str, page_answers: Mapping[str, Any], actor: User
) -> str | None:
    """Store one valid page of answers; returns the next page's id, or None for the summary."""
    dossier = Dossier.objects.select_for_update().get(pk=dossier.pk)
    spec = form_spec(dossier)
    _require_editable(dossier, actor, page_fields(spec, page_id))
    allowed = editable_fields(dossier)
    if allowed is not None:
        # A correction changes only the answers the administration asked for.
        on_page = page_fields(spec, page_id)
        kept = {k: v for k, v in dossier.answers.items() if k in on_page and k not in allowed}
        page_answers = {**kept, **{k: v for k, v in page_answers.items() if k in allowed}}
    dossier.answers = spec.with_page_answers(dossier.answers, page_id, page_answers)
    if not dossier.is_draft:  # a correction: back to the request, not through the form
        dossier.save(update_fields=["answers", "updated_at"])
        return None
    following = spec.next_page(page_id, dossier.answers)
    dossier.current_page = following.id if following else ""
    dossier.save(update_fields=["answers", "current_page", "updated_at"])
    return following.id if following else None


# --- Attachments ----------------------------------------------------------------------


def _rules_for(spec: FormSpec, field_name: str) -> FileRules:
    """The limits of the file field `field_name` (`acte`, or `enfants-0-acte` in a group)."""
    parts = field_name.split("-")
    path = (parts[0],) if len(parts) == 1 else (parts[0], parts[-1])
    for rules in spec.file_rules():
        if rules.path == path:
            return rules
    raise DossierError(_("Ce champ n'accepte pas de fichier."))


@transaction.atomic
def add_attachment(
    *, dossier: Dossier, field_name: str, upload: UploadedFile, actor: User
) -> Attachment:
    """Store one uploaded file for one file field of a draft."""
    dossier = Dossier.objects.select_for_update().get(pk=dossier.pk)
    _require_editable(dossier, actor, {field_name.split("-")[0]})
    rules = _rules_for(form_spec(dossier), field_name)
    if dossier.attachments.filter(field_id=field_name).count() >= rules.max_files:
        raise DossierError(
            _("Vous avez déjà joint tous les fichiers permis ici (%(n)d). Retirez-en un d'abord.")
            % {"n": rules.max_files}
        )
    attachment = _store_file(
        dossier=dossier, field_name=field_name, upload=upload, rules=rules, actor=actor
    )
    if not dossier.is_draft:
        _answer_with_file(dossier, field_name, str(attachment.pk))
    return attachment


def _answer_with_file(dossier: Dossier, field_name: str, attachment_id: str) -> None:
    """A correction has no page to save after an upload (the citizen may go straight back
    and resend): the answer points at the new file at once, so resending keeps it."""
    parts = field_name.split("-")
    answers = dossier.answers
    if len(parts) == 1:
        current = answers.get(field_name)
        answers[field_name] = [*(current if isinstance(current, list) else []), attachment_id]
    elif len(parts) == 3 and parts[1].isdigit():
        items, index, child = answers.get(parts[0]), int(parts[1]), parts[2]
        if isinstance(items, list) and index < len(items) and isinstance(items[index], dict):
            current = items[index].get(child)
            items[index][child] = [*(current if isinstance(current, list) else []), attachment_id]
    dossier.save(update_fields=["answers", "updated_at"])


def _store_file(
    *, dossier: Dossier, field_name: str, upload: UploadedFile, rules: FileRules, actor: User
) -> Attachment:
    """Check an upload against `rules` (size, type read from its bytes, content) and keep
    what `make_safe` leaves of it, pending a virus scan that runs after commit. The caller
    holds the dossier's row lock. The browser's name for the file is only shown, cleaned;
    its Content-Type is never read."""
    too_heavy = DossierError(
        _("Le fichier est trop lourd : %(size)s Mo au plus.") % {"size": f"{rules.max_size_mb:g}"}
    )
    if upload.size is not None and upload.size > rules.max_size_bytes:
        raise too_heavy
    upload.seek(0)
    data = upload.read(rules.max_size_bytes + 1)  # the size the client announced may lie
    if not data:
        raise DossierError(_("Le fichier est vide."))
    if len(data) > rules.max_size_bytes:
        raise too_heavy
    kind = sniff_type(data[:SNIFF_BYTES])
    if kind is None or kind not in rules.accept:
        raise DossierError(_unaccepted_message(data, rules))
    try:
        kept = make_safe(data, kind)
    except UnsafeFile as exc:
        raise DossierError(exc.message) from None
    attachment = Attachment(
        id=uuid.uuid4(),
        dossier=dossier,
        field_id=field_name,
        original_name=_clean_name(upload.name or "", kind),
        kind=kind,
        size=len(kept),
        sha256=hashlib.sha256(kept).hexdigest(),
        uploaded_by=actor,
    )
    attachment.file.save(attachment.original_name, ContentFile(kept), save=False)
    attachment.save()
    audit.record(
        "attachment.added",
        obj=dossier,
        actor=actor,
        data={
            "attachment": str(attachment.pk),
            "field": field_name,
            "kind": kind,
            # Bytes dropped from an image (metadata, comments, what followed its end).
            "cleaned": len(data) - len(kept),
        },
    )
    transaction.on_commit(lambda: _enqueue_scan(attachment.pk))
    return attachment


def _unaccepted_message(data: bytes, rules: FileRules) -> str:
    kinds = ", ".join(k.upper() for k in rules.accept)
    what = describe_unaccepted(data)
    if what is None:
        return _("Ce fichier n'est pas d'un type accepté (accepté : %(kinds)s).") % {"kinds": kinds}
    return _("Ce fichier n'est pas d'un type accepté (accepté : %(kinds)s) : c'est %(what)s.") % {
        "kinds": kinds,
        "what": what,
    }


def _enqueue_scan(attachment_id: uuid.UUID) -> None:
    from guichet.dossiers.tasks import scan_attachment

    scan_attachment.enqueue(attachment_id=str(attachment_id))


MAX_NAME_LENGTH = 120
_NAME_FORBIDDEN = set('"<>|:*?`\\/')
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{n}" for p in ("COM", "LPT") for n in range(10)
}


def _clean_name(name: str, kind: FileKind) -> str:
    """A file name safe to show and to offer for download (never used on disk): no path,
    no control or text-direction characters (U+202E would show `gpj.exe` as `exe.jpg`),
    none of `"<>|:*?`, at most 120 characters, and ending with the extension of what the
    file really is (`facture.exe` that is a PDF is offered as `facture.exe.pdf`)."""
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c for c in base if c.isprintable() and c not in _NAME_FORBIDDEN)
    stem, dot, extension = cleaned.rpartition(".")
    if not dot or f".{extension.lower()}" not in EXTENSIONS[kind]:
        stem, extension = cleaned, EXTENSIONS[kind][0][1:]
    stem = " ".join(stem.split()).strip(". ") or "fichier"
    if stem.split(".")[0].upper() in _WINDOWS_DEVICES:
        stem = f"_{stem}"
    return f"{stem[: MAX_NAME_LENGTH - len(extension) - 1].rstrip('. ')}.{extension}"


@transaction.atomic
def remove_attachment(*, attachment: Attachment, actor: User) -> None:
    dossier = Dossier.objects.select_for_update().get(pk=attachment.dossier_id)
    _require_editable(dossier, actor, {attachment.field_id.split("-")[0]})
    audit.record(
        "attachment.removed", obj=dossier, actor=actor, data={"attachment": str(attachment.pk)}
    )
    _delete_with_file(attachment)


def _delete_with_file(attachment: Attachment) -> None:
    """Delete the row now and the stored file once the transaction has committed."""
    file = attachment.file
    attachment.delete()
    transaction.on_commit(lambda: file.delete(save=False))


def scan_attachment(*, attachment_id: str) -> str:
    """Scan one file with the configured scanner. A verdict is final: clean, or infected
    and then quarantined. A scanner that cannot answer leaves the file pending with the
    reason, for staff, and `ScannerUnavailable` goes up so the task tries again later."""
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is None or attachment.scan_status != ScanStatus.PENDING:
        return attachment.scan_status if attachment else "missing"
    pending = Attachment.objects.filter(pk=attachment.pk, scan_status=ScanStatus.PENDING)
    try:
        with attachment.file.open("rb") as stream:
            result = get_scanner().scan(stream)
    except FileNotFoundError:
        if not pending.exists():
            return "missing"  # removed by the citizen while it was being scanned
        raise
    except ScannerUnavailable as exc:
        pending.update(scan_detail=str(exc)[:200], scanned_at=timezone.now())
        raise
    if result.is_clean:
        pending.update(
            scan_status=ScanStatus.CLEAN, scan_detail=result.detail[:200], scanned_at=timezone.now()
        )
        return str(ScanStatus.CLEAN)
    _quarantine(attachment_id=attachment.pk, signature=result.detail)
    return str(ScanStatus.INFECTED)


QUARANTINE_PREFIX = "quarantine/"


@transaction.atomic
def _quarantine(*, attachment_id: uuid.UUID, signature: str) -> None:
    """Mark an infected file and move it aside in the storage, out of the dossiers'
    folders: it is never served again, to anyone (web/files.py refuses it), and goes when
    the citizen removes it or with the dossier."""
    attachment = (
        Attachment.objects.select_for_update()
        .filter(pk=attachment_id, scan_status=ScanStatus.PENDING)
        .first()
    )
    if attachment is None:
        return
    storage, old_name = attachment.file.storage, attachment.file.name
    with storage.open(old_name, "rb") as stream:
        attachment.file.name = storage.save(f"{QUARANTINE_PREFIX}{attachment.pk}", stream)
    now = timezone.now()
    attachment.scan_status = ScanStatus.INFECTED
    attachment.scan_detail = signature[:200]
    attachment.scanned_at = attachment.quarantined_at = now
    attachment.save(
        update_fields=["file", "scan_status", "scan_detail", "scanned_at", "quarantined_at"]
    )
    audit.record(
        "attachment.quarantined",
        obj=attachment.dossier,
        actor="system:antivirus",
        data={"attachment": str(attachment.pk), "signature": signature[:200]},
    )
    security_log.warning(
        "attachment %s of dossier %s quarantined: %s (sha256 %s)",
        attachment.pk,
        attachment.dossier_id,
        signature,
        attachment.sha256,
    )
    transaction.on_commit(lambda: storage.delete(old_name))


def requeue_pending_scans(*, now: datetime | None = None, after: timedelta | None = None) -> int:
    """Enqueue a scan again for every file still pending `after` (10 minutes) since its
    upload or its last try: its task was lost (a worker killed) or could not be deferred.
    Meant to run periodically beside the task worker."""
    now = now or timezone.now()
    before = now - (after or timedelta(minutes=10))
    stale = Attachment.objects.filter(scan_status=ScanStatus.PENDING).filter(
        Q(scanned_at__isnull=True, created_at__lt=before) | Q(scanned_at__lt=before)
    )
    ids = list(stale.order_by("created_at").values_list("pk", flat=True)[:1000])
    for attachment_id in ids:
        _enqueue_scan(attachment_id)
    return len(ids)


def attachment_kinds(dossier: Dossier) -> dict[str, str]:
    """The dossier's attachment ids and their real types, as the form checks expect them."""
    return {str(pk): kind for pk, kind in dossier.attachments.values_list("pk", "kind")}


def attachment_ids_by_field(dossier: Dossier) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for pk, field in dossier.attachments.order_by("created_at").values_list("pk", "field_id"):
        found.setdefault(field, []).append(str(pk))
    return found


# --- Submission ---------------------------------------------------------------------------------


def final_answers(dossier: Dossier) -> dict[str, Any]:
    """The answers as they will be frozen: each one checked again against the version the
    dossier follows and its real files; files no answer points at any more are dropped.
    The caller holds the dossier's row lock."""
    if dossier.attachments.filter(scan_status=ScanStatus.INFECTED).exists():
        raise DossierError(_("Un fichier a été refusé par l'antivirus : retirez-le d'abord."))
    try:
        answers = form_spec(dossier).clean_answers(
            dossier.answers, attachments=attachment_kinds(dossier)
        )
    except AnswersError as exc:
        raise SubmissionRefused(exc) from None
    # Files that no kept answer points at (left behind by a changed answer) are dropped.
    kept = set(_strings(answers))
    stale = dossier.attachments.exclude(pk__in=_uuids(kept)).exclude(field_id=MESSAGE_FIELD)
    for attachment in stale:
        _delete_with_file(attachment)
    return answers


@transaction.atomic
def submit_dossier(
    *,
    dossier: Dossier,
    token: str,
    actor: User,
    notice: str | None = None,
    consent: bool = False,
) -> Dossier:
    """Freeze the answers and hand the dossier to the administration, exactly once, with
    the personal-data notice the citizen accepts (privacy.services.check_notice): `notice`
    is the id of the version they read (None: the caller showed the one in force), and
    `consent` their tick when the procedure's legal basis is consent."""
    dossier = Dossier.objects.select_for_update().get(pk=dossier.pk)
    if dossier.applicant_id != actor.pk:
        raise DossierError(_("Ce dossier n'est pas le vôtre."))
    if str(dossier.submission_token) != str(token):
        raise DossierError(
            _("Ce formulaire de dépôt n'est plus à jour : vérifiez le récapitulatif puis déposez.")
        )
    if dossier.status != DossierStatus.DRAFT:
        return dossier  # the same token again: a double click or a retry, already done
    procedure = Procedure.objects.get(pk=dossier.procedure_id)
    if not procedure.is_published:
        raise DossierError(
            _("Cette démarche n'est plus proposée en ligne : votre brouillon est conservé.")
        )
    accepted = privacy.check_notice(dossier=dossier, seen=notice, consent=consent)
    answers = final_answers(dossier)
    definition = dossier.version.definition
    service = routing.route(
        workflow=definition.get("workflow") or {}, country=procedure.country, answers=answers
    )
    if service is None:
        raise DossierError(
            _(
                "Aucun service ne reçoit encore les dossiers de cette démarche : votre "
                "brouillon est conservé. Réessayez plus tard."
            )
        )
    dossier.answers = answers
    StatusChange.objects.create(
        dossier=dossier, from_status=dossier.status, to_status=DossierStatus.SUBMITTED, actor=actor
    )
    dossier.status = DossierStatus.SUBMITTED
    dossier.submitted_at = timezone.now()
    dossier.current_page = ""
    dossier.service = service
    days = deadline_days(definition)
    dossier.due_at = dossier.submitted_at + timedelta(days=days) if days else None
    dossier.applicant_name = applicant_name(dossier, definition)
    dossier.search_text = search_text(dossier)
    dossier.save(
        update_fields=[
            "answers",
            "status",
            "submitted_at",
            "current_page",
            "updated_at",
            "service",
            "due_at",
            "applicant_name",
            "search_text",
        ]
    )
    privacy.record_acceptance(dossier=dossier, notice=accepted, at=dossier.submitted_at)
    audit.record(
        "dossier.submitted",
        obj=dossier,
        actor=actor,
        data={
            "version": dossier.version.number,
            "service": service.pk,
            "notice": accepted.number,
            "consent": accepted.asks_consent,
        },
    )
    notices.tell_applicant(dossier, "dossier.submitted")
    return dossier


def deadline_days(definition: dict[str, Any]) -> int | None:
    """The legal deadline when the procedure states one, else the service's own commitment
    (`workflow.due_days`), else none. Calendar days."""
    legal = (definition.get("delay") or {}).get("legal_days")
    if legal:
        return int(legal)
    due = (definition.get("workflow") or {}).get("due_days")
    return int(due) if due else None


def applicant_name(dossier: Dossier, definition: dict[str, Any]) -> str:
    """The name agents see in queues: the answers of `workflow.name_fields`, else the
    account's display name."""
    fields = (definition.get("workflow") or {}).get("name_fields", [])
    parts = [dossier.answers.get(f) for f in fields]
    name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return (name or dossier.applicant.display_name)[:300]


def search_text(dossier: Dossier) -> str:
    """Folded name, compact reference and number, matched by the queue search (contains)."""
    parts = [fold(dossier.applicant_name), dossier.reference.replace("-", "").lower()]
    if dossier.applicant.phone:
        parts.append(dossier.applicant.phone)
    return " ".join(parts)[:400]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _uuids(values: set[str]) -> list[uuid.UUID]:
    found = []
    for value in values:
        try:
            found.append(uuid.UUID(value))
        except ValueError:
            continue
    return found


# --- Messages with the administration ------------------------------------------------------------

MESSAGE_FILE_RULES = FileRules(
    path=(MESSAGE_FIELD,),
    accept=("pdf", "jpeg", "png"),
    max_size_mb=5,
    max_files=1,
    document=None,
)
MAX_MESSAGE_LENGTH = 2000


@transaction.atomic
def post_message(
    *, dossier: Dossier, body: str, actor: User, upload: UploadedFile | None = None
) -> Message:
    """A message between the applicant and the service handling a submitted dossier."""
    dossier = Dossier.objects.select_for_update().get(pk=dossier.pk)
    from_applicant = dossier.applicant_id == actor.pk
    if not from_applicant and not staff_rights(actor).can_review(dossier.service_id):
        raise DossierError(_("Ce dossier n'est pas le vôtre."))
    if dossier.is_draft:
        raise DossierError(
            _("Déposez d'abord votre dossier : l'administration ne voit pas les brouillons.")
        )
    body = body.strip()
    if not body and upload is None:
        raise DossierError(_("Écrivez un message ou joignez un fichier."))
    if len(body) > MAX_MESSAGE_LENGTH:
        raise DossierError(
            _("Message trop long : %(n)d caractères au plus.") % {"n": MAX_MESSAGE_LENGTH}
        )
    attachment = None
    if upload is not None:
        attachment = _store_file(
            dossier=dossier,
            field_name=MESSAGE_FIELD,
            upload=upload,
            rules=MESSAGE_FILE_RULES,
            actor=actor,
        )
    message = Message.objects.create(
        dossier=dossier,
        author=actor,
        from_applicant=from_applicant,
        body=body,
        attachment=attachment,
    )
    audit.record("message.posted", obj=dossier, actor=actor, data={"message": message.pk})
    if not from_applicant:
        notices.tell_applicant(dossier, "dossier.message")
    return message
