"""`python manage.py procedures validate|import|export`: the catalog as files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guichet.catalog.definition import DefinitionSetError, dump_definition, load_definitions
from guichet.catalog.models import Procedure
from guichet.catalog.services import import_definitions


class Command(BaseCommand):
    help = "Valider, importer ou exporter les définitions de démarches (fichiers YAML)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        validate = sub.add_parser("validate", help="Vérifier des fichiers sans rien importer.")
        validate.add_argument("paths", nargs="+", type=Path)
        imp = sub.add_parser("import", help="Importer (tout ou rien) ; nouvelle version si changé.")
        imp.add_argument("paths", nargs="+", type=Path)
        exp = sub.add_parser("export", help="Écrire la version en vigueur de chaque démarche.")
        exp.add_argument(
            "--output", "-o", type=Path, help="dossier de sortie (sinon : sortie standard)"
        )
        exp.add_argument("ids", nargs="*", help="identifiants des démarches (toutes par défaut)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "export":
            self._export(options["ids"], options["output"])
            return
        try:
            definitions = load_definitions(options["paths"])
        except DefinitionSetError as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            files = len({e.file for e in exc.errors})
            raise CommandError(
                f"{len(exc.errors)} erreur(s) dans {files} fichier(s) ; rien n'a été importé."
            ) from None
        if action == "validate":
            self.stdout.write(self.style.SUCCESS(f"{len(definitions)} définition(s) valide(s)."))
            return
        report = import_definitions(definitions=definitions, actor="system:procedures-import")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(report.created)} créée(s), {len(report.updated)} nouvelle(s) version(s), "
                f"{len(report.unchanged)} inchangée(s)."
            )
        )

    def _export(self, ids: list[str], output: Path | None) -> None:
        procedures = Procedure.objects.select_related("current_version").filter(
            current_version__isnull=False
        )
        if ids:
            procedures = procedures.filter(pk__in=ids)
            missing = set(ids) - {p.pk for p in procedures}
            if missing:
                raise CommandError(f"démarche(s) inconnue(s) : {', '.join(sorted(missing))}")
        for procedure in procedures.order_by("pk"):
            text = dump_definition(procedure.definition)
            if output is None:
                self.stdout.write(f"---\n{text}", ending="")
                continue
            folder = output / procedure.country.lower()
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{procedure.pk}.yaml").write_text(text, encoding="utf-8")
        if output is not None:
            self.stdout.write(
                self.style.SUCCESS(f"{procedures.count()} démarche(s) exportée(s) dans {output}.")
            )
