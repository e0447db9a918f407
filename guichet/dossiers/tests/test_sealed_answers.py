"""Sensitive answers are encrypted at rest with a key outside the database, can be
rotated, and are masked for those who do not decide on the dossier (core/sealing.py)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.core.management import call_command
from django.db import connection, transaction

from conftest import BIRTH_EXTRACT_ANSWERS
from guichet.core import sealing
from guichet.dossiers.models import Dossier
from guichet.governance.models import AuditEntry

NINA = "12345678901234A"


def stored(dossier: Dossier) -> str:
    """The answers column as the database holds it (what a dump or a backup shows)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT answers FROM dossiers_dossier WHERE id = %s", [dossier.pk])
        value = cursor.fetchone()[0]
    return value if isinstance(value, str) else json.dumps(value)


@pytest.fixture
def ring_file(tmp_path, settings):
    """A key ring of its own for the test, made on first use."""
    settings.FIELD_KEY_RING = tmp_path / "keys" / "field-keys.json"
    settings.FIELD_KEYS = ""
    yield settings.FIELD_KEY_RING
    sealing._ring = None


@pytest.fixture
def with_nina(ring_file, submitted_dossier):
    dossier, _ = submitted_dossier
    dossier.answers = {**dossier.answers, "nina": NINA}
    dossier.save(update_fields=["answers"])
    return dossier


def test_a_sensitive_answer_is_not_in_the_database_in_clear_and_reads_back_whole(with_nina):
    raw = stored(with_nina)
    assert NINA not in raw and NINA[:8] not in raw
    assert '"$sealed"' in raw
    # The other answers stay readable in the database (routing, name, search use them).
    assert "Traoré" in raw or "Traor\\u00e9" in raw
    again = Dossier.objects.get(pk=with_nina.pk)
    assert again.answers["nina"] == NINA
    assert again.answers["nom"] == BIRTH_EXTRACT_ANSWERS["nom"]
    # The keys are in their own file, readable by its owner only.
    assert sealing.key_file().stat().st_mode & 0o077 == 0


def test_a_draft_page_with_a_sensitive_answer_is_sealed_too(ring_file, draft_with_file, client):
    dossier, _ = draft_with_file
    client.force_login(dossier.applicant)
    from guichet.dossiers import services

    services.save_page(
        dossier=dossier,
        page_id="demandeur",
        page_answers={**_demandeur_page(), "nina": NINA},
        actor=dossier.applicant,
    )
    assert NINA not in stored(dossier)
    assert Dossier.objects.get(pk=dossier.pk).answers["nina"] == NINA


def _demandeur_page() -> dict[str, object]:
    keys = ("demandeur_nom", "demandeur_prenoms", "lien_enfant")
    return {k: BIRTH_EXTRACT_ANSWERS[k] for k in keys}


def test_a_sealed_value_moved_to_another_dossier_does_not_open(with_nina, other_citizen):
    raw = json.loads(stored(with_nina))
    other = Dossier.objects.create(
        reference="ML-ZZZZ-ZZZZ",
        procedure=with_nina.procedure,
        version=with_nina.version,
        applicant=other_citizen,
    )
    Dossier.objects.filter(pk=other.pk).update(answers={"nina": raw["nina"]})
    with pytest.raises(sealing.SealingError, match="does not open"):
        Dossier.objects.get(pk=other.pk)


def test_rotation_reseals_with_the_new_key_then_the_old_one_can_be_retired(with_nina, capsys):
    first = sealing.ring().current
    call_command("field_keys", "rotate")
    second = sealing.ring().current
    assert second != first
    # Still readable: the old key stays in the ring until every value left it.
    assert Dossier.objects.get(pk=with_nina.pk).answers["nina"] == NINA
    with pytest.raises(Exception, match="chiffre encore 1"):
        call_command("field_keys", "retire", first)
    call_command("field_keys", "reseal", "--dry-run")
    assert "1 dossier(s) à rechiffrer" in capsys.readouterr().out
    call_command("field_keys", "reseal")
    assert f'"{sealing.MARK}": "{second}.' in stored(with_nina).replace('":"', '": "')
    call_command("field_keys", "retire", first)
    assert first not in sealing.ring().keys
    assert Dossier.objects.get(pk=with_nina.pk).answers["nina"] == NINA
    call_command("field_keys", "list")
    assert re.search(rf"{second}\s+courante.*1 réponse", capsys.readouterr().out)
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"field_keys.rotated", "field_keys.resealed", "field_keys.retired"} <= actions


def test_without_the_key_ring_nothing_is_read_or_written_in_clear(with_nina, settings):
    settings.FIELD_KEY_RING = Path(settings.FIELD_KEY_RING).with_name("missing.json")
    settings.FIELD_KEYS_AUTO_CREATE = False
    with pytest.raises(sealing.SealingError, match="No field key ring"):
        Dossier.objects.get(pk=with_nina.pk)
    with_nina.answers = {**with_nina.answers, "nina": "99999999999"}
    with pytest.raises(sealing.SealingError), transaction.atomic():
        with_nina.save(update_fields=["answers"])
    assert "99999999999" not in stored(with_nina)
    # And the platform refuses to start (`serve`, `migrate` run the database checks).
    errors = [e for e in run_checks(databases=["default"]) if e.id == "guichet.core.E001"]
    assert errors and "ml-extrait-acte-naissance" in errors[0].msg


def test_no_code_writes_answers_around_the_sealing_field():
    """`QuerySet.update` and `bulk_update` skip `pre_save`: they would store in clear."""
    root = Path(settings.BASE_DIR) / "guichet"
    offenders = []
    for path in root.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        text = path.read_text()
        if re.search(r"\.update\([^)]*\banswers\s*=", text) or re.search(
            r"bulk_update\([^)]*answers", text
        ):
            offenders.append(str(path))
    assert offenders == []


def test_the_key_ring_is_never_committed():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=settings.BASE_DIR, capture_output=True, text=True
    ).stdout
    assert "field-keys.json" not in tracked


def test_agents_of_the_service_see_a_sensitive_answer_and_an_auditor_sees_it_masked(
    with_nina, client, staff_user
):
    from conftest import make_staff
    from guichet.web.tests.staff import verified_login

    page = f"/instruction/dossiers/{with_nina.reference}/"
    verified_login(client, staff_user)
    assert NINA in client.get(page).content.decode()
    client.logout()
    auditor = make_staff("auditeur", ("auditor", "ml-mairie-etat-civil"))
    verified_login(client, auditor)
    client.post(f"{page}motif/", {"purpose": "audit"})
    html = client.get(page).content.decode()
    assert "Votre NINA" in html and "••••4A" in html
    assert NINA not in html and NINA[:6] not in html
