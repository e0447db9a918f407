from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from guichet.catalog.definition import (
    SCHEMA_PATH,
    DefinitionSetError,
    dump_definition,
    load_definitions,
    parse_definition,
)
from guichet.catalog.models import Procedure, ProcedureVersion, Theme
from guichet.catalog.services import import_definitions
from guichet.governance.models import AuditEntry

DEMO = settings.DEMO_PROCEDURES_DIR
CASIER = DEMO / "ml" / "ml-casier-judiciaire.yaml"


def _copy(tmp_path: Path, source: Path, *replacements: tuple[str, str]) -> Path:
    text = source.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    target = tmp_path / source.name
    target.write_text(text, encoding="utf-8")
    return target


def _errors(path: Path) -> list[str]:
    with pytest.raises(DefinitionSetError) as excinfo:
        load_definitions([path])
    return [str(e) for e in excinfo.value.errors]


def test_all_demo_procedures_are_valid():
    definitions = load_definitions([DEMO])
    assert len(definitions) == 45
    assert {d.data["country"] for d in definitions} == {"ML", "BF", "NE"}


def test_wrong_type_names_file_line_and_field(tmp_path):
    bad = _copy(tmp_path, CASIER, ("amount_xof: 750", "amount_xof: mille"))
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if "mille" in t)
    assert _errors(bad) == [
        f'{bad}:{line}: fees.amount_xof : attendu un nombre entier, trouvé "mille"'
    ]


def test_missing_field_and_unknown_field_are_both_reported(tmp_path):
    bad = _copy(tmp_path, CASIER, ("confidence: found\n", "confiance: found\n"))
    errors = _errors(bad)
    assert any("confiance : champ inconnu" in e for e in errors)
    assert any("confidence : champ obligatoire manquant" in e for e in errors)


def test_error_inside_a_list_points_at_the_item(tmp_path):
    bad = _copy(tmp_path, CASIER, ("- https://guindo.ml/justice/", "- guindo.ml/justice"))
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if "- guindo" in t)
    [error] = _errors(bad)
    assert error.startswith(f"{bad}:{line}: sources[0] : format invalide")


def test_unreadable_yaml_gives_the_line(tmp_path):
    bad = tmp_path / "ml-x.yaml"
    bad.write_text("id: ml-x\ntitle: [unclosed\ncountry: ML\n", encoding="utf-8")
    [error] = _errors(bad)
    assert error.startswith(f"{bad}:") and "YAML illisible" in error


def test_id_must_match_country_and_file_name(tmp_path):
    bad = _copy(tmp_path, CASIER, ("country: ML", "country: NE"))
    errors = _errors(bad)
    assert any("le pays est NE" in e for e in errors)


def test_fixed_fee_needs_an_amount(tmp_path):
    bad = _copy(tmp_path, CASIER, ("  amount_xof: 750\n", ""))
    [error] = _errors(bad)
    assert "fees.kind : un tarif fixe (fixed) demande un montant" in error


def test_duplicate_ids_in_one_set_are_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _copy(tmp_path / "a", CASIER)
    _copy(tmp_path / "b", CASIER)
    errors = _errors(tmp_path)
    assert any("déjà utilisé" in e for e in errors)


def test_schema_themes_match_the_theme_choices():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["properties"]["theme"]["enum"] == list(Theme.values)


def test_export_then_parse_gives_the_same_content():
    definitions = load_definitions([DEMO])
    # The online forms take part in the round trip: texts, conditions, groups, files.
    assert sum(1 for d in definitions if d.data.get("form")) >= 8
    for definition in definitions:
        again = parse_definition(dump_definition(definition.data), definition.source)
        assert again.content_hash == definition.content_hash
        assert again.data == definition.data


def _reversed_keys(value):
    if isinstance(value, dict):
        return {k: _reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_keys(v) for v in value]
    return value


def test_export_does_not_depend_on_the_order_the_database_kept():
    """PostgreSQL's jsonb reorders keys: the exported file must not change with it."""
    for definition in load_definitions([DEMO]):
        text = dump_definition(definition.data)
        assert dump_definition(_reversed_keys(definition.data)) == text
        assert text.startswith(f"format: 1\nid: {definition.id}\n")


def test_form_texts_are_normalised_like_the_rest():
    by_id = {d.id: d.data for d in load_definitions([DEMO])}
    form = by_id["ml-extrait-acte-naissance"]["form"]
    assert form["pages"][0]["title"] == {"fr": "Votre demande"}
    assert form["pages"][0]["fields"][0]["choices"][1]["label"] == {
        "fr": "Des copies de l'acte de naissance"
    }
    assert set(form["privacy"]) == {"purpose", "legal_basis", "retention", "recipients"}


def test_form_error_names_file_line_and_field(tmp_path):
    source = DEMO / "ml" / "ml-extrait-acte-naissance.yaml"
    bad = _copy(tmp_path, source, ("      type: number\n", "      type: nombre\n"))
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if "type: nombre" in t)
    [error] = _errors(bad)
    assert error.startswith(
        f'{bad}:{line}: form.pages[0].fields[1].type : valeur "nombre" non reconnue ; '
    )


@pytest.mark.django_db
def test_import_of_a_set_with_one_bad_file_changes_nothing(tmp_path):
    _copy(tmp_path, DEMO / "bf" / "bf-cnib.yaml")
    _copy(tmp_path, CASIER, ("theme: justice", "theme: sport"))
    with pytest.raises(CommandError, match="rien n'a été importé"):
        call_command("procedures", "import", str(tmp_path))
    assert Procedure.objects.count() == 0
    assert AuditEntry.objects.count() == 0


@pytest.mark.django_db
def test_reimporting_the_same_files_is_a_no_op(demo_catalog):
    versions = ProcedureVersion.objects.count()
    report = import_definitions(definitions=load_definitions([DEMO]), actor="test")
    assert report.changed == 0 and len(report.unchanged) == 45
    assert ProcedureVersion.objects.count() == versions == 45


@pytest.mark.django_db
def test_a_changed_file_makes_a_new_version_and_keeps_the_old(tmp_path, demo_catalog, client):
    changed = _copy(tmp_path, CASIER, ("amount_xof: 750", "amount_xof: 1000"))
    call_command("procedures", "import", str(changed))
    procedure = Procedure.objects.get(pk="ml-casier-judiciaire")
    assert procedure.current_version.number == 2
    assert procedure.definition["fees"]["amount_xof"] == 1000
    old = procedure.versions.get(number=1)
    assert old.definition["fees"]["amount_xof"] == 750
    assert (
        AuditEntry.objects.filter(
            action="procedure.imported", object_id="ml-casier-judiciaire"
        ).count()
        == 2
    )
    # Both versions stay readable by the public.
    assert "1\xa0000\xa0FCFA" in client.get("/demarches/ml-casier-judiciaire/").content.decode()
    assert (
        "750\xa0FCFA" in client.get("/demarches/ml-casier-judiciaire/versions/1/").content.decode()
    )


@pytest.mark.django_db
def test_validate_command_imports_nothing(tmp_path, capsys):
    call_command("procedures", "validate", str(DEMO))
    assert "45 définition(s) valide(s)" in capsys.readouterr().out
    assert Procedure.objects.count() == 0


@pytest.mark.django_db
def test_export_writes_files_that_reimport_as_no_op(tmp_path, demo_catalog):
    call_command("procedures", "export", "--output", str(tmp_path))
    assert len(list(tmp_path.rglob("*.yaml"))) == 45
    report = import_definitions(definitions=load_definitions([tmp_path]), actor="test")
    assert report.changed == 0


def test_unknown_stays_unknown_never_invented():
    by_id = {d.id: d.data for d in load_definitions([DEMO])}
    assert by_id["ml-jugement-suppletif"]["fees"] == {"kind": "unknown"}
    assert by_id["ml-jugement-suppletif"]["delay"]["text"] is None
    assert by_id["bf-cnib"]["fees"] == {"kind": "fixed", "amount_xof": 2500}
