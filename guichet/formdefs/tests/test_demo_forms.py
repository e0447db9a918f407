from __future__ import annotations

from typing import Any

from django.conf import settings
from django.forms import Form

from guichet.catalog.definition import load_definitions
from guichet.formdefs.forms import GroupBlock
from guichet.formdefs.spec import FormSpec, PageSpec
from guichet.formdefs.tests.support import TODAY


def _demo_specs() -> dict[str, FormSpec]:
    definitions = load_definitions([settings.DEMO_PROCEDURES_DIR])
    return {d.id: FormSpec.from_definition(d.data) for d in definitions if d.data.get("form")}


def test_demo_forms_cover_the_three_countries():
    specs = _demo_specs()
    assert len(specs) >= 8
    assert {spec.country for spec in specs.values()} == {"ML", "BF", "NE"}
    types = {f.type for s in specs.values() for p in s.pages for f in p.fields}
    assert {"group", "national_id", "region", "commune", "file", "yes_no"} <= types
    assert any(p.show_if for s in specs.values() for p in s.pages)


def test_every_demo_page_builds_a_django_form_in_fr_and_en():
    for procedure_id, spec in _demo_specs().items():
        for page in spec.pages:
            # Build the page as if its condition held: every answer it depends on is given.
            answers = _answers_showing(spec, page)
            for language in ("fr", "en"):
                form = spec.build_form(page.id, answers, language=language, today=TODAY)
                assert isinstance(form, Form), procedure_id
                assert form.title, (procedure_id, page.id)
                assert form.layout(), (procedure_id, page.id)
                html = form.as_div()
                assert "<script" not in html


def test_every_file_field_links_a_catalog_document_when_the_catalog_lists_some():
    for procedure_id, spec in _demo_specs().items():
        for rules in spec.file_rules():
            if spec.documents and rules.path[-1] not in ("documents_joints", "justificatif_tiers"):
                assert rules.document is not None, (procedure_id, rules.path)


def test_a_demo_group_renders_its_items():
    spec = _demo_specs()["bf-creation-entreprise"]
    form = spec.build_form("associes", {"forme_juridique": "societe"}, today=TODAY)
    [group] = form.layout()
    assert isinstance(group, GroupBlock) and len(group.items) == 1


def _answers_showing(spec: FormSpec, page: PageSpec) -> dict[str, Any]:
    """Answers under which `page` is visible: its condition, else its first field's, holds."""
    answers: dict[str, Any] = {}
    conditions = [page.show_if] + [f.show_if for f in page.fields if f.show_if][:1]
    for condition in filter(None, conditions):
        if spec.is_visible(page.id, answers):
            break
        # The demo conditions are {field, equals} and {field, in}.
        answers[condition["field"]] = condition.get("equals", (condition.get("in") or [None])[0])
    assert spec.is_visible(page.id, answers), page.id
    return answers
