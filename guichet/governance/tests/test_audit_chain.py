"""The audit chain: what a database superuser can do to it, and what audit_verify says.

"As a superuser" means raw writes after lifting the PostgreSQL trigger (SQLite has none),
exactly what an administrator of the database could do behind the application.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from guichet.accounts.models import User
from guichet.governance import audit, chain, checkpoints
from guichet.governance.models import AuditEntry, AuditHead

pytestmark = pytest.mark.django_db

ON_POSTGRES = connection.vendor == "postgresql"
TRIGGER = "governance_auditentry_append_only"
CONTENT = [
    "action",
    "actor_id",
    "actor_label",
    "on_behalf_of",
    "object_type",
    "object_id",
    "data",
    "at",
    "ip",
    "purpose",
    "prev_hash",
    "hash",
]


@pytest.fixture(autouse=True)
def _checkpoint_files(settings, tmp_path: Path) -> None:
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "audit"
    settings.AUDIT_CHECKPOINT_KEY_FILE = tmp_path / "keys" / "audit-checkpoint.pem"
    settings.AUDIT_CHECKPOINT_KEY = ""


def _append(count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        audit.record(
            "document.verified",
            obj=None,
            actor="test",
            data={"outcome": "authentic", "i": i, "via": ["qr", "code"][i % 2]},
            ip="192.0.2.1",
        )


@contextmanager
def superuser() -> Iterator[None]:
    """Write to the entries as the database's owner would: trigger off, then on again."""
    with connection.cursor() as cursor:
        if ON_POSTGRES:
            cursor.execute(f"ALTER TABLE governance_auditentry DISABLE TRIGGER {TRIGGER}")
        yield
        if ON_POSTGRES:
            # Deferred foreign-key checks of the rows touched must run before ALTER TABLE.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE governance_auditentry ENABLE TRIGGER {TRIGGER}")


def _verify_fails_at(seq: int) -> chain.Problem:
    report = chain.verify(checkpoints=_checkpoints())
    assert report.problem is not None, "the tampering went unnoticed"
    assert report.problem.seq == seq, report.problem
    with pytest.raises(CommandError, match=f"Entrée n° {seq} "):
        call_command("audit_verify")
    return report.problem


def _checkpoints() -> list[chain.Checkpoint]:
    key = checkpoints.public_key()
    return checkpoints.load(checkpoints.path(), key) if key else []


def _fields(seq: int) -> dict[str, Any]:
    fields: dict[str, Any] = AuditEntry.objects.filter(seq=seq).values(*CONTENT).get()
    return fields


def _renumber(after: int, by: int) -> None:
    """Shift every entry after `after` by `by` places (two steps: seq is unique)."""
    AuditEntry.objects.filter(seq__gt=after).update(seq=-F("seq"))
    AuditEntry.objects.filter(seq__lt=0).update(seq=-F("seq") + by)


# --- An intact chain ---------------------------------------------------------------------


def test_entries_are_chained_in_order_from_the_genesis_hash():
    _append(5)
    entries = list(AuditEntry.objects.order_by("seq"))
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == chain.GENESIS
    for before, entry in zip(entries, entries[1:], strict=False):
        assert entry.prev_hash == before.hash
    head = AuditHead.objects.get()
    assert (head.seq, head.hash) == (5, entries[-1].hash)


def test_an_entry_costs_one_statement_on_postgresql():
    """Lock the head, insert, move the head: one statement there (the page that records
    each reading of a dossier pays it); SQLite, whose writes are serialised, takes three."""
    _append(1)
    with CaptureQueriesContext(connection) as captured:
        entry = audit.record("document.verified", obj=None, actor="test", data={"i": 1})
    assert len(captured.captured_queries) == (1 if ON_POSTGRES else 3)
    assert AuditEntry.objects.get(pk=entry.pk).hash == entry.hash
    assert AuditHead.objects.values_list("seq", "hash").get() == (2, entry.hash)
    assert chain.verify().ok


def test_intact_chain_passes_audit_verify(capsys):
    _append(6)
    call_command("audit_checkpoint")
    _append(3, start=6)
    call_command("audit_verify")
    out = capsys.readouterr().out
    assert "Journal d'audit intact : 9 entrées, dernière n° 9" in out
    assert "1 point(s) de contrôle sur 1 comparés" in out


def test_the_hash_covers_who_for_whom_from_where_and_why():
    agent = User.objects.create_user(username="agent-x", password="x", is_staff=True)
    entry = audit.record(
        "dossier.viewed",
        obj=agent,
        actor=agent,
        on_behalf_of="citoyen-1",
        ip="2001:0DB8:0000::1",
        purpose="Réclamation du titulaire au guichet",
    )
    assert (entry.ip, entry.on_behalf_of) == ("2001:db8::1", "citoyen-1")
    assert chain.verify().ok
    with superuser():
        AuditEntry.objects.filter(seq=entry.seq).update(purpose="Contrôle de routine")
    _verify_fails_at(entry.seq)


def test_data_holding_a_float_is_refused():
    # jsonb would write 1e+23 back as 100000000000000000000000: the hash would change.
    with pytest.raises(ValueError, match="float"):
        audit.record("document.verified", obj=None, actor="test", data={"score": 0.5})


def test_a_rolled_back_transaction_leaves_no_gap():
    def failing_service() -> None:
        with transaction.atomic():
            _append(3, start=2)
            raise RuntimeError("the service fails after writing its entries")

    _append(2)
    with pytest.raises(RuntimeError):
        failing_service()
    _append(1, start=5)
    assert list(AuditEntry.objects.values_list("seq", flat=True)) == [1, 2, 3]
    assert chain.verify().ok


# --- A superuser's tampering, each named -------------------------------------------------


def test_an_edited_entry_is_named():
    _append(8)
    with superuser():
        AuditEntry.objects.filter(seq=4).update(data={"outcome": "forged", "i": 3, "via": "qr"})
    assert _verify_fails_at(4).kind == "altered"


def test_a_deleted_entry_is_named():
    _append(8)
    with superuser():
        AuditEntry.objects.filter(seq=5).delete()
    assert _verify_fails_at(5).kind == "missing"


def test_a_deleted_entry_is_named_even_when_the_rest_is_renumbered():
    _append(8)
    with superuser():
        AuditEntry.objects.filter(seq=5).delete()
        _renumber(5, -1)
        AuditHead.objects.update(seq=7)
    assert _verify_fails_at(5).kind == "moved"


def test_two_swapped_entries_are_named():
    _append(8)
    third, fourth = _fields(3), _fields(4)
    with superuser():
        AuditEntry.objects.filter(seq=3).update(**fourth)
        AuditEntry.objects.filter(seq=4).update(**third)
    assert _verify_fails_at(3).kind == "moved"


def test_a_forged_entry_inserted_with_a_plausible_hash_is_named():
    _append(8)
    before = AuditEntry.objects.get(seq=4)
    forged: dict[str, Any] = {
        "at": before.at,
        "action": "dossier.status_changed",
        "actor_id": None,
        "actor_label": "agent-c3",
        "on_behalf_of": "",
        "object_type": "dossiers.dossier",
        "object_id": "42",
        "ip": "",
        "purpose": "",
        "data": {"from": "submitted", "to": "accepted"},
    }
    # The forger knows the format: the hash is right for the content and its place.
    content = chain.canonical(seq=5, **forged)
    with superuser():
        _renumber(4, +1)
        AuditEntry.objects.create(
            seq=5, prev_hash=before.hash, hash=chain.entry_hash(content, before.hash), **forged
        )
        AuditHead.objects.update(seq=9)
    assert _verify_fails_at(5).kind == "inserted"


def test_an_entry_forged_with_a_random_looking_hash_is_named():
    _append(4)
    last = AuditEntry.objects.get(seq=4)
    with superuser():
        AuditEntry.objects.create(
            seq=5,
            action="document.verified",
            actor_label="test",
            object_type="",
            object_id="",
            data={"outcome": "authentic"},
            prev_hash=last.hash,
            hash="ab" * 32,
        )
    assert _verify_fails_at(5).kind == "altered"


def test_an_entry_appended_behind_the_application_is_named():
    _append(4)
    last = AuditEntry.objects.get(seq=4)
    fields = {k: v for k, v in _fields(4).items() if k not in ("prev_hash", "hash")}
    content = chain.canonical(seq=5, **fields)
    AuditEntry.objects.create(
        seq=5, prev_hash=last.hash, hash=chain.entry_hash(content, last.hash), **fields
    )
    assert _verify_fails_at(5).kind == "beyond_head"


def test_a_cut_tail_is_named_by_the_head_row():
    _append(8)
    with superuser():
        AuditEntry.objects.filter(seq__gte=7).delete()
    assert _verify_fails_at(7).kind == "truncated"


def test_a_cut_tail_with_its_head_moved_back_is_named_by_the_checkpoint():
    _append(8)
    call_command("audit_checkpoint")
    with superuser():
        AuditEntry.objects.filter(seq__gte=7).delete()
        six = AuditEntry.objects.get(seq=6)
        AuditHead.objects.update(seq=6, hash=six.hash)
    problem = _verify_fails_at(7)
    assert problem.kind == "truncated"
    assert "point de contrôle" in problem.detail


def test_a_chain_rewritten_with_fresh_hashes_is_caught_by_the_checkpoint():
    _append(5)
    call_command("audit_checkpoint")
    _append(3, start=5)
    call_command("audit_checkpoint")
    with superuser():
        AuditEntry.objects.filter(seq=7).update(data={"outcome": "forged"})
        prev = AuditEntry.objects.get(seq=6).hash
        for entry in AuditEntry.objects.filter(seq__gte=7).order_by("seq"):
            fields = {k: v for k, v in _fields(entry.seq).items() if k not in ("prev_hash", "hash")}
            prev_hash, prev = prev, chain.entry_hash(chain.canonical(seq=entry.seq, **fields), prev)
            AuditEntry.objects.filter(pk=entry.pk).update(prev_hash=prev_hash, hash=prev)
        AuditHead.objects.update(hash=prev)
    assert chain.verify().ok  # without the checkpoints the rewrite is consistent
    problem = _verify_fails_at(8)
    assert problem.kind == "rewritten"
    assert "après l'entrée n° 5" in problem.detail


def test_a_forged_checkpoint_line_is_refused():
    _append(3)
    call_command("audit_checkpoint")
    line = json.loads(checkpoints.path().read_text())
    line["seq"] = 2
    checkpoints.path().write_text(json.dumps(line) + "\n")
    with pytest.raises(CommandError, match="ligne 1 : signature invalide"):
        call_command("audit_verify")


def test_no_checkpoint_is_signed_over_a_broken_chain():
    _append(4)
    with superuser():
        AuditEntry.objects.filter(seq=2).update(actor_label="quelqu'un d'autre")
    with pytest.raises(CommandError, match="entrée n° 2"):
        call_command("audit_checkpoint")
    assert not checkpoints.path().exists()


def test_the_checkpoint_key_is_made_once_with_mode_0600(settings):
    call_command("audit_checkpoint")
    call_command("audit_checkpoint")
    key_file = Path(settings.AUDIT_CHECKPOINT_KEY_FILE)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    public = (Path(settings.AUDIT_CHECKPOINT_DIR) / checkpoints.PUBLIC_KEY_NAME).read_text()
    key = checkpoints.public_key(public)
    assert key is not None
    assert len(checkpoints.load(checkpoints.path(), key)) == 2


def test_a_copy_of_the_checkpoints_is_checked_with_the_public_key_alone(settings, tmp_path):
    _append(3)
    call_command("audit_checkpoint")
    copy = tmp_path / "copie.jsonl"
    copy.write_bytes(checkpoints.path().read_bytes())
    public = Path(settings.AUDIT_CHECKPOINT_DIR) / checkpoints.PUBLIC_KEY_NAME
    Path(settings.AUDIT_CHECKPOINT_KEY_FILE).unlink()  # the verifier has no private key
    call_command("audit_verify", checkpoints=copy, public_key=str(public))
    with superuser():
        AuditEntry.objects.filter(seq=3).delete()
        AuditHead.objects.update(seq=2, hash=AuditEntry.objects.get(seq=2).hash)
    with pytest.raises(CommandError, match="Entrée n° 3 "):
        call_command("audit_verify", checkpoints=copy, public_key=str(public))


# --- PostgreSQL: the application cannot edit or delete ----------------------------------

postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="the trigger is PostgreSQL's")


@postgres_only
def test_the_trigger_refuses_update_and_delete_even_to_a_superuser():
    _append(2)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(seq=1).update(actor_label="x")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(seq=2).delete()
    assert chain.verify().ok


@postgres_only
def test_the_app_role_of_the_docs_can_append_but_not_update_or_delete():
    """The grants docs/governance.md gives the application's role, tried for real."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE ROLE guichet_test_app NOLOGIN")
        cursor.execute("GRANT SELECT, INSERT ON governance_auditentry TO guichet_test_app")
        cursor.execute("GRANT USAGE ON SEQUENCE governance_auditentry_id_seq TO guichet_test_app")
        cursor.execute("GRANT SELECT, INSERT, UPDATE ON governance_audithead TO guichet_test_app")
        cursor.execute("SET LOCAL ROLE guichet_test_app")
    _append(2)
    for sql in (
        "ALTER TABLE governance_auditentry DISABLE TRIGGER ALL",
        "UPDATE governance_auditentry SET actor_label = 'x' WHERE seq = 1",
        "DELETE FROM governance_auditentry WHERE seq = 2",
        "TRUNCATE governance_auditentry",
    ):
        with (
            pytest.raises(DatabaseError, match="permission denied|must be owner"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert chain.verify().ok


# --- Writers at once -------------------------------------------------------------------

WRITER = """
import os, sys, time
import django
django.setup()
from django.db import transaction
from guichet.governance import audit
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
for i in range(int(sys.argv[2])):
    if i % 2:  # alone: on PostgreSQL one statement, without a transaction of its own
        audit.record("document.verified", obj=None, actor="w" + sys.argv[3], data={"i": i})
        continue
    with transaction.atomic():
        audit.record("document.verified", obj=None, actor="w" + sys.argv[3], data={"i": i})
"""


def _database_url(tmp_path: Path) -> str:
    """The test database for processes of their own: PostgreSQL's test database itself,
    or for SQLite (in memory here) a migrated file."""
    if ON_POSTGRES:
        db = connection.settings_dict
        password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
        return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    url = f"sqlite:///{tmp_path / 'writers.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, check=True)
    return url


@pytest.mark.django_db(transaction=True)
def test_processes_appending_at_once_do_not_fork_the_chain(tmp_path):
    env = {**os.environ, "DATABASE_URL": _database_url(tmp_path)}
    start, each, writers = time.time() + 3, 40, 3
    processes = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(start), str(each), str(n)], env=env)
        for n in range(writers)
    ]
    assert [p.wait(timeout=120) for p in processes] == [0] * writers
    verified = subprocess.run(
        [sys.executable, "manage.py", "audit_verify"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    assert f"{each * writers} entrées, dernière n° {each * writers}" in verified.stdout


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_an_appender_that_waited_for_the_head_follows_what_was_committed_meanwhile():
    """The second appender's statement starts while the first holds the head, so its
    snapshot still shows the old head: it must take the place after the entry committed
    while it waited."""
    _append(1)
    held, release = threading.Event(), threading.Event()
    entries: dict[str, AuditEntry] = {}
    errors: list[BaseException] = []

    def appender(name: str, *, hold: bool) -> None:
        try:
            if hold:
                with transaction.atomic():
                    entries[name] = audit.record("document.verified", obj=None, actor=name)
                    held.set()
                    release.wait(timeout=30)
            else:
                held.wait(timeout=30)
                entries[name] = audit.record("document.verified", obj=None, actor=name)
        except BaseException as exc:  # noqa: BLE001 (reported by the test's thread)
            errors.append(exc)
        finally:
            connections["default"].close()

    threads = [
        threading.Thread(target=appender, args=("first",), kwargs={"hold": True}),
        threading.Thread(target=appender, args=("second",), kwargs={"hold": False}),
    ]
    for thread in threads:
        thread.start()
    waiting, deadline = 0, time.monotonic() + 30
    with connection.cursor() as cursor:
        while not waiting and not errors and time.monotonic() < deadline:
            time.sleep(0.02)
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            waiting = cursor.fetchone()[0]
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert waiting, "the second appender never waited for the head"
    first, second = entries["first"], entries["second"]
    assert (first.seq, second.seq) == (2, 3)
    assert second.prev_hash == first.hash
    assert AuditHead.objects.values_list("seq", "hash").get() == (3, second.hash)
    assert chain.verify().ok
