"""Help for the agent on a dossier's page: the checklist of required documents, the
summary, what OCR read beside each file, and the reading queued once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from guichet.assistant import casework, ocr, tasks
from guichet.assistant.casework import Presence
from guichet.assistant.models import AttachmentReading, ReadingStatus
from guichet.dossiers.models import (
    MESSAGE_FIELD,
    Attachment,
    Dossier,
    DossierStatus,
    Message,
    ScanStatus,
)
from guichet.formdefs.spec import FormSpec
from guichet.web.tests.staff import verified_login
from guichet.workflow import services as workflow

pytestmark = pytest.mark.django_db

VOLET_2 = (
    "Volet n°2 de la déclaration de naissance transmis par la maternité/clinique (pour l'extrait)"
)
EXTRAIT = "Extrait d'acte de naissance volet III (pour obtenir des copies)"


def attach(
    dossier, name: str, *, field: str = MESSAGE_FIELD, by=None, text: str = ""
) -> Attachment:
    """A clean file; `text`: what OCR read in it."""
    attachment = Attachment(
        id=uuid.uuid4(),
        dossier=dossier,
        field_id=field,
        original_name=name,
        kind="jpeg",
        size=3,
        sha256="0" * 64,
        scan_status=ScanStatus.CLEAN,
        uploaded_by=by or dossier.applicant,
    )
    attachment.file.save(name, ContentFile(b"\xff\xd8\xff"), save=False)
    attachment.save()
    if text:
        AttachmentReading.objects.create(
            attachment=attachment, status=ReadingStatus.DONE, text=text, confidence=88.0
        )
    return attachment


def items(dossier) -> dict[str, casework.ChecklistItem]:
    return {item.document: item for item in casework.checklist(dossier, "fr")}


def test_the_file_of_the_field_meant_for_a_document_makes_it_present(submitted_dossier):
    dossier, attachment = submitted_dossier
    found = items(dossier)
    assert list(found) == [VOLET_2, EXTRAIT]
    assert found[VOLET_2].presence == Presence.PRESENT and found[VOLET_2].files == ("volet.png",)
    assert found[VOLET_2].reason == (
        "« volet.png » a été joint au champ « Volet n°2 de la déclaration de naissance », "
        "prévu pour cette pièce."
    )
    # Asked for copies only: not missing, not asked.
    assert found[EXTRAIT].presence == Presence.NOT_ASKED


def test_a_document_without_a_usable_file_seems_missing(submitted_dossier):
    dossier, attachment = submitted_dossier
    Attachment.objects.filter(pk=attachment.pk).update(scan_status=ScanStatus.INFECTED)
    found = items(dossier)
    assert found[VOLET_2].presence == Presence.MISSING
    assert found[VOLET_2].reason == "Aucun fichier ne semble correspondre."
    assert not found[VOLET_2].seems_present


def test_the_text_read_in_a_file_or_its_name_can_show_a_document(submitted_dossier, staff_user):
    dossier, _ = submitted_dossier
    # Sent with a message, with a meaningless name: only its text tells what it is, and
    # OCR misread a letter of it.
    attach(
        dossier,
        "IMG_2041.jpg",
        text="RÉPUBLIQUE DU MALI\nEXTRAIT D'ACTE DE NAISSANEE\nVolet III\nN° 1234 Commune III",
    )
    found = items(dossier)
    assert found[EXTRAIT].presence == Presence.PRESENT
    assert found[EXTRAIT].reason == (
        "Le texte lu dans « IMG_2041.jpg » contient « Extrait », « acte », « naissance », "
        "« volet », « III »."
    )
    # What the service itself sends does not count, whatever its name.
    Attachment.objects.filter(original_name="IMG_2041.jpg").delete()
    attach(dossier, "Extrait de naissance.pdf", by=staff_user)
    assert items(dossier)[EXTRAIT].presence == Presence.NOT_ASKED
    attach(dossier, "Extrait de naissance.pdf")
    found = items(dossier)
    assert found[EXTRAIT].presence == Presence.PRESENT
    assert found[EXTRAIT].reason == "Le nom du fichier « Extrait de naissance.pdf » correspond."


def test_unrelated_text_does_not_make_a_document_present(submitted_dossier):
    dossier, attachment = submitted_dossier
    Attachment.objects.filter(pk=attachment.pk).update(scan_status=ScanStatus.INFECTED)
    attach(
        dossier, "facture.jpg", text="Facture d'électricité EDM SA, Bamako, naissance du compteur"
    )
    assert items(dossier)[VOLET_2].presence == Presence.MISSING


def test_the_summary_says_the_dossier_in_a_few_stored_lines(submitted_dossier, staff_user):
    dossier, _ = submitted_dossier
    workflow.transition(dossier=dossier, to=DossierStatus.IN_REVIEW, actor=staff_user)
    workflow.request_information(
        dossier=dossier, fields=["volet_2"], message="Le volet est illisible.", actor=staff_user
    )
    dossier.refresh_from_db()
    lines = casework.summary(dossier, "fr")
    assert lines[:4] == [
        "Démarche : Extrait d'acte de naissance (volet III) et copies.",
        "Nom déclaré : Traoré Awa.",
        f"Déposé le {dossier.submitted_at:%d/%m/%Y}.",
        "État : Complément demandé.",
    ]
    assert "1 fichier joint au formulaire." in lines
    assert any(line.startswith("Dernier échange : complément demandé le ") for line in lines)
    assert "« Le volet est illisible. », sans réponse" in lines[6]
    # The answer that routed the dossier comes first; the name is not repeated.
    assert lines[7:] == [
        "Commune de naissance : Bamako – Commune III",
        "Que demandez-vous ? : L'extrait d'acte de naissance (volet III)",
        "Pour qui faites-vous la demande ? : Pour mon enfant",
        "Date de naissance : 12/03/2019",
    ]
    Message.objects.create(
        dossier=dossier, author=dossier.applicant, from_applicant=True, body="Voici."
    )
    attach(dossier, "volet-net.jpg")
    lines = casework.summary(dossier, "fr")
    assert "1 fichier joint au formulaire, 1 envoyé avec les messages." in lines
    assert any(
        line.startswith("Dernier message, du demandeur le ") and "« Voici. »" in line
        for line in lines
    )


def _as_on_the_page(dossier: Dossier) -> Dossier:
    """With its version and files loaded, as the page has it before the summary."""
    return (
        Dossier.objects.select_related("version").prefetch_related("attachments").get(pk=dossier.pk)
    )


def test_the_summary_uses_the_thread_and_the_open_request_it_is_given(
    submitted_dossier, staff_user, django_assert_num_queries
):
    dossier, _ = submitted_dossier
    workflow.transition(dossier=dossier, to=DossierStatus.IN_REVIEW, actor=staff_user)
    workflow.request_information(
        dossier=dossier, fields=["volet_2"], message="Le volet est illisible.", actor=staff_user
    )
    Message.objects.create(dossier=dossier, author=staff_user, from_applicant=False, body="Hé.")
    dossier = _as_on_the_page(dossier)
    spec = FormSpec.from_definition(dossier.version.definition)
    thread, waited_on = list(dossier.messages.all()), dossier.info_requests.get()
    with django_assert_num_queries(0):
        lines = casework.summary(dossier, "fr", spec=spec, thread=thread, open_request=waited_on)
    assert any(line.startswith("Dernier message, du service le ") for line in lines), lines
    assert casework.summary(dossier, "fr") == lines  # the same when it reads them itself
    Message.objects.all().delete()
    with django_assert_num_queries(0):
        lines = casework.summary(dossier, "fr", spec=spec, thread=[], open_request=waited_on)
    assert "« Le volet est illisible. », sans réponse." in lines[6]
    assert casework.summary(dossier, "fr") == lines
    # Answered: no request is open, the last one is read (and said answered).
    workflow.resubmit(dossier=dossier, token=str(dossier.submission_token), actor=dossier.applicant)
    dossier = _as_on_the_page(dossier)
    with django_assert_num_queries(1):
        lines = casework.summary(dossier, "fr", spec=spec, thread=[], open_request=None)
    assert "État : En cours d'instruction." in lines
    assert lines[6].startswith("Dernier échange : complément demandé le ")
    assert lines[6].endswith("« Le volet est illisible. », répondu."), lines
    assert casework.summary(dossier, "fr") == lines


# --- The dossier's page --------------------------------------------------------------------------


@pytest.fixture
def agent_client(client, staff_user):
    verified_login(client, staff_user)
    return client


def test_the_page_shows_the_advice_marked_as_such(agent_client, submitted_dossier):
    dossier, attachment = submitted_dossier
    AttachmentReading.objects.create(
        attachment=attachment,
        status=ReadingStatus.DONE,
        text="Volet n°2\n<script>alert(1)</script>",
        engine="tesseract 5.3.0 fra",
        confidence=91.4,
    )
    html = agent_client.get(f"/instruction/dossiers/{dossier.reference}/").content.decode()
    assert "Aide à l'instruction — indicatif, ne décide rien" in html
    assert "Texte lu automatiquement (indicatif) — confiance 91 %" in html
    assert "Volet n°2<br>&lt;script&gt;alert(1)&lt;/script&gt;" in html  # data, never markup
    assert "<script>" not in html
    assert "semble présente</strong> — Volet n°2 de la déclaration" in html
    assert "non demandée pour ces réponses" in html
    assert "Nom déclaré : Traoré Awa." in html


def test_the_page_reads_the_thread_and_the_open_request_once(
    agent_client, submitted_dossier, staff_user
):
    dossier, _ = submitted_dossier
    workflow.transition(dossier=dossier, to=DossierStatus.IN_REVIEW, actor=staff_user)
    workflow.request_information(
        dossier=dossier, fields=["volet_2"], message="Le volet est illisible.", actor=staff_user
    )
    with CaptureQueriesContext(connection) as captured:
        html = agent_client.get(f"/instruction/dossiers/{dossier.reference}/").content.decode()
    assert "« Le volet est illisible. », sans réponse." in html
    read = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    assert sum('FROM "dossiers_message"' in sql for sql in read) == 1
    assert sum('FROM "dossiers_informationrequest"' in sql for sql in read) == 1


def test_a_failed_reading_says_why_beside_the_file(agent_client, submitted_dossier):
    dossier, attachment = submitted_dossier
    AttachmentReading.objects.create(
        attachment=attachment,
        status=ReadingStatus.FAILED,
        detail="Lecture impossible : tesseract n'est pas installé sur le serveur.",
    )
    html = agent_client.get(f"/instruction/dossiers/{dossier.reference}/").content.decode()
    assert "Texte lu automatiquement (indicatif) — Lecture impossible</summary>" in html
    assert "tesseract n&#x27;est pas installé sur le serveur." in html


def test_opening_the_page_queues_the_reading_once(
    agent_client, submitted_dossier, monkeypatch, django_capture_on_commit_callbacks
):
    dossier, attachment = submitted_dossier
    monkeypatch.setattr(
        ocr, "read_file", lambda data, kind: ocr.OcrResult("Volet n°2", 77.0, "tesseract", 5)
    )
    url = f"/instruction/dossiers/{dossier.reference}/"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        agent_client.get(url)
    assert len(callbacks) == 1  # the immediate task backend of the tests has read it
    reading = AttachmentReading.objects.get(attachment=attachment)
    assert (reading.status, reading.text) == (ReadingStatus.DONE, "Volet n°2")
    AttachmentReading.objects.filter(pk=reading.pk).update(status=ReadingStatus.PENDING)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        html = agent_client.get(url).content.decode()
    assert callbacks == []  # pending: queued already
    assert "Texte lu automatiquement (indicatif) — Lecture en attente" in html


def test_a_lost_reading_is_queued_again(
    agent_client, submitted_dossier, monkeypatch, django_capture_on_commit_callbacks
):
    dossier, attachment = submitted_dossier
    monkeypatch.setattr(
        ocr, "read_file", lambda data, kind: ocr.OcrResult("Volet n°2", 77.0, "tesseract", 5)
    )
    AttachmentReading.objects.create(attachment=attachment)  # queued by a worker since gone
    lost = timezone.now() - tasks.STALE_AFTER - timedelta(minutes=1)
    AttachmentReading.objects.update(updated_at=lost)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        agent_client.get(f"/instruction/dossiers/{dossier.reference}/")
    assert len(callbacks) == 1
    reading = AttachmentReading.objects.get()  # the same row, read this time
    assert (reading.status, reading.text) == (ReadingStatus.DONE, "Volet n°2")
    assert reading.updated_at > lost


def test_a_decided_dossier_queues_no_reading(
    agent_client, submitted_dossier, staff_user, django_capture_on_commit_callbacks
):
    dossier, attachment = submitted_dossier
    workflow.transition(dossier=dossier, to=DossierStatus.IN_REVIEW, actor=staff_user)
    workflow.transition(
        dossier=dossier, to=DossierStatus.REJECTED, actor=staff_user, reason="Hors délai."
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert agent_client.get(f"/instruction/dossiers/{dossier.reference}/").status_code == 200
    assert callbacks == []
    assert not AttachmentReading.objects.filter(attachment=attachment).exists()
