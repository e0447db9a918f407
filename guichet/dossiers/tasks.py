"""Background work on dossiers."""

from __future__ import annotations

from django_tasks import task

from guichet.dossiers import services


@task()
def scan_attachment(attachment_id: str) -> str:
    """Scan one uploaded file; returns its scan status."""
    return services.scan_attachment(attachment_id=attachment_id)
