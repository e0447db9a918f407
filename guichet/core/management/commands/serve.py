"""Start the web server and the background worker together (what `make run` calls).

The worker (and the notification retrier, the scan retrier, the audit checkpointer, the
daily purge) are child processes: stopping the server (Ctrl-C) stops them too, so a
developer never keeps an orphan worker writing to the database; one that exits (the
database restarted) is started again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
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
        children = Children(
            [
                [sys.executable, manage, "db_worker"],
                # Retries of notifications that failed or were stuck (a gateway or worker down).
                [sys.executable, manage, "notifications_retry", "--every", "60"],
                # Antivirus scans whose task was lost or whose clamd was down.
                [sys.executable, manage, "scans_retry", "--every", "300"],
                # Signed checkpoints of the audit chain (docs/governance.md).
                [sys.executable, manage, "audit_checkpoint", "--every", "600"],
                # Retention: deletes what is past its keeping period, at start then daily.
                [sys.executable, manage, "purge", "--every", "86400"],
            ]
        )
        self.stdout.write(f"Travailleur de tâches démarré (pid {children.pids[0]}).")
        try:
            call_command("runserver", f"{options['host']}:{options['port']}", use_reloader=False)
        finally:
            children.stop()


class Children:
    """The background processes, started again when one exits (a database restart stops
    the task worker, as the crash test showed), the way systemd's `Restart=always` does in
    production; a process that keeps exiting is retried every RESTART_DELAY seconds."""

    RESTART_DELAY = 5.0

    def __init__(self, commands: list[list[str]]) -> None:
        self.commands = commands
        self.processes = [subprocess.Popen(command) for command in commands]
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # no restart while stopping
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def _watch(self) -> None:
        while not self._stopping.wait(self.RESTART_DELAY):
            with self._lock:
                for i, process in enumerate(self.processes):
                    if process.poll() is not None and not self._stopping.is_set():
                        self.processes[i] = subprocess.Popen(self.commands[i])

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            for process in self.processes:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
