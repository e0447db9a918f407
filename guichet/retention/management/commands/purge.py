"""`manage.py purge`: delete what is past its keeping period (docs/retention.md).

manage.py purge --dry-run          what would go, first due first; nothing changes
manage.py purge                    delete it (what `serve` runs daily: `--every 86400`)
manage.py purge --reapply          after restoring a backup: delete again what had
                                   been purged, then what is due
manage.py purge --now 2031-01-01   as if it were that day (checking a policy)
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from guichet.retention import services
from guichet.retention.services import Purge

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Supprimer ce dont la durée de conservation est écoulée (--dry-run : lister)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="lister sans rien supprimer")
        parser.add_argument("--now", help="date et heure ISO 8601 à prendre pour maintenant")
        parser.add_argument(
            "--reapply",
            action="store_true",
            help="après la restauration d'une sauvegarde : supprimer de nouveau ce qui l'avait été",
        )
        parser.add_argument("--every", type=int, default=0, help="secondes entre deux passages")

    def handle(self, *args: Any, **options: Any) -> None:
        now = _parse_now(options["now"])
        while True:
            try:
                self._run(now=now, dry_run=options["dry_run"], reapply=options["reapply"])
            except Exception:
                if options["every"] <= 0:
                    raise
                # In the daily loop, one failed run (a locked database) must not end them all.
                logger.exception("retention: the purge failed; next run in %ss", options["every"])
            if options["every"] <= 0:
                return
            time.sleep(options["every"])

    def _run(self, *, now: datetime | None, dry_run: bool, reapply: bool) -> None:
        now = now or timezone.now()
        again: list[Purge] = []
        if reapply:
            if not dry_run:
                restored = services.restore_tombstones()
                self.stdout.write(f"Pierres tombales reprises du journal : {restored}")
            again = services.reapply_plan()
        # A restored dossier that is due anyway is listed once, as a re-deletion.
        named = {(item.kind, item.object_id) for item in again}
        items = again + [p for p in services.plan(now) if (p.kind, p.object_id) not in named]
        head = f"Conservation au {now:%Y-%m-%d %H:%M} UTC : {len(items)} élément(s) à supprimer"
        if dry_run:
            self.stdout.write(f"{head} (essai : rien n'est supprimé).")
            for item in items:
                self.stdout.write(item.describe())
            return
        if not items:
            self.stdout.write(f"{head}.")
            return
        outcome = services.apply(items, now=now)
        self.stdout.write(
            f"{head} : {len(outcome.done)} fait(s), {len(outcome.skipped)} laissé(s)."
        )
        for item in outcome.done:
            self.stdout.write(item.describe())
        for item, why in outcome.skipped:
            self.stdout.write(f"laissé : {item.describe()} — {why}")
        for label, count in sorted(outcome.counts.items()):
            self.stdout.write(f"  {label} : {count}")


def _parse_now(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--now : date ISO 8601 attendue, pas {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
