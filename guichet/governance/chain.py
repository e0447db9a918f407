"""The audit chain: canonical form, hashes, appending under a lock, verification.

An entry's hash is `SHA-256(canonical(entry) ‖ prev_hash)`, where `canonical` is this JSON
array, compact, ASCII-only, with the keys of `data` sorted (no float: see `audit.record`):

    ["guichet-audit/1", seq, at, action, actor_id, actor_label, on_behalf_of,
     object_type, object_id, ip, purpose, data]

`at` is UTC with microseconds (`2026-11-29T08:45:00.123456Z`). The first entry's
`prev_hash` is 64 zeros. `seq` is in the hashed content, so an entry cannot be moved.

Appending locks the head row, inserts the entry after it and moves the head onto it. On
PostgreSQL that is one statement (`append`): the row lock is held until the caller's
transaction ends, so a second appender waits and then reads the head the first one
committed, and the database completes the hash (`sha256`) over the canonical form Python
wrote, which Python then checks. On SQLite (`UPDATE … RETURNING` on the head, the insert,
the head's hash) transactions are IMMEDIATE (settings) and writes are serialised anyway.
A transaction rolled back takes its entries and its move of the head with it: no gap.

Verification streams the rows in `seq` order (keyset pages, raw cursor) and stops at the
first entry that is missing, altered, moved, inserted or unlinked, or that disagrees with
a signed checkpoint (governance/checkpoints.py); then it compares the end of the chain
with the head row and with the last checkpoint, which catches a truncated tail.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from guichet.governance.models import AuditEntry, AuditHead

FORMAT = "guichet-audit/1"
GENESIS = "0" * 64
PAGE = 20_000
"""Rows per keyset page when verifying."""

_encode = json.JSONEncoder(
    ensure_ascii=True, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode


def utc_text(value: datetime | str) -> str:
    """A timestamp as the canonical form writes it: UTC, microseconds, `Z`.

    Accepts what the drivers return: an aware datetime, a naive UTC one, the text SQLite
    stores (`2026-11-29 08:45:00.123456`) or the canonical text itself (what verification
    asks PostgreSQL for)."""
    if isinstance(value, str):
        # The two common spellings without parsing (verification reads a million).
        if len(value) == 26 and value[10] == " ":
            return f"{value[:10]}T{value[11:]}Z"
        if len(value) == 27 and value[10] == "T" and value[26] == "Z":
            return value
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"


_BEFORE_SEQ = _encode([FORMAT])[:-1] + ","


def _around_seq(
    *,
    at: datetime | str,
    action: str,
    actor_id: int | None,
    actor_label: str,
    on_behalf_of: str,
    object_type: str,
    object_id: str,
    ip: str,
    purpose: str,
    data: Any,
) -> tuple[str, str]:
    """The canonical form before and after `seq` (ASCII text): the form at place `n` is
    `before + str(n) + after`, as PostgreSQL completes it when it gives the place."""
    fields = [utc_text(at), action, actor_id, actor_label, on_behalf_of]
    fields += [object_type, object_id, ip, purpose, data]
    return _BEFORE_SEQ, "," + _encode(fields)[1:]


def canonical(*, seq: int, **fields: Any) -> bytes:
    """The bytes an entry's hash covers (with the previous hash appended); `fields`: at,
    action, actor_id, actor_label, on_behalf_of, object_type, object_id, ip, purpose, data."""
    before, after = _around_seq(**fields)
    # `_content` builds the same JSON list from a row, independently.
    return f"{before}{int(seq)}{after}".encode("ascii")


def canonical_of(entry: Any, *, seq: int) -> bytes:
    """`canonical` of an entry object (a model instance, also a migration's historical one)
    at place `seq`."""
    return canonical(seq=seq, **_fields_of(entry))


def _fields_of(entry: Any) -> dict[str, Any]:
    return dict(
        at=entry.at,
        action=entry.action,
        actor_id=entry.actor_id,
        actor_label=entry.actor_label,
        on_behalf_of=entry.on_behalf_of,
        object_type=entry.object_type,
        object_id=entry.object_id,
        ip=entry.ip,
        purpose=entry.purpose,
        data=entry.data,
    )


def entry_hash(content: bytes, prev_hash: str) -> str:
    return hashlib.sha256(content + prev_hash.encode()).hexdigest()


# --- Appending ------------------------------------------------------------------------


def _table(model: type[AuditEntry] | type[AuditHead], connection: BaseDatabaseWrapper) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def append(entry: AuditEntry, using: str = "default") -> None:
    """Give `entry` (not saved; every field set but `seq`, `prev_hash` and `hash`) the
    next place in the chain and insert it, in the caller's transaction if there is one."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        # Without savepoint: inside the caller's transaction this adds no statement;
        # alone, it makes the head's move and the insert one transaction.
        with transaction.atomic(using=using, savepoint=False):
            entry.seq, entry.prev_hash = take_place(using)
            entry.hash = entry_hash(canonical_of(entry, seq=entry.seq), entry.prev_hash)
            entry.save(force_insert=True, using=using)
            set_head(entry.seq, entry.hash, using)
        return
    # One statement, atomic by itself: no transaction of its own.
    row = _append_postgres(entry, connection)
    if row is None:
        with transaction.atomic(using=using, savepoint=False):
            with connection.cursor() as cursor:
                _create_head(cursor, connection)
            row = _append_postgres(entry, connection)
    if row is None:
        raise RuntimeError("the audit head row cannot be created")
    entry.pk, entry.seq, entry.prev_hash, entry.hash = int(row[0]), int(row[1]), row[2], row[3]
    entry._state.adding, entry._state.db = False, using
    if entry_hash(canonical_of(entry, seq=entry.seq), entry.prev_hash) != entry.hash:
        # Never seen: the database and Python disagree on the bytes hashed. Inside a
        # transaction this undoes the entry; alone, audit_verify will name it.
        raise RuntimeError(f"audit entry n° {entry.seq}: the database's hash is not Python's")


# The columns `_append_postgres` writes from the entry object (the others it computes).
_COMPUTED = {"id", "seq", "prev_hash", "hash"}


def _append_postgres(
    entry: AuditEntry, connection: BaseDatabaseWrapper
) -> tuple[int, int, str, str] | None:
    """Lock the head, insert the entry after it with its hash and move the head onto it,
    in one statement; (id, seq, prev_hash, hash), or None without a head row.

    Under READ COMMITTED, `FOR UPDATE` waits for a writer that holds the head and then
    returns the head that writer committed (not the one of the statement's snapshot); the
    final UPDATE of the head meets the same newer row, which this statement has locked,
    and moves it. So a place is never taken twice, and `seq` is unique anyway."""
    fields = [f for f in AuditEntry._meta.concrete_fields if f.attname not in _COMPUTED]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = [f.get_db_prep_save(getattr(entry, f.attname), connection) for f in fields]
    entries, head = _table(AuditEntry, connection), _table(AuditHead, connection)
    before, after = _around_seq(**_fields_of(entry))
    sql = f"""
        WITH prev AS (SELECT seq, hash FROM {head} WHERE id = 1 FOR UPDATE),
        added AS (
            INSERT INTO {entries} ({columns}, seq, prev_hash, hash)
            SELECT {", ".join(["%s"] * len(values))}, prev.seq + 1, prev.hash,
                pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
                    %s::text || (prev.seq + 1)::text || %s::text || prev.hash, 'UTF8'
                )), 'hex')
            FROM prev
            RETURNING id, seq, prev_hash, hash
        )
        UPDATE {head} SET seq = added.seq, hash = added.hash FROM added WHERE {head}.id = 1
        RETURNING added.id, added.seq, added.prev_hash, added.hash
    """  # noqa: S608 (names from the models, values as parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, before, after])
        row = cursor.fetchone()
    return (int(row[0]), int(row[1]), str(row[2]), str(row[3])) if row else None


def take_place(using: str = "default") -> tuple[int, str]:
    """Lock the head and move it one place on; return (the new seq, the previous hash).

    Must run inside the transaction that inserts the entry and then calls `set_head`
    (SQLite's way; PostgreSQL's is `append`'s one statement)."""
    connection = connections[using]
    head = _table(AuditHead, connection)
    with connection.cursor() as cursor:
        for _ in range(2):
            cursor.execute(f"UPDATE {head} SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")  # noqa: S608
            row = cursor.fetchone()
            if row is not None:
                return int(row[0]), str(row[1])
            _create_head(cursor, connection)
    raise RuntimeError("the audit head row cannot be created")


def _create_head(cursor: Any, connection: BaseDatabaseWrapper) -> None:
    """The head row is made by migration 0003; a test flush (TRUNCATE) removes it. Start
    it again from the last entry, if any, never from zero over existing entries."""
    entries, head = _table(AuditEntry, connection), _table(AuditHead, connection)
    cursor.execute(f"SELECT seq, hash FROM {entries} ORDER BY seq DESC LIMIT 1")  # noqa: S608
    last = cursor.fetchone() or (0, GENESIS)
    cursor.execute(
        f"INSERT INTO {head} (id, seq, hash) VALUES (1, %s, %s) ON CONFLICT (id) DO NOTHING",  # noqa: S608
        [last[0], last[1]],
    )


def set_head(seq: int, hash_: str, using: str = "default") -> None:
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(AuditHead, connection)} SET hash = %s WHERE id = 1 AND seq = %s",  # noqa: S608
            [hash_, seq],
        )


# --- Verifying ------------------------------------------------------------------------


class Checkpoint(NamedTuple):
    """A signed (seq, hash) of the chain at a moment (checkpoints.py reads them)."""

    seq: int
    hash: str
    at: str
    line: int = 0


@dataclass(frozen=True)
class Problem:
    seq: int | None
    """The first entry that cannot be trusted (None: not about one entry)."""
    kind: str
    """missing, altered, moved, inserted, unlinked, beyond_head, head, rewritten, truncated."""
    detail: str
    """A French sentence for the operator."""


@dataclass(frozen=True)
class Report:
    entries: int
    """Entries read."""
    last_seq: int
    last_hash: str
    checkpoints: int
    """Checkpoints compared with the chain."""
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


# Columns 4 to 11 are in the canonical order, so a row's content is one slice.
_COLUMNS = (
    "seq, prev_hash, hash, {at}, action, actor_id, actor_label, on_behalf_of, "
    "object_type, object_id, ip, purpose, data"
)
# `at` as text: SQLite's stored text (Django's converter would parse it slowly), and from
# PostgreSQL already in the canonical spelling.
_AT = {
    "sqlite": "CAST(at AS TEXT)",
    "postgresql": """to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
}


def _pages(connection: BaseDatabaseWrapper, after: int, page: int) -> Iterator[list[Sequence[Any]]]:
    at = _AT.get(connection.vendor, "at")
    sql = (
        f"SELECT {_COLUMNS.format(at=at)} FROM {_table(AuditEntry, connection)} "  # noqa: S608
        "WHERE seq > %s ORDER BY seq LIMIT %s"
    )
    with connection.cursor() as cursor:
        while True:
            cursor.execute(sql, [after, page])
            rows = cursor.fetchall()
            if not rows:
                return
            yield rows
            after = rows[-1][0]


def _content(row: Sequence[Any], seq: int) -> bytes:
    """`canonical` of a row as `_pages` reads it, at the place `seq` (the hot path)."""
    data = row[12]
    if isinstance(data, str):
        data = {} if data == "{}" else json.loads(data)
    return _encode([FORMAT, seq, utc_text(row[3]), *row[4:12], data]).encode("ascii")


def _diagnose(row: Sequence[Any]) -> Problem:
    """A row whose content does not match its hash: edited, or moved from a neighbour's
    place (reordered, or renumbered around a deletion or an insertion)?"""
    seq, prev_hash, stored = row[0], row[1], row[2]
    if entry_hash(_content(row, seq + 1), prev_hash) == stored:
        return Problem(
            seq,
            "moved",
            f"l'entrée n° {seq} porte le contenu de l'entrée n° {seq + 1} : "
            f"l'entrée n° {seq} a été supprimée ou déplacée (entrées renumérotées ou permutées).",
        )
    if seq > 1 and entry_hash(_content(row, seq - 1), prev_hash) == stored:
        return Problem(
            seq - 1,
            "inserted",
            f"l'entrée n° {seq - 1} a été insérée : l'entrée suivante porte le contenu de "
            f"l'ancienne n° {seq - 1} (entrées renumérotées après un ajout).",
        )
    return Problem(
        seq,
        "altered",
        f"l'entrée n° {seq} a été modifiée : son contenu ne correspond plus à son empreinte.",
    )


def verify(
    *,
    checkpoints: Iterable[Checkpoint] = (),
    after: Checkpoint | None = None,
    using: str = "default",
    page: int = PAGE,
) -> Report:
    """Walk the chain in `seq` order and report the first bad entry.

    `after`: start at a checkpoint already trusted (its entry must still have its hash)
    rather than at the first entry; audit_checkpoint checks only what is new."""
    connection = connections[using]
    marks: dict[int, list[Checkpoint]] = {}
    for mark in [*checkpoints, *([after] if after is not None else [])]:
        marks.setdefault(mark.seq, []).append(mark)
    start = after.seq if after is not None else 0
    expected = max(start, 1)
    last_seq, last_hash = 0, GENESIS
    # From a checkpoint, the first row read is the checkpointed one: its link to the one
    # before is not checked (it was when the checkpoint was made), its hash is.
    linked = start == 0
    count = compared = 0
    read_after = max(start - 1, 0)
    found: Problem | None = None
    while found is None:
        progressed = False
        for rows in _pages(connection, read_after, page):
            i = 0
            while i < len(rows):
                # The quick pass runs while all is well; a row it stops at is looked at here.
                j = _scan(rows, i, expected, last_hash, linked, marks)
                if j > i:
                    count += j - i
                    expected += j - i
                    last_seq, last_hash = rows[j - 1][0], rows[j - 1][2]
                    linked = progressed = True
                if j == len(rows):
                    break
                row = rows[j]
                seq, prev_hash, stored = row[0], row[1], row[2]
                if seq != expected:
                    found = _missing(expected, seq)
                elif entry_hash(_content(row, seq), prev_hash) != stored:
                    found = _diagnose(row)
                elif linked and prev_hash != last_hash:
                    found = Problem(
                        seq,
                        "unlinked",
                        f"l'entrée n° {seq} ne suit pas l'entrée n° {seq - 1} : l'une des "
                        "deux a été réécrite, ou celle-ci insérée.",
                    )
                else:  # a checkpointed entry
                    compared += len(marks[seq])
                    wrong = [mark for mark in marks[seq] if mark.hash != stored]
                    if wrong:
                        found = _rewritten(wrong[0], marks)
                if found is not None:
                    break
                count, expected, last_seq, last_hash = count + 1, expected + 1, seq, stored
                linked = progressed = True
                i = j + 1
            if found is not None:
                break
        if found is not None:
            break
        # Entries committed while we read come before the head we read now: read on.
        head = _head(connection)
        if not progressed or head is None or head[0] <= last_seq:
            if start and count == 0:
                found = Problem(start, "missing", f"l'entrée n° {start} a été supprimée.")
            else:
                found = _check_end(head, last_seq, last_hash, marks)
            break
        read_after = last_seq
    return Report(count, last_seq, last_hash, compared, found)


def _scan(
    rows: list[Sequence[Any]],
    i: int,
    expected: int,
    last_hash: str,
    linked: bool,
    marks: dict[int, list[Checkpoint]],
) -> int:
    """The index of the first row from `i` that is out of place, does not match its hash,
    does not link, or has a checkpoint; len(rows) if none. `_content` and `entry_hash`
    inlined: this loop is most of the time of verifying a million entries."""
    sha256, encode, utc, loads = hashlib.sha256, _encode, utc_text, json.loads
    for index in range(i, len(rows)):
        row = rows[index]
        seq, prev_hash, data = row[0], row[1], row[12]
        if data.__class__ is str:
            data = {} if data == "{}" else loads(data)
        content = encode([FORMAT, seq, utc(row[3]), *row[4:12], data])
        if (
            seq != expected
            or sha256((content + prev_hash).encode()).hexdigest() != row[2]
            or (linked and prev_hash != last_hash)
            or seq in marks
        ):
            return index
        expected, last_hash, linked = expected + 1, row[2], True
    return len(rows)


def _missing(expected: int, seq: int) -> Problem:
    if seq < expected:
        return Problem(seq, "altered", f"l'entrée n° {seq} apparaît deux fois.")
    span = f"n° {expected}" if seq == expected + 1 else f"n° {expected} à {seq - 1}"
    return Problem(expected, "missing", f"entrée(s) {span} supprimée(s) : la chaîne saute à {seq}.")


def _rewritten(mark: Checkpoint, marks: dict[int, list[Checkpoint]]) -> Problem:
    before = [s for s in marks if s < mark.seq]
    since = f"après l'entrée n° {max(before)}, " if before else ""
    return Problem(
        mark.seq,
        "rewritten",
        f"l'entrée n° {mark.seq} ne correspond pas au point de contrôle signé du {mark.at} : "
        f"la chaîne a été réécrite {since}au plus tard à cette entrée.",
    )


def _head(connection: BaseDatabaseWrapper) -> tuple[int, str] | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT seq, hash FROM {_table(AuditHead, connection)} WHERE id = 1")  # noqa: S608
        row = cursor.fetchone()
    return (int(row[0]), str(row[1])) if row else None


def _check_end(
    head: tuple[int, str] | None,
    last_seq: int,
    last_hash: str,
    marks: dict[int, list[Checkpoint]],
) -> Problem | None:
    """The end of the chain against the head row and the last signed checkpoint."""
    if head is None:
        if last_seq:
            return Problem(None, "head", "la ligne de tête de la chaîne a été supprimée.")
    elif head[0] > last_seq:
        return Problem(
            last_seq + 1,
            "truncated",
            f"entrées n° {last_seq + 1} à {head[0]} supprimées : la tête de la chaîne en "
            f"compte {head[0]}.",
        )
    elif head[0] < last_seq:
        return Problem(
            head[0] + 1,
            "beyond_head",
            f"l'entrée n° {head[0] + 1} est au-delà de la tête de la chaîne ({head[0]}) : "
            "ajoutée sans passer par l'application.",
        )
    elif head[1] != last_hash and last_seq:
        return Problem(
            last_seq, "head", f"l'entrée n° {last_seq} ne correspond pas à la tête de la chaîne."
        )
    beyond = [c for seq, found in marks.items() if seq > last_seq for c in found]
    if beyond:
        mark = max(beyond, key=lambda c: c.seq)
        return Problem(
            last_seq + 1,
            "truncated",
            f"entrées n° {last_seq + 1} à {mark.seq} supprimées : le point de contrôle signé "
            f"du {mark.at} en compte {mark.seq}.",
        )
    return None
