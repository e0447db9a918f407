from __future__ import annotations

import pytest

from guichet.dossiers.models import DossierStatus as S
from guichet.workflow import services
from guichet.workflow.transitions import TRANSITIONS, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def submitted(submitted_dossier):
    dossier, _ = submitted_dossier
    return dossier


def _at(dossier, status):
    type(dossier).objects.filter(pk=dossier.pk).update(status=status)
    dossier.refresh_from_db()
    return dossier


def test_the_table_has_the_moves_the_administration_needs():
    reasons = {pair for pair, rule in TRANSITIONS.items() if rule.needs_reason}
    assert (S.IN_REVIEW, S.REJECTED) in reasons
    assert (S.IN_REVIEW, S.CLOSED) in reasons
    assert (S.IN_REVIEW, S.INFO_REQUESTED) in reasons
    reopen = [pair for pair, rule in TRANSITIONS.items() if rule.role == Role.SUPERVISOR]
    assert sorted(pair[0] for pair in reopen) == sorted([S.ACCEPTED, S.REJECTED, S.CLOSED])


def test_refusing_needs_a_written_reason(submitted, staff_user):
    dossier = _at(submitted, S.IN_REVIEW)
    with pytest.raises(services.TransitionError, match="Écrivez la raison"):
        services.transition(dossier=dossier, to=S.REJECTED, actor=staff_user, reason="  ")
    services.transition(dossier=dossier, to=S.REJECTED, actor=staff_user, reason="Pièce fausse")
    change = dossier.changes.exclude(to_status=S.SUBMITTED).get()
    assert (change.from_status, change.to_status, change.reason) == (
        "in_review",
        "rejected",
        "Pièce fausse",
    )


def test_a_move_outside_the_table_is_refused(submitted, staff_user):
    dossier = _at(submitted, S.SUBMITTED)
    with pytest.raises(services.TransitionError, match="Impossible de passer"):
        services.transition(dossier=dossier, to=S.ACCEPTED, actor=staff_user)
    assert dossier.changes.exclude(to_status=S.SUBMITTED).count() == 0


def test_the_applicant_cannot_decide_and_an_agent_cannot_reopen(submitted, citizen, staff_user):
    dossier = _at(submitted, S.IN_REVIEW)
    with pytest.raises(services.TransitionError, match="pas le droit"):
        services.transition(dossier=dossier, to=S.ACCEPTED, actor=citizen)
    dossier = _at(dossier, S.ACCEPTED)
    with pytest.raises(services.TransitionError, match="pas le droit"):
        services.transition(dossier=dossier, to=S.IN_REVIEW, actor=staff_user, reason="Erreur")


def test_a_supervisor_reopens_a_decision_with_a_reason(submitted, supervisor, django_user_model):
    superuser = django_user_model.objects.create_user("root", is_staff=True, is_superuser=True)
    dossier = _at(submitted, S.REJECTED)
    with pytest.raises(services.TransitionError, match="pas le droit"):  # no role, no right
        services.transition(dossier=dossier, to=S.IN_REVIEW, actor=superuser, reason="Erreur")
    dossier = services.transition(
        dossier=dossier, to=S.IN_REVIEW, actor=supervisor, reason="Refus erroné"
    )
    assert dossier.status == S.IN_REVIEW


def test_an_information_request_names_real_fields(submitted, staff_user):
    dossier = _at(submitted, S.IN_REVIEW)
    with pytest.raises(services.TransitionError, match="Choisissez"):
        services.request_information(
            dossier=dossier, fields=["inconnu"], message="Précisez", actor=staff_user
        )
    assert dossier.changes.exclude(to_status=S.SUBMITTED).count() == 0


def test_an_agent_takes_a_free_dossier_but_not_a_colleague_s(submitted, staff_user, supervisor):
    from conftest import SERVICE_1, make_staff

    colleague = make_staff("collegue", ("agent", SERVICE_1))
    services.assign(dossiers=[submitted], to=colleague, actor=supervisor)
    with pytest.raises(services.TransitionError, match="Seul un superviseur"):
        services.assign(dossiers=[submitted], to=staff_user, actor=staff_user)
    services.assign(dossiers=[submitted], to=None, actor=colleague)  # gives it back
    services.assign(dossiers=[submitted], to=staff_user, actor=staff_user)
    submitted.refresh_from_db()
    assert submitted.assigned_to == staff_user
