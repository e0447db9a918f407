"""Staff who read a dossier outside their queue (auditors) say why first; the purpose goes
with every reading of it in the audit log. The back office's home links to the personal
data pages of those who may use them."""

from __future__ import annotations

import pytest
from django.test import Client

from conftest import SERVICE_1, make_staff
from guichet.governance.models import AuditEntry
from guichet.web.tests.pages import BACKOFFICE_BUDGET_BYTES, measure
from guichet.web.tests.staff import verified_login

pytestmark = pytest.mark.django_db

AUTHORITY = "ml-mairie-etat-civil"
"""The authority of SERVICE_1, where `submitted_dossier` is routed."""


@pytest.fixture
def auditor(demo_organisation):
    return make_staff("auditeur", ("auditor", AUTHORITY))


@pytest.fixture
def auditor_client(client, auditor):
    verified_login(client, auditor)
    return client


def _page(dossier) -> str:
    return f"/instruction/dossiers/{dossier.reference}/"


def _readings(user) -> list[tuple[str, str]]:
    return list(
        AuditEntry.objects.filter(actor=user).order_by("seq").values_list("action", "purpose")
    )


def test_an_auditor_gets_the_purpose_form_not_the_dossier(auditor_client, submitted_dossier):
    dossier, attachment = submitted_dossier
    response = auditor_client.get(_page(dossier))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Motif de la consultation" in html and 'name="purpose"' in html
    for personal in (dossier.applicant_name, "Awa", "+22370123456", str(attachment.pk)):
        assert personal not in html
    assert not AuditEntry.objects.filter(action="dossier.viewed").exists()
    assert not measure(auditor_client, _page(dossier)).has_script
    assert measure(auditor_client, _page(dossier)).transferred <= BACKOFFICE_BUDGET_BYTES


def test_the_purpose_given_is_recorded_with_each_reading(
    auditor_client, submitted_dossier, auditor
):
    dossier, _ = submitted_dossier
    response = auditor_client.post(f"{_page(dossier)}motif/", {"purpose": "authority"})
    assert response.status_code == 302 and response["Location"] == _page(dossier)
    html = auditor_client.get(_page(dossier)).content.decode()
    assert dossier.applicant_name in html and "Motif de la consultation" not in html
    auditor_client.get(_page(dossier))  # no second question in the same session
    assert _readings(auditor) == [("dossier.viewed", "Demande d'une autorité")] * 2


def test_other_needs_a_detail_which_is_kept_with_the_purpose(
    auditor_client, submitted_dossier, auditor
):
    dossier, _ = submitted_dossier
    auditor_client.post(
        f"{_page(dossier)}motif/", {"purpose": "other", "detail": "  saisine du\nmédiateur "}
    )
    auditor_client.get(_page(dossier))
    assert _readings(auditor) == [("dossier.viewed", "Autre : saisine du médiateur")]


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        ({}, "Choisissez le motif de la consultation."),
        ({"purpose": "curiosity"}, "Choisissez le motif de la consultation."),
        ({"purpose": "other"}, "Précisez le motif de la consultation."),
        ({"purpose": "other", "detail": " \t "}, "Précisez le motif de la consultation."),
        ({"purpose": "audit", "detail": "x" * 201}, "ne doit pas dépasser 200 caractères"),
    ],
)
def test_a_bad_purpose_is_refused_and_nothing_is_recorded(
    auditor_client, submitted_dossier, posted, message
):
    dossier, _ = submitted_dossier
    before = AuditEntry.objects.count()
    response = auditor_client.post(f"{_page(dossier)}motif/", posted)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert "Motif de la consultation" in auditor_client.get(_page(dossier)).content.decode()
    assert AuditEntry.objects.count() == before


def test_a_reviewer_sees_no_form_and_records_no_purpose(client, submitted_dossier, staff_user):
    dossier, attachment = submitted_dossier
    verified_login(client, staff_user)
    html = client.get(_page(dossier)).content.decode()
    assert dossier.applicant_name in html and "Motif de la consultation" not in html
    response = client.get(f"{_page(dossier)}fichiers/{attachment.pk}/")
    b"".join(response.streaming_content)
    assert _readings(staff_user) == [("dossier.viewed", ""), ("attachment.viewed", "")]


def test_files_and_documents_ask_for_the_purpose_then_carry_it(
    auditor_client, submitted_dossier, auditor, supervisor
):
    from guichet.documents.services import issue

    dossier, attachment = submitted_dossier
    document = issue(dossier=dossier, kind="A", actor=supervisor)
    file_url = f"{_page(dossier)}fichiers/{attachment.pk}/"
    document_url = f"{_page(dossier)}documents/{document.number}.pdf"

    # Straight to a file: the form first, then back to the file.
    response = auditor_client.get(file_url)
    assert response.status_code == 302
    form = auditor_client.get(response["Location"]).content.decode()
    assert f'name="next" value="{file_url}"' in form
    response = auditor_client.post(
        f"{_page(dossier)}motif/", {"purpose": "complaint", "next": file_url}
    )
    assert response["Location"] == file_url
    response = auditor_client.get(file_url)
    assert response.status_code == 200
    b"".join(response.streaming_content)
    response = auditor_client.get(document_url)
    assert response.status_code == 200
    b"".join(response.streaming_content)

    assert _readings(auditor) == [
        ("attachment.viewed", "Réclamation du demandeur"),
        ("document.printed", "Réclamation du demandeur"),
    ]


def test_the_purpose_lasts_until_signing_out_and_only_back_to_this_dossier(
    auditor_client, submitted_dossier, auditor
):
    dossier, _ = submitted_dossier
    response = auditor_client.post(
        f"{_page(dossier)}motif/", {"purpose": "audit", "next": "https://ailleurs.example/"}
    )
    assert response["Location"] == _page(dossier)
    assert "Motif de la consultation" not in auditor_client.get(_page(dossier)).content.decode()
    auditor_client.post("/instruction/deconnexion/")
    verified_login(auditor_client, auditor)
    assert "Motif de la consultation" in auditor_client.get(_page(dossier)).content.decode()


def test_an_auditor_of_every_authority_is_asked_too_a_platform_admin_reads_nothing(
    client, submitted_dossier
):
    dossier, _ = submitted_dossier
    verified_login(client, _staff("auditeur-general", ("auditor", "")))
    assert "Motif de la consultation" in client.get(_page(dossier)).content.decode()
    other = Client()
    verified_login(other, _staff("plateforme", ("platform_admin", "")))
    assert other.get(_page(dossier)).status_code == 404
    assert other.post(f"{_page(dossier)}motif/", {"purpose": "audit"}).status_code == 404


# --- Links on the back office's home -------------------------------------------------------------

REGISTER, REQUESTS = "/registre/", "/instruction/demandes-donnees/"


def _staff(username: str, *roles: tuple[str, str]):
    """`make_staff`, plus the auditor of every authority (an auditor role without one)."""
    from guichet.organisation.models import RoleKind
    from guichet.organisation.services import grant_role

    user = make_staff(username, *[r for r in roles if r != ("auditor", "")])
    if ("auditor", "") in roles:
        grant_role(user=user, role=RoleKind.AUDITOR, actor="test")
    return user


@pytest.mark.parametrize(
    ("roles", "links"),
    [
        ([("agent", SERVICE_1)], {REQUESTS}),
        ([("supervisor", SERVICE_1)], {REQUESTS}),
        ([("auditor", AUTHORITY)], {REGISTER}),
        ([("auditor", "")], {REGISTER}),
        ([("procedure_admin", AUTHORITY)], {REGISTER}),
        ([("platform_admin", "")], {REGISTER, REQUESTS}),
        ([], set()),
    ],
)
def test_home_links_to_the_personal_data_pages_each_person_may_use(
    client, demo_organisation, roles, links
):
    verified_login(client, _staff("personne", *roles))
    html = client.get("/instruction/").content.decode()
    assert {url for url in (REGISTER, REQUESTS) if f'href="{url}"' in html} == links
    if REGISTER not in links:  # hidden exactly where the page refuses
        assert client.get(REGISTER).status_code == 404
    for url in links:
        assert client.get(url).status_code == 200
