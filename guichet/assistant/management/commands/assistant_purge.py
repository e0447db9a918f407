"""`manage.py assistant_purge`: delete assistant exchanges past their retention period.

Run it daily (cron or a systemd timer); ASSISTANT_LOG_RETENTION_DAYS sets the period.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from guichet.assistant import services


class Command(BaseCommand):
    help = "Supprime les échanges de l'assistant plus anciens que la durée de conservation."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = services.purge_expired()
        days = services.retention().days
        self.stdout.write(f"{deleted} échange(s) de plus de {days} jours supprimé(s).")
