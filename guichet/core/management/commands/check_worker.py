"""`manage.py check_worker`: is a background worker running? (for operators and monitoring)"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tasks import TaskResultStatus

from guichet.core.tasks import worker_heartbeat


class Command(BaseCommand):
    help = "Vérifier qu'un travailleur de tâches de fond traite les tâches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float, default=30.0, help="secondes d'attente")

    def handle(self, *args: Any, **options: Any) -> None:
        result = worker_heartbeat.enqueue()
        deadline = time.monotonic() + options["timeout"]
        while result.status not in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED):
            if time.monotonic() > deadline:
                raise CommandError(
                    f"Aucun travailleur n'a traité la tâche en {options['timeout']:g} s : "
                    "lancez `python manage.py db_worker`."
                )
            time.sleep(0.2)
            result.refresh()
        if result.status == TaskResultStatus.FAILED:
            raise CommandError("La tâche de contrôle a échoué : voir les journaux du travailleur.")
        self.stdout.write(
            self.style.SUCCESS(f"Travailleur actif (tâche traitée à {result.return_value}).")
        )
