"""Background work on dossiers."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tasks import task

from guichet.dossiers import services
from guichet.dossiers.models import ScanStatus
from guichet.dossiers.scanning import ScannerUnavailable

RETRY_SECONDS = (30, 60, 120, 300, 600)
"""Waits before asking the antivirus again about a file; then every 10 minutes."""


@task()
def scan_attachment(attachment_id: str, attempt: int = 0) -> str:
    """Scan one uploaded file; returns its scan status. While the antivirus cannot answer,
    the file stays pending (nobody but its uploader may fetch it) and this task comes back
    later. A backend that cannot defer a task leaves that to
    `services.requeue_pending_scans`."""
    try:
        return services.scan_attachment(attachment_id=attachment_id)
    except ScannerUnavailable:
        if scan_attachment.get_backend().supports_defer:
            wait = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
            scan_attachment.using(run_after=timezone.now() + timedelta(seconds=wait)).enqueue(
                attachment_id=attachment_id, attempt=attempt + 1
            )
        return str(ScanStatus.PENDING)
