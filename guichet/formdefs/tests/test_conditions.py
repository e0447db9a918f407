from __future__ import annotations

import pytest

from guichet.formdefs.conditions import evaluate
from guichet.formdefs.spec import PageNotAvailable
from guichet.formdefs.tests.support import spec_from, submit

ANSWERS = {"pour": "enfant", "age": 7, "langues": ["fr", "bm"], "ne_ici": False, "vide": ""}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "pour", "equals": "enfant"}, True),
        ({"field": "pour", "equals": "moi"}, False),
        ({"field": "pour", "not_equals": "moi"}, True),
        ({"field": "pour", "in": ["moi", "enfant"]}, True),
        ({"field": "pour", "in": ["moi", "tiers"]}, False),
        ({"field": "age", "gt": 7}, False),
        ({"field": "age", "gte": 7}, True),
        ({"field": "age", "lt": 18}, True),
        ({"field": "age", "lte": 6.5}, False),
        ({"field": "age", "equals": 7.0}, True),
        ({"field": "pour", "gt": 3}, False),  # not a number: never greater
        ({"field": "langues", "equals": "bm"}, True),  # a ticked box
        ({"field": "langues", "not_equals": "ff"}, True),
        ({"field": "langues", "in": ["ff", "fr"]}, True),
        ({"field": "ne_ici", "equals": False}, True),
        ({"field": "ne_ici", "equals": 0}, False),  # booleans only equal booleans
        ({"field": "ne_ici", "is_set": True}, True),  # "non" is an answer
        ({"field": "vide", "is_set": False}, True),
        ({"field": "absent", "is_set": False}, True),
        ({"field": "absent", "equals": "x"}, False),
        ({"field": "absent", "not_equals": "x"}, True),
        ({"field": "absent", "lt": 10}, False),
        ({"all": [{"field": "pour", "equals": "enfant"}, {"field": "age", "lt": 18}]}, True),
        ({"all": [{"field": "pour", "equals": "enfant"}, {"field": "age", "gt": 18}]}, False),
        ({"any": [{"field": "pour", "equals": "moi"}, {"field": "age", "lt": 18}]}, True),
        ({"any": [{"field": "pour", "equals": "moi"}, {"field": "absent", "is_set": True}]}, False),
        ({"not": {"field": "pour", "equals": "moi"}}, True),
        ({"not": {"any": [{"field": "age", "gt": 1}]}}, False),
    ],
)
def test_each_operator_and_combinator(condition, expected):
    assert evaluate(condition, ANSWERS.get) is expected


FORM = """
- id: demande
  title: Demande
  fields:
  - id: pour
    type: choice
    label: Pour qui
    choices:
    - {value: moi, label: Moi}
    - {value: enfant, label: Mon enfant}
  - id: nom_enfant
    type: text
    label: Nom de l'enfant
    show_if: {field: pour, equals: enfant}
- id: enfant
  title: L'enfant
  show_if: {field: pour, equals: enfant}
  fields:
  - {id: age, type: number, label: Âge de l'enfant, integer: true}
  - {id: tuteur, type: yes_no, label: Êtes-vous son tuteur, show_if: {field: age, lt: 18}}
- id: contact
  title: Contact
  fields:
  - {id: telephone, type: phone, label: Téléphone}
"""


def test_page_condition_decides_navigation():
    spec = spec_from(FORM)
    assert [p.id for p in spec.visible_pages({"pour": "moi"})] == ["demande", "contact"]
    assert [p.id for p in spec.visible_pages({"pour": "enfant"})] == [
        "demande",
        "enfant",
        "contact",
    ]
    assert spec.next_page("demande", {"pour": "moi"}).id == "contact"
    assert spec.next_page("demande", {"pour": "enfant"}).id == "enfant"
    assert spec.previous_page("contact", {"pour": "moi"}).id == "demande"
    assert spec.next_page("contact", {"pour": "moi"}) is None
    with pytest.raises(PageNotAvailable):
        spec.build_form("enfant", {"pour": "moi"})


def test_same_page_dependent_field_is_hinted_and_decided_after_submission():
    spec = spec_from(FORM)
    form = spec.build_form("demande", {})
    field = form.fields["nom_enfant"]
    assert field.label == "Nom de l'enfant (si vous avez répondu « Mon enfant » à « Pour qui »)"
    assert field.required is False  # the browser must not block "moi"
    valid, errors, _answers = submit(spec, "demande", {"pour": "enfant", "nom_enfant": ""})
    assert errors == {"nom_enfant": ["Ce champ est obligatoire."]}


def test_hidden_field_is_not_required_and_its_answer_is_dropped():
    spec = spec_from(FORM)
    valid, errors, answers = submit(spec, "demande", {"pour": "moi", "nom_enfant": "Awa"})
    assert valid and answers == {"pour": "moi"}


def test_hidden_field_errors_do_not_count():
    spec = spec_from(FORM.replace("type: text\n    label: Nom", "type: email\n    label: Nom"))
    valid, _errors, answers = submit(spec, "demande", {"pour": "moi", "nom_enfant": "pas-un-email"})
    assert valid and answers == {"pour": "moi"}


def test_field_hidden_by_an_earlier_page_is_absent_from_the_form():
    spec = spec_from(FORM)
    form = spec.build_form("enfant", {"pour": "enfant", "age": 20})
    assert "tuteur" in form.fields  # same page: decided after submission
    valid, _errors, answers = submit(spec, "enfant", {"age": "20"}, {"pour": "enfant"})
    assert valid and answers == {"age": 20}
    valid, errors, _answers = submit(spec, "enfant", {"age": "5"}, {"pour": "enfant"})
    assert errors == {"tuteur": ["Répondez par oui ou par non."]}


def test_answers_of_hidden_pages_and_fields_do_not_count():
    spec = spec_from(FORM)
    stale = {
        "pour": "moi",
        "nom_enfant": "Awa",
        "age": 5,
        "tuteur": True,
        "telephone": "+22376123456",
    }
    assert spec.effective_answers(stale) == {"pour": "moi", "telephone": "+22376123456"}


def test_a_field_hidden_by_a_hidden_answer_is_hidden_too():
    spec = spec_from(FORM)
    # "tuteur" depends on "age", which is on a page hidden when "pour" is "moi".
    effective = spec.effective_answers({"pour": "moi", "age": 5, "tuteur": True})
    assert "tuteur" not in effective


def test_page_whose_fields_are_all_hidden_is_skipped():
    spec = spec_from(
        FORM
        + "- id: pieces\n  title: Pièces\n  fields:\n"
        + "  - {id: acte, type: file, label: Acte, show_if: {field: pour, equals: enfant}}\n"
    )
    assert spec.next_page("contact", {"pour": "moi"}) is None
    assert spec.next_page("contact", {"pour": "enfant"}).id == "pieces"
