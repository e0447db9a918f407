"""Load the demo organisation, catalog and accounts (development only)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError

from guichet.accounts.models import User
from guichet.accounts.totp import confirmed_totp_device, create_demo_totp_device
from guichet.catalog.definition import DefinitionSetError, load_definitions
from guichet.catalog.models import Procedure
from guichet.catalog.services import import_definitions
from guichet.documents import services as document_services
from guichet.dossiers import services as dossier_services
from guichet.organisation.models import Authority, RoleKind, Service
from guichet.organisation.services import OrganisationError, grant_role, load_organisation

DEMO_STAFF = [
    # (username, password, role, scope, what the person trying the demo can do with it)
    (
        "admin",
        "demo-admin-2026",
        RoleKind.PLATFORM_ADMIN,
        None,
        "administrateur de la plateforme (/admin/)",
    ),
    (
        "agent-c3",
        "demo-agent-2026",
        RoleKind.AGENT,
        "ml-ec-bamako-c3",
        "agent de l'état civil de Bamako Commune III (/instruction/)",
    ),
    (
        "superviseur-c3",
        "demo-superviseur-2026",
        RoleKind.SUPERVISOR,
        "ml-ec-bamako-c3",
        "superviseur du même service : attribue, rouvre, exporte",
    ),
    (
        "agent-c4",
        "demo-agent-2026",
        RoleKind.AGENT,
        "ml-ec-bamako-c4",
        "agent de la Commune IV : ne voit pas les dossiers de la Commune III",
    ),
    (
        "auditeur",
        "demo-auditeur-2026",
        RoleKind.AUDITOR,
        "ml-mairie-etat-civil",
        "auditeur des mairies du Mali : lit tout, chaque lecture est journalisée",
    ),
]


DEMO_NAMES = {
    "agent-c3": ("Aminata", "Coulibaly"),
    "superviseur-c3": ("Boubacar", "Keïta"),
    "agent-c4": ("Ibrahim", "Touré"),
}
"""Printed as "Décision de" on the documents these accounts issue."""


class Command(BaseCommand):
    help = "Charger l'organisation, les démarches et les comptes de démonstration."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("Les données de démonstration ne se chargent qu'avec DEBUG=1.")
        try:
            organisation = load_organisation(
                path=settings.DEMO_ORGANISATION_FILE, actor="system:load_demo"
            )
            definitions = load_definitions([settings.DEMO_PROCEDURES_DIR])
        except (OrganisationError, DefinitionSetError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Organisation : {organisation.authorities} autorités, "
            f"{organisation.services} services."
        )
        keys = document_services.ensure_keys(actor="system:load_demo")
        self.stdout.write(
            f"Clés de signature créées : {keys} (dossier {settings.SIGNING_KEYS_DIR})."
        )
        report = import_definitions(definitions=definitions, actor="system:load_demo")
        self.stdout.write(
            f"Démarches : {len(definitions)} ({report.changed} nouvelle(s) ou modifiée(s))."
        )
        for username, password, role, scope, _what in DEMO_STAFF:
            self._staff(username, password, role, scope)
        made = self._dossiers()
        if made:
            self.stdout.write(f"Dossiers déposés de démonstration : {made} (file ml-ec-bamako-c3).")
        self.stdout.write("Comptes du personnel (mot de passe, puis le code à 6 chiffres) :")
        for username, password, _role, _scope, what in DEMO_STAFF:
            self.stdout.write(f"  {username} / {password} — {what}")
        self.stdout.write(
            "  Code à 6 chiffres : python manage.py totp_code IDENTIFIANT (développement), "
            "ou configurez votre application en supprimant l'appareil dans /admin/."
        )

    def _staff(self, username: str, password: str, role: RoleKind, scope: str | None) -> None:
        first_name, last_name = DEMO_NAMES.get(username, ("", ""))
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "is_staff": True,
                "is_superuser": role == RoleKind.PLATFORM_ADMIN,
                "first_name": first_name,
                "last_name": last_name,
            },
        )
        if created:
            user.set_password(password)
            user.save()
        if confirmed_totp_device(user) is None:
            create_demo_totp_device(user, secrets.token_hex(20))
        service = (
            Service.objects.get(pk=scope) if role in (RoleKind.AGENT, RoleKind.SUPERVISOR) else None
        )
        authority = Authority.objects.get(pk=scope) if role == RoleKind.AUDITOR else None
        grant_role(
            user=user, role=role, actor="system:load_demo", service=service, authority=authority
        )

    def _dossiers(self) -> int:
        """A few submitted birth-certificate requests, so that the agent's queue is not
        empty on a first visit. Made once, through the same services as a citizen's."""
        citizen, created = User.objects.get_or_create(
            username="+22370000001",
            defaults={"phone": "+22370000001", "display_name": "Citoyen de démonstration"},
        )
        if not created:
            return 0
        citizen.set_unusable_password()
        citizen.save()
        procedure = Procedure.objects.get(pk="ml-extrait-acte-naissance")
        image = (settings.BASE_DIR / "demo" / "files" / "volet-exemple.png").read_bytes()
        for first_name, born in DEMO_CHILDREN:
            dossier = dossier_services.start_dossier(procedure=procedure, actor=citizen)
            attachment = dossier_services.add_attachment(
                dossier=dossier,
                field_name="volet_2",
                upload=SimpleUploadedFile("volet.png", image, content_type="image/png"),
                actor=citizen,
            )
            dossier.answers = {
                **DEMO_ANSWERS,
                "prenoms": first_name,
                "date_naissance": born,
                "volet_2": [str(attachment.pk)],
            }
            dossier.save(update_fields=["answers"])
            dossier_services.scan_attachment(attachment_id=str(attachment.pk))
            dossier_services.submit_dossier(
                dossier=dossier, token=str(dossier.submission_token), actor=citizen
            )
        return len(DEMO_CHILDREN)


DEMO_ANSWERS = {
    "objet": "extrait",
    "nombre_copies": 1,
    "pour": "enfant",
    "nom": "Traoré",
    "region_naissance": "bamako",
    "commune_naissance": "bamako-commune-3",
    "demandeur_nom": "Traoré",
    "demandeur_prenoms": "Moussa",
    "lien_enfant": "pere",
    "telephone": "+22370000001",
}
DEMO_CHILDREN = [("Awa", "2019-03-12"), ("Fatoumata", "2021-07-01"), ("Seydou", "2016-11-23")]
