"""Check a document offline: `manage.py verify_document FILE_OR_CODE --keys cles.json`.

FILE_OR_CODE is a PDF, a file holding the code, the code itself or the QR's URL. With
--keys, nothing but that saved key set is read (no database, no network); without it, the
key set comes from this server's database. Exit status 0 when authentic, 1 otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guichet.documents.verify import KeySet, verify_any


class Command(BaseCommand):
    help = "Vérifier un document délivré (PDF, code ou adresse du QR), hors ligne avec --keys."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("document", help="fichier PDF, fichier du code, code ou adresse")
        parser.add_argument("--keys", help="jeu de clés enregistré (cles.json)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["keys"]:
            try:
                keyset = KeySet.load(options["keys"])
            except (OSError, ValueError, KeyError) as exc:
                raise CommandError(f"Jeu de clés illisible : {exc}") from None
        else:
            from guichet.documents.services import published_keyset

            keyset = published_keyset()
        target = options["document"]
        try:
            data = Path(target).read_bytes()
        except OSError:  # not a file: the code or the URL itself
            data = target.encode()
        verdict = verify_any(data, keyset)
        self.stdout.write(f"{verdict.title}. {verdict.explanation}")
        if verdict.key is not None:
            self.stdout.write(f"Clé {verdict.key.kid} : {verdict.key.authority_name}")
        if verdict.revoked_on:
            self.stdout.write(f"Depuis le {verdict.revoked_on}")
        if verdict.claims is not None:
            c = verdict.claims
            rows = [("N°", c.number), ("Document", c.title), ("Titulaire", c.holder)]
            rows += [*c.fields, ("Délivré par", c.issuer), ("Le", c.issued_on)]
            rows += [("Décision de", c.signer)]
            for label, value in rows:
                self.stdout.write(f"  {label} : {value}")
        if not verdict.is_authentic:
            raise SystemExit(1)
