"""The audit chain: what appending costs a request, and how long 1,000,000 entries take to verify.

Run by bench/run.py (`python bench/audit.py`); needs no demo data. For SQLite (a fresh file)
and PostgreSQL (a fresh database on the local server, dropped afterwards; skipped when it
does not answer), a child process with DEBUG=0:
1. migrates an empty database;
2. times `audit.record` (lock the head, hash, insert, move the head) against a plain ORM
   insert of the same row (what `record` did before the chain), in-process, each in its own
   committed transaction (a request's case), then many in one transaction (no commit);
3. seeds the chain up to 1,000,000 entries in batches, each hash computed in Python
   (chained hashes rule out INSERT … SELECT): executemany on SQLite, COPY on PostgreSQL;
4. times `manage.py audit_verify` (in-process, `call_command`) over the whole chain.
Prints one JSON object (the last line): {"entries": …, "sqlite": {…}, "postgresql": {…}}.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENTRIES = int(os.environ.get("BENCH_AUDIT_ENTRIES", "1000000"))
APPENDS = 500
"""Appends timed per way (own transaction) and per round."""
ROUNDS = 3
BATCH = 20_000
_SETTINGS_VARS = ["DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "GUICHET_DATA_DIR"]


# --- In the child: one database ------------------------------------------------------------


def _plain_insert(i: int) -> None:
    """The row `record` wrote before the chain: one ORM insert (seq out of the chain's range,
    removed afterwards)."""
    from django.utils import timezone

    from guichet.governance.models import AuditEntry

    AuditEntry.objects.create(
        seq=-1 - i,
        action="dossier.viewed",
        actor_label="agent-c3",
        object_type="dossiers.dossier",
        object_id=str(i),
        data={},
        at=timezone.now(),
        prev_hash="",
        hash="",
    )


def _chained(i: int) -> None:
    from guichet.governance import audit

    audit.record("dossier.viewed", obj=None, actor="agent-c3", ip="192.0.2.10")


def _per_entry_ms(write: Any, *, own_transaction: bool) -> float:
    from django.db import transaction

    rounds = []
    for r in range(ROUNDS):
        started = time.perf_counter()
        if own_transaction:
            for i in range(APPENDS):
                with transaction.atomic():
                    write(r * APPENDS + i)
        else:
            with transaction.atomic():
                for i in range(APPENDS):
                    write(100_000 + r * APPENDS + i)
        rounds.append((time.perf_counter() - started) * 1000 / APPENDS)
    return statistics.median(rounds)


def _remove_plain_rows() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE governance_auditentry DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM governance_auditentry WHERE seq < 0")
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE governance_auditentry ENABLE TRIGGER USER")


ACTIONS = [
    ("dossier.viewed", "dossiers.dossier", {}),
    ("dossier.status_changed", "dossiers.dossier", {"from": "submitted", "to": "in_review"}),
    ("attachment.viewed", "dossiers.dossier", {"attachment": "8f14e45f"}),
    ("account.signed_in", "accounts.user", {"phone": "+223 70 •• •• 56"}),
    ("document.verified", "documents.issueddocument", {"outcome": "authentic", "via": "qr"}),
]


def _seed(total: int) -> float:
    """Append entries up to `total`, from the head, in batches; return the seconds taken."""
    from django.db import connection, transaction

    from guichet.governance import chain
    from guichet.governance.models import AuditHead

    started = time.perf_counter()
    head = AuditHead.objects.get(pk=1)
    seq, prev = head.seq, head.hash
    moment = datetime.now(UTC) - timedelta(days=400)
    columns = (
        "seq, prev_hash, hash, at, action, actor_id, actor_label, on_behalf_of, "
        "object_type, object_id, ip, purpose, data"
    )
    postgres = connection.vendor == "postgresql"
    while seq < total:
        rows = []
        for _ in range(min(BATCH, total - seq)):
            seq += 1
            moment += timedelta(microseconds=31_536_017)  # about a year per million
            action, object_type, data = ACTIONS[seq % len(ACTIONS)]
            fields: dict[str, Any] = {
                "at": moment,
                "action": action,
                "actor_id": None,
                "actor_label": f"agent-{seq % 97}",
                "on_behalf_of": "",
                "object_type": object_type,
                "object_id": str(seq // 3),
                "ip": f"10.{seq % 250}.{seq % 199}.{seq % 151}",
                "purpose": "",
                "data": data,
            }
            hash_ = chain.entry_hash(chain.canonical(seq=seq, **fields), prev)
            # SQLite keeps datetimes as Django writes them: naive UTC text.
            at = moment if postgres else moment.replace(tzinfo=None).isoformat(" ")
            rows.append(
                (seq, prev, hash_, at, action, None, fields["actor_label"], "", object_type,
                 fields["object_id"], fields["ip"], "", json.dumps(data))
            )  # fmt: skip
            prev = hash_
        with transaction.atomic(), connection.cursor() as cursor:
            if postgres:
                raw = cursor.cursor
                with raw.copy(f"COPY governance_auditentry ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * 13)
                cursor.executemany(
                    f"INSERT INTO governance_auditentry ({columns}) VALUES ({marks})",  # noqa: S608
                    rows,
                )
            AuditHead.objects.filter(pk=1).update(seq=seq, hash=prev)
    return time.perf_counter() - started


def measure() -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    figures: dict[str, Any] = {"database": connection.vendor}
    for _ in range(20):  # warm-up: connection, head row, statements
        _chained(0)
    plain = _per_entry_ms(_plain_insert, own_transaction=True)
    chained = _per_entry_ms(_chained, own_transaction=True)
    _remove_plain_rows()
    plain_tx = _per_entry_ms(_plain_insert, own_transaction=False)
    chained_tx = _per_entry_ms(_chained, own_transaction=False)
    _remove_plain_rows()
    figures.update(
        plain_insert_ms=round(plain, 3),
        append_ms=round(chained, 3),
        append_overhead_ms=round(chained - plain, 3),
        plain_insert_in_tx_ms=round(plain_tx, 3),
        append_in_tx_ms=round(chained_tx, 3),
        append_overhead_in_tx_ms=round(chained_tx - plain_tx, 3),
    )
    figures["seed_s"] = round(_seed(ENTRIES), 1)
    started = time.perf_counter()
    call_command("audit_verify", stdout=open(os.devnull, "w"))  # noqa: SIM115
    figures["verify_s"] = round(time.perf_counter() - started, 2)
    figures["verify_entries"] = ENTRIES
    figures["verify_entries_per_s"] = round(ENTRIES / figures["verify_s"])
    return figures


# --- In the parent: one child per database -------------------------------------------------


def _child(env_values: dict[str, str], data_dir: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k.removesuffix("_FILE") not in _SETTINGS_VARS}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="127.0.0.1",
        GUICHET_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="guichet.settings",
        **env_values,
    )
    done = subprocess.run(
        [sys.executable, "bench/audit.py", "--measure"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench/audit.py --measure failed:\n{done.stdout}\n{done.stderr}")
    figures: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return figures


def main() -> None:
    from bench import submissions

    out: dict[str, Any] = {"entries": ENTRIES, "appends": APPENDS * ROUNDS}
    with tempfile.TemporaryDirectory(prefix="guichet-audit-") as tmp:
        sqlite_dir = Path(tmp) / "sqlite"
        out["sqlite"] = _child(
            {"DATABASE_URL": f"sqlite:///{sqlite_dir / 'db.sqlite3'}"}, sqlite_dir
        )
        try:
            version = submissions.postgres_version()
        except Exception as exc:  # noqa: BLE001 (no PostgreSQL here: say so)
            out["postgresql"] = {"available": False, "note": f"PostgreSQL did not answer: {exc}"}
        else:
            with submissions.postgres_database() as url:
                out["postgresql"] = {
                    "version": version,
                    **_child({"DATABASE_URL": url}, Path(tmp) / "postgresql"),
                }
    print(json.dumps(out))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", action="store_true", help="(child) measure DATABASE_URL")
    if parser.parse_args().measure:
        print(json.dumps(measure()))
    else:
        main()
