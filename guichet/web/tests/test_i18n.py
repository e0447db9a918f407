"""Languages of the interface: French msgids, a complete English catalog, national languages
that fall back to French, committed .mo files that match their .po."""

from __future__ import annotations

import io
import re
from pathlib import Path

import polib
from django.conf import settings
from django.core.management import call_command
from django.utils import translation

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
EXPECTED_PLURAL_FORMS = {
    "fr": "nplurals=2; plural=(n > 1);",
    "en": "nplurals=2; plural=(n != 1);",
    "bm": "nplurals=1; plural=0;",
    "mos": "nplurals=1; plural=0;",
}


def _locale_dir() -> Path:
    return Path(settings.LOCALE_PATHS[0])


def _po_paths() -> list[Path]:
    return sorted(_locale_dir().glob("*/LC_MESSAGES/django.po"))


def _po(code: str) -> polib.POFile:
    return polib.pofile(str(_locale_dir() / code / "LC_MESSAGES" / "django.po"))


def _pairs(entries: list[polib.POEntry] | polib.MOFile) -> set[tuple[object, ...]]:
    """What gettext will answer: (context, msgid, plural msgid, translations)."""
    pairs: set[tuple[object, ...]] = set()
    for e in entries:
        if e.msgid == "":
            continue  # the header, compared separately
        translations = (
            tuple(e.msgstr_plural[i] for i in sorted(e.msgstr_plural))
            if e.msgid_plural
            else (e.msgstr,)
        )
        pairs.add((e.msgctxt or "", e.msgid, e.msgid_plural or "", translations))
    return pairs


def test_every_offered_language_but_french_has_a_catalog_with_correct_headers():
    codes = {path.parts[-3] for path in _po_paths()}
    offered = {code for code, _name in settings.LANGUAGES} - {settings.LANGUAGE_CODE}
    assert offered <= codes
    for code in codes:
        po = _po(code)
        assert po.metadata["Language"] == code
        assert po.metadata["Plural-Forms"] == EXPECTED_PLURAL_FORMS[code]
        assert not po.metadata_is_fuzzy, code


def test_english_catalog_is_complete():
    po = _po("en")
    assert len(po) > 50
    assert [e.msgid for e in po if e.fuzzy] == []
    assert [e.msgid for e in po if e.obsolete] == []
    assert [e.msgid for e in po if not e.translated()] == []


def test_every_mo_file_is_up_to_date_with_its_po():
    assert _po_paths()
    for po_path in _po_paths():
        mo_path = po_path.with_suffix(".mo")
        assert mo_path.exists(), f"{mo_path} missing: run `manage.py compile_catalogs`"
        po = polib.pofile(str(po_path))
        mo = polib.mofile(str(mo_path))
        assert _pairs(mo) == _pairs(po.translated_entries()), (
            f"{mo_path} is stale: run `manage.py compile_catalogs`"
        )
        assert mo.metadata["Plural-Forms"] == po.metadata["Plural-Forms"]


def test_placeholders_are_the_same_in_msgid_and_msgstr():
    for po_path in _po_paths():
        for e in polib.pofile(str(po_path)):
            if e.msgid_plural:
                # Languages with one form use the plural sentence; both carry the same names.
                expected = set(PLACEHOLDER.findall(e.msgid_plural))
                assert set(PLACEHOLDER.findall(e.msgid)) == expected, e.msgid
                translations = [s for s in e.msgstr_plural.values() if s]
            else:
                expected = set(PLACEHOLDER.findall(e.msgid))
                translations = [e.msgstr] if e.msgstr else []
            for text in translations:
                assert set(PLACEHOLDER.findall(text)) == expected, f"{po_path}: {text!r}"


def test_compile_catalogs_writes_mo_files_without_fuzzy_entries(tmp_path, settings):
    messages = tmp_path / "xx" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    (messages / "django.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
        '"Plural-Forms: nplurals=1; plural=0;\\n"\n\n'
        'msgid "Rechercher"\nmsgstr "Search"\n\n'
        '#, fuzzy\nmsgid "Langue"\nmsgstr "Tongue"\n\n'
        'msgid "Pays"\nmsgstr ""\n',
        encoding="utf-8",
    )
    settings.LOCALE_PATHS = [tmp_path]
    out = io.StringIO()
    call_command("compile_catalogs", stdout=out)

    assert "1 traduction(s) sur 3" in out.getvalue()

    mo = polib.mofile(str(messages / "django.mo"))
    assert {e.msgid: e.msgstr for e in mo} == {"Rechercher": "Search"}


def test_national_languages_are_known_to_django():
    assert translation.check_for_language("bm")
    assert translation.check_for_language("mos")
    assert translation.get_language_info("mos")["name_local"] == "Mòoré"
    assert translation.get_language_info("bm")["name_local"] == "Bamanankan"


def test_english_pages_show_english_interface_and_procedure_title(client, demo_catalog):
    html = client.get("/en/").content.decode()
    assert '<html lang="en"' in html
    assert '<label for="q">Which procedure are you looking for?</label>' in html
    assert "Quelle démarche cherchez-vous" not in html

    html = client.get("/en/demarches/ml-passeport/").content.decode()
    assert '<html lang="en"' in html
    assert "<h1>Ordinary biometric passport (AES e-passport)</h1>" in html
    assert '<h2 id="pieces">Documents required</h2>' in html
    assert "Passeport biométrique ordinaire" not in html


def test_bambara_page_falls_back_to_french_never_to_english(client, demo_catalog):
    html = client.get("/bm/demarches/ml-passeport/").content.decode()
    assert '<html lang="bm"' in html
    # The Bambara catalog is in use for what it translates...
    language_entry = _po("bm").find("Langue")
    assert language_entry is not None
    assert f'aria-label="{language_entry.msgstr or "Langue"}"' in html
    # ...and French shows for the rest, both interface text and the procedure title.
    # The French fallback is marked so a screen reader reads it in French.
    assert (
        '<h1><span lang="fr">Passeport biométrique ordinaire (e-passeport AES)</span></h1>' in html
    )
    assert '<h2 id="pieces">Pièces à fournir</h2>' in html
    assert "est un service public" in html
    assert "Ordinary biometric passport" not in html
    assert "Documents required" not in html
    assert "is a public service" not in html


def test_language_links_point_at_the_same_page_in_each_language(client, demo_catalog):
    html = client.get("/demarches/ml-passeport/").content.decode()
    footer = html[html.index("<footer>") :]
    for code, url in [
        ("fr", "/demarches/ml-passeport/"),
        ("en", "/en/demarches/ml-passeport/"),
        ("bm", "/bm/demarches/ml-passeport/"),
        ("mos", "/mos/demarches/ml-passeport/"),
    ]:
        assert f'<a href="{url}" hreflang="{code}" lang="{code}"' in footer
    assert 'hreflang="fr" lang="fr" aria-current="true"' in footer

    footer = client.get("/mos/demarches/ml-passeport/").content.decode()
    assert '<a href="/demarches/ml-passeport/" hreflang="fr"' in footer
    assert 'hreflang="mos" lang="mos" aria-current="true">Mòoré</a>' in footer
