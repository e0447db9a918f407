from __future__ import annotations

from typing import Any, cast

from django import forms

from guichet.formdefs.forms import FieldBlock, GroupBlock, TextBlock
from guichet.formdefs.spec import FormSpec
from guichet.formdefs.tests.support import TODAY, one_field, spec_from, submit


def _errors(spec: FormSpec, data: dict[str, Any], field: str = "x") -> list[str]:
    valid, errors, _answers = submit(spec, "p", data)
    assert not valid
    return errors[field]


def _answer(spec: FormSpec, data: dict[str, Any], field: str = "x") -> Any:
    valid, errors, answers = submit(spec, "p", data)
    assert valid, errors
    return answers.get(field)


def test_text_lengths_and_pattern():
    spec = one_field(
        """
        id: x
        type: text
        label: Numéro
        min_length: 2
        max_length: 5
        pattern: "[A-Z]+"
        pattern_message: Écrivez des lettres majuscules.
        """
    )
    assert _answer(spec, {"x": "  ABC "}) == "ABC"
    assert _errors(spec, {"x": "ABCDEF"}) == [
        "Assurez-vous que cette valeur comporte au plus 5 caractères (actuellement 6)."
    ]
    # The pattern is a format: it must match the whole answer, not a part of it.
    assert _errors(spec, {"x": "ABc"}) == ["Écrivez des lettres majuscules."]
    assert _errors(spec, {"x": ""}) == ["Ce champ est obligatoire."]


def test_long_text_has_a_default_limit():
    spec = one_field("{id: x, type: long_text, label: Motif}")
    assert _answer(spec, {"x": "Pour un concours"}) == "Pour un concours"
    assert "au plus 2000 caractères" in _errors(spec, {"x": "a" * 2001})[0]


def test_number_accepts_french_decimals_and_checks_bounds():
    spec = one_field("{id: x, type: number, label: Surface, min: 1, max: 500}")
    assert _answer(spec, {"x": "12,5"}) == 12.5
    assert _answer(spec, {"x": "1 200".replace("1 200", "120")}) == 120
    assert _errors(spec, {"x": "douze"}) == ["Écrivez un nombre en chiffres (ex. 12 ou 12,5)."]
    assert _errors(spec, {"x": "0,5"}) == ["Indiquez un nombre d'au moins 1."]
    assert _errors(spec, {"x": "501"}) == ["Indiquez un nombre d'au plus 500."]
    integer = one_field("{id: x, type: number, label: Copies, integer: true}")
    assert _answer(integer, {"x": "3"}) == 3
    assert _errors(integer, {"x": "2,5"}) == ["Écrivez un nombre entier, sans virgule."]
    assert 'inputmode="numeric"' in str(integer.build_form("p", {})["x"])


def test_amount_is_whole_francs_cfa():
    spec = one_field("{id: x, type: amount, label: Capital, min: 1000}")
    assert _answer(spec, {"x": "25 000 FCFA"}) == 25000
    assert _answer(spec, {"x": "1.000.000"}) == 1000000
    assert _errors(spec, {"x": "12,50"}) == [
        "Indiquez un montant en francs CFA, en chiffres et sans centimes (ex. 25 000)."
    ]
    assert _errors(spec, {"x": "500"}) == ["Le montant doit être d'au moins 1\xa0000\xa0FCFA."]


def test_date_in_three_boxes_with_bounds():
    spec = one_field("{id: x, type: date, label: Date de naissance, min: -120y, max: today}")
    assert _answer(spec, {"x_0": "5", "x_1": "3", "x_2": "1990"}) == "1990-03-05"
    assert _errors(spec, {"x_0": "5", "x_1": "", "x_2": "1990"}) == [
        "Indiquez la date complète : jour, mois et année."
    ]
    assert _errors(spec, {"x_0": "31", "x_1": "2", "x_2": "1990"}) == [
        "Cette date n'existe pas : vérifiez le jour et le mois."
    ]
    assert _errors(spec, {"x_0": "5", "x_1": "3", "x_2": "90"}) == [
        "Écrivez l'année avec 4 chiffres (ex. 1990)."
    ]
    assert _errors(spec, {"x_0": "2", "x_1": "3", "x_2": str(TODAY.year)}) == [
        "La date ne peut pas être dans le futur."
    ]
    assert _errors(spec, {"x_0": "1", "x_1": "1", "x_2": "1900"}) == [
        "La date doit être le 01/03/1906 ou après."
    ]
    assert _errors(spec, {}) == ["Indiquez la date."]


def test_date_relative_bound_for_adults():
    spec = one_field("{id: x, type: date, label: Date de naissance, max: -18y}")
    assert _answer(spec, {"x_0": "1", "x_1": "3", "x_2": "2008"}) == "2008-03-01"
    assert _errors(spec, {"x_0": "2", "x_1": "3", "x_2": "2008"}) == [
        "La date doit être le 01/03/2008 ou avant."
    ]


def test_email():
    spec = one_field("{id: x, type: email, label: E-mail}")
    assert _answer(spec, {"x": "awa@exemple.ml"}) == "awa@exemple.ml"
    assert _errors(spec, {"x": "awa@"}) == [
        "Adresse e-mail invalide : vérifiez-la (ex. nom@exemple.com)."
    ]


def test_phone_is_stored_in_international_form():
    spec = one_field("{id: x, type: phone, label: Téléphone}")
    assert _answer(spec, {"x": "76 12 34 56"}) == "+22376123456"
    assert _answer(spec, {"x": "00223 76.12.34.56"}) == "+22376123456"
    assert _errors(spec, {"x": "12 34"}) == [
        "Numéro de téléphone invalide : écrivez les 8 chiffres (ex. 76 12 34 56) ou le numéro "
        "international (ex. +223 76 12 34 56)."
    ]
    burkina = one_field("{id: x, type: phone, label: Téléphone}", country="BF")
    assert _answer(burkina, {"x": "70 12 34 56"}) == "+22670123456"
    html = str(spec.build_form("p", {})["x"])
    assert 'type="tel"' in html and 'inputmode="tel"' in html and 'autocomplete="tel"' in html


def test_choice_refuses_a_value_not_offered():
    spec = one_field(
        "{id: x, type: choice, label: Pour qui, choices: [{value: moi, label: Moi}, "
        "{value: enfant, label: Mon enfant}]}"
    )
    assert _answer(spec, {"x": "enfant"}) == "enfant"
    assert _errors(spec, {"x": "voisin"}) == ["Choisissez une des réponses proposées."]
    assert _errors(spec, {}) == ["Choisissez une réponse."]
    assert 'type="radio"' in str(spec.build_form("p", {})["x"])


def test_long_choice_list_is_a_drop_down():
    choices = ", ".join(f"{{value: c{i}, label: Choix {i}}}" for i in range(9))
    spec = one_field(f"{{id: x, type: choice, label: Lequel, choices: [{choices}]}}")
    assert "<select" in str(spec.build_form("p", {})["x"])


def test_multiple_choice_keeps_the_definition_order():
    spec = one_field(
        "{id: x, type: multiple_choice, label: Langues, choices: [{value: fr, label: Français}, "
        "{value: bm, label: Bamanankan}, {value: ff, label: Fulfulde}]}"
    )
    assert _answer(spec, {"x": ["ff", "fr"]}) == ["fr", "ff"]
    assert _errors(spec, {"x": ["fr", "xx"]}) == ["Choisissez une des réponses proposées."]
    assert _errors(spec, {}) == ["Cochez au moins une case."]


def test_yes_no_gives_a_boolean():
    spec = one_field("{id: x, type: yes_no, label: Êtes-vous né au Mali}")
    assert _answer(spec, {"x": "oui"}) is True
    assert _answer(spec, {"x": "non"}) is False
    assert _errors(spec, {}) == ["Répondez par oui ou par non."]
    assert _errors(spec, {"x": "peut-être"}) == ["Choisissez une des réponses proposées."]


def test_country_list_is_complete_and_starts_with_the_procedure_country():
    spec = one_field("{id: x, type: country, label: Pays}", country="NE")
    assert _answer(spec, {"x": "FR"}) == "FR"
    assert _errors(spec, {"x": "XX"}) == ["Choisissez une des réponses proposées."]
    field = spec.build_form("p", {}).fields["x"]
    assert isinstance(field, forms.ChoiceField)
    codes = [value for value, _label in cast(list[tuple[str, str]], field.choices)]
    assert codes[:2] == ["", "NE"] and len(codes) == 250


def test_region_list_is_the_procedure_country():
    spec = one_field("{id: x, type: region, label: Région}")
    assert _answer(spec, {"x": "kayes"}) == "kayes"
    assert _errors(spec, {"x": "hauts-bassins"}) == ["Choisissez une des réponses proposées."]
    field = spec.build_form("p", {}).fields["x"]
    assert isinstance(field, forms.ChoiceField)
    assert (
        len(cast(list[tuple[str, str]], field.choices)) == 21
    )  # 19 regions + the Bamako district + the blank choice


def test_commune_must_be_in_the_chosen_region_or_typed_in():
    spec = spec_from(
        """
        - id: p
          title: P
          fields:
          - {id: r, type: region, label: Région}
          - {id: x, type: commune, label: Commune, region_field: r}
        """
    )
    assert _answer(spec, {"r": "koulikoro", "x_0": "kati"}) == "kati"
    assert _errors(spec, {"r": "kayes", "x_0": "kati"}) == [
        "Cette commune n'est pas dans la région choisie."
    ]
    assert _answer(spec, {"r": "kayes", "x_0": "_autre", "x_1": " Bafoulabé "}) == {
        "other": "Bafoulabé"
    }
    assert _errors(spec, {"r": "kayes", "x_0": "_autre"}) == ["Écrivez le nom de votre commune."]
    assert _errors(spec, {"r": "kayes", "x_0": "paris"}) == ["Choisissez une commune de la liste."]


def test_commune_list_is_narrowed_by_a_region_answered_earlier():
    spec = spec_from(
        """
        - id: a
          title: A
          fields:
          - {id: r, type: region, label: Région}
        - id: b
          title: B
          fields:
          - {id: x, type: commune, label: Commune, region_field: r}
        """
    )
    html = str(spec.build_form("b", {"r": "bamako"})["x"])
    assert "Bamako – Commune III" in html and "Kati" not in html
    assert "Autre commune" in html


def test_commune_in_a_fixed_region():
    spec = one_field("{id: x, type: commune, label: Arrondissement, region: niamey}", country="NE")
    assert _answer(spec, {"x_0": "niamey-2"}) == "niamey-2"
    assert _errors(spec, {"x_0": "arlit"}) == ["Choisissez une commune de la liste."]


def test_national_id_is_normalised_and_checked_conservatively():
    spec = one_field("{id: x, type: national_id, label: NINA, scheme: nina}")
    assert _answer(spec, {"x": "1 23-45.678 901 a"}) == "12345678901A"
    message = "Vérifiez le numéro : il comporte de 10 à 20 chiffres et lettres, sans autre signe."
    assert _errors(spec, {"x": "12345"}) == [message]
    assert _errors(spec, {"x": "12345#678901"}) == [message]
    assert 'autocapitalize="characters"' in str(spec.build_form("p", {})["x"])


def test_file_field_holds_attachment_references():
    spec = one_field("{id: x, type: file, label: Acte, max_files: 2, accept: [pdf, png]}")
    assert _answer(spec, {"x": ["a1", "a2", "a1"]}) == ["a1", "a2"]
    assert _errors(spec, {"x": ["a1", "a2", "a3"]}) == ["Vous pouvez joindre au plus 2 fichiers."]
    assert _errors(spec, {"x": ["../etc/passwd"]}) == ["Pièce jointe invalide."]
    assert _errors(spec, {}) == ["Joignez ce document."]
    form = spec.build_form("p", {}, data={"x": ["a1"]}, attachments={"a1": "jpeg"})
    assert not form.is_valid()
    assert form.errors["x"] == ["Ce type de fichier n'est pas accepté ici (accepté : PDF, PNG)."]
    form = spec.build_form("p", {}, data={"x": ["zz"]}, attachments={"a1": "pdf"})
    assert form.errors["x"] == ["Pièce jointe introuvable : joignez le fichier de nouveau."]
    form = spec.build_form("p", {}, data={"x": ["a1"]}, attachments={"a1": "pdf"})
    assert form.is_valid() and form.answers == {"x": ["a1"]}
    [rules] = spec.file_rules()
    assert rules.accept_attribute == "application/pdf,.pdf,image/png,.png"
    assert rules.max_size_bytes == 2 * 1024 * 1024


def test_optional_field_says_so_and_may_stay_empty():
    spec = one_field("{id: x, type: email, label: E-mail, required: false}")
    assert _answer(spec, {"x": ""}) is None
    assert spec.build_form("p", {}).fields["x"].label == "E-mail (facultatif)"


def test_explanation_is_displayed_not_asked():
    spec = spec_from(
        """
        - id: p
          title: P
          fields:
          - {id: info, type: explanation, label: À savoir, text: Le tribunal vous appellera.}
          - {id: x, type: text, label: Nom}
        """
    )
    form = spec.build_form("p", {})
    assert list(form.fields) == ["x"]
    info, field = form.layout()
    assert isinstance(info, TextBlock) and info.text == "Le tribunal vous appellera."
    assert isinstance(field, FieldBlock) and field.field.name == "x"


GROUP = """
- id: p
  title: P
  fields:
  - id: enfants
    type: group
    label: Vos enfants
    item_label: Enfant
    min: 1
    max: 3
    fields:
    - {id: prenom, type: text, label: Prénom}
    - {id: scolarise, type: yes_no, label: Est-il scolarisé}
    - {id: ecole, type: text, label: École, show_if: {field: scolarise, equals: true}}
"""


def test_group_items_are_a_list_of_dicts_and_blank_extra_items_are_ignored():
    spec = spec_from(GROUP)
    data = {
        "enfants-count": "2",
        "enfants-0-prenom": "Awa",
        "enfants-0-scolarise": "oui",
        "enfants-0-ecole": "École de Kati",
        "enfants-1-prenom": "",
    }
    assert _answer(spec, data, "enfants") == [
        {"prenom": "Awa", "scolarise": True, "ecole": "École de Kati"}
    ]


def test_group_child_condition_reads_its_own_item():
    spec = spec_from(GROUP)
    data = {
        "enfants-count": "2",
        "enfants-0-prenom": "Awa",
        "enfants-0-scolarise": "non",
        "enfants-0-ecole": "ignorée",
        "enfants-1-prenom": "Moussa",
        "enfants-1-scolarise": "oui",
    }
    valid, errors, _answers = submit(spec, "p", data)
    assert not valid
    assert errors == {"enfants-1-ecole": ["Ce champ est obligatoire."]}


def test_group_min_and_max():
    spec = spec_from(GROUP)
    assert _errors(spec, {"enfants-count": "1"}, "enfants-0-prenom") == [
        "Ce champ est obligatoire."
    ]
    # A posted count above max is clamped: a fourth item is never read.
    data = {"enfants-count": "9"}
    for i in range(4):
        data |= {f"enfants-{i}-prenom": f"E{i}", f"enfants-{i}-scolarise": "non"}
    assert len(_answer(spec, data, "enfants")) == 3
    optional = spec_from(GROUP.replace("min: 1", "min: 2"))
    data = {"enfants-count": "2", "enfants-0-prenom": "Awa", "enfants-0-scolarise": "non"}
    assert _errors(optional, data, "enfants-1-prenom") == ["Ce champ est obligatoire."]


def test_group_item_can_be_removed():
    spec = spec_from(GROUP)
    data = {
        "enfants-count": "2",
        "enfants-0-prenom": "Awa",
        "enfants-0-scolarise": "non",
        "enfants-1-prenom": "Moussa",
        "enfants-1-remove": "on",
    }
    assert _answer(spec, data, "enfants") == [{"prenom": "Awa", "scolarise": False}]


def test_group_shows_stored_items_plus_one_blank():
    spec = spec_from(GROUP)
    stored = {"enfants": [{"prenom": "Awa", "scolarise": False}]}
    form = spec.build_form("p", stored)
    [group] = form.layout()
    assert isinstance(group, GroupBlock)
    assert [item.legend for item in group.items] == ["Enfant 1", "Enfant 2"]
    assert group.items[0].remove is None and group.items[1].remove is not None
    assert group.items[0].blocks[0].field.value() == "Awa"
    assert group.can_add and group.add_label == "Ajouter : enfant"
    assert form["enfants-count"].value() == 2
    # The hint says when the school is asked, since the page cannot hide it without script.
    assert group.items[0].blocks[2].field.label == (
        "École (si vous avez répondu « Oui » à « Est-il scolarisé »)"
    )


def test_phone_check_without_the_phonenumbers_package(monkeypatch):
    from guichet.formdefs import fields

    monkeypatch.setattr(fields, "_phonenumbers", lambda: None)
    assert fields.normalise_phone("76 12 34 56", "ML") == "+22376123456"
    assert fields.normalise_phone("0022790123456", "NE") == "+22790123456"
    assert fields.normalise_phone("+33 6 12 34 56 78", "BF") == "+33612345678"
    assert fields.normalise_phone("12 34", "ML") is None
    assert fields.normalise_phone("+0 12", "ML") is None
