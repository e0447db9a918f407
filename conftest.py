"""Shared test set-up: fast hashing, immediate tasks, the demo catalog, personas.

Environment defaults for tests live in guichet/core/pytest_env.py (loaded before settings).
"""

from __future__ import annotations

import pytest
from django.conf import settings

from guichet.catalog.definition import load_definitions
from guichet.catalog.services import import_definitions
from guichet.documents.services import ensure_keys
from guichet.organisation.services import load_organisation


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def _keep_the_test_connection(monkeypatch):
    """Django's test client keeps the test's database connection across a request; code
    that calls the WSGI application directly (schemathesis) or closes a response itself
    sends request_finished, whose `close_old_connections` would close that connection in
    the middle of the test's transaction on PostgreSQL (SQLite's in-memory one survives).
    Inside a transaction the connection is kept; elsewhere Django decides as always."""
    from django.db.backends.base.base import BaseDatabaseWrapper

    original = BaseDatabaseWrapper.close_if_unusable_or_obsolete

    def keep_in_transaction(self: BaseDatabaseWrapper) -> None:
        if not self.in_atomic_block:
            original(self)

    monkeypatch.setattr(BaseDatabaseWrapper, "close_if_unusable_or_obsolete", keep_in_transaction)


@pytest.fixture
def demo_organisation(db):
    """The demo authorities and services (demo/organisation.yaml), each authority with a
    signing key, as `make run` loads them."""
    load_organisation(path=settings.DEMO_ORGANISATION_FILE, actor="test")
    ensure_keys(actor="test")


@pytest.fixture
def demo_catalog(demo_organisation):
    """The 45 real procedures, imported as `make run` does, and the services handling them."""
    import_definitions(definitions=load_definitions([settings.DEMO_PROCEDURES_DIR]), actor="test")


def make_staff(username: str, *roles: tuple[str, str]):
    """A staff account with roles given as (role, service or authority id)."""
    from guichet.accounts.models import User
    from guichet.organisation.models import AUTHORITY_ROLES, Authority, RoleKind, Service
    from guichet.organisation.services import grant_role

    user = User.objects.create_user(username=username, password="x", is_staff=True)
    for role, scope in roles:
        kind = RoleKind(role)
        if kind in AUTHORITY_ROLES:
            grant_role(
                user=user, role=kind, actor="test", authority=Authority.objects.get(pk=scope)
            )
        elif scope:
            grant_role(user=user, role=kind, actor="test", service=Service.objects.get(pk=scope))
        else:
            grant_role(user=user, role=kind, actor="test")
    return user


SERVICE_1 = "ml-ec-bamako-c3"
"""Where the `submitted_dossier` (born in Bamako Commune III) is routed."""


@pytest.fixture
def staff_user(demo_organisation):
    """An agent of the Commune III civil-status centre (service 1, territory 1)."""
    return make_staff("agent", ("agent", SERVICE_1))


@pytest.fixture
def supervisor(demo_organisation):
    return make_staff("superviseur", ("supervisor", SERVICE_1))


@pytest.fixture
def citizen(django_user_model):
    return django_user_model.objects.create_user(username="citoyen", password="x")


@pytest.fixture
def other_citizen(django_user_model):
    return django_user_model.objects.create_user(username="autre-citoyen", password="x")


@pytest.fixture
def draft_with_file(citizen, demo_catalog):
    """A draft of the Malian birth-certificate copy by `citizen`, with one PNG attached."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from guichet.catalog.models import Procedure
    from guichet.dossiers import services
    from guichet.dossiers.tests.samples import PNG_BYTES

    procedure = Procedure.objects.get(pk="ml-extrait-acte-naissance")
    dossier = services.start_dossier(procedure=procedure, actor=citizen)
    attachment = services.add_attachment(
        dossier=dossier,
        field_name="volet_2",
        upload=SimpleUploadedFile("volet.png", PNG_BYTES, content_type="image/png"),
        actor=citizen,
    )
    return dossier, attachment


BIRTH_EXTRACT_ANSWERS = {
    "objet": "extrait",
    "nombre_copies": 1,
    "pour": "enfant",
    "nom": "Traoré",
    "prenoms": "Awa",
    "date_naissance": "2019-03-12",
    "region_naissance": "bamako",
    "commune_naissance": "bamako-commune-3",
    "demandeur_nom": "Traoré",
    "demandeur_prenoms": "Moussa",
    "lien_enfant": "pere",
    "telephone": "+22370123456",
}


@pytest.fixture
def submitted_dossier(draft_with_file, citizen):
    """`draft_with_file` completed and submitted: routed to SERVICE_1, in its queue."""
    from guichet.dossiers import services

    dossier, attachment = draft_with_file
    dossier.answers = {**BIRTH_EXTRACT_ANSWERS, "volet_2": [str(attachment.pk)]}
    dossier.save(update_fields=["answers"])
    citizen.phone = "+22370123456"
    citizen.save(update_fields=["phone"])
    services.scan_attachment(attachment_id=str(attachment.pk))  # as the task does after commit
    attachment.refresh_from_db()
    dossier = services.submit_dossier(
        dossier=dossier, token=str(dossier.submission_token), actor=citizen
    )
    assert dossier.service_id == SERVICE_1
    return dossier, attachment
