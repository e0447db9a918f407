"""Start-up check: sensitive answers can be sealed and read (core/sealing.py).

A database check (run by `migrate`, `manage.py check --database default` and `serve`):
when a procedure in the catalog marks fields sensitive and no key ring is configured, the
platform stops at start-up rather than failing at a citizen's first answer, and never
makes a new ring that could not open the answers already sealed.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError


@register(Tags.database)
def check_field_keys(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    if not databases or "default" not in databases:
        return []
    from django.conf import settings

    from guichet.catalog.models import ProcedureVersion
    from guichet.core import sealing
    from guichet.formdefs.definition import sensitive_paths

    if settings.FIELD_KEYS_AUTO_CREATE:
        return []
    try:
        definitions = ProcedureVersion.objects.values_list("procedure_id", "definition")
        marking = sorted({pid for pid, data in definitions if sensitive_paths(data)})
    except DatabaseError:  # not migrated yet: nothing to check
        return []
    if not marking:
        return []
    try:
        sealing.ring(create=False)
    except sealing.SealingError as exc:
        return [
            Error(
                f"{exc} Procedures marking sensitive fields: {', '.join(marking[:5])}"
                + ("…" if len(marking) > 5 else ""),
                hint="Restore FIELD_KEY_RING from its backup (or set FIELD_KEYS); on a new "
                "installation run `manage.py field_keys create`.",
                id="guichet.core.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_antivirus(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Production scans every upload (docs/security.md); the default accepts them all."""
    from django.conf import settings

    if not settings.ATTACHMENT_SCANNER.endswith(".AcceptAllScanner"):
        return []
    return [
        Warning(
            "ATTACHMENT_SCANNER accepts every upload without scanning it (development).",
            hint="Set ATTACHMENT_SCANNER=guichet.dossiers.scanning.ClamdScanner and "
            "CLAMD_ADDRESS to the ClamAV daemon's socket.",
            id="guichet.core.W001",
        )
    ]
