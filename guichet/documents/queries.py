"""Reading issued documents."""

from __future__ import annotations

from collections.abc import Iterable

from guichet.documents.models import IssuedDocument


def with_standing_document(dossier_ids: Iterable[int]) -> set[int]:
    """Those of these dossiers whose acceptance document stands (issued, not cancelled)."""
    ids = list(dossier_ids)
    if not ids:
        return set()
    return set(
        IssuedDocument.objects.filter(
            dossier__in=ids, kind=IssuedDocument.Kind.ACCEPTANCE, revoked_at__isnull=True
        ).values_list("dossier_id", flat=True)
    )
