"""Manage the authorities' signing keys: list, create (rotate), revoke, export the key set."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guichet.documents import services
from guichet.documents.models import SigningKey
from guichet.documents.services import DocumentError
from guichet.organisation.models import Authority

ACTOR = "system:signing_keys"


class Command(BaseCommand):
    help = (
        "Clés de signature des autorités : list, create AUTORITÉ (remplace la clé en service, "
        "l'ancienne vérifie encore ce qu'elle a signé), revoke KID --reason …, export FICHIER."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list")
        create = sub.add_parser("create")
        create.add_argument("authority")
        revoke = sub.add_parser("revoke")
        revoke.add_argument("kid")
        revoke.add_argument("--reason", required=True)
        export = sub.add_parser("export")
        export.add_argument("path", help="fichier JSON à écrire ('-' : la sortie standard)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            for key in SigningKey.objects.select_related("authority").order_by(
                "authority_id", "-created_at"
            ):
                self.stdout.write(
                    f"{key.kid}  {key.authority_id:30}  {key.status:8}  {key.created_at:%Y-%m-%d}"
                )
        elif action == "create":
            try:
                authority = Authority.objects.get(pk=options["authority"])
            except Authority.DoesNotExist:
                raise CommandError(f"Autorité inconnue : {options['authority']}") from None
            key = services.create_key(authority=authority, actor=ACTOR)
            self.stdout.write(f"Clé {key.kid} en service pour {authority.id}.")
        elif action == "revoke":
            try:
                key = SigningKey.objects.get(pk=options["kid"])
                services.revoke_key(key=key, actor=ACTOR, reason=options["reason"])
            except SigningKey.DoesNotExist:
                raise CommandError(f"Clé inconnue : {options['kid']}") from None
            except DocumentError as exc:
                raise CommandError(exc.message) from None
            self.stdout.write(f"Clé {key.kid} révoquée.")
        else:
            text = json.dumps(services.published_keyset().as_json(), indent=1, ensure_ascii=False)
            if options["path"] == "-":
                self.stdout.write(text)
            else:
                with open(options["path"], "w", encoding="utf-8") as handle:
                    handle.write(text + "\n")
                self.stdout.write(f"Jeu de clés écrit dans {options['path']}.")
