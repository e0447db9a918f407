"""`manage.py assistant_eval FILE.jsonl [--min-top1 0.85 …]`: the assistant's scores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guichet.assistant import evaluation


class Command(BaseCommand):
    help = (
        "Évalue l'assistant sur un fichier de questions (JSON Lines : q, expected, country) "
        "et échoue sous les seuils donnés."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--min-top1", type=float, default=0.0)
        parser.add_argument("--min-top3", type=float, default=0.0)
        parser.add_argument("--min-refusal", type=float, default=0.0,
                            help="part minimale des questions hors sujet refusées")  # fmt: skip
        parser.add_argument("--max-wrong-refusal", type=float, default=1.0,
                            help="part maximale des questions pertinentes refusées")  # fmt: skip
        parser.add_argument("--min-citations", type=float, default=1.0,
                            help="validité minimale des citations (1 = 100 %%)")  # fmt: skip
        parser.add_argument("--max-p95-ms", type=float, default=0.0,
                            help="latence p95 maximale en ms (0 : pas de seuil)")  # fmt: skip
        parser.add_argument("--rounds", type=int, default=1,
                            help="répétitions de chaque question (latence)")  # fmt: skip
        parser.add_argument("--json", action="store_true", help="sortie JSON")
        parser.add_argument("--misses", action="store_true", help="liste les erreurs")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"Fichier introuvable : {path}")
        try:
            questions = evaluation.read_questions(path)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        report = evaluation.evaluate(questions, rounds=options["rounds"])
        figures = report.as_dict()
        if options["json"]:
            self.stdout.write(json.dumps(figures, indent=2))
        else:
            self.stdout.write(
                f"{len(questions)} questions : {report.answerable} avec réponse attendue, "
                f"{report.out_of_scope} hors sujet\n"
                f"top-1 : {report.top1_rate:.1%}   top-3 : {report.top3_rate:.1%}\n"
                f"hors sujet refusées : {report.refusal_rate:.1%}   "
                f"pertinentes refusées à tort : {report.wrong_refusal_rate:.1%}\n"
                f"citations valides : {report.citation_validity:.1%} ({report.citations})\n"
                f"latence p50 : {report.latency(0.5):.1f} ms   p95 : {report.latency(0.95):.1f} ms"
            )
        if options["misses"]:
            for miss in report.misses:
                self.stdout.write(f"  - {miss}")
        checks = [
            ("top1", report.top1_rate, options["min_top1"]),
            ("top3", report.top3_rate, options["min_top3"]),
            ("refusal", report.refusal_rate, options["min_refusal"]),
            ("wrong_refusal_max", report.wrong_refusal_rate, options["max_wrong_refusal"]),
            ("citations", report.citation_validity, options["min_citations"]),
        ]
        if options["max_p95_ms"]:
            checks.append(("p95_ms_max", report.latency(0.95), options["max_p95_ms"]))
        failures = evaluation.check_thresholds(report, checks)
        if failures:
            raise CommandError("Sous les seuils : " + " ; ".join(failures))
