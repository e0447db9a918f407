"""Anti-automation limits on what a signed-in citizen posts (issue 9, item 3): per account
and per address, a 429 with a plain French message and Retry-After, and nothing changed."""

from __future__ import annotations

import pytest
from django.test import Client

from guichet.dossiers import limits
from guichet.dossiers.models import Dossier, DossierStatus, Message
from guichet.web.tests.test_dossier_flow import PROCEDURE, _fill_to_summary, _start, _upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, citizen):
    client.force_login(citizen)
    return client


def _refused(response, words: str) -> None:
    assert response.status_code == 429
    page = response.content.decode()
    assert words in page and "Réessayez dans" in page
    assert "Rien n'a été enregistré" in page
    assert int(response["Retry-After"]) > 0


def test_starting_too_many_procedures_is_refused_per_account(signed_in, demo_catalog, settings):
    settings.RATE_LIMIT_SCALE = 2 / limits.STARTS_PER_ACCOUNT.limit  # two a hour
    for _ in range(2):
        assert signed_in.post(f"/demarches/{PROCEDURE}/en-ligne/").status_code == 302
    _refused(signed_in.post(f"/demarches/{PROCEDURE}/en-ligne/"), "Trop de démarches commencées")
    assert Dossier.objects.count() == 2
    # Reading is never limited.
    assert signed_in.get("/mes-demarches/").status_code == 200


def test_the_address_limit_holds_across_accounts(demo_catalog, settings, django_user_model):
    settings.RATE_LIMIT_SCALE = 3 / limits.STARTS_PER_ADDRESS.limit  # three an hour per address
    statuses = []
    for n in range(3):
        client = Client(REMOTE_ADDR="198.51.100.7")
        client.force_login(django_user_model.objects.create_user(username=f"c{n}", password="x"))
        statuses += [client.post(f"/demarches/{PROCEDURE}/en-ligne/").status_code for _ in range(2)]
    assert statuses.count(302) == 3 and statuses.count(429) == 3
    elsewhere = Client(REMOTE_ADDR="203.0.113.9")
    elsewhere.force_login(django_user_model.objects.create_user(username="far", password="x"))
    assert elsewhere.post(f"/demarches/{PROCEDURE}/en-ligne/").status_code == 302


def test_uploads_and_submissions_are_limited_and_a_refusal_changes_nothing(
    signed_in, demo_catalog, settings
):
    dossier = _start(signed_in)
    _fill_to_summary(signed_in, dossier)  # one upload
    settings.RATE_LIMIT_SCALE = 1 / limits.UPLOADS_PER_ACCOUNT.limit
    files = dossier.attachments.count()
    _refused(_upload(signed_in, dossier, name="autre.png"), "Trop de fichiers envoyés")
    assert dossier.attachments.count() == files

    settings.RATE_LIMIT_SCALE = 1 / limits.SUBMISSIONS_PER_ACCOUNT.limit
    submit = f"/mes-demarches/{dossier.reference}/deposer/"
    assert signed_in.post(submit, {"token": "not-the-token"}).status_code == 302  # counted
    _refused(signed_in.post(submit, {"token": str(dossier.submission_token)}), "Trop de dépôts")
    assert Dossier.objects.get(pk=dossier.pk).status == DossierStatus.DRAFT


def test_messages_are_limited(submitted_dossier, citizen, settings):
    dossier, _ = submitted_dossier
    client = Client()
    client.force_login(citizen)
    settings.RATE_LIMIT_SCALE = 1 / limits.MESSAGES_PER_ACCOUNT.limit
    url = f"/mes-demarches/{dossier.reference}/messages/"
    assert client.post(url, {"body": "Bonjour"}).status_code == 302
    _refused(client.post(url, {"body": "Encore"}), "Trop de messages")
    assert Message.objects.filter(dossier=dossier).count() == 1


def test_a_signed_in_person_is_limited_on_questions_whatever_the_address(
    client, citizen, settings, demo_catalog
):
    from guichet.web.assistant_views import QUESTIONS_PER_ACCOUNT

    settings.RATE_LIMIT_SCALE = 2 / QUESTIONS_PER_ACCOUNT.limit
    client.force_login(citizen)
    codes = [
        client.get("/question/", {"q": "prix du passeport"}, REMOTE_ADDR=f"192.0.2.{n}").status_code
        for n in range(3)
    ]
    assert codes[:2] == [200, 200] and codes[2] == 429
