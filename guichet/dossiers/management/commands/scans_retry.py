"""Put back on the task queue the scans of files still pending after ten minutes
(`services.requeue_pending_scans`): their task was lost (a worker killed) or clamd was down.

Once: `manage.py scans_retry`, from cron; or in a loop with `--every 300`, which
`manage.py serve` starts beside the task worker.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from guichet.dossiers.services import requeue_pending_scans


class Command(BaseCommand):
    help = "Relancer l'analyse antivirus des fichiers restés en attente."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=int, default=0, help="secondes entre deux passages")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            queued = requeue_pending_scans()
            if queued or options["verbosity"] > 1:
                self.stdout.write(f"Analyses remises en file : {queued}")
            if options["every"] <= 0:
                return
            time.sleep(options["every"])
