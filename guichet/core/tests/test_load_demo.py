"""`make run`'s demo: organisation, catalog, staff who can sign in, a non-empty queue."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django_otp.oath import totp

from guichet.accounts.models import User
from guichet.accounts.totp import confirmed_totp_device
from guichet.dossiers.models import Dossier

pytestmark = pytest.mark.django_db


def test_the_demo_loads_twice_and_an_agent_can_sign_in(settings, client):
    settings.DEBUG = True
    call_command("load_demo", stdout=None)
    call_command("load_demo", stdout=None)  # again: nothing doubles
    queue = Dossier.objects.filter(service_id="ml-ec-bamako-c3", status="submitted")
    assert queue.count() == 3
    agent = User.objects.get(username="agent-c3")
    device = confirmed_totp_device(agent)
    code = f"{totp(device.bin_key):06d}"
    response = client.post(
        "/instruction/connexion/",
        {"username": "agent-c3", "password": "demo-agent-2026", "code": code},
    )
    assert response.status_code == 302
    page = client.get("/instruction/services/ml-ec-bamako-c3/").content.decode()
    assert all(d.reference in page for d in queue)


def test_the_demo_gives_each_authority_one_usable_signing_key(settings):
    from guichet.documents.checks import check_signing_keys
    from guichet.documents.models import SigningKey
    from guichet.organisation.models import Authority

    settings.DEBUG = True
    call_command("load_demo", stdout=None)
    call_command("load_demo", stdout=None)  # again: no second key
    active = SigningKey.objects.filter(status="active")
    assert active.count() == Authority.objects.count() == 31
    assert check_signing_keys(databases=["default"]) == []  # every private half is there


def test_the_demo_refuses_to_load_in_production(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("load_demo")
