from __future__ import annotations

import json
from typing import Any

import pytest

from guichet.formdefs.spec import AnswersError, PageSpec
from guichet.formdefs.tests.support import TODAY, spec_from

FORM = """
- id: demande
  title: {fr: Votre demande, en: Your request}
  fields:
  - id: pour
    type: choice
    label: {fr: Pour qui, en: For whom}
    choices:
    - {value: moi, label: {fr: Moi, en: Myself}}
    - {value: enfant, label: {fr: Mon enfant, en: My child}}
  - {id: copies, type: number, label: Nombre de copies, integer: true, min: 1, max: 5}
  - {id: ne_le, type: date, label: Date de naissance, max: today}
- id: enfant
  title: L'enfant
  show_if: {field: pour, equals: enfant}
  fields:
  - {id: nom_enfant, type: text, label: Nom de l'enfant}
- id: famille
  title: Famille
  fields:
  - id: freres
    type: group
    label: Frères et sœurs
    item_label: Frère ou sœur
    max: 2
    fields:
    - {id: prenom, type: text, label: Prénom}
    - {id: age, type: number, label: Âge, required: false}
  - {id: region, type: region, label: Région}
  - {id: commune, type: commune, label: Commune, region_field: region}
  - {id: frais, type: amount, label: Montant payé, required: false}
  - {id: acte, type: file, label: Acte de naissance, document: 0}
  - {id: telephone, type: phone, label: Téléphone}
  - {id: accord, type: yes_no, label: Acceptez-vous}
"""

GOOD = {
    "pour": "enfant",
    "copies": 2,
    "ne_le": "1990-03-05",
    "nom_enfant": "Awa",
    "freres": [{"prenom": "Moussa", "age": 12}, {"prenom": "Fanta"}],
    "region": "koulikoro",
    "commune": "kati",
    "frais": 1500,
    "acte": ["att-1"],
    "telephone": "+22376123456",
    "accord": True,
}


def _clean(answers: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return spec_from(FORM).clean_answers(answers, today=TODAY, **kwargs)


def _errors(answers: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    with pytest.raises(AnswersError) as excinfo:
        _clean(answers)
    return [(e.page_id, e.field_id, e.message) for e in excinfo.value.errors]


def test_good_answers_survive_submission_unchanged():
    assert _clean(GOOD) == GOOD
    json.dumps(GOOD)  # answers stay JSON


def test_pages_answered_through_forms_pass_submission():
    spec = spec_from(FORM)
    answers: dict[str, Any] = {}
    posts: dict[str, dict[str, Any]] = {
        "demande": {
            "pour": "moi",
            "copies": "1",
            "ne_le_0": "5",
            "ne_le_1": "3",
            "ne_le_2": "1990",
        },
        "famille": {
            "freres-count": "1",
            "freres-0-prenom": "Moussa",
            "region": "bamako",
            "commune_0": "_autre",
            "commune_1": "Sébénikoro",
            "acte": ["att-1"],
            "telephone": "66 00 00 00",
            "accord": "non",
        },
    }
    page: PageSpec | None = spec.first_page(answers)
    while page is not None:
        form = spec.build_form(page.id, answers, data=posts[page.id], today=TODAY)
        assert form.is_valid(), form.errors
        answers = spec.with_page_answers(answers, page.id, form.answers)
        page = spec.next_page(page.id, answers)
    assert spec.clean_answers(answers, today=TODAY) == answers
    assert answers["commune"] == {"other": "Sébénikoro"}


def test_tampered_choice_is_an_error():
    assert _errors({**GOOD, "pour": "voisin"}) == [
        ("demande", "pour", "Choisissez une des réponses proposées.")
    ]


def test_out_of_bounds_and_wrong_json_types_are_errors():
    errors = _errors({**GOOD, "copies": 50, "frais": "mille", "accord": "oui"})
    assert ("demande", "copies", "Indiquez un nombre d'au plus 5.") in errors
    assert ("famille", "frais", "Réponse d'un type inattendu.") in errors


def test_value_for_a_hidden_field_is_dropped():
    cleaned = _clean({**GOOD, "pour": "moi"})
    assert "nom_enfant" not in cleaned
    assert cleaned["pour"] == "moi"


def test_unknown_key_is_an_error():
    assert _errors({**GOOD, "is_admin": True}) == [
        ("demande", "is_admin", "Champ inconnu dans ce formulaire.")
    ]


def test_missing_required_answer_is_an_error():
    answers = {k: v for k, v in GOOD.items() if k != "telephone"}
    assert _errors(answers) == [("famille", "telephone", "Ce champ est obligatoire.")]


def test_commune_outside_its_region_is_an_error():
    assert _errors({**GOOD, "commune": "bamako-commune-1"}) == [
        ("famille", "commune", "Cette commune n'est pas dans la région choisie.")
    ]


def test_group_limits_hold_at_submission():
    too_many = [{"prenom": "A"}, {"prenom": "B"}, {"prenom": "C"}]
    assert _errors({**GOOD, "freres": too_many}) == [
        ("famille", "freres", "Trop d'éléments dans cette liste.")
    ]
    assert _errors({**GOOD, "freres": [{"prenom": "A", "role": "x"}]}) == [
        ("famille", "freres", "Champ inconnu dans ce formulaire.")
    ]
    assert _errors({**GOOD, "freres": [{"age": 3}]}) == [
        ("famille", "freres", "Ce champ est obligatoire.")
    ]


def test_attachments_are_checked_against_the_dossier_uploads():
    assert _clean(GOOD, attachments={"att-1": "pdf"}) == GOOD
    with pytest.raises(AnswersError) as excinfo:
        _clean(GOOD, attachments={"att-2": "pdf"})
    assert excinfo.value.first_page_id == "famille"


def test_summary_lists_visible_answers_as_text():
    sections = spec_from(FORM).summary({**GOOD, "frais": 25000}, "fr")
    assert [s.title for s in sections] == ["Votre demande", "L'enfant", "Famille"]
    rows = {r.label: r.value for s in sections for r in s.rows}
    assert rows["Pour qui"] == "Mon enfant"
    assert rows["Date de naissance"] == "05/03/1990"
    assert rows["Frère ou sœur 1 — Prénom"] == "Moussa"
    assert rows["Frère ou sœur 1 — Âge"] == "12"
    assert rows["Commune"] == "Kati"
    assert rows["Région"] == "Koulikoro"
    assert rows["Montant payé"] == "25\xa0000\xa0FCFA"
    assert rows["Acte de naissance"] == "1 fichier joint"
    assert rows["Téléphone"] == "+223 76 12 34 56"
    assert rows["Acceptez-vous"] == "Oui"


def test_summary_skips_hidden_pages_and_marks_unanswered_optional_fields():
    answers = {**GOOD, "pour": "moi"}
    del answers["frais"]
    sections = spec_from(FORM).summary(answers, "fr")
    assert "enfant" not in [s.page_id for s in sections]
    rows = {r.label: r.value for s in sections for r in s.rows}
    assert rows["Montant payé"] == "Non renseigné"


def test_translations_fall_back_to_french():
    spec = spec_from(FORM)
    english = spec.summary(GOOD, "en")
    assert english[0].title == "Your request"
    assert english[0].rows[0].label == "For whom" and english[0].rows[0].value == "My child"
    assert english[1].title == "L'enfant"  # no English text: French
    form = spec.build_form("demande", {}, language="en")
    assert form.title == "Your request"
    assert form.fields["pour"].label == "For whom"
    bambara = spec.build_form("demande", {}, language="bm")
    assert bambara.fields["pour"].label == "Pour qui"
    assert spec.privacy_notice("en").retention == "One year after the decision."
    assert spec.privacy_notice("bm").purpose == "Traiter votre demande."


def test_unbound_form_shows_stored_answers():
    form = spec_from(FORM).build_form("demande", GOOD)
    assert form["pour"].value() == "enfant"
    assert form["copies"].value() == "2"
    assert form["ne_le"].value() == "1990-03-05"
    assert 'value="05"' in str(form["ne_le"])
