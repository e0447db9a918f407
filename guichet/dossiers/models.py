"""Dossiers (applications) and their attachments."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.utils.translation import gettext_lazy as _

from guichet.core import sealing
from guichet.formdefs.definition import sensitive_paths


def _attachments_storage() -> Any:
    # Resolved when used, so tests and deployments can point it elsewhere (S3, a tmp dir).
    return storages["attachments"]


class DossierStatus(models.TextChoices):
    """Every state of every procedure; the allowed moves are in workflow/transitions.py."""

    DRAFT = "draft", _("Brouillon")
    SUBMITTED = "submitted", _("Déposé")
    IN_REVIEW = "in_review", _("En cours d'instruction")
    INFO_REQUESTED = "info_requested", _("Complément demandé")
    ACCEPTED = "accepted", _("Accepté")
    REJECTED = "rejected", _("Refusé")
    CLOSED = "closed_without_decision", _("Classé sans suite")


OPEN_STATUSES = (DossierStatus.SUBMITTED, DossierStatus.IN_REVIEW, DossierStatus.INFO_REQUESTED)
"""Waiting for a decision: what a back-office queue shows by default."""


class SealedAnswersField(models.JSONField):
    """The answers, with those of fields the procedure marks `sensitive` sealed on their way
    to the database (core/sealing.py). In memory they are plain; `Dossier.from_db` opens
    them when a row is read. Every write of a model instance goes through `pre_save`
    (save, create, bulk_create); a queryset `update` or `bulk_update` of answers would not,
    and no code uses them on answers (a test keeps it so)."""

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = super().pre_save(model_instance, add)
        assert isinstance(model_instance, Dossier)
        paths = model_instance.sensitive_paths()
        if not paths or not value:
            return value
        return sealing.seal_answers(value, paths, context=model_instance.reference)


class Dossier(models.Model):
    reference = models.CharField(max_length=16, unique=True)
    """Readable over the phone (`ML-7K3Q-9DXC`, see references.py); given at creation."""
    procedure = models.ForeignKey(
        "catalog.Procedure", on_delete=models.PROTECT, related_name="dossiers"
    )
    version = models.ForeignKey(
        "catalog.ProcedureVersion", on_delete=models.PROTECT, related_name="dossiers"
    )
    """The definition the answers follow; a draft keeps it even if the procedure changes."""
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="dossiers"
    )
    status = models.CharField(
        max_length=30, choices=DossierStatus.choices, default=DossierStatus.DRAFT
    )
    answers: models.JSONField[dict[str, Any]] = SealedAnswersField(default=dict)
    current_page = models.CharField(max_length=80, blank=True)
    submission_token = models.UUIDField(default=uuid.uuid4, editable=False)
    """Sent with the submit form: a retry or a double click with it submits only once."""
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    # Set on submission, for the back office (organisation/routing.py, workflow/deadlines.py).
    service = models.ForeignKey(
        "organisation.Service",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="dossiers",
    )
    """The one queue the dossier is in; NULL only for drafts."""
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_dossiers",
    )
    applicant_name = models.CharField(max_length=300, blank=True)
    """Shown in queues: the answers named by the procedure's `workflow.name_fields`."""
    search_text = models.CharField(max_length=400, blank=True)
    """Folded name, compact reference and number: what the queue search matches."""
    due_at = models.DateTimeField(null=True, blank=True)
    """When the administration must have decided; moved later by the time spent waiting
    for the applicant. NULL when the procedure states no deadline."""
    waiting_since = models.DateTimeField(null=True, blank=True)
    """Set while the dossier waits for the applicant (information requested)."""

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["applicant", "status"]),
            models.Index(fields=["service", "status", "due_at", "id"], name="queue_by_due"),
            # The default queue (open dossiers, soonest deadline first) and the same sorted
            # by submission: partial, so a page reads 51 index entries, not every open row.
            models.Index(
                fields=["service", "due_at", "id"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="queue_open_by_due",
            ),
            models.Index(
                fields=["service", "submitted_at", "id"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="queue_open_by_submitted",
            ),
            models.Index(fields=["service", "due_at", "id"], name="queue_all_by_due"),
            models.Index(fields=["service", "assigned_to", "status"], name="queue_by_assignee"),
            models.Index(fields=["service", "procedure", "status"], name="queue_by_procedure"),
        ]

    def __str__(self) -> str:
        return self.reference

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> Dossier:
        dossier = super().from_db(db, field_names, values)
        answers = dossier.__dict__.get("answers")
        if answers:
            dossier._sealed = sealing.open_answers(answers, context=dossier.reference)
        return dossier

    _sealed: tuple[str, ...] = ()
    """Where answers were sealed when read: they stay sealed (a field marked sensitive in
    a later version, then sealed by `field_keys reseal`, is not stored in clear again)."""

    def sensitive_paths(self) -> tuple[str, ...]:
        """Where this dossier's sensitive answers are: its version's sensitive fields, and
        whatever was already sealed."""
        marked = sensitive_paths(self.version.definition)
        return marked + tuple(p for p in self._sealed if p not in marked)

    @property
    def is_draft(self) -> bool:
        return self.status == DossierStatus.DRAFT


class ScanStatus(models.TextChoices):
    PENDING = "pending", _("En cours de vérification")
    CLEAN = "clean", _("Vérifié")
    INFECTED = "infected", _("Refusé : fichier dangereux")


MESSAGE_FIELD = "messages"
"""`Attachment.field_id` of files sent with a message rather than for a form field."""


def _attachment_path(instance: Attachment, filename: str) -> str:
    # Never the citizen's file name on disk: it may hold anything (../, a script name).
    return f"{instance.dossier.created_at:%Y/%m}/{instance.pk}"


class Attachment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="attachments")
    field_id = models.CharField(max_length=80)
    file = models.FileField(storage=_attachments_storage, upload_to=_attachment_path)
    original_name = models.CharField(max_length=255)
    kind = models.CharField(max_length=10)
    """What the content is (pdf, jpeg, png), read from its first bytes, not its name."""
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    scan_status = models.CharField(
        max_length=10, choices=ScanStatus.choices, default=ScanStatus.PENDING
    )
    scan_detail = models.CharField(max_length=200, blank=True)
    """Infected: what the antivirus found. Pending: why it could not answer (for staff)."""
    scanned_at = models.DateTimeField(null=True, blank=True)
    """The last time the antivirus was asked, answering or not."""
    quarantined_at = models.DateTimeField(null=True, blank=True)
    """When an infected file was moved aside (`quarantine/` in the storage), never to be
    served again, to anyone."""
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["dossier", "field_id"])]

    def __str__(self) -> str:
        return self.original_name

    @property
    def content_type(self) -> str:
        return {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png"}.get(
            self.kind, "application/octet-stream"
        )


class Message(models.Model):
    """One message of the thread between the applicant and the administration."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    from_applicant = models.BooleanField()
    """False for the administration: the thread shows the service, not the agent's name."""
    body = models.TextField(blank=True)
    attachment = models.OneToOneField(
        Attachment, on_delete=models.SET_NULL, null=True, blank=True, related_name="message"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.dossier_id} {self.created_at:%Y-%m-%d %H:%M}"


class StatusChange(models.Model):
    """One step of the dossier's timeline: who moved it, from where to where, and why."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="changes")
    from_status = models.CharField(max_length=30, choices=DossierStatus.choices)
    to_status = models.CharField(max_length=30, choices=DossierStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.dossier_id}: {self.from_status} → {self.to_status}"


class InformationRequest(models.Model):
    """The administration asks the applicant to correct answers or add documents."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="info_requests")
    message = models.TextField()
    fields: models.JSONField[list[str]] = models.JSONField(default=list)
    """Ids of the form fields the applicant may change (file fields for documents)."""
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.dossier_id} {self.created_at:%Y-%m-%d}"
