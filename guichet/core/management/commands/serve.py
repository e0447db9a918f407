"""Start the web server and the background worker together (what `make run` calls).

The worker (and the notification retrier) are child processes: stopping the server
(Ctrl-C) stops them too, so a developer never keeps an orphan worker writing to the
database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Démarrer le serveur web et le travailleur de tâches de fond."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args: Any, **options: Any) -> None:
        # SIGTERM (a process manager stopping us) must also run the `finally` below.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        self.check(databases=["default"])  # e.g. a signing key whose private half is missing
        manage = str(settings.BASE_DIR / "manage.py")
        worker = subprocess.Popen([sys.executable, manage, "db_worker"])
        # Retries of notifications that failed or were stuck (a gateway or worker down).
        retrier = subprocess.Popen([sys.executable, manage, "notifications_retry", "--every", "60"])
        # Antivirus scans whose task was lost or whose clamd was down (docs/security.md).
        rescanner = subprocess.Popen([sys.executable, manage, "scans_retry", "--every", "300"])
        # Signed checkpoints of the audit chain (docs/governance.md).
        checkpointer = subprocess.Popen(
            [sys.executable, manage, "audit_checkpoint", "--every", "600"]
        )
        # Retention: deletes what is past its keeping period, at start then daily.
        purger = subprocess.Popen([sys.executable, manage, "purge", "--every", "86400"])
        self.stdout.write(f"Travailleur de tâches démarré (pid {worker.pid}).")
        try:
            call_command("runserver", f"{options['host']}:{options['port']}", use_reloader=False)
        finally:
            for child in (worker, retrier, rescanner, checkpointer, purger):
                child.terminate()
                child.wait(timeout=10)
