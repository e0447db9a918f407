"""A citizen applies online: start, fill page by page, attach files, check, submit once."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from guichet.catalog.definition import Definition
from guichet.catalog.models import Procedure
from guichet.catalog.services import import_definitions
from guichet.dossiers.models import Attachment, Dossier, DossierStatus
from guichet.dossiers.tests.samples import PDF_BYTES, PNG_BYTES
from guichet.governance.models import AuditEntry

pytestmark = pytest.mark.django_db

PROCEDURE = "ml-extrait-acte-naissance"

DEMANDE = {"objet": "extrait", "pour": "enfant"}
PERSONNE = {
    "nom": "Traoré",
    "prenoms": "Awa",
    "date_naissance_0": "12",
    "date_naissance_1": "3",
    "date_naissance_2": "2019",
    "region_naissance": "bamako",
    "commune_naissance_0": "bamako-commune-3",
}
DEMANDEUR = {"demandeur_nom": "Traoré", "demandeur_prenoms": "Moussa", "lien_enfant": "pere"}
CONTACT = {"telephone": "+22370123456"}


@pytest.fixture
def signed_in(client, citizen):
    client.force_login(citizen)
    return client


def _start(client) -> Dossier:
    response = client.post(f"/demarches/{PROCEDURE}/en-ligne/")
    assert response.status_code == 302
    dossier = Dossier.objects.get()
    assert response["Location"] == f"/mes-demarches/{dossier.reference}/pages/demande/"
    return dossier


def _page(dossier: Dossier, page: str) -> str:
    return f"/mes-demarches/{dossier.reference}/pages/{page}/"


def _upload(client, dossier, name="volet.png", content=PNG_BYTES, field="volet_2") -> Any:
    return client.post(
        f"{_page(dossier, 'pieces')}fichiers/{field}/",
        {"file": SimpleUploadedFile(name, content)},
    )


def _fill_to_summary(client, dossier) -> None:
    for page, data, following in [
        ("demande", DEMANDE, "personne"),
        ("personne", PERSONNE, "demandeur"),
        ("demandeur", DEMANDEUR, "pieces"),
    ]:
        response = client.post(_page(dossier, page), data)
        assert response.status_code == 302, response.content.decode()[:2000]
        assert response["Location"] == _page(dossier, following)
    assert _upload(client, dossier).status_code == 302
    assert client.post(_page(dossier, "pieces"), {}).status_code == 302
    response = client.post(_page(dossier, "contact"), CONTACT)
    assert response["Location"] == f"/mes-demarches/{dossier.reference}/recapitulatif/"


def test_procedure_sheet_offers_to_apply_online(client, demo_catalog):
    html = client.get(f"/demarches/{PROCEDURE}/").content.decode()
    assert "Cette démarche peut se faire en ligne." in html
    assert f'href="/demarches/{PROCEDURE}/en-ligne/"' in html


def test_citizen_applies_and_gets_exactly_one_dossier_with_a_receipt(signed_in, demo_catalog):
    dossier = _start(signed_in)
    _fill_to_summary(signed_in, dossier)
    summary = signed_in.get(f"/mes-demarches/{dossier.reference}/recapitulatif/")
    html = summary.content.decode()
    assert "Awa" in html and "volet.png" in html
    assert "Vos données personnelles" in html
    token = str(Dossier.objects.get().submission_token)
    assert token in html
    submit = f"/mes-demarches/{dossier.reference}/deposer/"
    first = signed_in.post(submit, {"token": token})
    again = signed_in.post(submit, {"token": token})  # a double click, a retry
    assert first["Location"] == again["Location"] == f"/mes-demarches/{dossier.reference}/"
    assert Dossier.objects.count() == 1
    submitted = Dossier.objects.get()
    assert submitted.status == DossierStatus.SUBMITTED
    assert submitted.answers["prenoms"] == "Awa"
    assert AuditEntry.objects.filter(action="dossier.submitted").count() == 1
    page = signed_in.get(f"/mes-demarches/{dossier.reference}/").content.decode()
    assert "Votre dossier est déposé" in page and dossier.reference in page
    receipt = signed_in.get(f"/mes-demarches/{dossier.reference}/recepisse.pdf")
    assert receipt["Content-Type"] == "application/pdf"
    assert receipt.content.startswith(b"%PDF")


def test_a_submitted_dossier_can_no_longer_be_changed(signed_in, demo_catalog):
    dossier = _start(signed_in)
    _fill_to_summary(signed_in, dossier)
    token = str(Dossier.objects.get().submission_token)
    signed_in.post(f"/mes-demarches/{dossier.reference}/deposer/", {"token": token})
    response = signed_in.post(_page(dossier, "demande"), {"objet": "copies", "pour": "moi"})
    assert response.status_code == 302
    assert Dossier.objects.get().answers["objet"] == "extrait"
    assert _upload(signed_in, dossier).status_code == 400


def test_resume_goes_back_to_the_page_where_the_citizen_stopped(signed_in, demo_catalog):
    dossier = _start(signed_in)
    signed_in.post(_page(dossier, "demande"), DEMANDE)
    listing = signed_in.get("/mes-demarches/").content.decode()
    assert f'href="{_page(dossier, "personne")}"' in listing
    response = signed_in.get(f"/mes-demarches/{dossier.reference}/")
    assert response["Location"] == _page(dossier, "personne")


def test_errors_are_shown_next_to_the_field_and_the_typed_values_kept(signed_in, demo_catalog):
    dossier = _start(signed_in)
    signed_in.post(_page(dossier, "demande"), DEMANDE)
    bad = {**PERSONNE, "date_naissance_0": "31", "date_naissance_1": "2"}
    response = signed_in.post(_page(dossier, "personne"), bad)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Certaines réponses sont à corriger" in html
    assert 'value="Traoré"' in html
    assert "nom" not in Dossier.objects.get().answers


def test_an_unknown_choice_is_refused(signed_in, demo_catalog):
    dossier = _start(signed_in)
    response = signed_in.post(_page(dossier, "demande"), {"objet": "passeport", "pour": "moi"})
    assert response.status_code == 400
    assert Dossier.objects.get().answers == {}


def test_a_page_hidden_by_earlier_answers_cannot_be_filled(signed_in, demo_catalog):
    dossier = _start(signed_in)
    signed_in.post(_page(dossier, "demande"), {"objet": "extrait", "pour": "moi"})
    response = signed_in.post(_page(dossier, "demandeur"), DEMANDEUR)
    assert response.status_code == 302
    assert "demandeur_nom" not in Dossier.objects.get().answers


def test_file_type_is_read_from_the_content_not_the_name(signed_in, demo_catalog):
    dossier = _start(signed_in)
    signed_in.post(_page(dossier, "demande"), DEMANDE)
    response = _upload(signed_in, dossier, "acte.pdf", b"<html><script>alert(1)</script></html>")
    assert response.status_code == 400
    assert "n&#x27;est pas d&#x27;un type accepté" in response.content.decode()
    assert Attachment.objects.count() == 0


def test_empty_oversize_and_too_many_files_are_refused(signed_in, demo_catalog):
    dossier = _start(signed_in)
    signed_in.post(_page(dossier, "demande"), DEMANDE)
    assert "Le fichier est vide." in _upload(signed_in, dossier, content=b"").content.decode()
    big = PDF_BYTES + b"0" * (5 * 1024 * 1024)
    assert "trop lourd" in _upload(signed_in, dossier, "gros.pdf", big).content.decode()
    assert _upload(signed_in, dossier).status_code == 302
    assert _upload(signed_in, dossier, "b.pdf", PDF_BYTES).status_code == 302
    third = _upload(signed_in, dossier, "c.pdf", PDF_BYTES)
    assert third.status_code == 400
    assert Attachment.objects.count() == 2


def test_the_file_field_is_filled_from_the_dossier_not_from_the_browser(signed_in, demo_catalog):
    dossier = _start(signed_in)
    signed_in.post(_page(dossier, "demande"), DEMANDE)
    forged = "00000000-0000-0000-0000-000000000000"
    response = signed_in.post(_page(dossier, "pieces"), {"volet_2": forged})
    assert response.status_code == 400  # no file uploaded: the forged id does not count
    assert "volet_2" not in Dossier.objects.get().answers


def test_file_names_are_cleaned_and_served_as_downloads(signed_in, demo_catalog):
    dossier = _start(signed_in)
    signed_in.post(_page(dossier, "demande"), DEMANDE)
    _upload(signed_in, dossier, '../../etc/"passwd\u202egnp.png')
    attachment = Attachment.objects.get()
    assert attachment.original_name == "passwdgnp.png"
    assert "/" not in attachment.file.name.rsplit("/", 1)[-1]
    response = signed_in.get(f"/mes-demarches/{dossier.reference}/fichiers/{attachment.pk}/")
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PNG_BYTES


def test_another_citizen_gets_404_for_the_dossier_and_its_files(
    client, demo_catalog, draft_with_file, other_citizen
):
    dossier, attachment = draft_with_file
    client.force_login(other_citizen)
    base = f"/mes-demarches/{dossier.reference}"
    for url in [
        f"{base}/",
        f"{base}/pages/demande/",
        f"{base}/recapitulatif/",
        f"{base}/fichiers/{attachment.pk}/",
        f"{base}/recepisse.pdf",
    ]:
        assert client.get(url).status_code == 404, url
    assert client.post(f"{base}/fichiers/{attachment.pk}/retirer/").status_code == 404
    token = str(dossier.submission_token)
    assert client.post(f"{base}/deposer/", {"token": token}).status_code == 404
    assert Attachment.objects.filter(pk=attachment.pk).exists()


def test_a_wrong_token_does_not_submit(signed_in, demo_catalog):
    dossier = _start(signed_in)
    _fill_to_summary(signed_in, dossier)
    signed_in.post(f"/mes-demarches/{dossier.reference}/deposer/", {"token": "replayed"})
    assert Dossier.objects.get().status == DossierStatus.DRAFT


def test_submission_rechecks_every_answer(signed_in, demo_catalog):
    dossier = _start(signed_in)
    _fill_to_summary(signed_in, dossier)
    Dossier.objects.filter(pk=dossier.pk).update(
        answers={**Dossier.objects.get().answers, "lien_enfant": "voisin"}
    )
    token = str(Dossier.objects.get().submission_token)
    response = signed_in.post(f"/mes-demarches/{dossier.reference}/deposer/", {"token": token})
    assert response.status_code == 400
    assert "Certaines réponses sont à corriger avant le dépôt" in response.content.decode()
    assert Dossier.objects.get().status == DossierStatus.DRAFT


def test_submission_for_an_unpublished_procedure_is_refused_and_the_draft_kept(
    signed_in, demo_catalog
):
    dossier = _start(signed_in)
    _fill_to_summary(signed_in, dossier)
    Procedure.objects.filter(pk=PROCEDURE).update(is_published=False)
    token = str(Dossier.objects.get().submission_token)
    signed_in.post(f"/mes-demarches/{dossier.reference}/deposer/", {"token": token})
    assert Dossier.objects.get().status == DossierStatus.DRAFT


def test_a_draft_keeps_the_form_version_it_started_on(signed_in, demo_catalog):
    dossier = _start(signed_in)
    signed_in.post(_page(dossier, "demande"), DEMANDE)
    # The administration publishes a new version whose form drops the "personne" page.
    source = Procedure.objects.get(pk=PROCEDURE).definition
    changed = {
        **source,
        "form": {
            **source["form"],
            "pages": [p for p in source["form"]["pages"] if p["id"] != "personne"],
        },
    }
    import_definitions(definitions=[Definition(data=changed, source="test")], actor="test")
    assert Procedure.objects.get(pk=PROCEDURE).current_version.number == 2
    response = signed_in.post(_page(dossier, "personne"), PERSONNE)
    assert response["Location"] == _page(dossier, "demandeur")
    assert Dossier.objects.get().version.number == 1


def test_citizen_pages_fit_the_2g_budget_without_script(signed_in, demo_catalog):
    from guichet.web.tests.pages import BUDGET_BYTES, measure

    dossier = _start(signed_in)
    _fill_to_summary(signed_in, dossier)
    urls = [
        f"/demarches/{PROCEDURE}/en-ligne/",
        "/mes-demarches/",
        *[_page(dossier, p) for p in ("demande", "personne", "demandeur", "pieces", "contact")],
        f"/mes-demarches/{dossier.reference}/recapitulatif/",
    ]
    token = str(Dossier.objects.get().submission_token)
    for url in urls:
        page = measure(signed_in, url)
        assert page.status == 200, url
        assert page.transferred <= BUDGET_BYTES, f"{url}: {page.transferred} B"
        assert page.external == [] and not page.has_script, url
    signed_in.post(f"/mes-demarches/{dossier.reference}/deposer/", {"token": token})
    page = measure(signed_in, f"/mes-demarches/{dossier.reference}/")
    assert page.status == 200 and page.transferred <= BUDGET_BYTES


def _submitted(client) -> Dossier:
    dossier = _start(client)
    _fill_to_summary(client, dossier)
    token = str(Dossier.objects.get().submission_token)
    client.post(f"/mes-demarches/{dossier.reference}/deposer/", {"token": token})
    return Dossier.objects.get()


def test_uploaded_files_are_scanned_after_commit(
    signed_in, demo_catalog, django_capture_on_commit_callbacks
):
    dossier = _start(signed_in)
    signed_in.post(_page(dossier, "demande"), DEMANDE)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _upload(signed_in, dossier)
        assert Attachment.objects.get().scan_status == "pending"  # not before commit
    assert len(callbacks) == 1
    attachment = Attachment.objects.get()
    assert attachment.scan_status == "clean"  # the development scanner, run as a task
    html = signed_in.get(_page(dossier, "pieces")).content.decode()
    assert "volet.png" in html and "Vérifié" in html


def test_citizen_writes_to_the_administration_with_a_file(signed_in, demo_catalog):
    dossier = _submitted(signed_in)
    url = f"/mes-demarches/{dossier.reference}/messages/"
    response = signed_in.post(
        url,
        {
            "body": "Bonjour, voici la copie demandée.",
            "file": SimpleUploadedFile("c.pdf", PDF_BYTES),
        },
    )
    assert response["Location"] == f"/mes-demarches/{dossier.reference}/#messages"
    html = signed_in.get(f"/mes-demarches/{dossier.reference}/").content.decode()
    assert "Bonjour, voici la copie demandée." in html and "c.pdf" in html
    assert AuditEntry.objects.filter(action="message.posted").count() == 1
    # The message's file is not one of the form's pieces and survives as the thread's.
    assert dossier.messages.get().attachment.field_id == "messages"


def test_an_empty_or_too_long_message_is_refused_and_the_text_kept(signed_in, demo_catalog):
    dossier = _submitted(signed_in)
    url = f"/mes-demarches/{dossier.reference}/messages/"
    assert "Écrivez un message" in signed_in.post(url, {"body": "  "}).content.decode()
    long = "x" * 2001
    response = signed_in.post(url, {"body": long})
    assert response.status_code == 400
    assert long in response.content.decode()
    assert dossier.messages.count() == 0


def test_a_draft_has_no_thread_yet(signed_in, demo_catalog):
    dossier = _start(signed_in)
    signed_in.post(f"/mes-demarches/{dossier.reference}/messages/", {"body": "Allô ?"})
    assert dossier.messages.count() == 0


def test_another_citizen_cannot_read_or_write_the_thread(
    client, demo_catalog, citizen, other_citizen
):
    client.force_login(citizen)
    dossier = _submitted(client)
    client.post(f"/mes-demarches/{dossier.reference}/messages/", {"body": "Message privé"})
    client.force_login(other_citizen)
    assert client.get(f"/mes-demarches/{dossier.reference}/").status_code == 404
    response = client.post(f"/mes-demarches/{dossier.reference}/messages/", {"body": "Intrus"})
    assert response.status_code == 404
    assert list(dossier.messages.values_list("body", flat=True)) == ["Message privé"]


def test_citizen_completes_what_the_administration_asks_and_sends_it_back(
    client, demo_catalog, citizen, staff_user
):
    from guichet.workflow import services as workflow

    client.force_login(citizen)
    dossier = _submitted(client)
    workflow.transition(dossier=dossier, to=DossierStatus.IN_REVIEW, actor=staff_user)
    workflow.request_information(
        dossier=dossier,
        fields=["nom", "volet_2"],
        message="Le nom ne correspond pas au volet. Joignez une photo plus nette.",
        actor=staff_user,
    )
    detail = client.get(f"/mes-demarches/{dossier.reference}/").content.decode()
    assert "Le nom ne correspond pas au volet." in detail
    assert f'href="{_page(dossier, "personne")}"' in detail
    # Only the listed answers change: the first name stays as it was.
    changed = {**PERSONNE, "nom": "Traore", "prenoms": "Fatou"}
    response = client.post(_page(dossier, "personne"), changed)
    assert response["Location"] == f"/mes-demarches/{dossier.reference}/#complement"
    answers = Dossier.objects.get().answers
    assert (answers["nom"], answers["prenoms"]) == ("Traore", "Awa")
    # A page with nothing to complete stays closed; the listed file field is open.
    assert client.get(_page(dossier, "contact"))["Location"].endswith(f"{dossier.reference}/")
    assert _upload(client, dossier, "b.pdf", PDF_BYTES).status_code == 302
    token = str(dossier.submission_token)
    url = f"/mes-demarches/{dossier.reference}/renvoyer/"
    client.post(url, {"token": token})
    client.post(url, {"token": token})  # twice: still one step back to review
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.IN_REVIEW
    # Sent back straight after the upload, without "Continuer": the new file is kept.
    names = sorted(dossier.attachments.values_list("original_name", flat=True))
    assert names == ["b.pdf", "volet.png"]
    assert len(dossier.answers["volet_2"]) == 2
    assert list(dossier.changes.values_list("to_status", flat=True)) == [
        "submitted",
        "in_review",
        "info_requested",
        "in_review",
    ]
    assert dossier.info_requests.get().answered_at is not None
    timeline = client.get(f"/mes-demarches/{dossier.reference}/").content.decode()
    assert "Complément demandé" in timeline and "Joignez une photo plus nette." in timeline


def test_the_citizen_reads_the_decision_and_its_reason(client, demo_catalog, citizen, staff_user):
    from guichet.workflow import services as workflow

    client.force_login(citizen)
    dossier = _submitted(client)
    workflow.transition(dossier=dossier, to=DossierStatus.IN_REVIEW, actor=staff_user)
    workflow.transition(
        dossier=dossier,
        to=DossierStatus.REJECTED,
        actor=staff_user,
        reason="La naissance n'est pas enregistrée dans ce centre.",
    )
    html = client.get(f"/mes-demarches/{dossier.reference}/").content.decode()
    assert "Votre demande est refusée" in html
    assert "La naissance n&#x27;est pas enregistrée dans ce centre." in html


def test_a_procedure_without_online_form_cannot_be_started(signed_in, demo_catalog):
    response = signed_in.post("/demarches/ml-passeport/en-ligne/", follow=True)
    assert "Cette démarche ne peut pas être faite en ligne." in response.content.decode()
    assert Dossier.objects.count() == 0
