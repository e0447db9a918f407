"""Check the audit chain: every entry, its place, its link, and the signed checkpoints.

`manage.py audit_verify` exits 0 when the chain is intact, 1 naming the first bad entry
(edited, deleted, moved, inserted, appended behind the application's back, or a chain
rewritten or cut short since a checkpoint). `--checkpoints` and `--public-key` check a
copy of the checkpoint file kept elsewhere, with the public key kept with it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guichet.governance import chain, checkpoints


class Command(BaseCommand):
    help = "Vérifier la chaîne du journal d'audit et ses points de contrôle signés."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoints",
            type=Path,
            default=None,
            help="fichier des points de contrôle (par défaut celui d'AUDIT_CHECKPOINT_DIR)",
        )
        parser.add_argument(
            "--public-key",
            default=None,
            help="clé publique des points de contrôle (fichier ou base64url) ; "
            "par défaut celle de la clé configurée",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        file: Path = options["checkpoints"] or checkpoints.path()
        try:
            key = checkpoints.public_key(options["public_key"])
            if key is None and file.is_file():
                raise CommandError(
                    f"{file} existe mais aucune clé ne permet de le vérifier "
                    "(--public-key, AUDIT_CHECKPOINT_KEY_FILE ou AUDIT_CHECKPOINT_KEY)."
                )
            marks = checkpoints.load(file, key) if key is not None else []
        except checkpoints.CheckpointError as exc:
            raise CommandError(f"Point de contrôle refusé : {exc}") from exc
        report = chain.verify(checkpoints=marks)
        seconds = time.monotonic() - started
        if report.problem is not None:
            where = f"Entrée n° {report.problem.seq}" if report.problem.seq else "Chaîne"
            raise CommandError(
                f"{where} : {report.problem.detail} ({report.entries} entrées vérifiées "
                f"avant elle, {seconds:.1f} s)"
            )
        note = (
            f"{report.checkpoints} point(s) de contrôle sur {len(marks)} comparés"
            if marks
            else "aucun point de contrôle"
        )
        self.stdout.write(
            f"Journal d'audit intact : {report.entries} entrées, dernière n° {report.last_seq} "
            f"({report.last_hash[:16]}…) ; {note} ; {seconds:.1f} s."
        )
