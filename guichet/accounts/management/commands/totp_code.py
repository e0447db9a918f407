"""Development only: the code an agent's authenticator app shows now (demo accounts)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from guichet.accounts.models import User
from guichet.accounts.totp import confirmed_totp_device, current_code


class Command(BaseCommand):
    help = "Afficher le code à 6 chiffres de l'application d'un agent (développement)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="identifiant de l'agent")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("Cette commande ne fonctionne qu'en développement (DEBUG=1).")
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"Aucun compte avec l'identifiant {options['username']!r}.")
        device = confirmed_totp_device(user)
        if device is None:
            raise CommandError(
                f"Le compte {user.username!r} n'a pas d'application d'authentification configurée."
            )
        code, seconds = current_code(device)
        self.stdout.write(f"{code} (change dans {seconds} s ; un code ne sert qu'une fois)")
