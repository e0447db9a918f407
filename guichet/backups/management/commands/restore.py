"""`manage.py restore`: put a backup back into an empty instance (docs/adr/0015-backups.md).

manage.py restore --keys CLES.backup      first, the private keys (BACKUP_KEYS_KEY)
manage.py restore ARCHIVE [--journal DIR] then the data (BACKUP_KEY) into an empty
                                          database; DIR: a copy of retention/tombstones
                                          kept off the machine (docs/retention.md)
manage.py restore ARCHIVE --check         authenticate and check the archive; change nothing

The archive is read and checked in full before anything changes; a non-empty database,
stored files that differ, or missing keys are refused. After loading, it compares the
database and the files with the manifest, verifies the audit chain, and re-applies the
purges made since the backup. Exit 1 when something was refused or did not check out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guichet.backups import archive, services
from guichet.backups.management.commands.backup import size_text


class Command(BaseCommand):
    help = "Restaurer une sauvegarde dans une instance vide, puis réappliquer les purges."
    # The target is empty: the checks that read the database have nothing to read yet.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path, help="archive écrite par `manage.py backup`")
        parser.add_argument(
            "--keys",
            action="store_true",
            help="l'archive est celle des clés privées (`backup --keys`) : les remettre en place",
        )
        parser.add_argument(
            "--journal",
            type=Path,
            default=None,
            help="copie du dossier retention/tombstones gardée hors de la machine",
        )
        parser.add_argument(
            "--check", action="store_true", help="vérifier l'archive sans rien restaurer"
        )
        parser.add_argument(
            "--allow-missing-keys",
            action="store_true",
            help="restaurer même si des clés privées manquent (documents, réponses sensibles)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["keys"]:
                self._keys(options["archive"])
            elif options["check"]:
                self._header(services.verify(options["archive"]))
                self.stdout.write("Rien n'a été modifié (--check).")
            else:
                self._restore(options)
        except services.RestoreRefused as exc:
            reasons = "\n".join(f"  - {reason}" for reason in exc.reasons)
            raise CommandError(f"Restauration refusée :\n{reasons}\nRien n'a été modifié.") from exc
        except archive.ArchiveError as exc:
            raise CommandError(f"Restauration refusée : {exc} Rien n'a été modifié.") from exc
        except services.BackupError as exc:
            raise CommandError(f"Restauration interrompue : {exc}") from exc

    def _header(self, verified: services.Verified) -> None:
        m = verified.manifest
        version = m["guichet"]
        self.stdout.write(
            f"Archive {verified.path.name} : authentique ({verified.chunks} bloc(s) "
            f"authentifié(s), {size_text(verified.size)}, clé {verified.key_id}) ; sauvegarde du "
            f"{m['created_at']}, Guichet {version['version'] or '?'}"
            + (f" ({version['commit'][:12]})" if version["commit"] else "")
            + f", base {m['database']['vendor']}."
        )
        self.stdout.write(
            f"Contenu conforme au manifeste : la base, {m['files']['count']} fichiers, "
            f"{len(m['rows'])} tables, journal d'audit jusqu'à l'entrée n° "
            f"{m['audit']['head']['seq']}."
        )

    def _restore(self, options: dict[str, Any]) -> None:
        plan = services.plan_restore(
            options["archive"],
            journal=options["journal"],
            allow_missing_keys=options["allow_missing_keys"],
        )
        self._header(plan.verified)
        self.stdout.write(
            "Cible vide, aucun fichier en conflit"
            + (
                f", {plan.missing_migrations} migration(s) à appliquer après."
                if plan.missing_migrations
                else ", même schéma."
            )
        )
        if plan.key_problems:
            for problem in plan.key_problems:
                self.stdout.write(f"Attention (--allow-missing-keys) : {problem}")
        else:
            self.stdout.write("Clés : toutes celles du manifeste sont présentes ici.")
        restored = services.restore(plan, say=self.stdout.write)
        if restored.problems:
            problems = "\n".join(f"  - {problem}" for problem in restored.problems)
            raise CommandError(
                f"Restauration faite, mais {len(restored.problems)} vérification(s) en échec :\n"
                f"{problems}\nN'ouvrez pas le site avant d'avoir compris pourquoi."
            )
        self.stdout.write(
            f"Restauration terminée et vérifiée en {restored.seconds:.1f} s. Avant de rouvrir "
            "le site : sur PostgreSQL, redonnez ses droits au rôle de l'application "
            "(docs/governance.md) ; puis `manage.py audit_checkpoint`."
        )

    def _keys(self, path: Path) -> None:
        written, same, skipped = services.restore_keys(path)
        for target in written:
            self.stdout.write(f"Clé remise en place : {target}")
        for target in same:
            self.stdout.write(f"Déjà là, identique : {target}")
        for member in skipped:
            self.stdout.write(f"Non écrite (une variable d'environnement la fournit) : {member}")
        self.stdout.write(
            f"Clés restaurées : {len(written)} écrite(s), {len(same)} déjà présente(s)."
        )
