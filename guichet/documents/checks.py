"""Start-up check: every key in service has its private half in the key store.

A database check (Django runs those in `migrate`, `manage.py check --database default` and
`manage.py serve`, so `make run` and a deployment stop at start-up): a missing key is an
error naming the key and where it was looked for, rather than a failed decision later.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError


@register(Tags.database)
def check_signing_keys(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    if not databases or "default" not in databases:
        return []
    from guichet.documents.keys import env_name, key_store
    from guichet.documents.models import SigningKey

    store = key_store()
    try:
        active = list(
            SigningKey.objects.filter(status=SigningKey.Status.ACTIVE).values_list(
                "kid", "authority_id"
            )
        )
    except DatabaseError:  # not migrated yet: nothing to check
        return []
    return [
        Error(
            f"The signing key {kid} of {authority} is in service but its private key is "
            f"missing ({getattr(store, 'directory', 'key store')}/{kid}.pem or "
            f"{env_name(kid)}): decisions of {authority} cannot issue their documents.",
            hint="Restore the key file from its backup, or run "
            f"`manage.py signing_keys create {authority}` to put a new key in service.",
            id="guichet.documents.E001",
        )
        for kid, authority in active
        if not store.has(kid)
    ]


@register(Tags.security, deploy=True)
def check_public_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every issued document prints this address in its QR code: it must be the real one."""
    from django.conf import settings

    url = settings.GUICHET_PUBLIC_URL
    if url.startswith("https://") and "localhost" not in url and "127.0.0.1" not in url:
        return []
    return [
        Warning(
            f"GUICHET_PUBLIC_URL is {url!r}: issued documents print it in their QR code, so "
            "phones scanning them would not reach this site.",
            hint="Set GUICHET_PUBLIC_URL to the site's public https:// address.",
            id="guichet.documents.W001",
        )
    ]
