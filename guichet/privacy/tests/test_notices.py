"""The personal-data notice is versioned: the summary shows its version, submission stores
the version accepted, a notice changed since it was read is shown again instead of being
accepted unread, and the dossier pages and the export say which version was accepted."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from conftest import BIRTH_EXTRACT_ANSWERS
from guichet.dossiers.models import Dossier, DossierStatus
from guichet.governance.models import AuditEntry
from guichet.privacy.models import Notice, NoticeAcceptance
from guichet.privacy.services import current_notice, export_for
from guichet.privacy.tests.conftest import PROCEDURE, publish
from guichet.web.tests.staff import verified_login

pytestmark = pytest.mark.django_db

NEW_RETENTION = {"fr": "Dix ans après la décision, puis effacé."}


@pytest.fixture
def ready(draft_with_file, citizen, client):
    """Citizen A's draft with every answer, ready to submit, and their signed-in client."""
    from guichet.dossiers import services

    dossier, attachment = draft_with_file
    dossier.answers = {**BIRTH_EXTRACT_ANSWERS, "volet_2": [str(attachment.pk)]}
    dossier.save(update_fields=["answers"])
    services.scan_attachment(attachment_id=str(attachment.pk))
    client.force_login(citizen)
    return dossier, client


def _summary(client: Client, dossier: Dossier) -> str:
    response = client.get(f"/mes-demarches/{dossier.reference}/recapitulatif/")
    assert response.status_code == 200
    return response.content.decode()


def _notice_id(html: str) -> str:
    found = re.search(r'name="notice" value="(\d+)"', html)
    assert found, "the submit form carries the notice version"
    return found.group(1)


def _submit(client: Client, dossier: Dossier, notice: str, **more: str):
    return client.post(
        f"/mes-demarches/{dossier.reference}/deposer/",
        {"token": str(dossier.submission_token), "notice": notice, **more},
    )


def test_the_version_read_on_the_summary_is_stored_with_the_dossier(ready):
    dossier, client = ready
    html = _summary(client, dossier)
    assert "Mentions sur vos données — version 1" in html
    assert "Le centre d&#x27;état civil de la mairie qui traite la demande." in html

    response = _submit(client, dossier, _notice_id(html))

    assert response.status_code == 302
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.SUBMITTED
    acceptance = NoticeAcceptance.objects.get(dossier=dossier)
    assert (acceptance.notice.procedure_id, acceptance.notice.number) == (PROCEDURE, 1)
    assert acceptance.accepted_at == dossier.submitted_at
    assert not acceptance.consent
    submitted = AuditEntry.objects.get(action="dossier.submitted")
    assert (submitted.data["notice"], submitted.data["consent"]) == (1, False)
    created = AuditEntry.objects.get(action="privacy_notice.created")
    assert created.data["number"] == 1 and created.data["procedure"] == PROCEDURE


def _shown(dossier: Dossier) -> Notice:
    """The notice in force, as a new request reads it (the procedure row fetched anew)."""
    return current_notice(Dossier.objects.get(pk=dossier.pk))


def test_the_same_content_is_the_same_version_and_a_change_is_a_new_one(draft_with_file):
    dossier, _ = draft_with_file
    first = _shown(dossier)
    assert _shown(dossier) == first
    publish(purpose={"fr": "Délivrer l'extrait."})  # the register's text, not the notice's
    assert _shown(dossier) == first

    publish(privacy={"retention": NEW_RETENTION})
    second = _shown(dossier)
    assert second.number == 2 and second.texts["retention"] == NEW_RETENTION
    publish(legal_basis="consent")  # asking for consent is a change of the notice too
    third = _shown(dossier)
    assert third.number == 3 and third.asks_consent
    publish(legal_basis="public_task", privacy={"retention": first.texts["retention"]})
    assert _shown(dossier) == first  # back to the first content: its version

    assert Notice.objects.count() == 3
    assert AuditEntry.objects.filter(action="privacy_notice.created").count() == 3


def test_a_notice_changed_since_it_was_read_is_shown_again_and_nothing_is_submitted(ready):
    dossier, client = ready
    read = _notice_id(_summary(client, dossier))
    publish(privacy={"retention": NEW_RETENTION})  # the administration changes the notice

    response = _submit(client, dossier, read)

    assert response.status_code == 409
    html = response.content.decode()
    assert "Les mentions sur vos données ont changé depuis votre lecture" in html
    assert "Mentions sur vos données — version 2" in html
    assert "Dix ans après la décision, puis effacé." in html
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.DRAFT
    assert not NoticeAcceptance.objects.exists()
    assert not AuditEntry.objects.filter(action="dossier.submitted").exists()

    assert _submit(client, dossier, _notice_id(html)).status_code == 302
    assert NoticeAcceptance.objects.get(dossier=dossier).notice.number == 2


def test_the_dossier_pages_name_the_version_and_anyone_can_read_its_text(
    submitted_dossier, citizen, staff_user
):
    dossier, _ = submitted_dossier
    link = f"/demarches/{PROCEDURE}/mentions/1/"
    owner = Client()
    owner.force_login(citizen)
    page = owner.get(f"/mes-demarches/{dossier.reference}/").content.decode()
    assert f'href="{link}">version 1</a>' in page
    assert "Retirer mon consentement" not in page  # a public task: no consent to withdraw
    agent = Client()
    verified_login(agent, staff_user)
    staff_page = agent.get(f"/instruction/dossiers/{dossier.reference}/").content.decode()
    assert f'href="{link}">version 1</a>' in staff_page
    assert "Traitement arrêté" not in staff_page

    publish(privacy={"retention": NEW_RETENTION})
    assert _shown(dossier).number == 2  # shown to someone
    text = Client().get(link)
    assert text.status_code == 200
    html = text.content.decode()
    assert "Mentions sur vos données — version 1" in html
    assert "Le centre d&#x27;état civil de la mairie qui traite la demande." in html
    assert "Dix ans" not in html  # the text of that version, not today's
    assert f"/demarches/{PROCEDURE}/mentions/2/" in html  # and where today's is


def test_the_export_names_the_notice_version_of_each_dossier(submitted_dossier, citizen):
    dossier, _ = submitted_dossier
    (exported,) = export_for(citizen)["dossiers"]
    notice = Notice.objects.get()
    assert exported["privacy_notice"] == {
        "procedure": PROCEDURE,
        "version": 1,
        "digest": notice.digest,
        "accepted_at": dossier.submitted_at.isoformat(),
        "consent": False,
        "consent_withdrawn_at": None,
    }
    client = Client()
    client.force_login(citizen)
    html = client.get("/mes-donnees/export/").content.decode()
    assert f'href="/demarches/{PROCEDURE}/mentions/1/">version 1</a>' in html
