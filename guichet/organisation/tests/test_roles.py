"""Roles: granted and removed through the services (also from the admin), audited, and
routing follows the territory."""

from __future__ import annotations

import pytest

from conftest import make_staff
from guichet.governance.models import AuditEntry
from guichet.organisation.models import StaffRole
from guichet.organisation.routing import route
from guichet.web.tests.staff import verified_login

pytestmark = pytest.mark.django_db

WORKFLOW = {
    "services": ["ml-ec-central", "ml-ec-bamako-c3", "ml-ec-bamako-c4", "ml-tgi-bamako"],
    "route_by": ["commune_naissance", "region_naissance"],
}


@pytest.mark.parametrize(
    ("answers", "service"),
    [
        ({"commune_naissance": "bamako-commune-3"}, "ml-ec-bamako-c3"),
        ({"commune_naissance": "bamako-commune-4"}, "ml-ec-bamako-c4"),
        # Another Bamako commune: no commune service, the region-wide one takes it.
        ({"commune_naissance": "bamako-commune-5"}, "ml-tgi-bamako"),
        (
            {"commune_naissance": {"other": "Kolondiéba"}, "region_naissance": "sikasso"},
            "ml-ec-central",
        ),  # a country-wide service
        ({}, "ml-ec-central"),
    ],
)
def test_routing_picks_the_closest_territory(demo_organisation, answers, service):
    assert route(workflow=WORKFLOW, country="ML", answers=answers).pk == service


def test_routing_without_any_existing_service_gives_none(demo_organisation):
    assert route(workflow={"services": ["nulle-part"]}, country="ML", answers={}) is None


def test_the_admin_grants_and_removes_roles_through_the_audited_services(
    client, demo_organisation, django_user_model
):
    root = django_user_model.objects.create_user(
        "root", password="x", is_staff=True, is_superuser=True
    )
    verified_login(client, root)
    agent = make_staff("nouvel-agent")
    response = client.post(
        "/admin/organisation/staffrole/add/",
        {"user": agent.pk, "role": "agent", "service": "ml-ec-bamako-c3"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    role = StaffRole.objects.get(user=agent)
    citizen = django_user_model.objects.create_user("citoyen-x")
    refused = client.post(
        "/admin/organisation/staffrole/add/",
        {"user": citizen.pk, "role": "agent", "service": "ml-ec-bamako-c3"},
    )
    assert refused.status_code == 200 and "Seul un compte du personnel" in refused.content.decode()
    client.post(f"/admin/organisation/staffrole/{role.pk}/delete/", {"post": "yes"})
    assert not StaffRole.objects.filter(user=agent).exists()
    actions = list(
        AuditEntry.objects.filter(object_id=str(agent.pk)).values_list("action", "actor_label")
    )
    assert actions == [("staff.role_granted", "root"), ("staff.role_revoked", "root")]
