"""The public verification pages, and where citizens and staff get the documents."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from guichet.documents import codes
from guichet.documents.models import IssuedDocument
from guichet.dossiers.models import DossierStatus
from guichet.governance.models import AuditEntry
from guichet.web.tests.pages import BUDGET_BYTES, measure
from guichet.web.tests.staff import verified_login
from guichet.workflow import services as workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(submitted_dossier, staff_user):
    dossier, _ = submitted_dossier
    workflow.transition(dossier=dossier, to=DossierStatus.IN_REVIEW, actor=staff_user)
    workflow.transition(dossier=dossier, to=DossierStatus.ACCEPTED, actor=staff_user)
    return IssuedDocument.objects.get(dossier=dossier)


def pdf_of(document):
    with document.file.open("rb") as handle:
        return handle.read()


def test_scanning_the_qr_opens_a_page_that_says_authentic_and_shows_the_printed_text(
    client, issued
):
    url = "/V/" + issued.code
    html = client.get(url).content.decode()
    assert "Authentique" in html and issued.number in html and "Awa Traoré" in html
    assert "12/03/2019" in html  # a printed field
    assert "+22370123456" not in html and "Moussa" not in html  # nothing not printed
    assert measure(client, url).transferred <= BUDGET_BYTES
    assert client.get("/v/" + issued.code.lower()).status_code == 200


def test_the_form_takes_a_pasted_code_or_the_pdf(client, issued):
    page = measure(client, "/verifier/")
    assert page.transferred <= BUDGET_BYTES and not page.has_script and not page.external
    pasted = client.post("/verifier/", {"code": f"  {issued.code[:40]}\n{issued.code[40:]} "})
    assert "Authentique" in pasted.content.decode()
    at = len(issued.code) - 10  # inside the signature: the text still reads
    altered = issued.code[:at] + ("A" if issued.code[at] != "A" else "B") + issued.code[at + 1 :]
    assert "Modifié ou falsifié" in client.post("/verifier/", {"code": altered}).content.decode()
    upload = SimpleUploadedFile("doc.pdf", pdf_of(issued), content_type="application/pdf")
    assert "Authentique" in client.post("/verifier/", {"pdf": upload}).content.decode()
    changed = pdf_of(issued).replace(b"/Type /Page", b"/Type /Pagf", 1)
    upload = SimpleUploadedFile("doc.pdf", changed, content_type="application/pdf")
    assert "Modifié ou falsifié" in client.post("/verifier/", {"pdf": upload}).content.decode()


def test_an_empty_form_gets_a_french_message_and_records_nothing(client, issued):
    before = AuditEntry.objects.filter(action="document.verified").count()
    response = client.post("/verifier/", {"code": "  "})
    assert response.status_code == 400
    assert "Collez le code du document" in response.content.decode()
    assert AuditEntry.objects.filter(action="document.verified").count() == before


def test_each_verification_is_audited_without_personal_data(client, issued):
    client.get("/V/" + issued.code)
    client.post("/verifier/", {"code": "pas un code"})
    entries = list(AuditEntry.objects.filter(action="document.verified").order_by("id"))
    assert [e.data["outcome"] for e in entries] == ["authentic", "unreadable"]
    assert entries[0].data == {"outcome": "authentic", "via": "qr", "number": issued.number}
    assert entries[0].actor is None
    assert "Awa" not in json.dumps([e.data for e in entries])


def test_the_key_set_is_published_as_a_page_a_json_file_and_a_standalone_verifier(client, issued):
    assert issued.key_id in client.get("/verifier/cles/").content.decode()
    data = json.loads(client.get("/verifier/cles.json").content)
    assert issued.key_id in {k["kid"] for k in data["keys"]}
    assert all(set(k) >= {"public_key", "authority", "status"} for k in data["keys"])
    offline = client.get("/verifier/hors-ligne.html")
    assert offline["Content-Disposition"].startswith("attachment")
    html = offline.content.decode()
    assert issued.key_id in html and "crypto.subtle" in html
    assert "connect-src" not in html and "default-src 'none'" in html  # it cannot phone home


def test_the_citizen_downloads_the_document_and_the_agent_opens_it_to_print(
    client, issued, citizen, staff_user
):
    client.force_login(citizen)
    detail = client.get(f"/mes-demarches/{issued.dossier.reference}/").content.decode()
    assert f"/documents/{issued.number}.pdf" in detail
    response = client.get(
        f"/mes-demarches/{issued.dossier.reference}/documents/{issued.number}.pdf"
    )
    body = b"".join(response.streaming_content)
    assert body == pdf_of(issued) and response["Content-Disposition"].startswith("attachment")
    client.logout()
    verified_login(client, staff_user)
    page = client.get(f"/instruction/dossiers/{issued.dossier.reference}/").content.decode()
    assert issued.number in page and "Annuler ce document" not in page  # agents cannot cancel
    response = client.get(
        f"/instruction/dossiers/{issued.dossier.reference}/documents/{issued.number}.pdf"
    )
    assert b"".join(response.streaming_content) == body
    assert response["Content-Disposition"].startswith("inline")
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"document.issued", "document.downloaded", "document.printed"} <= actions


def test_a_supervisor_cancels_a_document_with_a_reason_and_it_shows_everywhere(
    client, issued, supervisor, citizen
):
    verified_login(client, supervisor)
    ref, number = issued.dossier.reference, issued.number
    url = f"/instruction/dossiers/{ref}/documents/{number}/annuler/"
    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 400 and "Écrivez la raison" in refused.content.decode()
    assert client.post(url, {"reason": "Erreur sur la date"}).status_code == 302
    issued.refresh_from_db()
    assert issued.is_revoked and issued.revoked_by == supervisor
    client.logout()
    assert "Annulé" in client.get("/V/" + issued.code).content.decode()
    data = json.loads(client.get("/verifier/cles.json").content)
    assert {"number": number, "revoked_at": f"{issued.revoked_at:%Y-%m-%d}"} in data[
        "revoked_documents"
    ]
    client.force_login(citizen)
    assert "annulé" in client.get(f"/mes-demarches/{ref}/").content.decode()


def test_the_qr_address_uses_the_public_url_in_upper_case(settings):
    settings.GUICHET_PUBLIC_URL = "https://guichet.gouv.ml"
    assert codes.code_url(settings.GUICHET_PUBLIC_URL, "ABC") == "HTTPS://GUICHET.GOUV.ML/V/ABC"


def test_verifications_are_limited_per_address_with_a_french_429(client, issued, monkeypatch):
    from datetime import timedelta

    from guichet.core.ratelimit import Limit
    from guichet.web import verifier_views

    monkeypatch.setattr(
        verifier_views, "VERIFICATIONS_PER_ADDRESS", Limit("test.verify", 2, timedelta(minutes=10))
    )
    assert client.get("/V/" + issued.code).status_code == 200
    assert client.post("/verifier/", {"code": issued.code}).status_code == 200
    refused = client.get("/V/" + issued.code)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Trop de vérifications depuis cette adresse" in refused.content.decode()
    assert "Authentique" not in refused.content.decode()
    assert AuditEntry.objects.filter(action="document.verified").count() == 2
