"""Retention with a pinned clock: what goes when, what stays, what is redacted, and what a
restored backup cannot bring back."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from conftest import BIRTH_EXTRACT_ANSWERS
from guichet.accounts.models import SignInCode
from guichet.assistant.models import Exchange
from guichet.assistant.tests.samples import exchange
from guichet.catalog.models import Procedure, ProcedureVersion
from guichet.core.models import RateLimitWindow
from guichet.documents.models import IssuedDocument
from guichet.documents.services import revoke
from guichet.dossiers import services as dossiers
from guichet.dossiers.models import (
    Attachment,
    Dossier,
    DossierStatus,
    InformationRequest,
    Message,
    StatusChange,
)
from guichet.dossiers.tests.samples import PNG_BYTES
from guichet.governance import audit
from guichet.governance.models import AuditEntry
from guichet.notifications.models import InboundSms, Notification
from guichet.organisation.models import Service
from guichet.retention import queries, services
from guichet.retention.models import AuditRedaction, Tombstone
from guichet.workflow.services import transition

pytestmark = pytest.mark.django_db

NOW = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
YEAR = timedelta(days=365)
PHONE = "+22370123456"


@pytest.fixture(autouse=True)
def _own_journal(monkeypatch):
    """Each test its own tombstone journal (the files storage lasts the whole session)."""
    monkeypatch.setattr(services, "JOURNAL_DIR", f"retention/test-{uuid.uuid4().hex}")


@pytest.fixture
def applicant(citizen):
    citizen.phone = PHONE
    citizen.first_name, citizen.last_name = "Moussa", "Traoré"
    citizen.save(update_fields=["phone", "first_name", "last_name"])
    return citizen


RULES = {
    "dossier": {"accepted": 3650, "rejected": 1825, "closed": 1825},
    "draft": 90,
    "attachments": 365,
    "messages": 1825,
}
"""The platform's defaults, pinned here: the demo file may declare its own."""


@pytest.fixture
def make(applicant, staff_user, demo_catalog, time_machine):
    """`make(at, to)`: a birth-extract dossier submitted and decided at `at` (a draft when
    `to` is DRAFT), with a file, a message and, when accepted, its signed document."""

    procedure = Procedure.objects.get(pk="ml-extrait-acte-naissance")
    definition = procedure.definition
    protection = {**definition.get("data_protection", {}), "retention": RULES}
    ProcedureVersion.objects.filter(pk=procedure.current_version.pk).update(
        definition={**definition, "data_protection": protection}
    )

    def make(at: datetime, to: DossierStatus = DossierStatus.ACCEPTED) -> Dossier:
        time_machine.move_to(at, tick=False)
        dossier = dossiers.start_dossier(procedure=procedure, actor=applicant)
        attachment = dossiers.add_attachment(
            dossier=dossier,
            field_name="volet_2",
            upload=SimpleUploadedFile("volet.png", PNG_BYTES, content_type="image/png"),
            actor=applicant,
        )
        dossier.answers = {**BIRTH_EXTRACT_ANSWERS, "volet_2": [str(attachment.pk)]}
        dossier.save(update_fields=["answers"])
        if to == DossierStatus.DRAFT:
            time_machine.move_to(NOW, tick=False)
            return dossier
        dossiers.scan_attachment(attachment_id=str(attachment.pk))
        dossier = dossiers.submit_dossier(
            dossier=dossier, token=str(dossier.submission_token), actor=applicant
        )
        dossiers.post_message(dossier=dossier, body="Merci, je passe demain.", actor=applicant)
        transition(dossier=dossier, to=DossierStatus.IN_REVIEW, actor=staff_user)
        transition(dossier=dossier, to=to, actor=staff_user, reason="Pièce illisible.")
        dossier.refresh_from_db()
        time_machine.move_to(NOW, tick=False)
        return dossier

    return make


def _purge(capture, *args: str) -> str:
    out = io.StringIO()
    with capture(execute=True):  # files go once their rows are committed
        call_command("purge", "--now", NOW.isoformat(), *args, stdout=out)
    return out.getvalue()


def _stored(name: str) -> bool:
    return services._storage().exists(name)


def _entries(dossier: Dossier) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(object_type="dossiers.dossier", object_id=dossier.pk))


def test_a_dossier_past_its_retention_goes_with_its_files(
    make, applicant, django_capture_on_commit_callbacks
):
    old = make(NOW - 11 * YEAR)  # accepted: 3650 days by default
    files = [a.file.name for a in old.attachments.all()]
    document = IssuedDocument.objects.get(dossier=old)
    assert files and _stored(files[0]) and _stored(document.file.name)
    assert Notification.objects.filter(object_ref=old.reference).exists()

    output = _purge(django_capture_on_commit_callbacks)

    assert f"dossier {old.pk} (ml-extrait-acte-naissance)" in output
    assert not Dossier.objects.filter(pk=old.pk).exists()
    for model in (Attachment, Message, StatusChange, InformationRequest, IssuedDocument):
        assert not model.objects.filter(dossier_id=old.pk).exists()
    assert not Notification.objects.filter(object_ref=old.reference).exists()
    assert not _stored(files[0])
    assert not _stored(document.file.name)
    applicant.refresh_from_db()  # the account is not the dossier's to delete


def test_the_tombstone_holds_nothing_personal(make, django_capture_on_commit_callbacks):
    old = make(NOW - 11 * YEAR)

    _purge(django_capture_on_commit_callbacks)

    tombstone = Tombstone.objects.get(kind="dossier", object_id=str(old.pk))
    assert (tombstone.procedure_id, tombstone.final_state, tombstone.rule) == (
        "ml-extrait-acte-naissance",
        "accepted",
        "dossier.accepted=3650",
    )
    assert tombstone.reference_hash == services.reference_hash(old.reference)
    assert tombstone.purged_at == NOW
    (journal_row,) = services.journal()
    assert journal_row["id"] == str(tombstone.pk)
    for text in (json.dumps(services._as_json(tombstone)), json.dumps(journal_row)):
        for personal in (PHONE, "70123456", "Traoré", "Traore", "Awa", "Moussa", "2019-03-12"):
            assert personal not in text
        assert old.reference not in text
        assert "demandeur_nom" not in text  # nor the answers' keys


def test_its_audit_entries_stay_shown_redacted(
    make, applicant, staff_user, django_capture_on_commit_callbacks
):
    old = make(NOW - 11 * YEAR)
    before = _entries(old)
    by_applicant = {e.pk for e in before if e.actor_id == applicant.pk}
    assert by_applicant and len(by_applicant) < len(before)
    total = AuditEntry.objects.count()

    _purge(django_capture_on_commit_callbacks)

    assert AuditEntry.objects.count() == total
    after = _entries(old)
    assert [(e.pk, e.actor_label, e.data, e.at) for e in after] == [
        (e.pk, e.actor_label, e.data, e.at) for e in before
    ]  # the chained rows are untouched
    shown = {e.id: e for e in queries.shown_entries(after, now=NOW)}
    for pk in by_applicant:
        assert shown[pk].actor_label == queries.REDACTED
        assert "actor" in shown[pk].redacted
    staff_rows = [e for e in after if e.pk not in by_applicant]
    assert {shown[e.pk].actor_label for e in staff_rows} == {staff_user.get_username()}


def test_the_dry_run_lists_the_first_to_go_first_and_changes_nothing(
    make, django_capture_on_commit_callbacks
):
    old = make(NOW - 11 * YEAR)
    younger = make(NOW - 100 * timedelta(days=1), DossierStatus.DRAFT)  # drafts: 90 days
    recent = make(NOW - 30 * timedelta(days=1))
    files = [a.file.name for a in Attachment.objects.all()]
    audit_before = AuditEntry.objects.count()

    output = _purge(django_capture_on_commit_callbacks, "--dry-run")

    lines = output.splitlines()
    assert "rien n'est supprimé" in lines[0]
    first = next(i for i, line in enumerate(lines) if f"dossier {old.pk} " in line)
    second = next(i for i, line in enumerate(lines) if f"brouillon {younger.pk} " in line)
    assert first == 1 < second
    assert lines[first].startswith(f"{NOW - 11 * YEAR + timedelta(days=3650):%Y-%m-%d}  ")
    assert f"dossier {recent.pk} (" not in output
    assert Dossier.objects.count() == 3
    assert all(_stored(name) for name in files)
    assert not Tombstone.objects.exists()
    assert AuditEntry.objects.count() == audit_before
    assert not AuditRedaction.objects.exists()


def test_a_dossier_within_its_retention_stays_but_its_files_go_after_a_year(
    make, django_capture_on_commit_callbacks
):
    kept = make(NOW - 2 * YEAR)
    recent = make(NOW - 30 * timedelta(days=1))
    files = {a.dossier_id: a.file.name for a in Attachment.objects.all()}

    _purge(django_capture_on_commit_callbacks)

    assert Dossier.objects.filter(pk__in=[kept.pk, recent.pk]).count() == 2
    assert not kept.attachments.exists()  # attachments: 365 days after the decision
    assert not _stored(files[kept.pk])
    assert kept.messages.exists()  # messages: 1825 days
    assert IssuedDocument.objects.filter(dossier=kept).exists()  # the decision stays
    assert recent.attachments.exists() and _stored(files[recent.pk])
    (tombstone,) = Tombstone.objects.all()
    assert (tombstone.kind, tombstone.object_id, tombstone.rule) == (
        "attachments",
        str(kept.pk),
        "attachments.accepted=365",
    )
    assert tombstone.files == [files[kept.pk]]


def test_drafts_go_after_their_retention(make, django_capture_on_commit_callbacks):
    stale = make(NOW - 91 * timedelta(days=1), DossierStatus.DRAFT)
    fresh = make(NOW - 10 * timedelta(days=1), DossierStatus.DRAFT)
    stale_file = stale.attachments.get().file.name

    _purge(django_capture_on_commit_callbacks)

    assert list(Dossier.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not _stored(stale_file)
    assert Tombstone.objects.get().final_state == "draft"


def test_a_refused_dossier_goes_after_five_years(make, django_capture_on_commit_callbacks):
    refused = make(NOW - 5 * YEAR - timedelta(days=2), DossierStatus.REJECTED)  # 1825 days
    accepted = make(NOW - 5 * YEAR - timedelta(days=2))

    _purge(django_capture_on_commit_callbacks)

    assert list(Dossier.objects.values_list("pk", flat=True)) == [accepted.pk]
    assert Tombstone.objects.get(kind="dossier").object_id == str(refused.pk)
    assert not accepted.messages.exists()  # messages: 1825 days after the decision
    assert Tombstone.objects.filter(kind="messages", object_id=str(accepted.pk)).exists()


def test_a_dossier_reopened_since_the_plan_stays(make, supervisor):
    old = make(NOW - 11 * YEAR)
    items = services.plan(NOW)
    assert [(i.kind, i.object_id) for i in items if i.object_id] == [("dossier", str(old.pk))]
    transition(dossier=old, to=DossierStatus.IN_REVIEW, actor=supervisor, reason="Erreur.")

    outcome = services.apply(items, now=NOW)

    assert outcome.done == []
    assert "rouvert" in outcome.skipped[0][1]
    assert Dossier.objects.filter(pk=old.pk).exists()
    assert not Tombstone.objects.exists()


def test_a_cancelled_document_stays_cancelled_once_its_dossier_is_purged(
    make, supervisor, django_capture_on_commit_callbacks
):
    old = make(NOW - 11 * YEAR)
    document = IssuedDocument.objects.get(dossier=old)
    revoke(document=document, actor=supervisor, reason="Erreur de commune.")
    kept = make(NOW - 11 * YEAR)
    kept_number = IssuedDocument.objects.get(dossier=kept).number

    _purge(django_capture_on_commit_callbacks)

    assert queries.purged_cancellations() == {document.number: f"{NOW:%Y-%m-%d}"}
    # The key set every verifier reads still lists it: the paper verifies as cancelled.
    from guichet.documents.services import published_keyset

    assert published_keyset().revoked_documents == {document.number: f"{NOW:%Y-%m-%d}"}
    purged = queries.purged_document(kept_number)
    assert purged is not None and purged.number == "" and purged.cancelled_on is None
    assert queries.purged_document("ML-XXXX-XXXX-1") is None


def test_logs_go_after_their_own_periods(time_machine, django_capture_on_commit_callbacks):
    time_machine.move_to(NOW - 200 * timedelta(days=1), tick=False)  # assistant: 180 days
    old_question = exchange("prix du passeport")
    old_sms = InboundSms.objects.create(sender=PHONE, text="STATUT ML-XXXX", reply="…")
    code = SignInCode.objects.create(
        phone=PHONE,
        salt="s",
        code_hash="h",
        created_at=NOW - 200 * timedelta(days=1),
        expires_at=NOW - 200 * timedelta(days=1) + timedelta(minutes=10),
    )
    code_entry = audit.record(
        "account.code_sent", obj=code, actor=None, data={"phone": "+223 70 ** ** 56"}
    )
    RateLimitWindow.objects.create(
        bucket="sms:abc", started_at=NOW - YEAR, ends_at=NOW - YEAR, hits=3
    )
    time_machine.move_to(NOW - 5 * timedelta(days=1), tick=False)
    new_question = exchange("acte de naissance", channel="sms")
    new_code = SignInCode.objects.create(
        phone=PHONE,
        salt="s",
        code_hash="h",
        created_at=NOW - timedelta(days=5),
        expires_at=NOW - timedelta(days=5),
    )
    time_machine.move_to(NOW, tick=False)

    _purge(django_capture_on_commit_callbacks)

    assert list(Exchange.objects.all()) == [new_question]
    assert not Exchange.objects.filter(pk=old_question.pk).exists()
    assert list(SignInCode.objects.all()) == [new_code]
    assert not InboundSms.objects.filter(pk=old_sms.pk).exists()
    assert not RateLimitWindow.objects.exists()
    (shown,) = queries.shown_entries([AuditEntry.objects.get(pk=code_entry.pk)], now=NOW)
    assert shown.data == {"phone": queries.REDACTED}


def test_addresses_and_search_terms_are_shown_redacted_after_a_year(staff_user, time_machine):
    service = Service.objects.get(pk="ml-ec-bamako-c3")
    time_machine.move_to(NOW - YEAR - timedelta(days=1), tick=False)
    old = audit.record(
        "queue.viewed", obj=service, actor=staff_user, data={"q": "traore"}, ip="10.1.2.3"
    )
    time_machine.move_to(NOW - timedelta(days=1), tick=False)
    new = audit.record(
        "queue.viewed", obj=service, actor=staff_user, data={"q": "diallo"}, ip="10.1.2.4"
    )

    shown_old, shown_new = queries.shown_entries([old, new], now=NOW)

    assert (shown_old.data, shown_old.ip) == ({"q": queries.REDACTED}, queries.REDACTED)
    assert shown_old.actor_label == staff_user.get_username()
    assert (shown_new.data, shown_new.ip) == ({"q": "diallo"}, "10.1.2.4")


def test_reapply_deletes_a_restored_dossier_again(make, django_capture_on_commit_callbacks):
    old = make(NOW - 11 * YEAR)
    row = Dossier.objects.filter(pk=old.pk).values().get()
    attachment = Attachment.objects.filter(dossier=old).values().get()
    _purge(django_capture_on_commit_callbacks)
    assert not Dossier.objects.filter(pk=old.pk).exists()

    # A backup from before the purge is restored: the rows and the file are back, the
    # tombstone is not (it was written after the backup).
    Dossier.objects.bulk_create([Dossier(**row)])
    Attachment.objects.bulk_create([Attachment(**attachment)])
    services._storage().save(attachment["file"], ContentFile(PNG_BYTES))
    Tombstone.objects.all().delete()

    output = _purge(django_capture_on_commit_callbacks, "--reapply")

    assert "Pierres tombales reprises du journal : 1" in output
    assert "revenu avec une restauration" in output
    assert not Dossier.objects.filter(pk=old.pk).exists()
    assert not Attachment.objects.filter(pk=attachment["id"]).exists()
    assert not _stored(attachment["file"])
    assert Tombstone.objects.filter(kind="dossier", object_id=str(old.pk)).count() == 1
    assert "0 élément(s)" in _purge(django_capture_on_commit_callbacks, "--reapply", "--dry-run")


def test_reapply_spares_a_later_dossier_with_the_same_id(make, django_capture_on_commit_callbacks):
    old = make(NOW - 11 * YEAR)
    row = Dossier.objects.filter(pk=old.pk).values().get()
    _purge(django_capture_on_commit_callbacks)
    Dossier.objects.bulk_create([Dossier(**{**row, "reference": "ML-NEW0-0000"})])

    output = _purge(django_capture_on_commit_callbacks, "--reapply", "--dry-run")

    assert "0 élément(s)" in output
    assert Dossier.objects.filter(pk=old.pk).exists()


@pytest.fixture
def consented(applicant, staff_user, demo_catalog, time_machine):
    """`consented(at)`: a birth-extract dossier submitted at `at` with the applicant's
    consent, the procedure resting on consent (no demo procedure does), in review."""
    procedure = Procedure.objects.get(pk="ml-extrait-acte-naissance")
    definition = procedure.definition
    protection = {**definition["data_protection"], "legal_basis": "consent", "retention": RULES}
    ProcedureVersion.objects.filter(pk=procedure.current_version.pk).update(
        definition={**definition, "data_protection": protection}
    )

    def consented(at: datetime) -> Dossier:
        time_machine.move_to(at, tick=False)
        dossier = dossiers.start_dossier(procedure=procedure, actor=applicant)
        attachment = dossiers.add_attachment(
            dossier=dossier,
            field_name="volet_2",
            upload=SimpleUploadedFile("volet.png", PNG_BYTES, content_type="image/png"),
            actor=applicant,
        )
        dossier.answers = {**BIRTH_EXTRACT_ANSWERS, "volet_2": [str(attachment.pk)]}
        dossier.save(update_fields=["answers"])
        dossiers.scan_attachment(attachment_id=str(attachment.pk))
        dossier = dossiers.submit_dossier(
            dossier=dossier, token=str(dossier.submission_token), actor=applicant, consent=True
        )
        transition(dossier=dossier, to=DossierStatus.IN_REVIEW, actor=staff_user)
        time_machine.move_to(NOW, tick=False)
        return dossier

    return consented


def test_a_dossier_whose_consent_was_withdrawn_goes_at_the_next_purge(
    consented, applicant, time_machine, django_capture_on_commit_callbacks
):
    from guichet.privacy.services import withdraw_consent

    withdrawn = consented(NOW - timedelta(days=20))
    kept = consented(NOW - timedelta(days=20))
    files = [a.file.name for a in withdrawn.attachments.all()]
    time_machine.move_to(NOW - timedelta(hours=3), tick=False)
    withdraw_consent(dossier=withdrawn, actor=applicant)
    time_machine.move_to(NOW, tick=False)
    assert "0 élément(s)" in _purge_at(NOW - timedelta(hours=4), "--dry-run")

    output = _purge(django_capture_on_commit_callbacks)

    assert f"dossier au consentement retiré {withdrawn.pk}" in output
    assert list(Dossier.objects.values_list("pk", flat=True)) == [kept.pk]  # still open
    assert not _stored(files[0])
    tombstone = Tombstone.objects.get()
    assert (tombstone.kind, tombstone.object_id, tombstone.final_state, tombstone.rule) == (
        "withdrawn",
        str(withdrawn.pk),
        "withdrawn",
        "consent.withdrawn=0",
    )
    assert tombstone.due_at == NOW - timedelta(hours=3)
    shown = queries.shown_entries(_entries(withdrawn), now=NOW)
    by_applicant = [e for e in shown if e.action in ("dossier.submitted", "consent.withdrawn")]
    assert {e.actor_label for e in by_applicant} == {queries.REDACTED}


def test_reapply_deletes_a_restored_withdrawn_dossier_again(
    consented, applicant, django_capture_on_commit_callbacks
):
    from guichet.privacy.services import withdraw_consent

    withdrawn = consented(NOW - timedelta(days=2))
    withdraw_consent(dossier=withdrawn, actor=applicant)
    row = Dossier.objects.filter(pk=withdrawn.pk).values().get()
    _purge(django_capture_on_commit_callbacks)
    Dossier.objects.bulk_create([Dossier(**row)])  # a backup from before the purge

    output = _purge(django_capture_on_commit_callbacks, "--reapply")

    assert "revenu avec une restauration" in output
    assert not Dossier.objects.filter(pk=withdrawn.pk).exists()


def _purge_at(at: datetime, *args: str) -> str:
    out = io.StringIO()
    call_command("purge", "--now", at.isoformat(), *args, stdout=out)
    return out.getvalue()


def test_now_must_be_a_date():
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("purge", "--now", "demain", "--dry-run", stdout=io.StringIO())
