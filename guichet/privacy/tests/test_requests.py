"""Requests on one's data: filed by the citizen with a deadline, listed for the service
that handles the dossier, answered there, read by the citizen; all audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from conftest import SERVICE_1, make_staff
from guichet.governance.models import AuditEntry
from guichet.notifications.models import Notification
from guichet.privacy.models import RequestStatus, RightsRequest
from guichet.privacy.services import is_blocked, submit_request
from guichet.web.tests.staff import verified_login

pytestmark = pytest.mark.django_db

TEXT = "Le prénom de ma fille est Awa Fatoumata, pas Awa."


@pytest.fixture
def citizen_client(client, citizen):
    client.force_login(citizen)
    return client


@pytest.fixture
def agent_client(staff_user):
    client = Client()
    verified_login(client, staff_user)
    return client


def _ask(client, dossier, kind="rectification", text=TEXT):
    return client.post(
        "/mes-donnees/demandes/", {"kind": kind, "dossier": dossier.reference, "text": text}
    )


def test_a_rectification_goes_to_the_service_and_its_answer_back_to_the_citizen(
    citizen_client, agent_client, submitted_dossier, citizen, staff_user, settings
):
    settings.PRIVACY_REQUEST_DAYS = 20
    dossier, _ = submitted_dossier

    response = _ask(citizen_client, dossier)
    assert response.status_code == 302
    assert response["Location"] == "/mes-donnees/#demandes"
    made = RightsRequest.objects.get()
    assert (made.user, made.dossier, made.kind, made.text) == (
        citizen,
        dossier,
        "rectification",
        TEXT,
    )
    assert made.due_at - made.created_at == timedelta(days=20)
    submitted = AuditEntry.objects.get(action="rights_request.submitted")
    assert submitted.actor == citizen and submitted.object_id == str(made.pk)
    assert submitted.data == {
        "kind": "rectification",
        "dossier": dossier.reference,
        "due_at": made.due_at.isoformat(),
    }
    page = citizen_client.get("/mes-donnees/").content.decode()
    assert "En attente de réponse" in page and f"{made.due_at:%d/%m/%Y}" in page

    # In the service's list, nearest deadline first, and on its own page.
    listing = agent_client.get("/instruction/demandes-donnees/").content.decode()
    assert f'href="/instruction/demandes-donnees/{made.pk}/"' in listing
    assert dossier.reference in listing and f"{made.due_at:%d/%m/%Y}" in listing
    detail = agent_client.get(f"/instruction/demandes-donnees/{made.pk}/").content.decode()
    assert "Awa Fatoumata" in detail

    response = agent_client.post(
        f"/instruction/demandes-donnees/{made.pk}/",
        {"decision": "accept", "answer": "Prénom corrigé : Awa Fatoumata."},
    )
    assert response.status_code == 302
    made.refresh_from_db()
    assert made.status == RequestStatus.ANSWERED
    assert made.answered_by == staff_user and made.answered_at is not None
    answered = AuditEntry.objects.get(action="rights_request.answered")
    assert answered.actor == staff_user and answered.object_id == str(made.pk)
    assert answered.data == {
        "kind": "rectification",
        "status": "answered",
        "due_at": made.due_at.isoformat(),
        "late": False,
    }
    sms = Notification.objects.get(event="privacy.request_answered")
    assert sms.user == citizen and sms.object_ref == dossier.reference
    assert "Mes données" in sms.text

    # Answered: out of the list; the citizen reads the answer and the service, no name.
    listing = agent_client.get("/instruction/demandes-donnees/").content.decode()
    assert f"/instruction/demandes-donnees/{made.pk}/" not in listing
    page = citizen_client.get("/mes-donnees/").content.decode()
    assert "Prénom corrigé : Awa Fatoumata." in page and "Acceptée" in page
    assert dossier.service.name.replace("'", "&#x27;") in page
    assert staff_user.get_username() not in page


def test_a_late_answer_is_recorded_as_late(agent_client, submitted_dossier, citizen):
    dossier, _ = submitted_dossier
    made = submit_request(actor=citizen, kind="objection", text="Je m'oppose.", dossier=dossier)
    RightsRequest.objects.filter(pk=made.pk).update(due_at=made.created_at - timedelta(days=1))
    listing = agent_client.get("/instruction/demandes-donnees/").content.decode()
    assert "en retard" in listing
    agent_client.post(
        f"/instruction/demandes-donnees/{made.pk}/",
        {"decision": "refuse", "answer": "La loi oblige à garder cet acte."},
    )
    assert AuditEntry.objects.get(action="rights_request.answered").data["late"] is True
    assert RightsRequest.objects.get().status == RequestStatus.REFUSED


def test_staff_of_another_service_can_neither_see_nor_answer(client, submitted_dossier, citizen):
    dossier, _ = submitted_dossier
    made = submit_request(actor=citizen, kind="rectification", text=TEXT, dossier=dossier)
    other = make_staff("agent-c4", ("agent", "ml-ec-bamako-c4"))
    verified_login(client, other)

    assert dossier.reference not in client.get("/instruction/demandes-donnees/").content.decode()
    url = f"/instruction/demandes-donnees/{made.pk}/"
    assert client.get(url).status_code == 404
    response = client.post(url, {"decision": "accept", "answer": "Fait."})
    assert response.status_code == 404
    made.refresh_from_db()
    assert made.status == RequestStatus.OPEN and made.answer == ""
    assert not AuditEntry.objects.filter(action="rights_request.answered").exists()


def test_a_request_about_the_account_goes_to_the_platform_administrators(
    client, agent_client, submitted_dossier, citizen
):
    made = submit_request(actor=citizen, kind="rectification", text="Mon numéro a changé.")
    assert agent_client.get(f"/instruction/demandes-donnees/{made.pk}/").status_code == 404
    admin = make_staff("admin-plateforme", ("platform_admin", ""))
    verified_login(client, admin)
    assert (
        "Mon numéro a changé."
        in client.get(f"/instruction/demandes-donnees/{made.pk}/").content.decode()
    )
    client.post(
        f"/instruction/demandes-donnees/{made.pk}/", {"decision": "accept", "answer": "Fait."}
    )
    assert RightsRequest.objects.get().status == RequestStatus.ANSWERED


@pytest.mark.parametrize(
    ("post", "message"),
    [
        ({"kind": "", "text": TEXT}, "Choisissez le type de demande."),
        ({"kind": "erasure", "text": TEXT}, "Choisissez le type de demande."),
        ({"kind": "rectification", "text": "   "}, "Écrivez votre demande."),
        ({"kind": "rectification", "text": "x" * 2001}, "Texte trop long : 2000 caractères"),
        ({"kind": "blocking", "text": TEXT}, "Un verrouillage porte sur un dossier"),
        ({"kind": "objection", "text": TEXT, "dossier": "ML-0000-0000"}, "Choisissez un de vos"),
    ],
)
def test_bad_input_gets_a_clear_message_and_changes_nothing(
    citizen_client, submitted_dossier, post, message
):
    response = citizen_client.post("/mes-donnees/demandes/", post)
    assert response.status_code == 400
    html = response.content.decode()
    assert message.replace("'", "&#x27;") in html
    assert not RightsRequest.objects.exists()
    assert not AuditEntry.objects.filter(action="rights_request.submitted").exists()


def test_another_citizens_dossier_or_a_draft_cannot_be_named(
    client, submitted_dossier, other_citizen, draft_with_file
):
    dossier, _ = submitted_dossier
    client.force_login(other_citizen)
    response = _ask(client, dossier, kind="objection")
    assert response.status_code == 400
    assert dossier.reference not in response.content.decode()
    assert not RightsRequest.objects.exists()


def test_a_second_open_request_of_the_same_kind_is_refused(citizen_client, submitted_dossier):
    dossier, _ = submitted_dossier
    assert _ask(citizen_client, dossier).status_code == 302
    response = _ask(citizen_client, dossier)
    assert response.status_code == 400
    assert "déjà une demande de ce type" in response.content.decode()
    assert RightsRequest.objects.count() == 1
    assert _ask(citizen_client, dossier, kind="objection").status_code == 302


def test_bad_answers_are_refused_and_an_answer_is_given_once(
    agent_client, submitted_dossier, citizen
):
    dossier, _ = submitted_dossier
    made = submit_request(actor=citizen, kind="rectification", text=TEXT, dossier=dossier)
    url = f"/instruction/demandes-donnees/{made.pk}/"
    response = agent_client.post(url, {"answer": "Fait."})
    assert response.status_code == 400
    assert "Choisissez : accepter ou refuser." in response.content.decode()
    response = agent_client.post(url, {"decision": "accept", "answer": " "})
    assert response.status_code == 400
    assert "Écrivez la réponse au demandeur." in response.content.decode()
    made.refresh_from_db()
    assert made.status == RequestStatus.OPEN

    assert agent_client.post(url, {"decision": "refuse", "answer": "Non."}).status_code == 302
    response = agent_client.post(url, {"decision": "accept", "answer": "Finalement oui."})
    assert response.status_code == 400
    assert "déjà reçu une réponse" in response.content.decode()
    made.refresh_from_db()
    assert (made.status, made.answer) == (RequestStatus.REFUSED, "Non.")
    assert AuditEntry.objects.filter(action="rights_request.answered").count() == 1


def test_a_granted_blocking_blocks_the_dossier(agent_client, submitted_dossier, citizen):
    dossier, _ = submitted_dossier
    made = submit_request(actor=citizen, kind="blocking", text="Gelez ce dossier.", dossier=dossier)
    assert not is_blocked(dossier)  # asked is not granted
    agent_client.post(
        f"/instruction/demandes-donnees/{made.pk}/", {"decision": "accept", "answer": "Gelé."}
    )
    assert is_blocked(dossier)


def test_a_refused_blocking_does_not_block(agent_client, submitted_dossier, citizen):
    dossier, _ = submitted_dossier
    made = submit_request(actor=citizen, kind="blocking", text="Gelez ce dossier.", dossier=dossier)
    agent_client.post(
        f"/instruction/demandes-donnees/{made.pk}/",
        {"decision": "refuse", "answer": "La loi impose de l'instruire."},
    )
    assert not is_blocked(dossier)


def test_the_supervisor_of_the_service_answers_too(client, submitted_dossier, citizen, supervisor):
    dossier, _ = submitted_dossier
    made = submit_request(actor=citizen, kind="objection", text="Non.", dossier=dossier)
    assert dossier.service_id == SERVICE_1
    verified_login(client, supervisor)
    assert dossier.reference in client.get("/instruction/demandes-donnees/").content.decode()
    url = f"/instruction/demandes-donnees/{made.pk}/"
    assert client.post(url, {"decision": "refuse", "answer": "Motif."}).status_code == 302
    made.refresh_from_db()
    assert made.answered_by == supervisor


def test_a_request_goes_with_its_dossier_when_retention_erases_it(submitted_dossier, citizen):
    dossier, _ = submitted_dossier
    submit_request(actor=citizen, kind="objection", text="Non.", dossier=dossier)
    submit_request(actor=citizen, kind="rectification", text="Mon numéro a changé.")
    dossier.delete()  # what the retention purge does at the end of the dossier's life
    assert list(RightsRequest.objects.values_list("text", flat=True)) == ["Mon numéro a changé."]
    assert AuditEntry.objects.filter(action="rights_request.submitted").count() == 2
