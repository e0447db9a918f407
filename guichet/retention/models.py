"""What the retention task leaves behind when it deletes: a tombstone per dossier (or part
of a dossier) and a note per audit entry it redacts. Neither holds personal data.

Both are also the memory that survives a restore: `manage.py purge --reapply` deletes again
what a tombstone names (docs/retention.md).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models


class Tombstone(models.Model):
    """One purge of a dossier, or of its files or its messages: what went, and by which rule.

    Only ids, a hash of the reference, the procedure, the final state and dates: nothing
    that names the applicant or says what they answered.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    """Also the key in the journal kept outside the database (services.JOURNAL_DIR)."""
    kind = models.CharField(max_length=20)
    """`dossier`, `draft`, `withdrawn` (consent withdrawn), `attachments` or `messages`
    (services.DOSSIER_KINDS)."""
    object_id = models.CharField(max_length=40)
    """The dossier's id."""
    reference_hash = models.CharField(max_length=64)
    """SHA-256 of the dossier's reference: tells a restored copy of this dossier from a
    later dossier that got the same id, without keeping the reference."""
    procedure_id = models.CharField(max_length=80)
    final_state = models.CharField(max_length=20)
    """`accepted`, `rejected`, `closed` or `draft`, as in `data_protection.retention`."""
    rule = models.CharField(max_length=80)
    """The rule applied, e.g. `dossier.accepted=3650` (days)."""
    due_at = models.DateTimeField()
    purged_at = models.DateTimeField()
    rows: models.JSONField[dict[str, list[Any]]] = models.JSONField(default=dict)
    """Ids of the rows deleted apart from the dossier itself (`{"messages": [12, 13]}`),
    checked again against the dossier before a re-deletion."""
    files: models.JSONField[list[str]] = models.JSONField(default=list)
    """Storage names of the deleted attachment files (`2015/03/<uuid>`)."""
    documents: models.JSONField[list[dict[str, Any]]] = models.JSONField(default=list)
    """Each issued document as `PurgedDocument` keeps it (the journal's copy)."""

    class Meta:
        ordering = ["purged_at", "pk"]
        indexes = [models.Index(fields=["kind", "object_id"], name="tombstone_by_object")]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id} ({self.rule}, {self.purged_at:%Y-%m-%d})"


class PurgedDocument(models.Model):
    """A document issued on a purged dossier: its PDF and its row are gone, but papers are
    still out there. Their signature still proves who issued them; a cancelled one must
    go on verifying as cancelled (queries.purged_cancellations)."""

    tombstone = models.ForeignKey(Tombstone, on_delete=models.CASCADE, related_name="+")
    number_hash = models.CharField(max_length=64, unique=True)
    """SHA-256 of the number, to answer a verifier who has it without keeping it."""
    kind = models.CharField(max_length=1)
    issued_on = models.DateField()
    number = models.CharField(max_length=24, blank=True)
    """Only for a cancelled document: the key set publishes it anyway."""
    cancelled_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["issued_on", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.issued_on:%Y-%m-%d}"


class AuditRedaction(models.Model):
    """Fields of an audit entry shown as "[effacé]" from now on (queries.shown_entries).

    The entry itself is never changed nor deleted: it stays as written (and as chained).
    `fields` are `actor` (the label and the account) or dotted paths into its `data`
    (`data.phone`, `data.filters.q`).
    """

    entry = models.ForeignKey(
        "governance.AuditEntry", on_delete=models.PROTECT, related_name="redactions"
    )
    rule = models.CharField(max_length=40)
    """Why: `dossier` (its dossier was purged), `sign_in_code`, `search_terms`."""
    fields: models.JSONField[list[str]] = models.JSONField(default=list)
    redacted_at = models.DateTimeField()

    class Meta:
        ordering = ["entry", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "rule"], name="one_redaction_per_rule")
        ]

    def __str__(self) -> str:
        return f"{self.entry_id} {self.rule} {','.join(self.fields)}"
