"""The register of processing activities: one activity per procedure, from its
`data_protection` block, as a page for the data protection officer and as a declaration
(CSV, ODS) for the national authority."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from conftest import make_staff
from guichet.catalog.definition import (
    SCHEMA_PATH,
    DefinitionSetError,
    load_definitions,
    parse_definition,
)
from guichet.catalog.services import import_definitions
from guichet.governance import policy, registers
from guichet.governance.models import AuditEntry
from guichet.web.tests.pages import BUDGET_BYTES, measure
from guichet.web.tests.staff import verified_login

BIRTH = Path(settings.DEMO_PROCEDURES_DIR) / "ml" / "ml-extrait-acte-naissance.yaml"


def _client(user) -> Client:
    client = Client()
    verified_login(client, user)
    return client


@pytest.fixture
def platform_admin(demo_catalog):
    return make_staff("admin-plateforme", ("platform_admin", ""))


# --- The definitions ---------------------------------------------------------------------------


def test_the_schema_offers_exactly_the_vocabularies_the_register_can_name():
    schema = json.loads(Path(SCHEMA_PATH).read_text(encoding="utf-8"))
    block = schema["properties"]["data_protection"]["properties"]
    assert tuple(block["legal_basis"]["enum"]) == policy.LEGAL_BASES
    assert set(block["legal_basis"]["enum"]) == set(registers.LEGAL_BASIS_LABELS)
    assert set(block["data"]["items"]["enum"]) == set(registers.DATA_LABELS)
    assert set(block["sensitive"]["items"]["enum"]) == set(registers.SENSITIVE_LABELS)
    assert set(block["people"]["items"]["enum"]) == set(registers.PEOPLE_LABELS)
    assert set(block["processors"]["items"]["enum"]) == set(registers.PROCESSOR_LABELS)
    assert set(block["retention"]["properties"]["dossier"]["properties"]) == set(
        policy.FINAL_STATES
    )


def test_every_demo_procedure_declares_its_processing_and_keeps_data_in_the_country():
    definitions = load_definitions([Path(settings.DEMO_PROCEDURES_DIR)])
    assert len(definitions) == 45
    for definition in definitions:
        data = definition.data
        assert "data_protection" in data, definition.id
        found = policy.policy_for(data)
        assert found.purpose and found.legal_basis_text, definition.id
        assert found.data and found.people and found.recipients, definition.id
        assert found.transfers == (), definition.id
        if data.get("form"):  # online: notices by SMS, files in the attachment storage
            assert {"sms_gateway", "storage"} <= set(found.processors), definition.id
        assert "llm" not in found.processors, "the language model never sees a dossier"
        kept = found.retention
        assert kept.draft <= min(kept.dossier.values()), definition.id
        assert max(kept.attachments, kept.messages) <= max(kept.dossier.values()), definition.id
    # Criminal records are sensitive wherever they are asked for.
    criminal = {d.id for d in definitions if "criminal" in policy.policy_for(d.data).sensitive}
    assert {"ml-casier-judiciaire", "bf-casier-judiciaire", "ne-casier-judiciaire"} <= criminal


def test_a_procedure_that_says_nothing_gets_the_defaults_and_no_transfer():
    found = policy.policy_for({"legal_basis": {"fr": "Loi n°1"}})
    assert found.transfers == () and found.processors == ()
    assert found.legal_basis == "public_task"
    assert found.legal_basis_text == {"fr": "Loi n°1"}  # the procedure's own text
    assert found.retention.dossier == policy.DEFAULT_RETENTION["dossier"]


@pytest.mark.parametrize(
    ("line", "path"),
    [
        ("  data: [identity, blood_group]", "data_protection.data[1]"),
        ("  transfers: [france]", "data_protection.transfers[0]"),
        ("  processors: [cloud]", "data_protection.processors[0]"),
        ("  legal_basis: convenience", "data_protection.legal_basis"),
        ("  retention: {draft: 0}", "data_protection.retention.draft"),
    ],
)
def test_a_wrong_declaration_is_refused_with_its_line(line, path):
    text = BIRTH.read_text(encoding="utf-8") + line + "\n"
    with pytest.raises(DefinitionSetError) as refused:
        parse_definition(text, "ml-extrait-acte-naissance.yaml")
    assert [e.path for e in refused.value.errors] == [path]
    assert refused.value.errors[0].line == text.count("\n")


# --- The page ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_platform_administrator_reads_every_procedure_on_one_page_within_budget(
    platform_admin,
):
    client = _client(platform_admin)
    html = client.get("/registre/").content.decode()
    activities = registers.activities()
    assert len(activities) == 45
    for activity in activities:
        assert f'id="{activity.procedure_id}"' in html
    assert "APDP" in html and "CIL" in html and "HAPDP" in html
    assert "condamnations pénales" in html  # the criminal records, marked sensitive
    assert "Transferts hors du pays</dt>" not in html  # none declared
    assert "envoi de développement : aucun SMS ne part" in html  # the SMS processor as configured
    weight = measure(client, "/registre/")
    assert weight.status == 200
    assert weight.transferred <= BUDGET_BYTES, weight.transferred
    assert not weight.has_script and not weight.external


@pytest.mark.django_db
def test_an_auditor_reads_the_register_of_their_authority_and_agents_do_not(
    demo_catalog, staff_user, citizen
):
    auditor = make_staff("auditeur-ec", ("auditor", "ml-mairie-etat-civil"))
    html = _client(auditor).get("/registre/").content.decode()
    assert 'id="ml-extrait-acte-naissance"' in html
    assert 'id="ml-passeport"' not in html and 'id="bf-casier-judiciaire"' not in html
    assert _client(staff_user).get("/registre/").status_code == 404
    assert _client(staff_user).get("/registre.csv").status_code == 404
    citizen_client = Client()
    citizen_client.force_login(citizen)
    assert citizen_client.get("/registre/").status_code == 404
    assert AuditEntry.objects.filter(action="processing_register.downloaded").count() == 0


@pytest.mark.django_db
def test_a_declared_transfer_shows_on_the_page_and_in_the_declaration(platform_admin):
    text = BIRTH.read_text(encoding="utf-8") + "  transfers: [FR]\n"
    import_definitions(definitions=[parse_definition(text, str(BIRTH))], actor="test")
    client = _client(platform_admin)
    html = client.get("/registre/").content.decode()
    assert "Transferts hors du pays</dt><dd><strong>France</strong>" in html
    rows = _by_id(_csv_rows(client.get("/registre.csv").content))
    assert rows["ml-extrait-acte-naissance"]["Transferts hors du pays"] == "France"
    assert rows["ml-extrait-acte-naissance"]["Version de la définition"] == "2"
    assert rows["ml-passeport"]["Transferts hors du pays"] == "aucun"


# --- The declaration ---------------------------------------------------------------------------


def _csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # Excel reads the accents right
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def _by_id(rows: list[list[str]]) -> dict[str, dict[str, str]]:
    """Each data row as {column title: value}, by procedure id."""
    assert tuple(rows[0]) == registers.HEADER
    return {row[0]: dict(zip(registers.HEADER, row, strict=True)) for row in rows[1:]}


@pytest.mark.django_db
def test_the_declaration_downloads_as_csv_and_ods_and_each_download_is_audited(platform_admin):
    client = _client(platform_admin)
    response = client.get("/registre.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "registre-des-traitements.csv" in response["Content-Disposition"]
    rows = _by_id(_csv_rows(response.content))
    assert len(rows) == 45
    row = rows["bf-casier-judiciaire"]
    assert row["Pays"] == "Burkina Faso"
    assert row["Autorité de protection"] == "CIL"
    assert row["Dépôt en ligne"] == "oui"
    assert row["Base légale"].startswith("Mission de service public")
    assert row["Texte de référence"].startswith("Loi n°040-2019/AN")  # the procedure's own
    assert row["Données sensibles"] == "condamnations pénales et infractions"
    assert "passerelle SMS" in row["Sous-traitants"]
    assert row["Transferts hors du pays"] == "aucun"
    assert row["Durées de conservation"].startswith("dossier accepté : 3 ans")
    assert "pièces jointes : 90 jours" in row["Durées de conservation"]
    assert "Ed25519" in row["Mesures de sécurité"]
    assert row["Décisions automatisées"].startswith("Aucune")

    response = client.get("/registre.ods")
    assert response["Content-Type"] == "application/vnd.oasis.opendocument.spreadsheet"
    with zipfile.ZipFile(io.BytesIO(response.content)) as ods:
        assert ods.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
        content = ods.read("content.xml").decode("utf-8")
    assert content.count("<table:table-row") == 46
    assert "Responsable du traitement" in content and "HAPDP" in content

    downloads = AuditEntry.objects.filter(action="processing_register.downloaded")
    assert [(e.actor_id, e.data["format"], e.data["procedures"]) for e in downloads] == [
        (platform_admin.pk, "csv", 45),
        (platform_admin.pk, "ods", 45),
    ]


def test_a_text_a_spreadsheet_would_run_is_neutralised():
    activity = registers.Activity(
        procedure_id="ml-x",
        country="ML",
        title='=HYPERLINK("http://example.org")',
        controller="Mairie",
        service="",
        version=1,
        is_online=False,
        purpose="+1",
        legal_basis="Obligation légale",
        legal_basis_text="",
        data=(),
        sensitive=(),
        people=(),
        recipients=(),
        processors=(),
        transfers=(),
        retention=policy.policy_for({}).retention,
    )
    (row,) = registers.declaration_rows([activity])
    columns = dict(zip(registers.HEADER, row, strict=True))
    assert columns["Traitement (démarche)"].startswith("'=")
    assert columns["Finalité"] == "'+1"
    assert columns["Texte de référence"] == "non précisé"


def test_durations_read_in_years_when_they_are_whole_years():
    assert registers.duration(3650) == "10 ans"
    assert registers.duration(365) == "1 an"
    assert registers.duration(90) == "90 jours"


@pytest.mark.django_db
def test_the_register_names_the_answers_stored_encrypted(demo_catalog, client):
    by_id = {a.procedure_id: a for a in registers.activities()}
    assert by_id["ml-extrait-acte-naissance"].sealed == ("Votre NINA",)
    assert by_id["bf-creation-entreprise"].sealed == ("Numéro de votre CNIB", "Numéro de CNIB")
    assert by_id["ml-passeport"].sealed == ()  # no online form
    row = registers.declaration_rows([by_id["ml-extrait-acte-naissance"]])[0]
    assert row[-2].endswith("Réponses chiffrées : Votre NINA")
