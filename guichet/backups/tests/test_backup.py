"""The backup drill, and the refusals that make a restore safe.

The drill makes demo data with a pinned clock (dossiers with files, an issued document,
audit entries and a signed checkpoint), backs it up, purges a dossier after the backup,
then restores into an empty instance the way an operator does it: `manage.py restore` in
a process of its own, with its own data folder and database (a new SQLite file, or on
PostgreSQL a fresh `guichet_backup_*` database). It then compares the restored instance
with the original, table by table and file by file, runs `audit_verify` there, and checks
that the dossier purged after the backup is still gone.

These tests back up the test database itself, so they commit (transaction=True). On
PostgreSQL they need pg_dump and pg_restore (Debian's postgresql-client): skipped when
missing, except in CI, where that is a failure.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from conftest import BIRTH_EXTRACT_ANSWERS
from guichet.backups import archive, services
from guichet.catalog.models import Procedure, ProcedureVersion
from guichet.core import sealing
from guichet.documents.models import IssuedDocument
from guichet.dossiers import services as dossiers
from guichet.dossiers.models import Attachment, Dossier, DossierStatus
from guichet.dossiers.tests.samples import PNG_BYTES
from guichet.governance import audit, chain, checkpoints
from guichet.governance.models import AuditEntry
from guichet.workflow.services import transition

pytestmark = pytest.mark.django_db(transaction=True)

ON_POSTGRES = connection.vendor == "postgresql"
NOW = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
YEAR = timedelta(days=365)
RULES = {
    "dossier": {"accepted": 3650, "rejected": 1825, "closed": 1825},
    "draft": 90,
    "attachments": 365,
    "messages": 1825,
}
ROOT = Path(django_settings.BASE_DIR)


@pytest.fixture(autouse=True)
def _pg_tools():
    if ON_POSTGRES and not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        if os.environ.get("CI"):
            pytest.fail("pg_dump and pg_restore are required in CI (apt install postgresql-client)")
        pytest.skip("pg_dump/pg_restore missing (apt install postgresql-client)")


@pytest.fixture(autouse=True)
def source(tmp_path, settings, monkeypatch):
    """This test's own instance: files, keys, checkpoints and backups in `tmp_path/source`
    (the session's storage holds other tests' files)."""
    root = tmp_path / "source"
    storage = services.file_storage()
    for name in ("base_location", "location"):
        monkeypatch.setitem(storage.__dict__, name, str(root / "media"))
    settings.SIGNING_KEYS_DIR = root / "keys"
    settings.FIELD_KEY_RING = root / "keys" / "field-keys.json"
    settings.AUDIT_CHECKPOINT_DIR = root / "audit"
    settings.AUDIT_CHECKPOINT_KEY_FILE = root / "keys" / "audit-checkpoint.pem"
    settings.BACKUP_DIR = root / "backups"
    settings.BACKUP_KEY = archive.new_key()
    settings.BACKUP_KEYS_KEY = archive.new_key()
    sealing.ring(create=True)
    return root


@pytest.fixture
def applicant(citizen):
    citizen.phone = "+22370123456"
    citizen.first_name, citizen.last_name = "Moussa", "Traoré"
    citizen.save(update_fields=["phone", "first_name", "last_name"])
    return citizen


@pytest.fixture
def make(applicant, staff_user, demo_catalog, time_machine):
    """`make(at, to)`: a birth-extract dossier submitted at `at` with a file and a message,
    then moved to `to` (accepted: a signed document is issued); the clock back at NOW."""
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
        dossiers.scan_attachment(attachment_id=str(attachment.pk))
        dossier = dossiers.submit_dossier(
            dossier=dossier, token=str(dossier.submission_token), actor=applicant
        )
        dossiers.post_message(dossier=dossier, body="Merci, je passe demain.", actor=applicant)
        transition(dossier=dossier, to=DossierStatus.IN_REVIEW, actor=staff_user)
        if to != DossierStatus.IN_REVIEW:
            transition(dossier=dossier, to=to, actor=staff_user)
        dossier.refresh_from_db()
        time_machine.move_to(NOW, tick=False)
        return dossier

    return make


@pytest.fixture
def demo(make):
    """An old accepted dossier (due for purge at NOW), a recent accepted one with its
    document, one in review; a signed checkpoint, then one more entry after it."""
    old = make(NOW - 11 * YEAR)
    recent = make(NOW - timedelta(days=10))
    in_review = make(NOW - timedelta(days=2), to=DossierStatus.IN_REVIEW)
    checkpoints.write_checkpoint()
    dossiers.post_message(dossier=in_review, body="Une question.", actor=in_review.applicant)
    assert IssuedDocument.objects.filter(dossier=recent).exists()
    return {"old": old, "recent": recent, "in_review": in_review}


def _backup(tmp_path: Path) -> Path:
    path = tmp_path / f"{uuid.uuid4().hex}.backup"
    call_command("backup", str(path), stdout=io.StringIO())
    return path


def _purge() -> str:
    out = io.StringIO()
    call_command("purge", "--now", NOW.isoformat(), stdout=out)
    return out.getvalue()


def _members(path: Path, key: str) -> dict[str, bytes]:
    with path.open("rb") as source:
        reader = archive.Reader(source, archive.parse_key(key, "k"), archive.DATA)
        with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
            return {info.name: tar.extractfile(info).read() for info in tar}


def _flip_a_byte(path: Path, at: float = 0.5) -> Path:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x01
    tampered = path.with_name("tampered-" + path.name)
    tampered.write_bytes(bytes(data))
    return tampered


def _restore(*args: str) -> str:
    out = io.StringIO()
    call_command("restore", *args, stdout=out)
    return out.getvalue()


def _tables() -> dict[str, int]:
    with connection.cursor() as cursor:
        return {
            table: _count(cursor, table) for table in connection.introspection.table_names(cursor)
        }


def _count(cursor: Any, table: str) -> int:
    cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608
    return int(cursor.fetchone()[0])


def _stored_files(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# --- Refusals, in this process (the test database is not empty) -------------------------------


def test_the_archive_holds_the_manifest_and_no_private_key(demo, tmp_path, source, settings):
    path = _backup(tmp_path)
    members = _members(path, settings.BACKUP_KEY)

    manifest = json.loads(members["manifest.json"])
    assert manifest["rows"]["dossiers_dossier"] == 3
    assert manifest["rows"]["governance_auditentry"] == AuditEntry.objects.count()
    stored = _stored_files(source / "media")
    assert stored  # the three attachments and the issued PDF
    archived = {name: m["sha256"] for name, m in manifest["members"].items()}
    assert {name: h for name, h in archived.items() if name.startswith("files/")} == {
        f"files/{name}": digest for name, digest in stored.items()
    }
    last = AuditEntry.objects.order_by("-seq").first()
    assert manifest["audit"]["head"] == {"seq": last.seq, "hash": last.hash}
    assert manifest["audit"]["last_checkpoint"]["seq"] == last.seq - 1
    keys = manifest["keys"]
    assert keys["private_keys_included"] is False
    pems = {p.stem for p in (source / "keys").glob("*.pem")}
    assert {k["kid"] for k in keys["signing"]} == pems - {"audit-checkpoint"}
    ring = sealing.ring()
    assert set(keys["field_key_ring"]["keys"]) == set(ring.keys)
    public = checkpoints.public_key()
    assert public is not None
    assert keys["audit_checkpoint"]["key"] == checkpoints.key_id(public)
    # No private key anywhere in the archive, under any spelling.
    secrets = [p.read_bytes() for p in (source / "keys").glob("*.pem")]
    secrets += [sealing._b64(key).encode() for key in ring.keys.values()]
    everything = b"".join(members.values())
    assert not [secret for secret in secrets if secret.strip() in everything]
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_non_empty_database_is_refused_and_nothing_changes(demo_organisation, tmp_path, source):
    services.file_storage().save("2031/03/a-file", io.BytesIO(PNG_BYTES))
    path = _backup(tmp_path)
    tables, files = _tables(), _stored_files(source / "media")

    with pytest.raises(CommandError, match="n'est pas vide") as refused:
        _restore(str(path))

    assert "Rien n'a été modifié" in str(refused.value)
    assert _tables() == tables
    assert _stored_files(source / "media") == files


def test_a_tampered_archive_is_refused_before_anything_else(tmp_path):
    tampered = _flip_a_byte(_backup(tmp_path))

    with pytest.raises(CommandError, match="modifiée ou abîmée"):
        _restore(str(tampered))
    with pytest.raises(CommandError, match="modifiée ou abîmée"):
        _restore("--check", str(tampered))


def test_an_archive_cut_short_is_refused(tmp_path):
    path = _backup(tmp_path)
    cut = path.with_name("cut.backup")
    cut.write_bytes(path.read_bytes()[:-100])

    with pytest.raises(CommandError, match="abîmé|tronquée"):
        _restore("--check", str(cut))


def test_a_wrong_key_is_refused(tmp_path, settings):
    path = _backup(tmp_path)
    settings.BACKUP_KEY = archive.new_key()

    with pytest.raises(CommandError, match="chiffrée avec une autre clé"):
        _restore(str(path))


def test_missing_private_keys_are_named(demo_organisation, tmp_path, source):
    path = _backup(tmp_path)
    gone = sorted((source / "keys").glob("*.pem"))[0]
    gone.unlink()
    sealing.key_file().unlink()

    with pytest.raises(CommandError) as refused:
        _restore(str(path))

    message = str(refused.value)
    assert f"1 clé(s) de signature en service absente(s) ({gone.stem})" in message
    assert "trousseau des réponses sensibles absente" in message
    assert "restore --keys" in message


def test_the_check_changes_nothing_and_says_what_it_found(tmp_path):
    path = _backup(tmp_path)
    tables = _tables()

    output = _restore("--check", str(path))

    assert "authentique" in output
    assert "Contenu conforme au manifeste" in output
    assert _tables() == tables


def test_the_keys_archive_needs_a_key_of_its_own(settings):
    settings.BACKUP_KEYS_KEY = settings.BACKUP_KEY

    with pytest.raises(CommandError, match="différente de BACKUP_KEY"):
        call_command("backup", "--keys", stdout=io.StringIO())


def test_restoring_keys_never_overwrites_a_different_key(demo_organisation, tmp_path, source):
    out = io.StringIO()
    call_command("backup", "--keys", str(tmp_path / "keys.backup"), stdout=out)
    assert "clé(s) de signature" in out.getvalue()
    ring = sealing.key_file()
    original = ring.read_bytes()
    ring.write_text(sealing.KeyRing(current="", keys={}, created={}).with_new_key().dumps())

    with pytest.raises(CommandError, match="existe déjà avec un autre contenu"):
        _restore("--keys", str(tmp_path / "keys.backup"))

    assert ring.read_bytes() != original  # left as it was: nothing written
    ring.write_bytes(original)
    assert "0 écrite(s)" in _restore("--keys", str(tmp_path / "keys.backup"))


def test_backups_older_than_the_keeping_period_are_deleted(settings, source, time_machine):
    time_machine.move_to(NOW, tick=False)
    settings.BACKUP_KEEP_DAYS = 30
    backups = source / "backups"
    backups.mkdir(mode=0o700)
    old, recent, other = (
        backups / "guichet-20300101T000000Z.backup",
        backups / "guichet-20310225T000000Z.backup",
        backups / "notes.txt",
    )
    for file, age in ((old, 31), (recent, 4), (other, 400)):
        file.write_bytes(b"x")
        moment = datetime.now(UTC).timestamp() - age * 86400
        os.utime(file, (moment, moment))

    out = io.StringIO()
    call_command("backup", stdout=out)

    assert not old.exists()
    assert recent.exists() and other.exists()
    assert "guichet-20300101T000000Z.backup" in out.getvalue()
    assert (backups / f"guichet-{NOW:%Y%m%dT%H%M%SZ}.backup").exists()


def test_checkpoints_signed_after_the_backup_are_kept_aside_not_trusted(tmp_path, settings):
    """After a restore the chain ends at the backup's head; a checkpoints file that signs
    later entries would make audit_checkpoint refuse forever: kept aside, and said."""
    for n in range(3):
        audit.record("document.verified", obj=None, actor=f"verifier-{n}")
    checkpoints.write_checkpoint()
    members = _members(_backup(tmp_path), settings.BACKUP_KEY)
    head = json.loads(members["manifest.json"])["audit"]["head"]
    for n in range(2):  # after the backup: lost with a restore
        audit.record("document.verified", obj=None, actor=f"later-{n}")
    checkpoints.write_checkpoint()
    file = checkpoints.path()
    restored_end = chain.Report(head["seq"], head["seq"], head["hash"], 1, None)
    said: list[str] = []

    problems = services._place_checkpoints(
        {k: v for k, v in members.items() if k.startswith("audit/")}, restored_end, said.append
    )

    assert problems == []
    public = checkpoints.public_key()
    assert public is not None
    assert [m.seq for m in checkpoints.load(file, public)] == [head["seq"]]
    (aside,) = file.parent.glob("checkpoints.before-restore-*.jsonl")
    assert len(aside.read_text().splitlines()) == 2
    assert f"jusqu'à l'entrée n° {head['seq'] + 2}" in said[0]
    assert "sont perdues" in said[0]


# --- The drill: restore into an empty instance, in a process of its own -------------------------


@pytest.fixture
def target(tmp_path) -> Iterator[dict[str, Any]]:
    """An empty instance: its data folder, and a database that does not exist yet (SQLite:
    a new file) or exists and is empty (PostgreSQL: a fresh `guichet_backup_*`)."""
    root = tmp_path / "target"
    root.mkdir()
    if not ON_POSTGRES:
        yield {"root": root, "url": f"sqlite:///{root / 'guichet.sqlite3'}"}
        return
    import psycopg

    db = connection.settings_dict
    name = f"guichet_backup_{uuid.uuid4().hex[:12]}"
    server = {"host": db["HOST"], "port": db["PORT"] or 5432, "user": db["USER"]}
    if db["PASSWORD"]:
        server["password"] = db["PASSWORD"]
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    url = f"postgres://{db['USER']}{password}@{db['HOST']}:{server['port']}/{name}"
    try:
        yield {"root": root, "url": url, "pg": {**server, "dbname": name}}
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


PINNED = """
import os, sys, time_machine
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guichet.settings")
time_machine.travel(sys.argv[1], tick=False).start()
from django.core.management import execute_from_command_line
execute_from_command_line(["manage.py", *sys.argv[2:]])
"""


def _run(
    target: dict[str, Any], *args: str, pinned: bool = True
) -> subprocess.CompletedProcess[str]:
    """`manage.py ARGS` in the target instance; `pinned`: at NOW, the clock of the purge."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "CI", "SECRET_KEY", "ALLOWED_HOSTS")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(
        DEBUG="0",
        GUICHET_DATA_DIR=str(target["root"]),
        DATABASE_URL=target["url"],
        BACKUP_KEY=django_settings.BACKUP_KEY,
        BACKUP_KEYS_KEY=django_settings.BACKUP_KEYS_KEY,
        FIELD_KEYS_AUTO_CREATE="0",
        ASSISTANT_DENSE="0",
    )
    command = (
        [sys.executable, "-c", PINNED, NOW.isoformat(), *args]
        if pinned
        else [sys.executable, "manage.py", *args]
    )
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _target_tables(target: dict[str, Any]) -> dict[str, int]:
    if ON_POSTGRES:
        import psycopg

        with psycopg.connect(**target["pg"]) as pg:
            names = [
                row[0]
                for row in pg.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                )
            ]
            return {name: _count(pg.cursor(), name) for name in names}
    file = target["root"] / "guichet.sqlite3"
    if not file.exists():
        return {}
    with sqlite3.connect(file) as db:
        names = [
            row[0]
            for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {name: db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}  # noqa: S608


def _target_ids(target: dict[str, Any], table: str, column: str = "id") -> set[str]:
    sql = f'SELECT "{column}" FROM "{table}"'  # noqa: S608
    if ON_POSTGRES:
        import psycopg

        with psycopg.connect(**target["pg"]) as pg:
            return {str(row[0]).replace("-", "") for row in pg.execute(sql)}
    with sqlite3.connect(target["root"] / "guichet.sqlite3") as db:
        return {str(row[0]).replace("-", "") for row in db.execute(sql)}


def _ids(model: Any) -> set[str]:
    return {str(pk).replace("-", "") for pk in model.objects.values_list("pk", flat=True)}


def test_the_drill_restores_everything_and_nothing_purged_comes_back(
    demo, tmp_path, source, target
):
    data_archive = _backup(tmp_path)
    keys_archive = tmp_path / "keys.backup"
    call_command("backup", "--keys", str(keys_archive), stdout=io.StringIO())
    old = demo["old"]
    old_files = list(Attachment.objects.filter(dossier=old).values_list("file", flat=True))
    old_files += list(IssuedDocument.objects.filter(dossier=old).values_list("file", flat=True))
    assert "dossier " + str(old.pk) in _purge()  # after the backup: the old dossier goes
    assert not Dossier.objects.filter(pk=old.pk).exists()
    journal = source / "media" / "retention" / "tombstones"
    target_media = target["root"] / "media" / "attachments"

    # Refused, and the empty instance stays empty: a tampered archive, the wrong key…
    refused = _run(target, "restore", str(_flip_a_byte(data_archive, 0.3)))
    assert refused.returncode == 1 and "modifiée ou abîmée" in refused.stderr
    assert "Rien n'a été modifié" in refused.stderr
    # … and the data before the keys it needs.
    no_keys = _run(target, "restore", str(data_archive), "--journal", str(journal))
    assert no_keys.returncode == 1 and "restore --keys" in no_keys.stderr, no_keys.stderr
    assert _target_tables(target) == {}
    assert not target_media.exists() or not any(target_media.rglob("*"))

    keys = _run(target, "restore", "--keys", str(keys_archive))
    assert keys.returncode == 0, keys.stderr
    restored = _run(target, "restore", str(data_archive), "--journal", str(journal))
    assert restored.returncode == 0, restored.stderr + restored.stdout

    output = restored.stdout
    for checked in (
        "authentique",
        "autant que dans le manifeste, table par table",
        "empreintes SHA-256 identiques au manifeste",
        "journal d'audit intact",
        "= tête du manifeste",
        "1 point(s) de contrôle signé(s) de l'archive comparé(s)",
        "Pierres tombales reprises du journal : 1",
        "revenu avec une restauration",
        "rien de ce qui avait été purgé n'est revenu",
    ):
        assert checked in output, f"{checked!r} not in:\n{output}"

    # The restored instance is the original one as it stands after its purge.
    assert _target_tables(target) == _tables()
    assert _target_ids(target, "dossiers_dossier") == _ids(Dossier)
    assert _target_ids(target, "dossiers_attachment") == _ids(Attachment)
    assert _target_ids(target, "documents_issueddocument") == _ids(IssuedDocument)
    assert _stored_files(target_media) == _stored_files(source / "media")
    # The purged dossier, its file and its document stay gone.
    assert str(old.pk) not in _target_ids(target, "dossiers_dossier")
    assert old_files and not [name for name in old_files if (target_media / name).exists()]
    if ON_POSTGRES:  # the append-only trigger came back with the schema
        import psycopg

        with psycopg.connect(**target["pg"]) as pg:
            triggers = pg.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
            assert ("governance_auditentry_append_only",) in triggers.fetchall()
    # The chain verifies there, against the checkpoint the archive carried.
    verified = _run(target, "audit_verify", pinned=False)
    assert verified.returncode == 0, verified.stderr
    assert f"{AuditEntry.objects.count()} entrées" in verified.stdout
    assert "1 point(s) de contrôle sur 1 comparés" in verified.stdout

    # Restoring again into what is now a full instance is refused, and changes nothing.
    tables = _target_tables(target)
    again = _run(target, "restore", str(data_archive))
    assert again.returncode == 1 and "n'est pas vide" in again.stderr
    assert _target_tables(target) == tables
