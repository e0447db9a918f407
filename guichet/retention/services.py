"""The retention task: what is past its keeping period (`plan`), and deleting it (`apply`).

Each procedure says how long its dossiers, files and messages are kept
(`data_protection.retention`, read by `governance.policy.policy_for`, which supplies the
defaults); the logs that belong to no procedure have settings (docs/retention.md). Files
go with their rows. Audit entries are never deleted nor changed: what in them is personal
is redacted instead (an `AuditRedaction`, applied wherever entries are shown). A dossier
leaves a `Tombstone` without personal data, also written to a journal outside the
database, so that `reapply` can delete again what a restored backup brings back.

A dossier whose applicant withdrew the consent it rested on goes at the next purge,
whatever its state (`withdrawn`, privacy.services.withdraw_consent).

`manage.py purge` runs it (daily, started by `manage.py serve`); `--dry-run` lists.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from guichet.accounts.models import SignInCode
from guichet.assistant.models import Exchange
from guichet.catalog.models import Procedure
from guichet.core.models import RateLimitWindow
from guichet.documents.models import IssuedDocument
from guichet.dossiers.models import (
    Attachment,
    Dossier,
    DossierStatus,
    InformationRequest,
    Message,
    StatusChange,
)
from guichet.governance.models import AuditEntry
from guichet.governance.policy import Retention, policy_for
from guichet.notifications.models import InboundSms, Notification, OutboxSms
from guichet.privacy.models import NoticeAcceptance
from guichet.retention.models import AuditRedaction, PurgedDocument, Tombstone
from guichet.workflow.exports import KEEP_DAYS as EXPORT_DAYS
from guichet.workflow.models import Export

logger = logging.getLogger(__name__)

DOSSIER, DRAFT, ATTACHMENTS, MESSAGES = "dossier", "draft", "attachments", "messages"
WITHDRAWN = "withdrawn"
DOSSIER_KINDS = (DOSSIER, DRAFT, ATTACHMENTS, MESSAGES, WITHDRAWN)
"""Kinds that act on one dossier and leave a tombstone."""
WHOLE_DOSSIER_KINDS = (DOSSIER, DRAFT, WITHDRAWN)
"""Kinds that delete the dossier itself."""
WITHDRAWN_RULE = "consent.withdrawn=0"
"""Consent withdrawn: erased at the next purge (the tombstone's state is `withdrawn`)."""
EXCHANGES, SIGN_IN_CODES, NOTIFICATIONS = "exchanges", "sign_in_codes", "notifications"
INBOUND_SMS, OUTBOX_SMS, RATE_LIMITS = "inbound_sms", "outbox_sms", "rate_limits"
EXPORTS = "exports"

KIND_LABELS = {
    DOSSIER: "dossier",
    DRAFT: "brouillon",
    WITHDRAWN: "dossier au consentement retiré",
    ATTACHMENTS: "pièces jointes du dossier",
    MESSAGES: "messages du dossier",
    EXCHANGES: "questions à l'assistant",
    SIGN_IN_CODES: "codes de connexion",
    NOTIFICATIONS: "SMS et e-mails envoyés hors dossier",
    INBOUND_SMS: "SMS reçus",
    OUTBOX_SMS: "boîte d'envoi de développement",
    RATE_LIMITS: "compteurs de limites",
    EXPORTS: "exports de files",
}
STATES = {
    "accepted": DossierStatus.ACCEPTED,
    "rejected": DossierStatus.REJECTED,
    "closed": DossierStatus.CLOSED,
}
"""Final states as `data_protection.retention` names them → the dossier's status."""
STATE_LABELS = {"accepted": "accepté", "rejected": "refusé", "closed": "classé sans suite"}
JOURNAL_DIR = "retention/tombstones"
"""In the `attachments` storage, which a database restore does not roll back."""
CHUNK = 500
REDACTED_COUNT = "governance.auditentry (effacé)"


@dataclass(frozen=True)
class Purge:
    """One thing the task deletes: a dossier or a part of one, or a day's rows of a log."""

    kind: str
    object_id: str
    """The dossier's id for the dossier kinds; empty for a batch of log rows."""
    reason: str
    """In French, for the person who runs the command."""
    due_at: datetime
    procedure_id: str = ""
    rule: str = ""
    """For the tombstone: `dossier.accepted=3650`."""
    ids: tuple[Any, ...] = ()
    """The rows of a batch (all due the same day)."""
    tombstone_id: str = ""
    """Set when re-deleting what a tombstone names (after a restore)."""

    def describe(self) -> str:
        what = KIND_LABELS[self.kind]
        if self.object_id:
            what = f"{what} {self.object_id}"
        if self.procedure_id:
            what = f"{what} ({self.procedure_id})"
        if self.ids:
            what = f"{len(self.ids)} × {what}"
        return f"{self.due_at:%Y-%m-%d}  {what} : {self.reason}"


@dataclass
class Outcome:
    done: list[Purge] = field(default_factory=list)
    skipped: list[tuple[Purge, str]] = field(default_factory=list)
    """What was planned but kept, and why (reopened since the plan, still referenced…)."""
    counts: Counter[str] = field(default_factory=Counter)
    """Rows deleted (or entries redacted) by model label."""


def reference_hash(reference: str) -> str:
    return hashlib.sha256(reference.encode()).hexdigest()


# --- Planning ------------------------------------------------------------------------------------


def plan(now: datetime | None = None) -> list[Purge]:
    """Everything due at `now`, first due first."""
    now = now or timezone.now()
    withdrawn = list(_withdrawn_items(now))
    gone = {item.object_id for item in withdrawn}  # erased whole: no other rule to apply
    items = [
        *withdrawn,
        *(item for item in _dossier_items(now) if item.object_id not in gone),
        *_log_items(now),
    ]
    order = {kind: i for i, kind in enumerate(KIND_LABELS)}
    return sorted(items, key=lambda p: (p.due_at, order[p.kind], _numeric(p.object_id)))


def _numeric(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)


def _retentions() -> dict[str, Retention]:
    found: dict[str, Retention] = {}
    for procedure in Procedure.objects.select_related("current_version"):
        version = procedure.current_version
        found[procedure.pk] = policy_for(version.definition if version else {}).retention
    return found


def _retention_for(dossier: Dossier) -> Retention:
    """The procedure's rules as its current version states them: a law that shortens or
    lengthens keeping applies to the dossiers already there."""
    version = dossier.procedure.current_version or dossier.version
    return policy_for(version.definition).retention


def _groups() -> Iterator[tuple[Retention, list[str]]]:
    """Procedures that have dossiers, grouped by identical rules (most use the defaults)."""
    retentions = _retentions()
    default = policy_for({}).retention
    grouped: dict[tuple[Any, ...], tuple[Retention, list[str]]] = {}
    for procedure_id in (
        Dossier.objects.order_by().values_list("procedure_id", flat=True).distinct()
    ):
        r = retentions.get(procedure_id, default)
        key = (tuple(sorted(r.dossier.items())), r.draft, r.attachments, r.messages)
        grouped.setdefault(key, (r, []))[1].append(procedure_id)
    yield from grouped.values()


def _decided_at() -> Coalesce:
    """When the dossier reached its present (final) state; its last change if unrecorded."""
    last = StatusChange.objects.filter(dossier=OuterRef("pk"), to_status=OuterRef("status"))
    return Coalesce(
        Subquery(last.order_by("-at", "-pk").values("at")[:1]),
        "updated_at",
        output_field=models.DateTimeField(),
    )


def _has_messages() -> Q:
    return (
        Q(Exists(Message.objects.filter(dossier=OuterRef("pk"))))
        | Q(Exists(InformationRequest.objects.filter(dossier=OuterRef("pk"))))
        | Q(Exists(Notification.objects.filter(object_ref=OuterRef("reference"))))
    )


def _dossier_items(now: datetime) -> Iterator[Purge]:
    for retention, procedure_ids in _groups():
        drafts = Dossier.objects.filter(
            procedure_id__in=procedure_ids,
            status=DossierStatus.DRAFT,
            updated_at__lte=now - timedelta(days=retention.draft),
        )
        for pk, procedure_id, changed in drafts.values_list("pk", "procedure_id", "updated_at"):
            yield Purge(
                DRAFT,
                str(pk),
                f"jamais déposé, gardé {retention.draft} jours après sa dernière modification",
                changed + timedelta(days=retention.draft),
                procedure_id,
                f"draft={retention.draft}",
            )
        for state, status in STATES.items():
            yield from _decided_items(now, retention, procedure_ids, state, status)


def _decided_items(
    now: datetime, retention: Retention, procedure_ids: list[str], state: str, status: str
) -> Iterator[Purge]:
    days = retention.dossier[state]
    decided = Dossier.objects.filter(procedure_id__in=procedure_ids, status=status).annotate(
        decided_at=_decided_at()
    )
    label = STATE_LABELS[state]
    due = decided.filter(decided_at__lte=now - timedelta(days=days))
    for pk, procedure_id, at in due.values_list("pk", "procedure_id", "decided_at"):
        yield Purge(
            DOSSIER,
            str(pk),
            f"{label}, gardé {days} jours après la décision",
            at + timedelta(days=days),
            procedure_id,
            f"dossier.{state}={days}",
        )
    # Files and messages may go earlier than the dossier, never later.
    parts = [
        (
            ATTACHMENTS,
            retention.attachments,
            Q(Exists(Attachment.objects.filter(dossier=OuterRef("pk")))),
        ),
        (MESSAGES, retention.messages, _has_messages()),
    ]
    for kind, part_days, present in parts:
        if part_days >= days:
            continue
        rows = decided.filter(
            present,
            decided_at__lte=now - timedelta(days=part_days),
            decided_at__gt=now - timedelta(days=days),
        )
        for pk, procedure_id, at in rows.values_list("pk", "procedure_id", "decided_at"):
            yield Purge(
                kind,
                str(pk),
                f"dossier {label}, gardés {part_days} jours après la décision",
                at + timedelta(days=part_days),
                procedure_id,
                f"{kind}.{state}={part_days}",
            )


def _withdrawn_items(now: datetime) -> Iterator[Purge]:
    rows = NoticeAcceptance.objects.filter(consent_withdrawn_at__lte=now).values_list(
        "dossier_id", "dossier__procedure_id", "consent_withdrawn_at"
    )
    for pk, procedure_id, withdrawn_at in rows:
        assert withdrawn_at is not None  # filtered on it
        yield Purge(
            WITHDRAWN,
            str(pk),
            f"consentement retiré le {withdrawn_at:%Y-%m-%d}",
            withdrawn_at,
            procedure_id,
            WITHDRAWN_RULE,
        )


@dataclass(frozen=True)
class LogRule:
    """Rows of one log table that are due: `due(now)` selects them, `date` + `keep` says when
    each one fell due."""

    kind: str
    due: Callable[[datetime], models.QuerySet[Any]]
    date: str
    keep: Callable[[], timedelta]
    reason: Callable[[], str]


def _days(name: str) -> Callable[[], timedelta]:
    return lambda: timedelta(days=getattr(settings, name))


def _kept(name: str) -> Callable[[], str]:
    return lambda: f"gardés {getattr(settings, name)} jours ({name})"


def _code_days() -> timedelta:
    return timedelta(days=settings.ACCOUNT_CODE_RETENTION_DAYS)


def _sms_days() -> timedelta:
    return timedelta(days=settings.SMS_LOG_RETENTION_DAYS)


def _old(model: type[models.Model], date: str, keep: Callable[[], timedelta]) -> Any:
    return lambda now: model._default_manager.filter(**{f"{date}__lte": now - keep()})


def _notifications_due(now: datetime) -> models.QuerySet[Notification]:
    # About a dossier: they go with its messages or with it. Sign-in codes: with the codes.
    about_no_dossier = Notification.objects.exclude(
        object_ref__in=Dossier.objects.values("reference")
    )
    return about_no_dossier.filter(
        Q(event="account.code", created_at__lte=now - _code_days())
        | (~Q(event="account.code") & Q(created_at__lte=now - _sms_days()))
    )


LOG_RULES = [
    LogRule(
        EXCHANGES,
        _old(Exchange, "created_at", _days("ASSISTANT_LOG_RETENTION_DAYS")),
        "created_at",
        _days("ASSISTANT_LOG_RETENTION_DAYS"),
        _kept("ASSISTANT_LOG_RETENTION_DAYS"),
    ),
    LogRule(
        SIGN_IN_CODES,
        _old(SignInCode, "expires_at", _code_days),
        "expires_at",
        _code_days,
        lambda: f"gardés {settings.ACCOUNT_CODE_RETENTION_DAYS} jours après leur expiration",
    ),
    LogRule(
        NOTIFICATIONS,
        _notifications_due,
        "created_at",
        lambda: timedelta(0),
        lambda: (
            f"codes : {settings.ACCOUNT_CODE_RETENTION_DAYS} jours, "
            f"autres : {settings.SMS_LOG_RETENTION_DAYS} jours"
        ),
    ),
    LogRule(
        INBOUND_SMS,
        _old(InboundSms, "received_at", _sms_days),
        "received_at",
        _sms_days,
        _kept("SMS_LOG_RETENTION_DAYS"),
    ),
    LogRule(
        OUTBOX_SMS,
        _old(OutboxSms, "created_at", _code_days),
        "created_at",
        _code_days,
        _kept("ACCOUNT_CODE_RETENTION_DAYS"),
    ),
    LogRule(
        RATE_LIMITS,
        lambda now: RateLimitWindow.objects.filter(ends_at__lte=now),
        "ends_at",
        lambda: timedelta(0),
        lambda: "fenêtre close",
    ),
    LogRule(
        EXPORTS,
        _old(Export, "created_at", lambda: timedelta(days=EXPORT_DAYS)),
        "created_at",
        lambda: timedelta(days=EXPORT_DAYS),
        lambda: f"gardés {EXPORT_DAYS} jours",
    ),
]
RULES_BY_KIND = {rule.kind: rule for rule in LOG_RULES}


def _log_items(now: datetime) -> Iterator[Purge]:
    """Log rows in one item per kind and day they fell due: a day's questions to the
    assistant are one line of the dry run, not thousands."""
    for rule in LOG_RULES:
        keep = rule.keep()
        if rule.kind == NOTIFICATIONS:  # two periods: when each row fell due is its own
            dated = [
                (pk, at + (_code_days() if event == "account.code" else _sms_days()))
                for pk, at, event in rule.due(now).values_list("pk", rule.date, "event")
            ]
        else:
            dated = [(pk, at + keep) for pk, at in rule.due(now).values_list("pk", rule.date)]
        days: dict[str, tuple[datetime, list[Any]]] = {}
        for pk, due_at in sorted(dated, key=lambda row: row[1]):
            days.setdefault(f"{due_at:%Y-%m-%d}", (due_at, []))[1].append(pk)
        for due_at, ids in days.values():
            yield Purge(rule.kind, "", rule.reason(), due_at, ids=tuple(ids))


# --- Applying ------------------------------------------------------------------------------------


def apply(items: Iterable[Purge], *, now: datetime | None = None) -> Outcome:
    """Delete what `items` name (redacting the audit entries about it), each dossier in its
    own transaction, after checking again that it is still due: a dossier reopened since
    the plan stays. Files are deleted once their rows are committed."""
    now = now or timezone.now()
    outcome = Outcome()
    written: list[Tombstone] = []
    try:
        for item in items:
            counts: Counter[str] = Counter()
            tombstones: list[Tombstone] = []
            try:
                with transaction.atomic():
                    why = _apply_one(item, now, counts, tombstones)
            except models.ProtectedError as exc:
                # e.g. a rights request still open on the dossier: kept, and said so.
                why = _still_linked(exc.protected_objects)
            except models.RestrictedError as exc:
                why = _still_linked(exc.restricted_objects)
            if why:
                outcome.skipped.append((item, why))
                continue
            outcome.done.append(item)
            outcome.counts.update(counts)
            written += tombstones
    finally:
        _write_journal(written, now)
    return outcome


def _still_linked(objects: Iterable[models.Model]) -> str:
    names = sorted({str(obj._meta.verbose_name) for obj in objects})
    return f"gardé : encore lié à {', '.join(names)}"


def _apply_one(item: Purge, now: datetime, counts: Counter[str], written: list[Tombstone]) -> str:
    """Returns why the item was kept, or "" when done."""
    if item.tombstone_id:
        return _apply_again(item, counts)
    if item.kind in DOSSIER_KINDS:
        dossier = (
            Dossier.objects.select_for_update(of=("self",))
            .select_related("procedure__current_version", "version")
            .filter(pk=item.object_id)
            .first()
        )
        if dossier is None:
            return "déjà supprimé"
        current = _due_now(dossier, item.kind, now)
        if current is None:
            return "plus à supprimer (dossier modifié ou rouvert depuis)"
        if item.kind in WHOLE_DOSSIER_KINDS:
            tombstone = _erase_dossier(dossier, counts, item=current, now=now)
        elif item.kind == ATTACHMENTS:
            tombstone = _erase_attachments(dossier, counts, item=current, now=now)
        else:
            tombstone = _erase_messages(dossier, counts, item=current, now=now)
        if tombstone is not None:
            written.append(tombstone)
        return ""
    rule = RULES_BY_KIND[item.kind]
    for chunk in _chunks(item.ids):
        rows = rule.due(now).filter(pk__in=chunk)  # checked again: a window may have reopened
        if item.kind == SIGN_IN_CODES:
            ids = list(rows.values_list("pk", flat=True))
            _redact_code_entries(ids, now, counts)
            _count(counts, SignInCode.objects.filter(pk__in=ids).delete())
        elif item.kind == EXPORTS:
            for export in rows:
                _delete_files_on_commit([export.file.name] if export.file else [])
                _count(counts, export.delete())
        else:
            _count(counts, rows.delete())
    return ""


def _due_now(dossier: Dossier, kind: str, now: datetime) -> Purge | None:
    """The item for `kind` as the dossier stands now (inside the lock), if still due."""
    if kind == WITHDRAWN:
        withdrawn_at = (
            NoticeAcceptance.objects.filter(dossier=dossier, consent_withdrawn_at__lte=now)
            .values_list("consent_withdrawn_at", flat=True)
            .first()
        )
        if withdrawn_at is None:
            return None
        return Purge(kind, str(dossier.pk), "", withdrawn_at, dossier.procedure_id, WITHDRAWN_RULE)
    retention = _retention_for(dossier)
    if kind == DRAFT:
        if dossier.status != DossierStatus.DRAFT:
            return None
        days, state, since = retention.draft, "draft", dossier.updated_at
        rule = f"draft={days}"
    else:
        state = next((s for s, status in STATES.items() if status == dossier.status), "")
        if not state:
            return None
        last = dossier.changes.filter(to_status=dossier.status).order_by("-at", "-pk").first()
        since = last.at if last else dossier.updated_at
        dossier_days = retention.dossier[state]
        days = {ATTACHMENTS: retention.attachments, MESSAGES: retention.messages}.get(
            kind, dossier_days
        )
        if kind != DOSSIER and days >= dossier_days:
            return None
        rule = f"{kind}.{state}={days}"
    due_at = since + timedelta(days=days)
    if due_at > now:
        return None
    return Purge(kind, str(dossier.pk), "", due_at, dossier.procedure_id, rule)


def _tombstone(dossier: Dossier, item: Purge, now: datetime, **fields: Any) -> Tombstone:
    state = item.rule.split("=")[0].rpartition(".")[2]
    return Tombstone.objects.create(
        kind=item.kind,
        object_id=item.object_id,  # not dossier.pk: None once the row is deleted
        reference_hash=reference_hash(dossier.reference),
        procedure_id=dossier.procedure_id,
        final_state=state,
        rule=item.rule,
        due_at=item.due_at,
        purged_at=now,
        **fields,
    )


def _erase_dossier(
    dossier: Dossier, counts: Counter[str], *, item: Purge | None, now: datetime
) -> Tombstone | None:
    """Delete the dossier and everything of it; redact the audit entries where the applicant
    acted on it. `item` None: a re-deletion after a restore (the tombstone exists)."""
    documents = list(IssuedDocument.objects.filter(dossier=dossier).order_by("pk"))
    attachments = list(Attachment.objects.filter(dossier=dossier))
    notifications = Notification.objects.filter(object_ref=dossier.reference)
    notification_ids = list(notifications.values_list("pk", flat=True))
    _redact_applicant(dossier, documents, now, counts)
    files = [a.file.name for a in attachments if a.file]
    _count(counts, notifications.delete())
    _count(counts, IssuedDocument.objects.filter(pk__in=[d.pk for d in documents]).delete())
    _count(counts, dossier.delete())
    _delete_files_on_commit(files + [d.file.name for d in documents if d.file])
    if item is None:
        return None
    tombstone = _tombstone(
        dossier,
        item,
        now,
        rows={"notifications": notification_ids} if notification_ids else {},
        files=files,
        documents=[_document_trace(d) for d in documents],
    )
    _index_documents([tombstone])
    return tombstone


def _document_trace(document: IssuedDocument) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "kind": document.kind,
        "issued_on": f"{document.issued_at:%Y-%m-%d}",
        "number_hash": reference_hash(document.number),
    }
    if document.revoked_at is not None:
        # Public already (the key set lists it): a cancelled paper must stay cancelled.
        trace |= {"number": document.number, "cancelled_on": f"{document.revoked_at:%Y-%m-%d}"}
    return trace


def _index_documents(tombstones: Iterable[Tombstone]) -> None:
    """The tombstones' documents as `PurgedDocument` rows (the table verifiers read)."""
    PurgedDocument.objects.bulk_create(
        [
            PurgedDocument(
                tombstone=tombstone,
                number_hash=trace["number_hash"],
                kind=trace["kind"],
                issued_on=date.fromisoformat(trace["issued_on"]),
                number=trace.get("number", ""),
                cancelled_on=(
                    date.fromisoformat(trace["cancelled_on"]) if trace.get("cancelled_on") else None
                ),
            )
            for tombstone in tombstones
            for trace in tombstone.documents
        ],
        ignore_conflicts=True,
    )


def _erase_attachments(
    dossier: Dossier, counts: Counter[str], *, item: Purge, now: datetime
) -> Tombstone:
    attachments = list(Attachment.objects.filter(dossier=dossier))
    files = [a.file.name for a in attachments if a.file]
    _count(counts, Attachment.objects.filter(pk__in=[a.pk for a in attachments]).delete())
    _delete_files_on_commit(files)
    return _tombstone(
        dossier, item, now, rows={"attachments": [str(a.pk) for a in attachments]}, files=files
    )


def _erase_messages(
    dossier: Dossier, counts: Counter[str], *, item: Purge, now: datetime
) -> Tombstone:
    """The thread (with the files sent in it), the requests for information and the
    notices sent about the dossier."""
    messages = Message.objects.filter(dossier=dossier)
    requests = InformationRequest.objects.filter(dossier=dossier)
    notifications = Notification.objects.filter(object_ref=dossier.reference)
    attachments = list(Attachment.objects.filter(message__in=messages))
    rows = {
        "messages": list(messages.values_list("pk", flat=True)),
        "information_requests": list(requests.values_list("pk", flat=True)),
        "notifications": list(notifications.values_list("pk", flat=True)),
        "attachments": [str(a.pk) for a in attachments],
    }
    files = [a.file.name for a in attachments if a.file]
    for queryset in (notifications, requests, messages):
        _count(counts, queryset.delete())
    _count(counts, Attachment.objects.filter(pk__in=[a.pk for a in attachments]).delete())
    _delete_files_on_commit(files)
    return _tombstone(dossier, item, now, rows={k: v for k, v in rows.items() if v}, files=files)


def _redact_applicant(
    dossier: Dossier, documents: list[IssuedDocument], now: datetime, counts: Counter[str]
) -> None:
    """The entries about the dossier and its documents stay; what in them still ties a
    person to the procedure and its outcome is redacted: the applicant as actor (account,
    label, address), whom an intermediary acted for, and the reason staff gave for opening
    it. Staff stay named: the log is there to account for what staff did."""
    entries = AuditEntry.objects.filter(
        Q(object_type=Dossier._meta.label_lower, object_id=str(dossier.pk))
        | Q(
            object_type=IssuedDocument._meta.label_lower,
            object_id__in=[str(d.pk) for d in documents],
        )
    ).exclude(Exists(AuditRedaction.objects.filter(entry=OuterRef("pk"), rule=DOSSIER)))

    def personal(entry: AuditEntry) -> list[str]:
        fields = ["actor", "ip"] if entry.actor_id == dossier.applicant_id else []
        return fields + [name for name in ("on_behalf_of", "purpose") if getattr(entry, name)]

    redacted = [entry for entry in entries if personal(entry)]
    counts[REDACTED_COUNT] += _redact(redacted, DOSSIER, now, personal)


def _redact(
    entries: Iterable[AuditEntry],
    rule: str,
    now: datetime,
    fields: list[str] | Callable[[AuditEntry], list[str]],
) -> int:
    """`fields`: the same for every entry, or a function of the entry."""
    made = [
        AuditRedaction(
            entry=entry,
            rule=rule,
            fields=fields(entry) if callable(fields) else fields,
            redacted_at=now,
        )
        for entry in entries
    ]
    AuditRedaction.objects.bulk_create(made, ignore_conflicts=True)
    return len(made)


def _redact_code_entries(code_ids: list[Any], now: datetime, counts: Counter[str]) -> None:
    entries = AuditEntry.objects.filter(
        object_type=SignInCode._meta.label_lower,
        object_id__in=[str(pk) for pk in code_ids],
        data__has_key="phone",
    )
    counts[REDACTED_COUNT] += _redact(entries, SIGN_IN_CODES, now, ["data.phone"])


def _count(counts: Counter[str], deleted: tuple[int, dict[str, int]]) -> None:
    counts.update({label.lower(): n for label, n in deleted[1].items() if n})


def _chunks(ids: tuple[Any, ...]) -> Iterator[list[Any]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


def _storage() -> Storage:
    """Where attachments and documents are (the field's: resolved when models load)."""
    storage: Storage = Attachment._meta.get_field("file").storage
    return storage


def _delete_files_on_commit(names: list[str]) -> None:
    """After commit: a rollback must not leave rows whose files are gone. A file that fails
    to go is logged; the tombstone names it and `--reapply` tries again."""

    def delete() -> None:
        storage = _storage()
        for name in names:
            try:
                storage.delete(name)
            except OSError:
                logger.warning("retention: could not delete stored file %s", name)

    if names:
        transaction.on_commit(delete)


# --- After a restore -------------------------------------------------------------------------


def journal() -> list[dict[str, Any]]:
    """Every tombstone in the journal files (outside the database)."""
    storage = _storage()
    try:
        _, names = storage.listdir(JOURNAL_DIR)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in sorted(names):
        with storage.open(f"{JOURNAL_DIR}/{name}", "rb") as handle:
            found += [json.loads(line) for line in handle.read().decode().splitlines() if line]
    return found


def _as_json(tombstone: Tombstone) -> dict[str, Any]:
    return {
        "id": str(tombstone.pk),
        "kind": tombstone.kind,
        "object_id": tombstone.object_id,
        "reference_hash": tombstone.reference_hash,
        "procedure_id": tombstone.procedure_id,
        "final_state": tombstone.final_state,
        "rule": tombstone.rule,
        "due_at": tombstone.due_at.isoformat(),
        "purged_at": tombstone.purged_at.isoformat(),
        "rows": tombstone.rows,
        "files": tombstone.files,
        "documents": tombstone.documents,
    }


def _write_journal(tombstones: list[Tombstone], now: datetime) -> None:
    committed = set(Tombstone.objects.filter(pk__in=[t.pk for t in tombstones]).values_list("pk"))
    kept = [t for t in tombstones if (t.pk,) in committed]
    if not kept:
        return
    lines = "".join(json.dumps(_as_json(t), sort_keys=True) + "\n" for t in kept)
    name = f"{JOURNAL_DIR}/{now:%Y%m%dT%H%M%S}-{kept[0].pk.hex[:8]}.jsonl"
    _storage().save(name, ContentFile(lines.encode()))


def restore_tombstones() -> int:
    """Put back in the database the tombstones the journal has and it lacks (a restored
    backup older than some purges); returns how many."""
    known = {str(pk) for pk in Tombstone.objects.values_list("pk", flat=True)}
    missing = {row["id"]: row for row in journal() if row["id"] not in known}
    tombstones = [
        Tombstone(
            **{
                **row,
                "due_at": datetime.fromisoformat(row["due_at"]),
                "purged_at": datetime.fromisoformat(row["purged_at"]),
            }
        )
        for row in missing.values()
    ]
    Tombstone.objects.bulk_create(tombstones, ignore_conflicts=True)
    _index_documents(tombstones)
    return len(tombstones)


def reapply_plan() -> list[Purge]:
    """What tombstones name that exists again, oldest purge first (call
    `restore_tombstones` first so the journal's are counted)."""
    items = []
    present = {str(pk) for pk in Dossier.objects.values_list("pk", flat=True)}
    for tombstone in Tombstone.objects.order_by("purged_at", "pk"):
        if _is_back(tombstone, present):
            items.append(
                Purge(
                    tombstone.kind,
                    tombstone.object_id,
                    f"supprimé le {tombstone.purged_at:%Y-%m-%d} ({tombstone.rule}), "
                    "revenu avec une restauration",
                    tombstone.due_at,
                    tombstone.procedure_id,
                    tombstone.rule,
                    tombstone_id=str(tombstone.pk),
                )
            )
    return items


def _restored_dossier(tombstone: Tombstone) -> Dossier | None:
    if not tombstone.object_id.isdigit():
        return None
    dossier = Dossier.objects.filter(pk=tombstone.object_id).first()
    if dossier is None or reference_hash(dossier.reference) != tombstone.reference_hash:
        return None  # gone, or a later dossier that happens to have the same id
    return dossier


def _restored_rows(tombstone: Tombstone) -> dict[str, models.QuerySet[Any]]:
    """The rows the tombstone names that are there again, each checked against its dossier
    (ids of messages and notifications may be given again to new rows after a restore)."""
    rows = tombstone.rows
    found: dict[str, models.QuerySet[Any]] = {}
    dossier = _restored_dossier(tombstone)
    if rows.get("attachments"):
        found["attachments"] = Attachment.objects.filter(
            pk__in=rows["attachments"], dossier_id=tombstone.object_id
        )
    if dossier is not None:
        found["messages"] = Message.objects.filter(pk__in=rows.get("messages", []), dossier=dossier)
        found["information_requests"] = InformationRequest.objects.filter(
            pk__in=rows.get("information_requests", []), dossier=dossier
        )
    notifications = Notification.objects.filter(pk__in=rows.get("notifications", []))
    found["notifications"] = notifications.filter(
        pk__in=[
            pk
            for pk, ref in notifications.values_list("pk", "object_ref")
            if reference_hash(ref) == tombstone.reference_hash
        ]
    )
    return found


def _is_back(tombstone: Tombstone, present: set[str]) -> bool:
    """`present`: the ids of the dossiers there now (rows of a dossier need its row)."""
    if tombstone.object_id in present or tombstone.rows.get("notifications"):
        if tombstone.kind in WHOLE_DOSSIER_KINDS and _restored_dossier(tombstone) is not None:
            return True
        if any(rows.exists() for rows in _restored_rows(tombstone).values()):
            return True
    storage = _storage()
    return any(storage.exists(name) for name in tombstone.files)


def _apply_again(item: Purge, counts: Counter[str]) -> str:
    tombstone = Tombstone.objects.filter(pk=item.tombstone_id).first()
    if tombstone is None:
        return "pierre tombale introuvable"
    now = timezone.now()
    if tombstone.kind in WHOLE_DOSSIER_KINDS:
        dossier = _restored_dossier(tombstone)
        if dossier is not None:
            _erase_dossier(dossier, counts, item=None, now=now)
    for name, rows in _restored_rows(tombstone).items():
        if name == "attachments":
            attachments = list(rows)
            _delete_files_on_commit([a.file.name for a in attachments if a.file])
            _count(counts, Attachment.objects.filter(pk__in=[a.pk for a in attachments]).delete())
        else:
            _count(counts, rows.delete())
    storage = _storage()
    _delete_files_on_commit([name for name in tombstone.files if storage.exists(name)])
    return ""
