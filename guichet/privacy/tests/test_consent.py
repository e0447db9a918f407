"""Consent, where it is the legal basis: asked for at submission (no tick, no dossier),
withdrawn by the applicant from their dossier page, after which the workflow refuses every
move and staff see why. A blocking granted by the service stops processing the same way."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from conftest import BIRTH_EXTRACT_ANSWERS
from guichet.dossiers.models import Dossier, DossierStatus, StatusChange
from guichet.governance.models import AuditEntry
from guichet.privacy.models import NoticeAcceptance
from guichet.privacy.services import NoticeError, answer_request, submit_request, withdraw_consent
from guichet.privacy.tests.conftest import submit_birth_extract
from guichet.web.tests.staff import verified_login
from guichet.workflow.services import TransitionError, request_information, transition

pytestmark = pytest.mark.django_db

CONSENT_BOX = 'name="consent" value="1" required'


@pytest.fixture
def owner(client, citizen):
    client.force_login(citizen)
    return client


@pytest.fixture
def agent(staff_user):
    client = Client()
    verified_login(client, staff_user)
    return client


@pytest.fixture
def consented(consent_procedure, citizen):
    """Citizen A's birth-extract dossier, submitted with their consent."""
    dossier, _ = submit_birth_extract(citizen, {}, "volet.png", consent=True)
    return dossier


def _ready(dossier: Dossier, attachment) -> Dossier:
    from guichet.dossiers import services

    dossier.answers = {**BIRTH_EXTRACT_ANSWERS, "volet_2": [str(attachment.pk)]}
    dossier.save(update_fields=["answers"])
    services.scan_attachment(attachment_id=str(attachment.pk))
    return dossier


def _submit(client: Client, dossier: Dossier, **more: str):
    summary = client.get(f"/mes-demarches/{dossier.reference}/recapitulatif/")
    found = re.search(r'name="notice" value="(\d+)"', summary.content.decode())
    assert found
    return client.post(
        f"/mes-demarches/{dossier.reference}/deposer/",
        {"token": str(dossier.submission_token), "notice": found.group(1), **more},
    )


def test_without_the_consent_box_ticked_nothing_is_submitted(
    consent_procedure, draft_with_file, owner
):
    dossier = _ready(*draft_with_file)
    summary = owner.get(f"/mes-demarches/{dossier.reference}/recapitulatif/").content.decode()
    assert CONSENT_BOX in summary
    assert "J'accepte que mes données soient utilisées pour cette démarche" in summary

    response = _submit(owner, dossier)

    assert response.status_code == 400
    assert "Cochez la case pour donner votre accord" in response.content.decode()
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.DRAFT
    assert not NoticeAcceptance.objects.exists()
    assert not AuditEntry.objects.filter(action="dossier.submitted").exists()

    assert _submit(owner, dossier, consent="1").status_code == 302
    acceptance = NoticeAcceptance.objects.get(dossier=dossier)
    assert acceptance.consent and acceptance.notice.asks_consent
    assert AuditEntry.objects.get(action="dossier.submitted").data["consent"] is True


def test_a_public_task_asks_for_no_consent(draft_with_file, owner):
    dossier = _ready(*draft_with_file)
    summary = owner.get(f"/mes-demarches/{dossier.reference}/recapitulatif/").content.decode()
    assert 'name="consent"' not in summary
    assert _submit(owner, dossier).status_code == 302


def test_withdrawing_consent_stops_the_workflow_and_is_audited(
    consented, owner, agent, staff_user, citizen
):
    detail = f"/mes-demarches/{consented.reference}/"
    page = owner.get(detail).content.decode()
    assert "avec votre consentement" in page
    confirm = owner.get(f"{detail}consentement/")
    assert confirm.status_code == 200
    assert "l'administration arrête de traiter votre dossier" in confirm.content.decode()

    response = owner.post(f"{detail}consentement/")

    assert response["Location"] == detail
    acceptance = NoticeAcceptance.objects.get(dossier=consented)
    assert acceptance.consent_withdrawn_at is not None
    entry = AuditEntry.objects.get(action="consent.withdrawn")
    assert (entry.actor, entry.object_id) == (citizen, str(consented.pk))
    page = owner.get(detail).content.decode()
    assert "Consentement retiré." in page and "Traitement arrêté" in page
    assert "Retirer mon consentement" not in page

    moves = StatusChange.objects.count()
    refused = agent.post(f"/instruction/dossiers/{consented.reference}/etat/", {"to": "in_review"})
    assert refused.status_code == 400
    assert "le consentement a été retiré le" in refused.content.decode()
    with pytest.raises(TransitionError, match="consentement a été retiré"):
        transition(dossier=consented, to=DossierStatus.IN_REVIEW, actor=staff_user)
    assert StatusChange.objects.count() == moves
    assert Dossier.objects.get(pk=consented.pk).status == DossierStatus.SUBMITTED
    staff_page = agent.get(f"/instruction/dossiers/{consented.reference}/").content.decode()
    assert "Traitement arrêté : le consentement a été retiré le" in staff_page

    owner.post(f"{detail}consentement/")  # once only: a second time changes nothing
    assert AuditEntry.objects.filter(action="consent.withdrawn").count() == 1
    with pytest.raises(NoticeError, match="déjà retiré"):
        withdraw_consent(dossier=consented, actor=citizen)


def test_a_withdrawal_also_stops_a_request_for_information_and_its_answer(
    consented, staff_user, citizen
):
    from guichet.workflow.services import resubmit

    transition(dossier=consented, to=DossierStatus.IN_REVIEW, actor=staff_user)
    request_information(
        dossier=consented, fields=["prenoms"], message="Le prénom ?", actor=staff_user
    )
    withdraw_consent(dossier=consented, actor=citizen)
    consented.refresh_from_db()
    with pytest.raises(TransitionError, match="consentement a été retiré"):
        resubmit(dossier=consented, token=str(consented.submission_token), actor=citizen)
    assert Dossier.objects.get(pk=consented.pk).status == DossierStatus.INFO_REQUESTED


def test_only_the_applicant_withdraws(consented, other_citizen, staff_user):
    other = Client()
    other.force_login(other_citizen)
    assert other.post(f"/mes-demarches/{consented.reference}/consentement/").status_code == 404
    for actor in (other_citizen, staff_user):
        with pytest.raises(NoticeError):
            withdraw_consent(dossier=consented, actor=actor)
    assert NoticeAcceptance.objects.get(dossier=consented).consent_withdrawn_at is None
    assert not AuditEntry.objects.filter(action="consent.withdrawn").exists()


def test_a_granted_blocking_stops_the_workflow(submitted_dossier, citizen, staff_user, agent):
    dossier, _ = submitted_dossier
    made = submit_request(actor=citizen, kind="blocking", text="Gelez ce dossier.", dossier=dossier)
    transition(dossier=dossier, to=DossierStatus.IN_REVIEW, actor=staff_user)  # asked only

    answer_request(rights_request=made, actor=staff_user, answer="Gelé.", accept=True)

    with pytest.raises(TransitionError, match="demande de verrouillage des données a été acceptée"):
        transition(dossier=dossier, to=DossierStatus.ACCEPTED, actor=staff_user)
    with pytest.raises(TransitionError, match="verrouillage"):
        request_information(dossier=dossier, fields=["prenoms"], message="?", actor=staff_user)
    assert Dossier.objects.get(pk=dossier.pk).status == DossierStatus.IN_REVIEW
    staff_page = agent.get(f"/instruction/dossiers/{dossier.reference}/").content.decode()
    assert "Traitement arrêté : une demande de verrouillage des données a été acceptée" in (
        staff_page
    )
    # No decision button to press in vain.
    assert 'id="decider"' not in staff_page and "Demander un complément" not in staff_page


def test_a_refused_blocking_stops_nothing(submitted_dossier, citizen, staff_user):
    dossier, _ = submitted_dossier
    made = submit_request(actor=citizen, kind="blocking", text="Gelez ce dossier.", dossier=dossier)
    answer_request(rights_request=made, actor=staff_user, answer="La loi l'impose.", accept=False)
    transition(dossier=dossier, to=DossierStatus.IN_REVIEW, actor=staff_user)
    assert Dossier.objects.get(pk=dossier.pk).status == DossierStatus.IN_REVIEW
