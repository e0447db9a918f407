"""Procedure administrators publish new versions of their authority's procedures."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import make_staff
from guichet.catalog.models import Procedure
from guichet.web.tests.staff import verified_login

pytestmark = pytest.mark.django_db
PROCEDURE = "ml-extrait-acte-naissance"
URL = f"/instruction/demarches/{PROCEDURE}/"


@pytest.fixture
def admin_client(client, demo_catalog):
    verified_login(client, make_staff("admin-ec", ("procedure_admin", "ml-mairie-etat-civil")))
    return client


def _current_yaml(client) -> str:
    response = client.get(f"{URL}definition.yaml")
    assert response.status_code == 200
    return str(response.content.decode())


def _send(client, text: str):
    return client.post(URL, {"definition": SimpleUploadedFile("d.yaml", text.encode())})


def test_the_administrator_publishes_a_new_version(admin_client):
    text = _current_yaml(admin_client)
    assert f"id: {PROCEDURE}" in text
    changed = text.replace(
        "fr: Extrait d'acte de naissance (volet III) et copies", "fr: Copie d'acte", 1
    )
    assert changed != text
    response = _send(admin_client, changed)
    assert response.status_code == 302
    procedure = Procedure.objects.get(pk=PROCEDURE)
    assert procedure.current_version.number == 2
    assert procedure.title == "Copie d'acte"
    assert _send(admin_client, changed).status_code == 302  # same content: no new version
    assert Procedure.objects.get(pk=PROCEDURE).current_version.number == 2


def test_a_wrong_file_publishes_nothing_and_says_where(admin_client):
    text = _current_yaml(admin_client).replace("theme: etat-civil", "theme: meteo")
    response = _send(admin_client, text)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Rien n'a été publié" in html and "ligne 7 — theme" in html
    other = _current_yaml(admin_client).replace(f"id: {PROCEDURE}", "id: ml-passeport")
    assert "décrit" in _send(admin_client, other).content.decode()
    moved = _current_yaml(admin_client).replace("id: ml-mairie-etat-civil", "id: ml-securite")
    assert "doit rester" in _send(admin_client, moved).content.decode()
    assert Procedure.objects.get(pk=PROCEDURE).current_version.number == 1


def test_another_authority_s_procedure_is_out_of_reach(admin_client):
    assert admin_client.get("/instruction/demarches/ml-passeport/").status_code == 404
    listing = admin_client.get("/instruction/demarches/").content.decode()
    assert PROCEDURE in listing and "ml-passeport" not in listing
