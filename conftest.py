"""Shared test set-up: fast hashing, immediate tasks, the demo catalog, personas.

Environment defaults for tests live in guichet/core/pytest_env.py (loaded before settings).
"""

from __future__ import annotations

import pytest
from django.conf import settings

from guichet.catalog.definition import load_definitions
from guichet.catalog.services import import_definitions


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def demo_catalog(db):
    """The 45 real procedures, imported as `make run` does."""
    import_definitions(definitions=load_definitions([settings.DEMO_PROCEDURES_DIR]), actor="test")


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(username="agent", password="x", is_staff=True)


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
