"""Load the demo catalog and the demo accounts (development only)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from guichet.catalog.definition import DefinitionSetError, load_definitions
from guichet.catalog.services import import_definitions

DEMO_ACCOUNTS = [
    # (username, password, role shown to the person trying the demo)
    ("admin", "demo-admin-2026", "administrateur de la plateforme (/admin/)"),
]


class Command(BaseCommand):
    help = "Charger les démarches de démonstration et les comptes de démonstration."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("Les données de démonstration ne se chargent qu'avec DEBUG=1.")
        try:
            definitions = load_definitions([settings.DEMO_PROCEDURES_DIR])
        except DefinitionSetError as exc:
            raise CommandError(str(exc)) from None
        report = import_definitions(definitions=definitions, actor="system:load_demo")
        self.stdout.write(
            f"Démarches : {len(definitions)} ({report.changed} nouvelle(s) ou modifiée(s))."
        )
        user_model = get_user_model()
        for username, password, _role in DEMO_ACCOUNTS:
            user, created = user_model.objects.get_or_create(
                username=username, defaults={"is_staff": True, "is_superuser": True}
            )
            if created:
                user.set_password(password)
                user.save()
        self.stdout.write("Comptes de démonstration :")
        for username, password, role in DEMO_ACCOUNTS:
            self.stdout.write(f"  {username} / {password} — {role}")
