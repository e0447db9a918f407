"""Sign the end of the audit chain into the checkpoint file (governance/checkpoints.py).

Once: `manage.py audit_checkpoint`, from cron; or in a loop with `--every 600`, which
`manage.py serve` starts beside the task worker. Exits 1 (once) or says so on each pass
(loop) when the entries since the last checkpoint do not verify: nothing is signed then.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from guichet.governance import checkpoints


class Command(BaseCommand):
    help = "Écrire un point de contrôle signé de la chaîne du journal d'audit."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=int, default=0, help="secondes entre deux passages")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            try:
                written = checkpoints.write_checkpoint()
            except (checkpoints.CheckpointRefused, checkpoints.CheckpointError) as exc:
                message = (
                    f"Point de contrôle refusé, entrée n° {exc.problem.seq} : {exc}"
                    if isinstance(exc, checkpoints.CheckpointRefused)
                    else f"Point de contrôle refusé : {exc}"
                )
                if options["every"] <= 0:
                    raise CommandError(message) from exc
                self.stderr.write(message)
            else:
                if options["verbosity"] > 0:
                    mark = written.checkpoint
                    self.stdout.write(
                        f"Point de contrôle n° {mark.seq} ({mark.hash[:16]}…) écrit dans "
                        f"{written.file} ; {written.checked} entrée(s) vérifiée(s)."
                    )
            if options["every"] <= 0:
                return
            close_old_connections()
            time.sleep(options["every"])
