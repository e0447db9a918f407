"""Shared test set-up: fast hashing, immediate tasks, the demo catalog, personas.

Environment defaults for tests live in guichet/core/pytest_env.py (loaded before settings).
"""

from __future__ import annotations

import pytest
from django.conf import settings

from guichet.catalog.definition import load_definitions
from guichet.catalog.services import import_definitions


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def demo_catalog(db):  # type: ignore[no-untyped-def]
    """The 45 real procedures, imported as `make run` does."""
    import_definitions(definitions=load_definitions([settings.DEMO_PROCEDURES_DIR]), actor="test")


@pytest.fixture
def staff_user(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user(username="agent", password="x", is_staff=True)


@pytest.fixture
def citizen(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user(username="citoyen", password="x")
