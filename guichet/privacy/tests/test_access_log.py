"""Who opened my dossiers: the role and the service of each opening, never the name."""

from __future__ import annotations

import pytest

from conftest import SERVICE_1, make_staff
from guichet.organisation.models import Authority, Service, StaffRole
from guichet.privacy.queries import access_log
from guichet.privacy.services import export_for
from guichet.web.tests.staff import verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def named_agent(demo_organisation):
    agent = make_staff("aminata.diarra", ("agent", SERVICE_1))
    agent.first_name, agent.last_name = "Aminata", "Diarra"
    agent.save()
    return agent


def test_an_agent_opening_a_dossier_shows_as_role_and_service_without_name(
    client, submitted_dossier, citizen, named_agent
):
    dossier, attachment = submitted_dossier
    verified_login(client, named_agent)
    assert client.get(f"/instruction/dossiers/{dossier.reference}/").status_code == 200
    response = client.get(f"/instruction/dossiers/{dossier.reference}/fichiers/{attachment.pk}/")
    b"".join(response.streaming_content)

    service = Service.objects.get(pk=SERVICE_1).name
    rows = [(a.dossier, a.what, a.role, a.service, a.times) for a in access_log(citizen)]
    assert sorted(rows) == [
        (dossier.reference, "Dossier", "Agent", service, 1),
        (dossier.reference, "Pièce jointe", "Agent", service, 1),
    ]

    client.force_login(citizen)
    page = client.get("/mes-donnees/").content.decode()
    assert "<td>Agent</td>" in page and service.replace("'", "&#x27;") in page
    for name in ("Aminata", "Diarra", "aminata.diarra"):
        assert name not in page
        assert name not in client.get("/mes-donnees/export/").content.decode()
        assert name not in client.get("/mes-donnees/export.json").content.decode()
    exported = export_for(citizen)["access_log"]
    assert {(a["role"], a["service"]) for a in exported} == {("Agent", service)}


def test_an_auditor_shows_with_the_authority_and_openings_are_counted(
    client, submitted_dossier, citizen
):
    dossier, _ = submitted_dossier
    auditor = make_staff("auditeur-ec", ("auditor", "ml-mairie-etat-civil"))
    verified_login(client, auditor)
    # Outside their queue, the auditor first says why (kept for the session).
    client.post(f"/instruction/dossiers/{dossier.reference}/motif/", {"purpose": "audit"})
    for _ in range(3):
        assert client.get(f"/instruction/dossiers/{dossier.reference}/").status_code == 200
    authority = Authority.objects.get(pk="ml-mairie-etat-civil").name
    assert [(a.role, a.service, a.times) for a in access_log(citizen)] == [
        ("Auditeur", authority, 3)
    ]


def test_a_person_who_lost_the_role_shows_as_staff_without_service(
    client, submitted_dossier, citizen, named_agent
):
    dossier, _ = submitted_dossier
    verified_login(client, named_agent)
    client.get(f"/instruction/dossiers/{dossier.reference}/")
    StaffRole.objects.filter(user=named_agent).delete()
    assert [(a.role, a.service) for a in access_log(citizen)] == [("Membre du personnel", "")]


def test_another_citizens_dossier_openings_are_not_mine(
    client, submitted_dossier, other_citizen, named_agent
):
    dossier, _ = submitted_dossier
    verified_login(client, named_agent)
    client.get(f"/instruction/dossiers/{dossier.reference}/")
    assert access_log(other_citizen) == []
