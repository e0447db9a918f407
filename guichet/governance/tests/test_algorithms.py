"""The public register of algorithms, the list on each dossier's pages, and the invariant
behind both: an algorithm may help, never decide. Accepting, refusing or closing a dossier
always has a named person as its actor."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from django.test import Client

import guichet
from conftest import SERVICE_1, make_staff
from guichet.accounts.models import User
from guichet.assistant.models import AttachmentReading
from guichet.dossiers.models import Dossier, DossierStatus, StatusChange
from guichet.governance import algorithms
from guichet.governance.models import AuditEntry
from guichet.organisation.models import StaffRole
from guichet.web.tests.pages import BUDGET_BYTES, measure
from guichet.web.tests.staff import verified_login
from guichet.workflow import services as workflow
from guichet.workflow.transitions import FINAL

S = DossierStatus


# --- The register ------------------------------------------------------------------------------


def test_every_entry_is_described_and_says_how_to_tell_it_touched_a_dossier():
    entries = algorithms.entries()
    ids = [e.id for e in entries]
    assert len(ids) == len(set(ids))
    assert {"routing", "deadline", "assistant", "ocr"} <= set(ids)
    for entry in entries:
        for text in (entry.name, entry.purpose, entry.data, entry.legal_basis,
                     entry.human_oversight, entry.contact):  # fmt: skip
            assert str(text).strip(), entry.id
        assert entry.version.strip(), entry.id
    assert {e.id for e in entries if e.touches_dossiers} == set(algorithms.TOUCHED)


def test_a_rule_gets_a_new_version_when_its_code_changes():
    def rule(x: int) -> int:
        return x + 1

    def other_rule(x: int) -> int:
        return x + 2

    assert algorithms._code_version(rule) != algorithms._code_version(other_rule)
    assert len(algorithms._code_version(rule)) == 10


@pytest.mark.django_db
def test_the_register_is_public_fits_the_budget_and_the_footer_links_to_it(client):
    html = client.get("/algorithmes/").content.decode()
    for entry in algorithms.entries():
        assert f'id="{entry.id}"' in html
        assert entry.version in html
    assert "Aucun algorithme ne décide." in html
    weight = measure(client, "/algorithmes/")
    assert weight.status == 200 and weight.transferred <= BUDGET_BYTES, weight.transferred
    assert not weight.has_script and not weight.external
    assert 'href="/algorithmes/"' in client.get("/").content.decode()
    assert 'href="/en/algorithmes/"' in client.get("/en/").content.decode()


# --- Each dossier's pages ----------------------------------------------------------------------


def _listed(html: str) -> set[str]:
    section = html.split('id="algorithmes"', 1)[1].split("</ul>", 1)[0]
    return {e.id for e in algorithms.entries() if f'href="/algorithmes/#{e.id}"' in section}


@pytest.mark.django_db
def test_each_dossier_page_lists_the_algorithms_that_touched_it(
    submitted_dossier, citizen, staff_user
):
    dossier, attachment = submitted_dossier
    own = Client()
    own.force_login(citizen)
    agent = Client()
    verified_login(agent, staff_user)
    citizen_page = f"/mes-demarches/{dossier.reference}/"
    staff_page = f"/instruction/dossiers/{dossier.reference}/"

    # Routed to the Commune III centre, with the service's 7-day commitment as deadline.
    assert _listed(own.get(citizen_page).content.decode()) == {"routing", "deadline"}
    assert _listed(agent.get(staff_page).content.decode()) == {"routing", "deadline"}

    # The agent's visit asked OCR to read the file (the task writes this row).
    AttachmentReading.objects.create(attachment=attachment, status="done", text="VOLET N°2")
    expected = {"routing", "deadline", "ocr"}
    assert _listed(own.get(citizen_page).content.decode()) == expected
    assert _listed(agent.get(staff_page).content.decode()) == expected

    Dossier.objects.filter(pk=dossier.pk).update(due_at=None)  # a procedure without deadline
    assert _listed(own.get(citizen_page).content.decode()) == {"routing", "ocr"}
    assert measure(own, citizen_page).transferred <= BUDGET_BYTES


@pytest.mark.django_db
def test_a_draft_was_touched_by_nothing(draft_with_file):
    draft, _ = draft_with_file
    assert algorithms.used_for(draft) == []


# --- The invariant: a decision has a named human actor ---------------------------------------


@pytest.fixture
def in_review(submitted_dossier, staff_user):
    dossier, _ = submitted_dossier
    return workflow.transition(dossier=dossier, to=S.IN_REVIEW, actor=staff_user)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "who", ["system:load_demo", "anonymous", "none", "disabled agent", "citizen", "no role"]
)
def test_only_an_active_staff_person_can_move_a_dossier(who, in_review, citizen):
    disabled = make_staff("agent-parti", ("agent", SERVICE_1))
    disabled.is_active = False
    disabled.save(update_fields=["is_active"])
    actor = {
        "system:load_demo": "system:load_demo",
        "anonymous": AnonymousUser(),
        "none": None,
        "disabled agent": disabled,
        "citizen": citizen,
        "no role": User.objects.create_user("sans-role", is_staff=True),
    }[who]
    before = StatusChange.objects.count()
    for to in (S.ACCEPTED, S.REJECTED, S.CLOSED):
        with pytest.raises(workflow.TransitionError, match="pas le droit"):
            workflow.transition(dossier=in_review, to=to, actor=actor, reason="Décidé")
    assert Dossier.objects.get(pk=in_review.pk).status == S.IN_REVIEW
    assert StatusChange.objects.count() == before


@pytest.mark.django_db
def test_every_decision_of_a_demo_run_has_a_named_person_with_a_role(settings):
    settings.DEBUG = True
    call_command("load_demo", stdout=None)
    settings.DEBUG = False
    agent = Client()
    verified_login(agent, User.objects.get(username="agent-c3"))
    supervisor = Client()
    verified_login(supervisor, User.objects.get(username="superviseur-c3"))
    queue = list(Dossier.objects.filter(service_id="ml-ec-bamako-c3").order_by("pk"))
    assert len(queue) == 3

    def move(client: Client, dossier: Dossier, to: str, reason: str = "") -> None:
        url = f"/instruction/dossiers/{dossier.reference}/etat/"
        assert client.post(url, {"to": to, "reason": reason}).status_code == 302

    for dossier in queue:
        move(agent, dossier, S.IN_REVIEW)
    move(agent, queue[0], S.ACCEPTED)
    move(agent, queue[1], S.REJECTED, "Le volet n'est pas lisible.")
    move(agent, queue[2], S.CLOSED, "Demande déposée deux fois.")
    move(supervisor, queue[1], S.IN_REVIEW, "Le volet est lisible en l'agrandissant.")
    move(supervisor, queue[1], S.ACCEPTED)

    decisions = StatusChange.objects.filter(to_status__in=FINAL).select_related("actor")
    assert decisions.count() == 4
    for change in decisions:
        person = change.actor
        assert isinstance(person, User) and person.is_active and person.is_staff
        assert person.get_full_name().strip(), person  # printed as "Décision de" too
        assert StaffRole.objects.filter(user=person).exists()
        audited = AuditEntry.objects.filter(
            action="dossier.status_changed",
            object_id=str(change.dossier_id),
            data__to=change.to_status,
        )
        assert {e.actor_id for e in audited} == {person.pk}


# --- Statically: only the workflow and the pages move a dossier --------------------------------

GUICHET = Path(guichet.__file__).parent
MAY_MOVE = ("workflow", "web")
"""The state machine itself, and the pages where a person asks for a move."""


def transition_calls(source: str) -> list[int]:
    """Lines that call `transition(` (or import it to call it under another name)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            function = node.func
            name = (
                function.attr
                if isinstance(function, ast.Attribute)
                else getattr(function, "id", "")
            )
            if name == "transition":
                found.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and any(a.name == "transition" for a in node.names):
            found.append(node.lineno)
    return found


def test_no_module_outside_the_workflow_and_the_pages_calls_transition():
    found = {}
    for path in sorted(GUICHET.rglob("*.py")):
        parts = path.relative_to(GUICHET).parts
        if parts[0] in MAY_MOVE or "tests" in parts or "migrations" in parts:
            continue
        if lines := transition_calls(path.read_text(encoding="utf-8")):
            found[str(path.relative_to(GUICHET))] = lines
    assert found == {}
    pages = (GUICHET / "web" / "backoffice" / "views.py").read_text(encoding="utf-8")
    assert transition_calls(pages), "the back office asks for moves: the check must see it"


@pytest.mark.parametrize(
    "source",
    [
        "services.transition(dossier=d, to=t, actor=a)",
        "from guichet.workflow.services import transition",
        "from guichet.workflow.services import transition as decide",
        "transition(dossier=d, to=t, actor=a)",
    ],
)
def test_the_static_check_sees_each_way_to_call_transition(source):
    assert transition_calls(source)
