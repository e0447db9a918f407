from __future__ import annotations

import pytest

from guichet.catalog.definition import DefinitionSetError, parse_definition
from guichet.formdefs.tests.support import (
    SOURCE,
    definition_text,
    errors_of,
    line_of,
    spec_from,
)

TWO_FIELDS = """
- id: vous
  title: Vous
  fields:
  - id: pour
    type: choice
    label: Pour qui ?
    choices:
    - {value: moi, label: Moi}
    - {value: enfant, label: Mon enfant}
  - id: nom
    type: text
    label: Nom
"""


def test_valid_form_parses():
    spec = spec_from(TWO_FIELDS)
    assert [p.id for p in spec.pages] == ["vous"]
    assert spec.field("pour").choice_label("enfant") == "Mon enfant"


def test_unknown_type_names_file_line_path_and_choices():
    text, errors = errors_of(TWO_FIELDS.replace("type: text", "type: nombre"))
    line = line_of(text, "type: nombre")
    assert errors == [
        f'{SOURCE}:{line}: form.pages[0].fields[1].type : valeur "nombre" non reconnue ; '
        "valeurs possibles : text, long_text, number, amount, date, email, phone, choice, "
        "multiple_choice, yes_no, country, region, commune, national_id, file, explanation, group"
    ]


def test_choice_without_choices_is_refused():
    pages = "- id: p\n  title: P\n  fields:\n  - {id: pour, type: choice, label: Pour qui}\n"
    text, errors = errors_of(pages)
    line = line_of(text, "id: pour")
    assert errors == [
        f"{SOURCE}:{line}: form.pages[0].fields[0].choices : champ obligatoire manquant"
    ]


def test_key_of_another_type_is_unknown():
    text, errors = errors_of(TWO_FIELDS.replace("label: Nom", "label: Nom\n    integer: true"))
    line = line_of(text, "integer: true")
    assert errors[0].startswith(f"{SOURCE}:{line}: form.pages[0].fields[1].integer : champ inconnu")
    assert "max_length" in errors[0]


def test_condition_on_a_later_field_is_refused():
    pages = TWO_FIELDS.replace(
        "    label: Pour qui ?\n",
        "    label: Pour qui ?\n    show_if: {field: nom, is_set: true}\n",
    )
    text, errors = errors_of(pages)
    line = line_of(text, "show_if")
    assert errors == [
        f"{SOURCE}:{line}: form.pages[0].fields[0].show_if.field : « nom » est placé après : une "
        "condition ne peut dépendre que d'un champ placé avant (page précédente, ou plus haut sur "
        "la même page)"
    ]


def test_condition_on_itself_and_on_unknown_field_are_refused():
    pages = TWO_FIELDS.replace(
        "    label: Nom\n",
        "    label: Nom\n    show_if: {any: [{field: nom, is_set: true}, {field: age, gt: 3}]}\n",
    )
    _text, errors = errors_of(pages)
    assert any(
        "fields[1].show_if.any[0].field : un champ ne peut pas dépendre de lui-même" in e
        for e in errors
    )
    assert any(
        "show_if.any[1].field : champ « age » inconnu dans ce formulaire" in e for e in errors
    )


def test_page_condition_must_read_an_earlier_page():
    pages = TWO_FIELDS + (
        "- id: suite\n  title: Suite\n  show_if: {field: age, gte: 18}\n  fields:\n"
        "  - {id: age, type: number, label: Âge}\n"
    )
    text, errors = errors_of(pages)
    assert errors == [
        f"{SOURCE}:{line_of(text, 'show_if')}: form.pages[1].show_if.field : « age » est sur "
        "cette page : une page ne peut dépendre que des réponses des pages précédentes"
    ]


def test_condition_value_must_be_one_of_the_choices_and_operator_fit_the_type():
    pages = TWO_FIELDS + (
        "- id: suite\n  title: Suite\n  show_if: {field: pour, equals: fils}\n  fields:\n"
        "  - {id: x, type: text, label: X, show_if: {field: nom, gt: 3}}\n"
    )
    _text, errors = errors_of(pages)
    assert any(
        "form.pages[1].show_if.equals : valeur « fils » absente des choix de « pour » ; "
        "choix possibles : moi, enfant" in e
        for e in errors
    )
    assert any("show_if.gt : « nom » n'est pas un nombre" in e for e in errors)


def test_condition_with_two_operators_is_refused():
    pages = TWO_FIELDS.replace(
        "    label: Nom\n",
        "    label: Nom\n    show_if: {field: pour, equals: moi, in: [enfant]}\n",
    )
    _text, errors = errors_of(pages)
    assert any(
        "show_if.in : une condition sur un champ a exactement un opérateur" in e for e in errors
    )


def test_duplicate_ids_are_refused_in_the_form_and_in_a_group():
    pages = TWO_FIELDS + (
        "- id: vous\n  title: Encore\n  fields:\n"
        "  - {id: nom, type: text, label: Nom}\n"
        "  - id: enfants\n    type: group\n    label: Enfants\n    fields:\n"
        "    - {id: prenom, type: text, label: Prénom}\n"
        "    - {id: prenom, type: text, label: Autre prénom}\n"
    )
    text, errors = errors_of(pages)
    assert (
        f"{SOURCE}:{line_of(text, 'id: nom', 2)}: form.pages[1].fields[0].id : identifiant "
        "« nom » déjà utilisé (form.pages[0].fields[1])"
    ) in errors
    assert any("form.pages[1].id : identifiant de page « vous » déjà utilisé" in e for e in errors)
    assert any(
        "form.pages[1].fields[1].fields[1].id : identifiant « prenom » déjà utilisé dans ce groupe"
        in e
        for e in errors
    )


def test_group_child_may_share_an_id_with_a_top_level_field():
    spec = spec_from(
        TWO_FIELDS + "  - id: enfants\n    type: group\n    label: Enfants\n    fields:\n"
        "    - {id: nom, type: text, label: Nom}\n"
    )
    assert spec.field("enfants").child("nom") is not None


def test_field_outside_a_group_cannot_read_a_group_child():
    pages = (
        "- id: p\n  title: P\n  fields:\n"
        "  - id: enfants\n    type: group\n    label: Enfants\n    fields:\n"
        "    - {id: age, type: number, label: Âge}\n"
        "  - {id: x, type: text, label: X, show_if: {field: age, gt: 3}}\n"
    )
    _text, errors = errors_of(pages)
    assert any("« age » est dans le groupe répété « enfants »" in e for e in errors)


def test_nested_group_and_min_above_max_are_refused():
    pages = (
        "- id: p\n  title: P\n  fields:\n"
        "  - id: a\n    type: group\n    label: A\n    min: 3\n    max: 2\n    fields:\n"
        "    - id: b\n      type: group\n      label: B\n      fields:\n"
        "      - {id: c, type: text, label: C}\n"
    )
    _text, errors = errors_of(pages)
    assert any(
        "fields[0].fields[0].type : un groupe ne peut pas contenir un autre groupe" in e
        for e in errors
    )
    assert any("fields[0].max : max (2) est plus petit que min (3)" in e for e in errors)


def test_references_to_lists_and_documents_are_checked():
    pages = (
        "- id: p\n  title: P\n  fields:\n"
        "  - {id: nom, type: text, label: Nom}\n"
        "  - {id: nina, type: national_id, label: NINA, scheme: passeport}\n"
        "  - {id: c, type: commune, label: Commune, region_field: nom}\n"
        "  - {id: d, type: commune, label: Commune, region: atlantide}\n"
        "  - {id: f, type: file, label: Pièce, document: 5}\n"
        "  - {id: g, type: file, label: Pièce, document: Passeport}\n"
    )
    _text, errors = errors_of(pages)
    assert any(
        "fields[1].scheme : schéma « passeport » inconnu ; schémas possibles : nina" in e
        for e in errors
    )
    assert any(
        "fields[2].region_field : « nom » n'est pas un champ de type region" in e for e in errors
    )
    assert any("fields[3].region : région « atlantide » inconnue" in e for e in errors)
    assert any("fields[4].document : la démarche n'a pas de pièce n°5" in e for e in errors)
    assert any(
        "fields[5].document : « Passeport » ne correspond à aucune pièce" in e for e in errors
    )


def test_document_by_text_links_to_its_index():
    spec = spec_from(
        "- id: p\n  title: P\n  fields:\n"
        "  - {id: f, type: file, label: Pièce, document: Certificat de résidence, accept: [pdf]}\n"
    )
    [rules] = spec.file_rules()
    assert rules.document == 1 and rules.accept == ("pdf",) and rules.max_files == 1


def test_bad_pattern_and_pattern_without_message_are_refused():
    pages = "- id: p\n  title: P\n  fields:\n  - {id: x, type: text, label: X, pattern: '[a-'}\n"
    _text, errors = errors_of(pages)
    assert any("fields[0].pattern : motif invalide" in e for e in errors)
    assert any("demande un message d'erreur en clair (pattern_message)" in e for e in errors)


def test_bad_date_bounds_are_refused():
    pages = "- id: p\n  title: P\n  fields:\n  - {id: d, type: date, label: D, min: hier}\n"
    text, errors = errors_of(pages)
    assert errors == [
        f"{SOURCE}:{line_of(text, 'min: hier')}: form.pages[0].fields[0].min : format invalide "
        '"hier" ; attendu une date AAAA-MM-JJ, today, ou un écart comme -18y, +30d, -6m'
    ]
    pages = (
        "- id: p\n  title: P\n  fields:\n  - {id: d, type: date, label: D, min: today, max: -18y}\n"
    )
    _text, errors = errors_of(pages)
    assert any("fields[0].max : max (-18y) est avant min (today)" in e for e in errors)


def test_privacy_notice_is_required_with_a_form():
    text, errors = errors_of(TWO_FIELDS, privacy=False)
    assert errors == [
        f"{SOURCE}:{line_of(text, 'form:')}: form.privacy : champ obligatoire manquant"
    ]


def test_field_id_must_be_a_slug():
    _text, errors = errors_of(TWO_FIELDS.replace("id: nom", "id: Nom-Complet"))
    assert any(
        'fields[1].id : format invalide "Nom-Complet" ; attendu minuscules, chiffres et _' in e
        for e in errors
    )


def test_a_text_must_be_a_string_or_translations():
    _text, errors = errors_of(TWO_FIELDS.replace("label: Nom", "label: 12"))
    assert any(
        "fields[1].label : attendu un texte non vide ou une table de traductions" in e
        for e in errors
    )


def test_a_sensitive_field_is_kept_in_the_normal_form_and_cannot_name_the_dossier():
    pages = TWO_FIELDS.replace("    label: Nom\n", "    label: Nom\n    sensitive: true\n")
    spec = spec_from(pages)
    assert spec.field("nom").sensitive and not spec.field("pour").sensitive
    named = definition_text(pages).replace(
        "workflow: {services: [ml-mairie-centrale]}",
        "workflow: {services: [ml-mairie-centrale], name_fields: [nom]}",
    )
    with pytest.raises(DefinitionSetError) as excinfo:
        parse_definition(named, SOURCE)
    assert "« nom » est marqué sensible" in str(excinfo.value.errors[0])


def test_a_file_field_cannot_be_marked_sensitive():
    pages = "- id: p\n  title: P\n  fields:\n  - {id: f, type: file, label: F, sensitive: true}\n"
    _text, errors = errors_of(pages)
    assert "sensitive : champ inconnu" in errors[0]
