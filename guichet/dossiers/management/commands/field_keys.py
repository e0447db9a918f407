"""The key ring of sensitive answers: list, create, rotate, reseal, retire (core/sealing.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guichet.core import sealing
from guichet.dossiers import sealed
from guichet.governance import audit

ACTOR = "system:field_keys"


class Command(BaseCommand):
    help = (
        "Clés des réponses sensibles : list (et l'usage de chaque clé), create (premier "
        "trousseau), rotate (nouvelle clé courante), reseal [--dry-run] (rechiffre avec la "
        "clé courante), retire KID (retire une clé qui ne chiffre plus rien)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list")
        sub.add_parser("create")
        sub.add_parser("rotate")
        reseal = sub.add_parser("reseal")
        reseal.add_argument("--dry-run", action="store_true")
        retire = sub.add_parser("retire")
        retire.add_argument("kid")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, "_" + options["action"])(options)
        except sealing.SealingError as exc:
            raise CommandError(str(exc)) from None

    def _list(self, options: dict[str, Any]) -> None:
        ring = sealing.ring(create=False)
        used = sealed.key_usage()
        for kid in ring.keys:
            mark = "courante" if kid == ring.current else "ancienne"
            created = ring.created.get(kid, "")
            self.stdout.write(f"{kid}  {mark:8}  {created:25}  {used.get(kid, 0)} réponse(s)")
        for kid in sorted(set(used) - set(ring.keys)):
            self.stdout.write(f"{kid}  ABSENTE   {used[kid]} réponse(s) illisibles")

    def _create(self, options: dict[str, Any]) -> None:
        if sealing.has_ring():
            raise CommandError("Un trousseau existe déjà : utilisez rotate.")
        path = sealing.write(sealing.KeyRing(current="", keys={}, created={}).with_new_key())
        self.stdout.write(f"Trousseau créé : {path} (sauvegardez-le à part de la base).")
        self._audit("field_keys.rotated", sealing.ring().current)

    def _rotate(self, options: dict[str, Any]) -> None:
        new = sealing.ring(create=False).with_new_key()
        sealing.write(new)
        self.stdout.write(
            f"Clé {new.current} en service ; lancez `field_keys reseal`, puis retirez "
            "l'ancienne quand elle ne chiffre plus rien."
        )
        self._audit("field_keys.rotated", new.current)

    def _reseal(self, options: dict[str, Any]) -> None:
        count = sealed.reseal(actor=ACTOR, dry_run=options["dry_run"])
        verb = "à rechiffrer" if options["dry_run"] else "rechiffré(s)"
        self.stdout.write(f"{count} dossier(s) {verb}.")

    def _retire(self, options: dict[str, Any]) -> None:
        ring, kid = sealing.ring(create=False), options["kid"]
        if kid not in ring.keys:
            raise CommandError(f"Clé inconnue : {kid}")
        left = sealed.key_usage().get(kid, 0)
        if left:
            raise CommandError(
                f"La clé {kid} chiffre encore {left} réponse(s) : lancez d'abord "
                "`field_keys reseal`."
            )
        sealing.write(ring.without(kid))
        self.stdout.write(f"Clé {kid} retirée du trousseau.")
        self._audit("field_keys.retired", kid)

    def _audit(self, action: str, kid: str) -> None:
        audit.record(action, obj=None, actor=ACTOR, data={"key": kid})
