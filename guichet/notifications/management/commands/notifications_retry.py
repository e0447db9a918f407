"""Put due and stuck notifications back on the task queue (`services.retry_due`).

Once: `manage.py notifications_retry`, from cron every minute; or in a loop with
`--every 60`, which `manage.py serve` starts beside the task worker.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from guichet.notifications.services import retry_due


class Command(BaseCommand):
    help = "Relancer l'envoi des notifications dues (après un échec ou un arrêt)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=int, default=0, help="secondes entre deux passages")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            queued = retry_due()
            if queued or options["verbosity"] > 1:
                self.stdout.write(f"Notifications remises en file : {queued}")
            if options["every"] <= 0:
                return
            time.sleep(options["every"])
