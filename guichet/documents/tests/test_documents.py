"""Issued documents: what is printed is what is signed, and anyone can check it."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from pypdf import PdfReader

from conftest import make_staff
from guichet.documents import codes, render, services
from guichet.documents.codes import Claims
from guichet.documents.models import IssuedDocument, SigningKey
from guichet.documents.verify import KeySet, Outcome, verify_any, verify_code, verify_pdf
from guichet.dossiers.models import DossierStatus
from guichet.governance.models import AuditEntry
from guichet.workflow import services as workflow

pytestmark = pytest.mark.django_db


def decide(dossier, actor, to=DossierStatus.ACCEPTED, reason=""):
    if dossier.status == DossierStatus.SUBMITTED:
        workflow.transition(dossier=dossier, to=DossierStatus.IN_REVIEW, actor=actor)
    return workflow.transition(dossier=dossier, to=to, actor=actor, reason=reason)


@pytest.fixture
def issued(submitted_dossier, staff_user):
    dossier, _ = submitted_dossier
    staff_user.first_name, staff_user.last_name = "Moussa", "Diarra"
    staff_user.save()
    decide(dossier, staff_user)
    return IssuedDocument.objects.get(dossier=dossier)


def pdf_bytes(document: IssuedDocument) -> bytes:
    with document.file.open("rb") as handle:
        data: bytes = handle.read()
    return data


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def keyset() -> KeySet:
    return services.published_keyset()


def resigned(code: str, **changes) -> str:
    """The code with some printed values changed and the original signature kept."""
    claims, _, signature = codes.decode(code)
    return codes.encode(dataclasses.replace(claims, **changes).message(), signature)


def test_accepting_issues_one_signed_a4_page_that_prints_the_signed_text(issued):
    data = pdf_bytes(issued)
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    assert len(data) <= 60 * 1024
    claims, _, _ = codes.decode(issued.code)
    text = pdf_text(data)
    for value in (claims.title, claims.number, claims.holder, claims.issuer, claims.signer):
        assert value in text
    assert claims.holder == "Awa Traoré" and claims.signer == "Moussa Diarra"
    assert ("Né(e) le", "12/03/2019") in claims.fields
    assert ("Commune de naissance", "Commune III") in claims.fields or any(
        "III" in v for _, v in claims.fields
    )
    for label, value in claims.fields:
        assert f"{label} : {value}" in text
    assert issued.dossier.status == DossierStatus.ACCEPTED
    assert AuditEntry.objects.filter(action="document.issued", object_id=str(issued.pk)).exists()


def test_the_qr_prints_well_at_three_centimetres(issued):
    from django.conf import settings

    qr = render.make_qr(codes.code_url(settings.GUICHET_PUBLIC_URL, issued.code))
    modules = qr.symbol_size(scale=1, border=0)[0]
    assert qr.mode == "alphanumeric"
    assert isinstance(qr.version, int) and qr.version <= 13
    assert 30 / modules >= 0.43  # millimetres per module: easy for a phone camera


def test_a_genuine_document_verifies_from_its_code_its_url_and_its_pdf(issued):
    from django.conf import settings

    keys = keyset()
    for text in (issued.code, codes.code_url(settings.GUICHET_PUBLIC_URL, issued.code)):
        verdict = verify_code(text, keys)
        assert verdict.outcome == Outcome.AUTHENTIC
        assert verdict.claims.number == issued.number
        assert verdict.key.authority_id == issued.dossier.service.authority_id
    assert verify_pdf(pdf_bytes(issued), keys).outcome == Outcome.AUTHENTIC


def test_changing_any_printed_value_breaks_the_signature(issued):
    keys = keyset()
    claims, _, _ = codes.decode(issued.code)
    changes: list[dict[str, Any]] = [
        {"number": claims.number[:-1] + "9"},
        {"title": "Certificat de nationalité"},
        {"holder": "Awa Traore"},
        {"issuer": "Tribunal de Bamako"},
        {"signer": "Quelqu'un d'autre"},
        {"issued_on": "01/01/2020"},
        {"kind": "R"},
    ]
    for i, (label, _value) in enumerate(claims.fields):
        fields = list(claims.fields)
        fields[i] = (label, "autre chose")
        changes.append({"fields": tuple(fields)})
    changes.append({"fields": claims.fields[:-1]})  # a line removed
    for change in changes:
        verdict = verify_code(resigned(issued.code, **change), keys)
        assert verdict.outcome == Outcome.ALTERED, change
        assert verdict.claims is None  # forged text is never shown as the document's


def test_a_changed_key_id_or_signature_fails_with_the_right_message(issued, demo_organisation):
    keys = keyset()
    other = SigningKey.objects.exclude(pk=issued.key_id).first()
    assert verify_code(resigned(issued.code, kid="AAAAAAAA"), keys).outcome == Outcome.UNKNOWN_KEY
    assert verify_code(resigned(issued.code, kid=other.kid), keys).outcome == Outcome.ALTERED
    claims, message, signature = codes.decode(issued.code)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert verify_code(codes.encode(message, flipped), keys).outcome == Outcome.ALTERED
    assert verify_code(issued.code[:-10], keys).outcome in (Outcome.ALTERED, Outcome.UNREADABLE)
    assert verify_code("bonjour", keys).outcome == Outcome.UNREADABLE
    assert verify_code("", keys).outcome == Outcome.UNREADABLE


def test_one_changed_byte_anywhere_in_the_pdf_is_detected(issued):
    keys = keyset()
    data = pdf_bytes(issued)
    seal_at = data.rfind(codes.SIG_LINE)
    positions = [0, 100, len(data) // 3, len(data) // 2, seal_at - 20, seal_at - 2]
    for at in positions:
        changed = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]
        assert verify_pdf(changed, keys).outcome in (Outcome.ALTERED, Outcome.UNREADABLE), at
    without_seal = data[: data.rfind(codes.CODE_LINE)]
    assert verify_pdf(without_seal, keys).outcome == Outcome.UNREADABLE


def test_a_pdf_sealed_by_an_unknown_key_is_reported_as_such(issued):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = pdf_bytes(issued)
    body = data[: data.rfind(codes.CODE_LINE)]
    forger = Ed25519PrivateKey.generate()
    forged = codes.seal_pdf(body, issued.code, "ZZZZZZZZ", forger.sign)
    assert verify_pdf(forged, keyset()).outcome == Outcome.UNKNOWN_KEY


def test_a_cancelled_document_shows_as_cancelled_online_and_in_the_saved_key_set(
    issued, supervisor, staff_user
):
    with pytest.raises(services.DocumentError):
        services.revoke(document=issued, actor=staff_user, reason="erreur")  # agents may not
    with pytest.raises(services.DocumentError):
        services.revoke(document=issued, actor=supervisor, reason="  ")
    services.revoke(document=issued, actor=supervisor, reason="Erreur sur le nom")
    verdict = verify_code(issued.code, keyset())
    assert verdict.outcome == Outcome.REVOKED and verdict.revoked_on
    saved = KeySet.from_json(json.loads(json.dumps(keyset().as_json())))
    assert verify_pdf(pdf_bytes(issued), saved).outcome == Outcome.REVOKED


def test_a_revoked_key_shows_as_revoked(issued):
    services.revoke_key(key=issued.key, actor="test", reason="clé volée")
    assert verify_code(issued.code, keyset()).outcome == Outcome.KEY_REVOKED


def test_a_document_signed_before_a_rotation_still_verifies(issued, submitted_dossier, staff_user):
    old_kid = issued.key_id
    authority = issued.key.authority
    new_key = services.create_key(authority=authority, actor="test")
    assert new_key.kid != old_kid
    assert SigningKey.objects.get(pk=old_kid).status == SigningKey.Status.RETIRED
    assert verify_code(issued.code, keyset()).outcome == Outcome.AUTHENTIC
    # A decision taken after the rotation is signed with the new key.
    dossier = issued.dossier
    boss = make_staff("chef", ("supervisor", dossier.service_id))
    workflow.transition(dossier=dossier, to=DossierStatus.IN_REVIEW, actor=boss, reason="revoir")
    assert verify_code(issued.code, keyset()).outcome == Outcome.REVOKED  # reopening cancels it
    workflow.transition(dossier=dossier, to=DossierStatus.ACCEPTED, actor=staff_user)
    second = dossier.documents.exclude(pk=issued.pk).get()
    assert second.number.endswith("-2") and second.key_id == new_key.kid
    assert verify_code(second.code, keyset()).outcome == Outcome.AUTHENTIC


def test_without_its_private_key_a_decision_is_refused_and_nothing_changes(
    submitted_dossier, staff_user, settings, tmp_path
):
    dossier, _ = submitted_dossier
    workflow.transition(dossier=dossier, to=DossierStatus.IN_REVIEW, actor=staff_user)
    settings.SIGNING_KEYS_DIR = tmp_path / "empty"
    with pytest.raises(services.DocumentError, match="introuvable"):
        workflow.transition(dossier=dossier, to=DossierStatus.ACCEPTED, actor=staff_user)
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.IN_REVIEW
    assert not dossier.documents.exists()
    SigningKey.objects.filter(authority=dossier.service.authority).update(status="retired")
    with pytest.raises(services.DocumentError, match="Aucune clé de signature"):
        workflow.transition(dossier=dossier, to=DossierStatus.ACCEPTED, actor=staff_user)


def test_the_start_up_check_names_a_key_whose_private_half_is_missing(
    demo_organisation, settings, tmp_path
):
    from django.core.management import CommandError

    settings.SIGNING_KEYS_DIR = tmp_path / "empty"
    with pytest.raises(CommandError) as raised:
        call_command("check", databases=["default"])
    assert "guichet.documents.E001" in str(raised.value)
    from guichet.documents.checks import check_signing_keys

    errors = check_signing_keys(databases=["default"])
    assert errors and all(e.id == "guichet.documents.E001" for e in errors)
    assert str(tmp_path / "empty") in errors[0].msg


def test_a_refusal_letter_prints_the_reason_and_signs_its_fingerprint(
    submitted_dossier, staff_user
):
    dossier, _ = submitted_dossier
    reason = "Le volet n°2 est illisible : envoyez une photo nette."
    decide(dossier, staff_user, DossierStatus.REJECTED, reason)
    letter = dossier.documents.get()
    assert letter.kind == IssuedDocument.Kind.REFUSAL
    claims, _, _ = codes.decode(letter.code)
    assert ("Empreinte du motif", services.reason_fingerprint(reason)) in claims.fields
    text = pdf_text(pdf_bytes(letter))
    assert "illisible" in text and claims.holder in text
    assert verify_pdf(pdf_bytes(letter), keyset()).outcome == Outcome.AUTHENTIC


def test_the_national_language_letters_are_printed_with_the_shipped_font(issued):
    claims = dataclasses.replace(
        codes.decode(issued.code)[0], holder="Ɓɛɛ Ɲɔŋ Ɗƴ Kɔnɛ", fields=(("Lieu", "Sɛgu"),)
    )
    page = render.Page(claims=claims, qr_text="HTTP://X/V/AB", country="Mali", authority="Mairie")
    text = pdf_text(render.render(page))
    assert "Ɓɛɛ Ɲɔŋ Ɗƴ Kɔnɛ" in text and "Sɛgu" in text


def test_the_command_verifies_offline_with_a_saved_key_set(issued, tmp_path, capsys):
    saved = tmp_path / "cles.json"
    call_command("signing_keys", "export", str(saved))
    pdf = tmp_path / "document.pdf"
    pdf.write_bytes(pdf_bytes(issued))
    out = io.StringIO()
    call_command("verify_document", str(pdf), "--keys", str(saved), stdout=out)
    assert "Authentique" in out.getvalue() and "Awa Traoré" in out.getvalue()
    out = io.StringIO()
    call_command("verify_document", issued.code, "--keys", str(saved), stdout=out)
    assert "Authentique" in out.getvalue()
    pdf.write_bytes(pdf_bytes(issued).replace(b"/Type /Page", b"/Type /Pagf", 1))
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_document", str(pdf), "--keys", str(saved), stdout=out)
    assert exit_.value.code == 1 and "Modifié ou falsifié" in out.getvalue()


def test_verify_any_takes_a_pdf_or_a_code(issued):
    keys = keyset()
    assert verify_any(pdf_bytes(issued), keys).is_authentic
    assert verify_any(issued.code.encode(), keys).is_authentic
    assert verify_any(b"\xff\xfe", keys).outcome == Outcome.UNREADABLE


def test_a_template_may_print_only_answers_of_the_form():
    from django.conf import settings

    from guichet.catalog.definition import DefinitionSetError, parse_definition

    path = settings.DEMO_PROCEDURES_DIR / "ml" / "ml-extrait-acte-naissance.yaml"
    text = path.read_text().replace("field: numero_volet}", "field: volet_2}")
    with pytest.raises(DefinitionSetError, match="volet_2"):
        parse_definition(text, "test.yaml")


def test_claims_strip_control_characters_so_fields_cannot_be_smuggled():
    claims = Claims("K", "N\x1e1", "A", "01/01/2026", "T", "A\x1fB", "S", "P", (("L", "v\x1ex"),))
    parsed = codes.parse_message(claims.message())
    assert parsed.number == "N 1" and parsed.holder == "A B" and parsed.fields == (("L", "v x"),)


def test_the_deploy_check_warns_when_qr_codes_would_point_nowhere(settings):
    from guichet.documents.checks import check_public_url

    settings.GUICHET_PUBLIC_URL = "http://localhost:8000"
    assert [w.id for w in check_public_url()] == ["guichet.documents.W001"]
    settings.GUICHET_PUBLIC_URL = "https://guichet.gouv.ml"
    assert check_public_url() == []


def test_a_code_that_does_not_inflate_or_inflates_too_much_is_unreadable(issued):
    keys = keyset()
    signature = codes.decode(issued.code)[2]
    bomb = codes.encode(b"G1" + b"\x1e" * 10 + b"x" * 20_000, signature)
    not_deflate = base64.b32encode(b"\xff" * 40 + signature).decode().rstrip("=")
    assert verify_code(bomb, keys).outcome == Outcome.UNREADABLE
    assert verify_code(not_deflate, keys).outcome == Outcome.UNREADABLE


def test_the_key_command_lists_rotates_and_revokes(demo_organisation):
    from django.core.management import CommandError

    before = SigningKey.objects.get(authority_id="ml-tribunal", status="active")
    out = io.StringIO()
    call_command("signing_keys", "create", "ml-tribunal", stdout=out)
    after = SigningKey.objects.get(authority_id="ml-tribunal", status="active")
    assert after.kid in out.getvalue() and after.kid != before.kid
    call_command("signing_keys", "revoke", before.kid, "--reason", "perdue", stdout=out)
    listing = io.StringIO()
    call_command("signing_keys", "list", stdout=listing)
    assert f"{before.kid}  ml-tribunal" in listing.getvalue() and "revoked" in listing.getvalue()
    with pytest.raises(CommandError, match="Autorité inconnue"):
        call_command("signing_keys", "create", "nulle-part")
    with pytest.raises(CommandError, match="Clé inconnue"):
        call_command("signing_keys", "revoke", "NOPE", "--reason", "x")
    assert AuditEntry.objects.filter(action="signing_key.revoked", object_id=before.kid).exists()
