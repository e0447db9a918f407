"""'Mes données': the export holds every dossier, answer, file name, message and assistant
question of the person, and nothing of anyone else."""

from __future__ import annotations

import json

import pytest

from conftest import BIRTH_EXTRACT_ANSWERS
from guichet.assistant.tests.samples import exchange
from guichet.dossiers import services as dossier_services
from guichet.governance.models import AuditEntry
from guichet.privacy.services import export_for
from guichet.web.tests.pages import BUDGET_BYTES, measure
from guichet.web.tests.staff import verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def citizen_with_data(submitted_dossier, citizen, staff_user, other_with_data):
    """The demo citizen (the `submitted_dossier` fixture) with a message each way, a file
    sent by the service, and an assistant question; another citizen with data beside."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from guichet.dossiers.tests.samples import PNG_BYTES

    dossier, attachment = submitted_dossier
    citizen.display_name = "Moussa Traoré"
    citizen.save(update_fields=["display_name"])
    dossier_services.post_message(
        dossier=dossier, body="Bonjour, où en est mon extrait ?", actor=citizen
    )
    dossier_services.post_message(
        dossier=dossier,
        body="Votre extrait sera prêt lundi.",
        upload=SimpleUploadedFile("convocation.png", PNG_BYTES, content_type="image/png"),
        actor=staff_user,
    )
    exchange(
        "prix du passeport à Bamako",
        user=citizen,
        procedure_id="ml-passeport",
        answer="Le passeport coûte 55 000 FCFA.",
    )
    return dossier, attachment


def _text(data: object) -> str:
    return json.dumps(data, ensure_ascii=False)


def test_the_export_holds_every_dossier_answer_file_message_and_question(
    citizen_with_data, citizen
):
    dossier, attachment = citizen_with_data
    data = json.loads(_text(export_for(citizen)))  # JSON-serialisable as it is

    assert data["account"]["phone"] == "+22370123456"
    assert data["account"]["display_name"] == "Moussa Traoré"
    assert [d["reference"] for d in data["dossiers"]] == [dossier.reference]
    exported = data["dossiers"][0]
    answers = {a["field"]: a["value"] for a in exported["answers"]}
    dossier.refresh_from_db()
    assert answers == dossier.answers  # every stored answer, as stored
    for field_id in ("nom", "prenoms", "date_naissance", "demandeur_prenoms", "telephone"):
        assert answers[field_id] == BIRTH_EXTRACT_ANSWERS[field_id], field_id
    assert answers["volet_2"] == [str(attachment.pk)]
    labels = {a["field"]: a["label"] for a in exported["answers"]}
    assert labels["telephone"] == "Numéro de téléphone"
    files = {f["name"]: f for f in exported["files"]}
    assert set(files) == {"volet.png", "convocation.png"}
    assert files["volet.png"]["sent_by_you"] and not files["convocation.png"]["sent_by_you"]
    assert files["volet.png"]["sha256"] == attachment.sha256
    bodies = [(m["from_you"], m["body"], m["file"]) for m in exported["messages"]]
    assert bodies == [
        (True, "Bonjour, où en est mon extrait ?", None),
        (False, "Votre extrait sera prêt lundi.", "convocation.png"),
    ]
    # The administration's message names the service, never the agent.
    assert exported["messages"][1]["from"] == dossier.service.name
    assert [c["to"] for c in exported["timeline"]] == ["submitted"]
    assert [q["question"] for q in data["assistant_questions"]] == ["prix du passeport à Bamako"]
    assert [r["text"] for r in data["rights_requests"]] == []
    assert {"dossier.started", "dossier.submitted", "message.posted"} <= {
        e["action"] for e in data["activity"]
    }


def test_the_export_holds_nothing_of_another_citizen_nor_of_the_agents(
    citizen_with_data, citizen, other_with_data, staff_user
):
    text = _text(export_for(citizen))
    leaked = [s for s in other_with_data.secrets if s in text]
    assert leaked == []
    assert staff_user.get_username() not in text
    # The other citizen's own export does hold them (the check above can fail).
    theirs = _text(export_for(other_with_data.user))
    assert [s for s in other_with_data.secrets if s not in theirs] == []
    assert "Moussa" not in theirs and "volet.png" not in theirs


def test_the_json_download_and_the_readable_page_show_the_same_data_and_are_audited(
    client, citizen_with_data, citizen, other_with_data
):
    dossier, _ = citizen_with_data
    client.force_login(citizen)

    response = client.get("/mes-donnees/export.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="mes-donnees.json"'
    assert "no-store" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["dossiers"][0]["reference"] == dossier.reference

    html = client.get("/mes-donnees/export/").content.decode()
    for value in [
        dossier.reference,
        "Traoré",
        "Awa",
        "+22370123456",
        "volet.png",
        "convocation.png",
        "Votre extrait sera prêt lundi.",
        "prix du passeport à Bamako",
        "Numéro de téléphone",
        dossier.service.name.replace("'", "&#x27;"),
    ]:
        assert value in html, value
    assert [s for s in other_with_data.secrets if s in html] == []

    formats = [
        e.data["format"]
        for e in AuditEntry.objects.filter(action="personal_data.exported", actor=citizen)
    ]
    assert formats == ["json", "html"]


def test_a_citizen_without_anything_gets_an_empty_export(client, other_citizen):
    client.force_login(other_citizen)
    data = client.get("/mes-donnees/export.json").json()
    assert data["dossiers"] == [] and data["assistant_questions"] == []
    assert data["access_log"] == [] and data["sms_received"] == []
    assert client.get("/mes-donnees/export/").status_code == 200


def test_the_pages_fit_the_2g_budget_without_script(client, citizen_with_data, citizen):
    client.force_login(citizen)
    for url in ("/mes-donnees/", "/mes-donnees/export/"):
        page = measure(client, url)
        assert page.status == 200, url
        assert page.transferred <= BUDGET_BYTES, f"{url}: {page.transferred} B"
        assert page.external == [] and not page.has_script, url


def test_the_account_page_links_to_my_data(client, citizen):
    client.force_login(citizen)
    assert 'href="/mes-donnees/"' in client.get("/mon-compte/").content.decode()


def test_staff_see_their_own_data_not_the_dossiers_they_handle(
    client, citizen_with_data, staff_user
):
    verified_login(client, staff_user)
    data = client.get("/mes-donnees/export.json").json()
    assert data["dossiers"] == []
    assert "Awa" not in json.dumps(data, ensure_ascii=False)
