"""The database half of a backup: a consistent dump with the facts read from that same
snapshot, an emptiness check, and loading a dump into an empty database.

- SQLite: the online backup API (`sqlite3.Connection.backup`) copies the live database
  page by page into a file while others keep writing (WAL); the facts are read from that
  copy, which is then gzipped into the archive. Restoring copies it the same way into the
  target file.
- PostgreSQL: a REPEATABLE READ, READ ONLY transaction exports its snapshot
  (`pg_export_snapshot`) and `pg_dump --format=custom --snapshot=…` dumps exactly what that
  transaction sees, so the row counts and the audit head of the manifest are those of the
  dump even while the site writes. `pg_restore --single-transaction --exit-on-error` loads
  it: all or nothing. Owners and grants are left out of the dump (`--no-owner
  --no-privileges`): the restoring role owns what it creates, and the application role's
  grants are given again as after each `migrate` (docs/governance.md).

pg_dump and pg_restore come from the `postgresql-client` package; their major version must
be at least the server's.
"""

from __future__ import annotations

import gzip
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import connections, models, transaction

from guichet.documents.models import SigningKey
from guichet.governance.models import AuditHead

Query = Callable[[str], list[Sequence[Any]]]
SQLITE_MEMBER = "database/guichet.sqlite3.gz"
POSTGRES_MEMBER = "database/guichet.pgdump"


class DatabaseError(Exception):
    """A dump or a load that failed: the message says why, in French."""


@dataclass
class Facts:
    """What the manifest says about the database, read from the dumped snapshot."""

    rows: dict[str, int] = field(default_factory=dict)
    migrations: dict[str, list[str]] = field(default_factory=dict)
    audit_head: tuple[int, str] = (0, "0" * 64)
    signing_keys: list[dict[str, str]] = field(default_factory=list)
    referenced_files: set[str] = field(default_factory=set)


@dataclass
class Dump:
    vendor: str
    path: Path
    member: str
    facts: Facts


def vendor() -> str:
    return connections["default"].vendor


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tables(query: Query, vendor: str) -> list[str]:
    if vendor == "sqlite":
        sql = (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    else:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
    return [str(row[0]) for row in query(sql)]


def file_columns() -> list[tuple[str, str]]:
    """(table, column) of every file field of the installed models."""
    return [
        (model._meta.db_table, f.column)
        for model in apps.get_models()
        for f in model._meta.concrete_fields
        if isinstance(f, models.FileField)
    ]


def read_facts(query: Query, vendor: str) -> Facts:
    """Row counts, migrations, the audit head, the public signing keys and the file names
    the rows refer to, through `query` (a cursor on the snapshot or on a copy)."""
    facts = Facts()
    tables = _tables(query, vendor)
    for table in tables:
        facts.rows[table] = int(query(f"SELECT count(*) FROM {_quote(table)}")[0][0])  # noqa: S608
    for app, name in query("SELECT app, name FROM django_migrations ORDER BY app, name"):
        facts.migrations.setdefault(str(app), []).append(str(name))
    head = query(f"SELECT seq, hash FROM {_quote(AuditHead._meta.db_table)} WHERE id = 1")  # noqa: S608
    if head:
        facts.audit_head = (int(head[0][0]), str(head[0][1]))
    keys = query(
        f"SELECT kid, authority_id, status, public_key FROM {_quote(SigningKey._meta.db_table)} "  # noqa: S608
        "ORDER BY kid"
    )
    facts.signing_keys = [
        {"kid": str(k), "authority": str(a), "status": str(s), "public_key": str(p)}
        for k, a, s, p in keys
    ]
    for table, column in file_columns():
        if table in tables:
            names = query(
                f"SELECT {_quote(column)} FROM {_quote(table)} "  # noqa: S608
                f"WHERE {_quote(column)} IS NOT NULL AND {_quote(column)} <> ''"
            )
            facts.referenced_files.update(str(row[0]) for row in names)
    return facts


def _django_query(alias: str = "default") -> Query:
    def query(sql: str) -> list[Sequence[Any]]:
        with connections[alias].cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())

    return query


def current_facts() -> Facts:
    """The facts of the database as it is now (after a restore: compared with the manifest)."""
    return read_facts(_django_query(), vendor())


def table_names() -> list[str]:
    return _tables(_django_query(), vendor())


# --- Dumping ---------------------------------------------------------------------------------


def dump(workdir: Path) -> Dump:
    connection = connections["default"]
    if connection.in_atomic_block:
        raise DatabaseError("une sauvegarde ne se fait pas dans une transaction ouverte.")
    if connection.vendor == "sqlite":
        return _dump_sqlite(workdir)
    if connection.vendor == "postgresql":
        return _dump_postgres(workdir)
    raise DatabaseError(f"base {connection.vendor} : seules SQLite et PostgreSQL sont prises.")


def _dump_sqlite(workdir: Path) -> Dump:
    connection = connections["default"]
    connection.ensure_connection()
    copy = workdir / "guichet.sqlite3"
    target = sqlite3.connect(copy)
    try:
        with connection.wrap_database_errors:
            connection.connection.backup(target)  # one step: a consistent snapshot
    finally:
        target.close()
    reader = sqlite3.connect(copy)
    try:
        facts = read_facts(lambda sql: list(reader.execute(sql).fetchall()), "sqlite")
    finally:
        reader.close()
    packed = workdir / "guichet.sqlite3.gz"
    with copy.open("rb") as source, gzip.open(packed, "wb", compresslevel=6) as out:
        shutil.copyfileobj(source, out, 1 << 20)
    copy.unlink()
    return Dump("sqlite", packed, SQLITE_MEMBER, facts)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise DatabaseError(
            f"{name} introuvable : installez le paquet postgresql-client (même version majeure "
            "que le serveur, ou plus récente)."
        )
    return found


def _pg_env(settings_dict: dict[str, Any]) -> dict[str, str]:
    """The libpq variables for the tools (a password never goes on a command line)."""
    env = {**os.environ}
    values = {
        "PGHOST": settings_dict.get("HOST"),
        "PGPORT": settings_dict.get("PORT"),
        "PGUSER": settings_dict.get("USER"),
        "PGPASSWORD": settings_dict.get("PASSWORD"),
        "PGDATABASE": settings_dict.get("NAME"),
        "PGSSLMODE": (settings_dict.get("OPTIONS") or {}).get("sslmode"),
    }
    env.update({name: str(value) for name, value in values.items() if value})
    return env


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise DatabaseError(
            f"{Path(command[0]).name} a échoué ({done.returncode}) : "
            + " / ".join(detail[-5:] or ["sans message"])
        )


def _dump_postgres(workdir: Path) -> Dump:
    pg_dump = _tool("pg_dump")
    connection = connections["default"]
    connection.ensure_connection()
    out = workdir / "guichet.pgdump"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = str(cursor.fetchone()[0])
        # pg_dump joins this transaction's snapshot: the dump and the facts agree.
        _run(
            [
                pg_dump,
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                f"--file={out}",
            ],
            _pg_env(connection.settings_dict),
        )
        facts = read_facts(_django_query(), "postgresql")
    return Dump("postgresql", out, POSTGRES_MEMBER, facts)


# --- Loading ---------------------------------------------------------------------------------


def describe_target() -> str:
    settings_dict = connections["default"].settings_dict
    if vendor() == "sqlite":
        return f"SQLite {settings_dict['NAME']}"
    host = settings_dict.get("HOST") or "socket local"
    return f"PostgreSQL {settings_dict['NAME']} sur {host}"


def load(path: Path, member_vendor: str) -> None:
    """Load a dump into the (empty) configured database."""
    if member_vendor != vendor():
        raise DatabaseError(
            f"l'archive contient une base {member_vendor}, la base cible est {vendor()} : "
            "restaurez dans une base du même type."
        )
    if member_vendor == "sqlite":
        _load_sqlite(path)
    else:
        _load_postgres(path)


def _load_sqlite(path: Path) -> None:
    connection = connections["default"]
    name = str(connection.settings_dict["NAME"])
    connection.close()
    with _unpacked(path) as plain:
        source = sqlite3.connect(plain)
        target = sqlite3.connect(name)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()


@contextmanager
def _unpacked(path: Path) -> Iterator[Path]:
    plain = path.with_suffix("")
    try:
        with gzip.open(path, "rb") as source, plain.open("wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        yield plain
    finally:
        plain.unlink(missing_ok=True)


def _load_postgres(path: Path) -> None:
    pg_restore = _tool("pg_restore")
    connection = connections["default"]
    env = _pg_env(connection.settings_dict)
    _run(
        [
            pg_restore,
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={env.get('PGDATABASE', '')}",
            str(path),
        ],
        env,
    )
