"""A second citizen with a dossier of their own and traces everywhere: what the first
citizen's export must never show."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import BIRTH_EXTRACT_ANSWERS

PROCEDURE = "ml-extrait-acte-naissance"


def publish(procedure_id: str = PROCEDURE, **data_protection) -> None:
    """A new version of the procedure, its `data_protection` changed as given (e.g.
    `legal_basis="consent"`), or its notice texts with `privacy={...}`."""
    from guichet.catalog.definition import Definition
    from guichet.catalog.models import Procedure
    from guichet.catalog.services import import_definitions

    source = Procedure.objects.get(pk=procedure_id).definition
    privacy = data_protection.pop("privacy", {})
    changed = {
        **source,
        "data_protection": {**source["data_protection"], **data_protection},
        "form": {**source["form"], "privacy": {**source["form"]["privacy"], **privacy}},
    }
    import_definitions(definitions=[Definition(data=changed, source="test")], actor="test")


@pytest.fixture
def consent_procedure(demo_catalog):
    """The birth extract as if it were an optional service resting on consent (no demo
    procedure does: their legal bases are a public task or a legal obligation)."""
    publish(legal_basis="consent")
    return PROCEDURE


def submit_birth_extract(user, answers: dict[str, str], file_name: str, **submit):
    """A submitted birth-extract dossier by `user`, routed to Commune III, with one file;
    `submit`: more arguments for `submit_dossier` (`consent=True`)."""
    from guichet.catalog.models import Procedure
    from guichet.dossiers import services
    from guichet.dossiers.tests.samples import PNG_BYTES

    procedure = Procedure.objects.get(pk="ml-extrait-acte-naissance")
    dossier = services.start_dossier(procedure=procedure, actor=user)
    attachment = services.add_attachment(
        dossier=dossier,
        field_name="volet_2",
        upload=SimpleUploadedFile(file_name, PNG_BYTES, content_type="image/png"),
        actor=user,
    )
    dossier.answers = {**BIRTH_EXTRACT_ANSWERS, **answers, "volet_2": [str(attachment.pk)]}
    dossier.save(update_fields=["answers"])
    services.scan_attachment(attachment_id=str(attachment.pk))
    dossier = services.submit_dossier(
        dossier=dossier, token=str(dossier.submission_token), actor=user, **submit
    )
    return dossier, attachment


@pytest.fixture
def other_with_data(other_citizen, demo_catalog):
    """`other_citizen` with a phone, a name, an email, a submitted dossier with a file, a
    message, an assistant question, an SMS received from them and a request on their data.
    `secrets`: strings that belong to them only."""
    from guichet.assistant.tests.samples import exchange
    from guichet.dossiers import services
    from guichet.notifications.models import InboundSms
    from guichet.privacy.services import submit_request

    other_citizen.phone = "+22376000001"
    other_citizen.display_name = "Bintou Keïta"
    other_citizen.email = "bintou.keita@example.org"
    other_citizen.save()
    dossier, _ = submit_birth_extract(
        other_citizen,
        {
            "nom": "Keïta",
            "prenoms": "Sékouba",
            "demandeur_nom": "Keïta",
            "demandeur_prenoms": "Bintou",
            "telephone": "+22376000001",
        },
        "acte-de-bintou.png",
    )
    services.post_message(
        dossier=dossier, body="Message de Bintou pour le centre", actor=other_citizen
    )
    exchange(
        "casier judiciaire de Bintou à Sikasso",
        user=other_citizen,
        outcome="refuse",
        answer="Réponse pour Bintou seulement",
    )
    InboundSms.objects.create(sender="+22376000001", text="STATUT de Bintou", reply="ok Bintou")
    submit_request(
        actor=other_citizen,
        kind="rectification",
        text="Mon fils s'appelle Sékouba, corrigez",
        dossier=dossier,
    )
    return SimpleNamespace(
        user=other_citizen,
        dossier=dossier,
        secrets=[
            dossier.reference,
            other_citizen.get_username(),
            "+22376000001",
            "76000001",
            "Bintou",
            "Keïta",
            "Sékouba",
            "bintou.keita@example.org",
            "acte-de-bintou.png",
            "Message de Bintou",
            "Sikasso",
            "STATUT de Bintou",
        ],
    )
