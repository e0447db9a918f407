"""`manage.py backup`: one encrypted archive of the database, the stored files and a
manifest (docs/adr/0015-backups.md).

manage.py backup [FICHIER]          the data archive (default BACKUP_DIR/guichet-<time>.backup),
                                    encrypted with BACKUP_KEY
manage.py backup --keys [FICHIER]   the private keys (signing, field key ring, audit
                                    checkpoints) in their own archive, with BACKUP_KEYS_KEY
manage.py backup --new-key          print a new random key for BACKUP_KEY or BACKUP_KEYS_KEY
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guichet.backups import archive, services


def size_text(size: int) -> str:
    if size >= 1 << 20:
        return f"{size / (1 << 20):.1f} Mo".replace(".", ",")
    if size >= 1024:
        return f"{size / 1024:.0f} ko"
    return f"{size} o"


class Command(BaseCommand):
    help = "Sauvegarder la base, les fichiers et le manifeste dans une archive chiffrée."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", type=Path, help="archive à écrire")
        parser.add_argument(
            "--keys",
            action="store_true",
            help="sauvegarder les clés privées dans leur propre archive (BACKUP_KEYS_KEY)",
        )
        parser.add_argument(
            "--new-key", action="store_true", help="afficher une nouvelle clé de sauvegarde"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["new_key"]:
            self.stdout.write(archive.new_key())
            return
        try:
            if options["keys"]:
                self._keys(options["file"])
            else:
                self._data(options["file"])
        except (services.BackupError, archive.ArchiveError) as exc:
            raise CommandError(str(exc)) from exc

    def _data(self, file: Path | None) -> None:
        written = services.backup(path=file)
        m = written.manifest
        files, audit, keys = m["files"], m["audit"], m["keys"]
        rows = sum(m["rows"].values())
        say = self.stdout.write
        say(
            f"Sauvegarde écrite : {written.path} ({size_text(written.size)}, "
            f"{written.seconds:.1f} s)."
        )
        say(
            f"  base {m['database']['vendor']} : {len(m['rows'])} tables, {rows} lignes, "
            f"{sum(len(v) for v in m['migrations'].values())} migrations"
        )
        missing = files["referenced_missing"]
        say(
            f"  fichiers : {files['count']} ({size_text(files['bytes'])}), chacun avec son "
            f"SHA-256 ; {files['referenced']} référencés par la base, "
            + ("tous présents" if not missing else f"{len(missing)} ABSENTS du stockage")
        )
        head, last = audit["head"], audit["last_checkpoint"]
        say(
            f"  journal d'audit : tête n° {head['seq']} ({head['hash'][:16]}…), "
            + (
                f"dernier point de contrôle n° {last['seq']} du {last['at']}"
                if last
                else "aucun point de contrôle"
            )
        )
        for warning in audit["warnings"]:
            say(f"  attention : {warning}")
        ring = keys["field_key_ring"]
        say(
            f"  clés (faits publics) : {len(keys['signing'])} clé(s) de signature, trousseau "
            + (", ".join(ring["keys"]) if ring else "absent")
            + ", points de contrôle "
            + (keys["audit_checkpoint"]["key"] if keys["audit_checkpoint"] else "sans clé")
        )
        say(
            "  chiffrée avec BACKUP_KEY ; les clés privées n'y sont pas "
            "(`manage.py backup --keys`)."
        )
        for old in written.pruned:
            say(f"Ancienne sauvegarde supprimée (plus de BACKUP_KEEP_DAYS jours) : {old.name}")

    def _keys(self, file: Path | None) -> None:
        written = services.backup_keys(path=file)
        self.stdout.write(
            f"Clés sauvegardées : {written.path} ({size_text(written.size)}), chiffrée avec "
            f"BACKUP_KEYS_KEY : {len(written.members)} fichier(s) de clé."
        )
        signing = [m for m in written.members if m.startswith("signing/")]
        others = [m for m in written.members if not m.startswith("signing/")]
        if signing:
            self.stdout.write(f"  {len(signing)} clé(s) de signature (SIGNING_KEYS_DIR)")
        for member in others:
            self.stdout.write(f"  {member}")
        for elsewhere in written.elsewhere:
            self.stdout.write(f"  non inclus (gardé ailleurs) : {elsewhere}")
        self.stdout.write(
            "Gardez cette archive et BACKUP_KEYS_KEY à part des sauvegardes de données."
        )
