"""Background work of the assistant: reading a dossier's files for the agents."""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from guichet.assistant import ocr
from guichet.assistant.models import AttachmentReading, ReadingStatus
from guichet.dossiers.models import Attachment, Dossier, ScanStatus

STALE_AFTER = timedelta(hours=1)
"""A reading still pending after this was lost (a worker stopped, a queue emptied): the
next agent who opens the dossier queues it again."""


@task()
def read_dossier_attachments(dossier_id: int) -> int:
    """Read every clean file of the dossier that has no reading done; returns how many
    were read (a failed reading is tried again: the server may have been fixed since)."""
    ids = list(
        Attachment.objects.filter(dossier_id=dossier_id, scan_status=ScanStatus.CLEAN)
        .exclude(reading__status=ReadingStatus.DONE)
        .values_list("pk", flat=True)
    )
    for attachment_id in ids:
        ocr.read_attachment(str(attachment_id))
    return len(ids)


def request_readings(dossier: Dossier) -> bool:
    """When an agent opens a dossier: note a pending reading for each clean file that has
    none (or a lost one) and queue one task for them, after commit. Reads the dossier's
    attachments with their readings (prefetch them): nothing is written when every file
    has its reading; returns whether a task was queued."""
    stale = timezone.now() - STALE_AFTER
    wanted = []
    for attachment in dossier.attachments.all():
        if attachment.scan_status != ScanStatus.CLEAN:
            continue
        reading = getattr(attachment, "reading", None)  # none yet: RelatedObjectDoesNotExist
        if reading is None or (
            reading.status == ReadingStatus.PENDING and reading.updated_at < stale
        ):
            wanted.append(attachment.pk)
    if not wanted:
        return False
    # After the page's own transaction: the page stays read-only, and a rolled back
    # request queues nothing.
    transaction.on_commit(partial(_queue, dossier.pk, wanted))
    return True


def _queue(dossier_id: int, attachment_ids: list[uuid.UUID]) -> None:
    # One transaction, so one commit (the costly part): in one statement a pending reading
    # for each file without one and a fresh date on the lost ones (a reading finished
    # since the page read it keeps its status and text: only `updated_at` is written on a
    # conflict), then the task. Both or neither: a pending reading without its task would
    # wait STALE_AFTER before an agent's visit queues it again.
    with transaction.atomic():
        AttachmentReading.objects.bulk_create(
            [AttachmentReading(attachment_id=pk) for pk in attachment_ids],
            update_conflicts=True,
            unique_fields=["attachment"],
            update_fields=["updated_at"],
        )
        read_dossier_attachments.enqueue(dossier_id=dossier_id)
