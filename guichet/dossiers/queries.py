"""Reads of dossiers, each checking who asks: missing and not yours give the same 404."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.http import Http404

from guichet.accounts.models import User
from guichet.dossiers.models import Attachment, Dossier, DossierStatus
from guichet.dossiers.references import parse_reference


def dossiers_of(user: User) -> QuerySet[Dossier]:
    return Dossier.objects.filter(applicant=user).select_related("procedure", "version", "service")


def get_dossier_for(user: User, reference: str) -> Dossier:
    """The citizen's own dossier by its reference, or 404 (also for somebody else's)."""
    canonical = parse_reference(reference)
    dossier = dossiers_of(user).filter(reference=canonical).first() if canonical else None
    if dossier is None:
        raise Http404("dossier")
    return dossier


def get_attachment_for(user: User, dossier: Dossier, attachment_id: str) -> Attachment:
    """A file of the citizen's own dossier. Its uploader sees it whatever its scan status;
    serving it to anyone else (the back office) requires a clean scan."""
    try:
        pk = uuid.UUID(attachment_id)
    except ValueError:
        raise Http404("attachment") from None
    attachment = Attachment.objects.filter(pk=pk, dossier=dossier).first()
    if attachment is None or dossier.applicant_id != user.pk:
        raise Http404("attachment")
    return attachment


def drafts_and_submitted(user: User) -> tuple[list[Dossier], list[Dossier]]:
    dossiers = list(dossiers_of(user).order_by("-updated_at"))
    return (
        [d for d in dossiers if d.status == DossierStatus.DRAFT],
        [d for d in dossiers if d.status != DossierStatus.DRAFT],
    )
