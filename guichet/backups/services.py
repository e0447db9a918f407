"""Backups and restores (docs/adr/0015-backups.md).

`backup` writes one encrypted archive (archive.py) holding, in this order, a tar stream of:

    database/guichet.sqlite3.gz | database/guichet.pgdump    the dump (database.py)
    files/<storage name>                                      every stored file
    audit/checkpoints.jsonl, audit/checkpoint-key.pub         signed checkpoints, public key
    manifest.json                                             what the restore checks

The manifest holds only public facts: row counts per table, migrations, the SHA-256 of
every member, the audit chain's head and last checkpoint, and the key set (signing key
ids and public keys, field key ids with a fingerprint, the checkpoint key's id). Private
keys go into a separate archive (`backup_keys`), under another key.

`restore` checks the whole archive (authenticity, then every member against the manifest)
before it touches anything, refuses a non-empty database, files that would overwrite
different ones and missing keys, then loads the database and the files, compares them
with the manifest, verifies the audit chain, and re-applies the purges done since the
backup (`purge --reapply`) so that nothing purged comes back.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.core.management import call_command
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from guichet.backups import archive, database
from guichet.backups.archive import ArchiveError
from guichet.core import sealing
from guichet.documents.keys import FileKeyStore, env_name, key_store
from guichet.governance import chain, checkpoints
from guichet.retention import services as retention

FORMAT = "guichet-backup/1"
KEYS_FORMAT = "guichet-backup-keys/1"
MANIFEST = "manifest.json"
FILES = "files/"
CHECKPOINTS_MEMBER = "audit/checkpoints.jsonl"
PUBLIC_KEY_MEMBER = "audit/checkpoint-key.pub"
DATA_ARCHIVE = re.compile(r"guichet-\d{8}T\d{6}Z\.backup")
"""Names `backup` gives its data archives: the only files its clean-up may delete."""
COPY = 1 << 20

Say = Callable[[str], None]


def _silent(line: str) -> None:
    pass


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why, in French."""


class RestoreRefused(BackupError):
    """Refused before anything was changed."""

    def __init__(self, reasons: list[str]):
        super().__init__("\n".join(reasons))
        self.reasons = reasons


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def file_storage() -> Storage:
    """Where attachments, issued documents, exports and the tombstone journal are."""
    storage: Storage = storages["attachments"]
    return storage


def _storage_backend() -> str:
    storage = file_storage()
    return f"{type(storage).__module__}.{type(storage).__qualname__}"


def walk(storage: Storage, folder: str = "") -> Iterator[str]:
    """Every file name in `storage`, folders first-level order, sorted."""
    try:
        folders, files = storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    prefix = f"{folder}/" if folder else ""
    for name in sorted(files):
        yield prefix + name
    for sub in sorted(folders):
        yield from walk(storage, prefix + sub)


def _sha256_of(handle: IO[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while block := handle.read(COPY):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size


def _stored_sha256(storage: Storage, name: str) -> str:
    with storage.open(name, "rb") as handle:
        return _sha256_of(handle)[0]


def ring_fingerprint(key: bytes) -> str:
    """Tells two field keys apart without revealing either."""
    return hashlib.sha256(b"guichet-field-key-fingerprint/1" + key).hexdigest()[:16]


def _guichet_version() -> dict[str, str]:
    try:
        version = metadata.version("guichet")
    except metadata.PackageNotFoundError:
        version = ""
    commit = ""
    if (settings.BASE_DIR / ".git").exists():
        try:
            done = subprocess.run(
                ["git", "-C", str(settings.BASE_DIR), "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
            commit = done.stdout.strip() if done.returncode == 0 else ""
        except (OSError, subprocess.TimeoutExpired):
            commit = ""
    return {"version": version, "commit": commit}


# --- Backing up ----------------------------------------------------------------------------


class _Hashing:
    """Reads through to `source`, hashing what passes (tarfile reads a member from it)."""

    def __init__(self, source: IO[bytes]):
        self.source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


@dataclass
class Written:
    path: Path
    manifest: dict[str, Any]
    size: int
    seconds: float
    pruned: list[Path] = field(default_factory=list)


def _add(tar: tarfile.TarFile, name: str, source: IO[bytes], size: int, mtime: float) -> str:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(mtime), 0o600
    hashing = _Hashing(source)
    tar.addfile(info, hashing)  # reads exactly `size` bytes
    return hashing.digest.hexdigest()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> str:
    return _add(tar, name, io.BytesIO(data), len(data), mtime)


def _checkpoint_facts(head_seq: int) -> tuple[bytes, str, dict[str, Any] | None, list[str]]:
    """The checkpoint lines up to the dumped head (later ones sign entries the dump lacks),
    the public key's text, the last of those checkpoints, and warnings."""
    file = checkpoints.path()
    public_file = file.parent / checkpoints.PUBLIC_KEY_NAME
    warnings: list[str] = []
    try:
        key = checkpoints.public_key()
        if key is None and public_file.is_file():
            key = checkpoints.public_key(str(public_file))
    except (checkpoints.CheckpointError, ValueError) as exc:
        return b"", "", None, [f"clé des points de contrôle illisible : {exc}"]
    if key is None or not file.is_file():
        return b"", "", None, warnings
    raw_public = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    public_text = base64.urlsafe_b64encode(raw_public).rstrip(b"=").decode() + "\n"
    try:
        marks = checkpoints.load(file, key)
    except checkpoints.CheckpointError as exc:
        return b"", public_text, None, [f"points de contrôle non sauvegardés : {exc}"]
    kept_lines = {mark.line for mark in marks if mark.seq <= head_seq}
    lines = file.read_bytes().splitlines(keepends=True)
    kept = b"".join(line for number, line in enumerate(lines, start=1) if number in kept_lines)
    last = max((m for m in marks if m.seq <= head_seq), key=lambda m: m.line, default=None)
    facts = None
    if last is not None:
        facts = {"seq": last.seq, "hash": last.hash, "at": last.at, "key": checkpoints.key_id(key)}
    return kept, public_text, facts, warnings


def _key_facts(signing: list[dict[str, str]]) -> dict[str, Any]:
    ring: dict[str, Any] | None = None
    found = _configured_ring()
    if found is not None:
        ring = {
            "source": "FIELD_KEYS" if settings.FIELD_KEYS else "FIELD_KEY_RING",
            "current": found.current,
            "keys": {kid: ring_fingerprint(key) for kid, key in sorted(found.keys.items())},
        }
    try:
        public = checkpoints.public_key()
    except (checkpoints.CheckpointError, ValueError):
        public = None
    return {
        "private_keys_included": False,
        "signing": signing,
        "field_key_ring": ring,
        "audit_checkpoint": {"key": checkpoints.key_id(public)} if public else None,
    }


def _archive_path(path: Path | None, prefix: str, now: datetime) -> Path:
    if path is None:
        path = Path(settings.BACKUP_DIR) / f"{prefix}-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.backup"
    if path.exists():
        raise BackupError(f"{path} existe déjà : donnez un autre nom.")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _write_atomically(path: Path, fill: Callable[[IO[bytes]], None]) -> int:
    """Write through `fill` into `path.partial`, synced, then rename: no half archive
    ever has the final name."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            fill(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself survives a crash
        finally:
            os.close(folder)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path.stat().st_size


def backup(*, path: Path | None = None) -> Written:
    """Write a data archive of the database, the stored files and the manifest."""
    key = archive.parse_key(settings.BACKUP_KEY, "BACKUP_KEY")
    started = time.monotonic()
    now = timezone.now()
    path = _archive_path(path, "guichet", now)
    mtime = now.timestamp()
    storage = file_storage()
    manifest: dict[str, Any] = {}

    def fill(out: IO[bytes]) -> None:
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".guichet-backup-") as tmp:
            try:
                dumped = database.dump(Path(tmp))
            except database.DatabaseError as exc:
                raise BackupError(f"Sauvegarde impossible : {exc}") from exc
            writer = archive.Writer(out, key, archive.DATA)
            members: dict[str, dict[str, Any]] = {}
            with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                size = dumped.path.stat().st_size
                with dumped.path.open("rb") as handle:
                    members[dumped.member] = {
                        "sha256": _add(tar, dumped.member, handle, size, mtime),
                        "size": size,
                    }
                dumped.path.unlink()
                stored = set()
                total = 0
                for name in walk(storage):
                    try:
                        size = storage.size(name)
                        stored_file = storage.open(name, "rb")
                    except FileNotFoundError:
                        continue  # deleted since listed (a purge): the rows say so
                    with stored_file:
                        digest = _add(tar, FILES + name, stored_file, size, mtime)
                    members[FILES + name] = {"sha256": digest, "size": size}
                    stored.add(name)
                    total += size
                head_seq, head_hash = dumped.facts.audit_head
                lines, public_text, last, warnings = _checkpoint_facts(head_seq)
                if lines:
                    members[CHECKPOINTS_MEMBER] = {
                        "sha256": _add_bytes(tar, CHECKPOINTS_MEMBER, lines, mtime),
                        "size": len(lines),
                    }
                if public_text:
                    raw = public_text.encode()
                    members[PUBLIC_KEY_MEMBER] = {
                        "sha256": _add_bytes(tar, PUBLIC_KEY_MEMBER, raw, mtime),
                        "size": len(raw),
                    }
                facts = dumped.facts
                manifest.update(
                    {
                        "format": FORMAT,
                        "created_at": utc_text(now),
                        "guichet": _guichet_version(),
                        "database": {"vendor": dumped.vendor, "member": dumped.member},
                        "migrations": facts.migrations,
                        "rows": facts.rows,
                        "files": {
                            "storage": _storage_backend(),
                            "count": len(stored),
                            "bytes": total,
                            "referenced": len(facts.referenced_files),
                            "referenced_missing": sorted(facts.referenced_files - stored),
                        },
                        "audit": {
                            "head": {"seq": head_seq, "hash": head_hash},
                            "last_checkpoint": last,
                            "warnings": warnings,
                        },
                        "keys": _key_facts(facts.signing_keys),
                        "members": members,
                    }
                )
                text = json.dumps(manifest, indent=1, sort_keys=True).encode()
                _add_bytes(tar, MANIFEST, text, mtime)
            writer.close()

    size = _write_atomically(path, fill)
    written = Written(path, manifest, size, time.monotonic() - started)
    if path.parent.resolve() == Path(settings.BACKUP_DIR).resolve():
        written.pruned = _prune(path)
    return written


def _prune(kept: Path) -> list[Path]:
    """Data archives in BACKUP_DIR older than BACKUP_KEEP_DAYS (0: keep all): backups hold
    what the purge deleted since, so they must expire too (docs/retention.md). The archive
    just written always stays."""
    if settings.BACKUP_KEEP_DAYS <= 0:
        return []
    limit = time.time() - timedelta(days=settings.BACKUP_KEEP_DAYS).total_seconds()
    gone = []
    for candidate in sorted(kept.parent.iterdir()):
        if (
            candidate != kept
            and DATA_ARCHIVE.fullmatch(candidate.name)
            and candidate.stat().st_mtime < limit
        ):
            candidate.unlink()
            gone.append(candidate)
    return gone


# --- Reading an archive ----------------------------------------------------------------------


@dataclass
class Verified:
    path: Path
    manifest: dict[str, Any]
    chunks: int
    size: int
    key_id: str


def _members(
    path: Path, key: bytes, kind: str, stats: dict[str, int] | None = None
) -> Iterator[tuple[tarfile.TarInfo, IO[bytes]]]:
    """Each member of the archive with a stream of its content, every chunk authenticated
    on the way; the end of the archive is checked after the last member (`stats["chunks"]`:
    how many chunks were authenticated)."""
    with path.open("rb") as source:
        reader = archive.Reader(source, key, kind, name=path.name)
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
                for info in tar:
                    parts = info.name.split("/")
                    if not info.isfile() or info.name.startswith("/") or ".." in parts:
                        raise ArchiveError(f"{path.name} : membre inattendu {info.name!r}.")
                    handle = tar.extractfile(info)
                    assert handle is not None  # a regular file
                    yield info, handle
        except tarfile.TarError as exc:
            raise ArchiveError(f"{path.name} : contenu illisible ({exc}).") from exc
        reader.finish()
        if stats is not None:
            stats["chunks"] = reader.chunks


def verify(path: Path) -> Verified:
    """Read the whole archive: every chunk authentic, every member as the manifest says,
    nothing more and nothing less. Touches nothing."""
    key = archive.parse_key(settings.BACKUP_KEY, "BACKUP_KEY")
    if not path.is_file():
        raise ArchiveError(f"{path} : fichier introuvable.")
    seen: dict[str, dict[str, Any]] = {}
    manifest: dict[str, Any] | None = None
    stats: dict[str, int] = {}
    for info, handle in _members(path, key, archive.DATA, stats):
        if manifest is not None:
            raise ArchiveError(f"{path.name} : membre après le manifeste ({info.name}).")
        if info.name == MANIFEST:
            try:
                manifest = json.loads(handle.read())
            except ValueError as exc:
                raise ArchiveError(f"{path.name} : manifeste illisible ({exc}).") from exc
        else:
            digest, size = _sha256_of(handle)
            seen[info.name] = {"sha256": digest, "size": size}
    if manifest is None or manifest.get("format") != FORMAT:
        raise ArchiveError(f"{path.name} : pas de manifeste {FORMAT}.")
    expected = manifest.get("members", {})
    if seen != expected:
        different = sorted(set(seen) ^ set(expected)) or sorted(
            name for name in seen if seen[name] != expected.get(name)
        )
        raise ArchiveError(
            f"{path.name} : le contenu ne correspond pas au manifeste ({', '.join(different[:5])})."
        )
    return Verified(path, manifest, stats["chunks"], path.stat().st_size, archive.key_id(key))


# --- Restoring -------------------------------------------------------------------------------


def _migration_problems(manifest: dict[str, Any]) -> tuple[list[str], int]:
    """Migrations of the archive this code does not know (refused: a newer Guichet made
    it), and how many of the code's the archive lacks (applied after the restore)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    on_disk = set(loader.disk_migrations)
    installed = {label for label, _ in on_disk}
    archived = {(app, name) for app, names in manifest["migrations"].items() for name in names}
    unknown = sorted(f"{app}.{name}" for app, name in archived - on_disk if app in installed)
    problems = (
        [
            "l'archive vient d'une version plus récente de Guichet (migrations inconnues ici : "
            + ", ".join(unknown[:5])
            + ") : restaurez avec la version "
            + (manifest["guichet"].get("commit") or manifest["guichet"].get("version") or "?")
            + "."
        ]
        if unknown
        else []
    )
    return problems, len(on_disk - archived)


def _configured_ring() -> sealing.KeyRing | None:
    """The field key ring as configured now, read afresh (not the process's cached copy)."""
    try:
        if settings.FIELD_KEYS:
            return sealing.KeyRing.parse(settings.FIELD_KEYS, "FIELD_KEYS")
        path = sealing.key_file()
        return sealing.KeyRing.parse(path.read_text(), str(path)) if path.is_file() else None
    except sealing.SealingError:
        return None


def _key_problems(manifest: dict[str, Any]) -> list[str]:
    """Keys the restored instance needs and does not have (or has different)."""
    keys = manifest["keys"]
    problems = []
    store = key_store()
    where = getattr(store, "directory", "le magasin de clés")
    absent = [
        item["kid"]
        for item in keys["signing"]
        if item["status"] == "active" and not store.has(item["kid"])
    ]
    if absent:
        problems.append(
            f"{len(absent)} clé(s) de signature en service absente(s) ({', '.join(absent[:5])}"
            + ("…" if len(absent) > 5 else "")
            + f") : ni dans {where} (KID.pem) ni en variable {env_name('KID')}"
        )
    ring_facts = keys.get("field_key_ring")
    if ring_facts:
        ring = _configured_ring()
        for kid, fingerprint in ring_facts["keys"].items():
            if ring is None or kid not in ring.keys:
                problems.append(
                    f"clé {kid} du trousseau des réponses sensibles absente "
                    f"({settings.FIELD_KEY_RING} ou FIELD_KEYS)"
                )
            elif ring_fingerprint(ring.keys[kid]) != fingerprint:
                problems.append(f"clé {kid} du trousseau des réponses sensibles différente")
    checkpoint = keys.get("audit_checkpoint")
    if checkpoint:
        try:
            public = checkpoints.public_key()
        except (checkpoints.CheckpointError, ValueError):
            public = None
        if public is None or checkpoints.key_id(public) != checkpoint["key"]:
            problems.append(
                f"clé des points de contrôle d'audit {checkpoint['key']} absente ou différente "
                f"({settings.AUDIT_CHECKPOINT_KEY_FILE} ou AUDIT_CHECKPOINT_KEY)"
            )
    return problems


def _journal_files(journal: Path | None) -> dict[str, bytes]:
    """The tombstone journal's files kept elsewhere (`--journal`), by storage name."""
    if journal is None:
        return {}
    if not journal.is_dir():
        raise RestoreRefused([f"--journal {journal} : dossier introuvable."])
    found = {}
    for file in sorted(journal.glob("*.jsonl")):
        data = file.read_bytes()
        try:
            for line in data.decode().splitlines():
                if line.strip():
                    json.loads(line)["id"]  # noqa: B018  (each line must be a tombstone)
        except (ValueError, KeyError, TypeError) as exc:
            raise RestoreRefused([f"--journal : {file.name} illisible ({exc!r})."]) from exc
        found[f"{retention.JOURNAL_DIR}/{file.name}"] = data
    return found


@dataclass
class Plan:
    """What the restore will do, decided before anything changes."""

    verified: Verified
    missing_migrations: int
    files_present: set[str]
    """Stored files already in the target storage with the archive's content."""
    journal: dict[str, bytes]
    key_problems: list[str]


def plan_restore(
    path: Path, *, journal: Path | None = None, allow_missing_keys: bool = False
) -> Plan:
    """Everything checked before the restore touches anything; RestoreRefused lists why not."""
    verified = verify(path)
    manifest = verified.manifest
    reasons: list[str] = []
    vendor = manifest["database"]["vendor"]
    if vendor != database.vendor():
        reasons.append(
            f"l'archive contient une base {vendor}, la base cible est {database.vendor()}."
        )
    problems, missing = _migration_problems(manifest)
    reasons += problems
    tables = database.table_names()
    if tables:
        reasons.append(
            f"la base cible ({database.describe_target()}) n'est pas vide : {len(tables)} "
            f"table(s), dont {', '.join(tables[:3])}. Restaurez dans une base vide (nouvelle "
            "base PostgreSQL sans `migrate`, ou nouveau fichier SQLite)."
        )
    storage = file_storage()
    present, conflicts = set(), []
    for member, facts in manifest["members"].items():
        if member.startswith(FILES) and storage.exists(member[len(FILES) :]):
            name = member[len(FILES) :]
            if _stored_sha256(storage, name) == facts["sha256"]:
                present.add(name)
            else:
                conflicts.append(name)
    journal_files = _journal_files(journal)
    for name, data in journal_files.items():
        if (
            storage.exists(name)
            and _stored_sha256(storage, name) != hashlib.sha256(data).hexdigest()
        ):
            conflicts.append(name)
    if conflicts:
        reasons.append(
            f"{len(conflicts)} fichier(s) déjà présent(s) dans le stockage avec un autre "
            f"contenu, dont {', '.join(conflicts[:3])} : restaurez dans un stockage vide."
        )
    key_problems = _key_problems(manifest)
    if key_problems and not allow_missing_keys:
        reasons += key_problems
        reasons.append(
            "Remettez d'abord les clés (`manage.py restore --keys ARCHIVE-DES-CLÉS`, ou leurs "
            "fichiers), ou passez --allow-missing-keys pour restaurer sans elles."
        )
    if reasons:
        raise RestoreRefused(reasons)
    return Plan(verified, missing, present, journal_files, key_problems)


@dataclass
class Restored:
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def restore(plan: Plan, *, say: Say = _silent) -> Restored:
    """Load the database and the files, check them against the manifest, verify the audit
    chain, and re-apply the purges. Problems found after loading are listed (the purges are
    re-applied anyway: what was purged must stay purged)."""
    started = time.monotonic()
    manifest = plan.verified.manifest
    key = archive.parse_key(settings.BACKUP_KEY, "BACKUP_KEY")
    storage = file_storage()
    outcome = Restored()
    audit_files: dict[str, bytes] = {}
    written = 0
    with tempfile.TemporaryDirectory(prefix="guichet-restore-") as tmp:
        for info, handle in _members(plan.verified.path, key, archive.DATA):
            expected = manifest["members"].get(info.name)
            if info.name == manifest["database"]["member"]:
                dump = Path(tmp) / Path(info.name).name
                with dump.open("wb") as out:
                    digest = _copy_hashing(handle, out)
                if digest != expected["sha256"]:
                    raise BackupError(f"{info.name} a changé depuis la vérification : arrêt.")
                database_started = time.monotonic()
                try:
                    database.load(dump, manifest["database"]["vendor"])
                except database.DatabaseError as exc:
                    raise BackupError(f"Base non restaurée : {exc}") from exc
                dump.unlink()
                say(
                    f"Base restaurée : {database.describe_target()} "
                    f"({time.monotonic() - database_started:.1f} s)."
                )
            elif info.name.startswith(FILES):
                name = info.name[len(FILES) :]
                if name in plan.files_present:
                    continue
                with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
                    _copy_hashing(handle, spool)
                    spool.seek(0)
                    saved = storage.save(name, File(spool, name=name))
                if saved != name:
                    raise BackupError(f"le stockage a enregistré {name} sous {saved} : arrêt.")
                written += 1
            elif info.name in (CHECKPOINTS_MEMBER, PUBLIC_KEY_MEMBER):
                audit_files[info.name] = handle.read()
    say(
        f"Fichiers restaurés : {written} écrit(s), {len(plan.files_present)} déjà présent(s) "
        "à l'identique."
    )
    facts = database.current_facts()
    outcome.problems += _check_rows(manifest, facts.rows, say)
    outcome.problems += _check_files(manifest, facts.referenced_files, storage, say)
    outcome.problems += _check_audit(manifest, audit_files, plan, say)
    if plan.missing_migrations:
        call_command("migrate", interactive=False, verbosity=0)
        say(f"Base migrée vers cette version : {plan.missing_migrations} migration(s).")
    outcome.problems += _reapply(plan, storage, say)
    outcome.seconds = time.monotonic() - started
    return outcome


def _copy_hashing(source: IO[bytes], out: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while block := source.read(COPY):
        digest.update(block)
        out.write(block)
    return digest.hexdigest()


def _check_rows(manifest: dict[str, Any], rows: dict[str, int], say: Say) -> list[str]:
    expected: dict[str, int] = manifest["rows"]
    wrong = [
        f"{table} : {rows.get(table)} au lieu de {count}"
        for table, count in sorted(expected.items())
        if rows.get(table) != count
    ] + [f"{table} : table en trop" for table in sorted(set(rows) - set(expected))]
    if wrong:
        return [f"lignes différentes du manifeste : {'; '.join(wrong[:5])}"]
    say(
        f"Vérifié : {len(expected)} tables, {sum(expected.values())} lignes, "
        "autant que dans le manifeste, table par table."
    )
    return []


def _check_files(
    manifest: dict[str, Any], referenced: set[str], storage: Storage, say: Say
) -> list[str]:
    """Every file read back from the storage and hashed; every file the rows refer to there."""
    wrong = []
    files = {
        member[len(FILES) :]: facts["sha256"]
        for member, facts in manifest["members"].items()
        if member.startswith(FILES)
    }
    for name, expected in files.items():
        if not storage.exists(name) or _stored_sha256(storage, name) != expected:
            wrong.append(name)
    missing = sorted(name for name in referenced if not storage.exists(name))
    already = set(manifest["files"]["referenced_missing"])
    problems = []
    if wrong:
        problems.append(f"{len(wrong)} fichier(s) différent(s) du manifeste : {wrong[:3]}")
    if set(missing) - already:
        problems.append(f"{len(missing)} fichier(s) référencé(s) par la base absent(s) : {missing}")
    if not wrong:
        say(
            f"Vérifié : {len(files)} fichiers relus, empreintes SHA-256 identiques au manifeste ; "
            f"{len(referenced)} fichiers référencés par la base, "
            + (
                "tous présents."
                if not missing
                else f"{len(missing)} absents (déjà absents lors de la sauvegarde)."
            )
        )
    return problems


def _check_audit(
    manifest: dict[str, Any], audit_files: dict[str, bytes], plan: Plan, say: Say
) -> list[str]:
    """The restored chain verifies, ends at the manifest's head, and agrees with the
    archive's signed checkpoints; these go to AUDIT_CHECKPOINT_DIR (see _place_checkpoints)."""
    head = manifest["audit"]["head"]
    marks: list[chain.Checkpoint] = []
    key = None
    with tempfile.TemporaryDirectory(prefix="guichet-restore-") as tmp:
        if CHECKPOINTS_MEMBER in audit_files and PUBLIC_KEY_MEMBER in audit_files:
            copy = Path(tmp) / "checkpoints.jsonl"
            copy.write_bytes(audit_files[CHECKPOINTS_MEMBER])
            key = checkpoints.public_key(audit_files[PUBLIC_KEY_MEMBER].decode().strip())
            assert key is not None  # given: never None
            try:
                marks = checkpoints.load(copy, key)
            except checkpoints.CheckpointError as exc:
                return [f"points de contrôle de l'archive refusés : {exc}"]
    report = chain.verify(checkpoints=marks)
    if report.problem is not None:
        return [f"journal d'audit : {report.problem.detail}"]
    if (report.last_seq, report.last_hash) != (
        head["seq"],
        head["hash"] if head["seq"] else chain.GENESIS,
    ):
        return [
            f"journal d'audit : se termine à l'entrée n° {report.last_seq}, le manifeste dit "
            f"n° {head['seq']} ({head['hash'][:16]}…)"
        ]
    say(
        f"Vérifié : journal d'audit intact, {report.entries} entrées, dernière n° "
        f"{report.last_seq} ({report.last_hash[:16]}…) = tête du manifeste ; "
        f"{report.checkpoints} point(s) de contrôle signé(s) de l'archive comparé(s)."
    )
    if key is None or not marks:
        return []
    if any("clé des points de contrôle" in problem for problem in plan.key_problems):
        say(
            "Points de contrôle de l'archive non copiés dans AUDIT_CHECKPOINT_DIR : la clé "
            "des points de contrôle n'est pas celle de l'archive."
        )
        return []
    return _place_checkpoints(audit_files, report, say)


def _place_checkpoints(audit_files: dict[str, bytes], report: chain.Report, say: Say) -> list[str]:
    """Put the archive's checkpoints where audit_verify and audit_checkpoint read them. A
    checkpoints file already there that signs entries beyond the restored head (written
    after the backup) is kept aside under another name: those entries are lost, and
    `audit_checkpoint` would otherwise refuse to sign again."""
    file = checkpoints.path()
    file.parent.mkdir(parents=True, exist_ok=True)
    public_file = file.parent / checkpoints.PUBLIC_KEY_NAME
    if not public_file.is_file():
        public_file.write_bytes(audit_files[PUBLIC_KEY_MEMBER])
    if not file.is_file():
        file.write_bytes(audit_files[CHECKPOINTS_MEMBER])
        say(f"Points de contrôle de l'archive écrits dans {file}.")
        return []
    key = checkpoints.public_key(audit_files[PUBLIC_KEY_MEMBER].decode().strip())
    assert key is not None  # given: never None
    try:
        marks = checkpoints.load(file, key)
    except checkpoints.CheckpointError as exc:
        return [f"{file} : {exc}"]
    beyond = [mark for mark in marks if mark.seq > report.last_seq]
    earlier = [mark for mark in marks if mark.seq <= report.last_seq]
    check = chain.verify(checkpoints=earlier)
    if check.problem is not None:
        return [f"{file} ne correspond pas à la base restaurée : {check.problem.detail}"]
    if not beyond:
        say(f"Points de contrôle déjà présents dans {file} : {len(earlier)} comparé(s), conformes.")
        return []
    aside = file.with_name(f"checkpoints.before-restore-{timezone.now():%Y%m%dT%H%M%SZ}.jsonl")
    lines = file.read_bytes().splitlines(keepends=True)
    kept = {mark.line for mark in earlier}
    os.replace(file, aside)
    file.write_bytes(b"".join(line for n, line in enumerate(lines, start=1) if n in kept))
    lost = max(mark.seq for mark in beyond)
    say(
        f"Attention : {file} signait le journal jusqu'à l'entrée n° {lost} ; la sauvegarde "
        f"s'arrête à la n° {report.last_seq}. Les entrées suivantes sont perdues avec la "
        f"restauration. Fichier d'origine gardé sous {aside.name} ; {file.name} repart de la "
        "base restaurée."
    )
    return []


def _reapply(plan: Plan, storage: Storage, say: Say) -> list[str]:
    for name, data in plan.journal.items():
        if not storage.exists(name):
            storage.save(name, File(io.BytesIO(data), name=name))
    if plan.journal:
        say(f"Journal des pierres tombales repris de --journal : {len(plan.journal)} fichier(s).")
    taken = plan.verified.manifest["created_at"]
    if not plan.journal and not any(
        utc_text(datetime.fromisoformat(t["purged_at"])) > taken for t in retention.journal()
    ):
        say(
            "Note : le journal ne connaît aucune purge postérieure à la sauvegarde. Si le "
            "stockage des fichiers a été perdu, reprenez la copie de retention/tombstones "
            "gardée hors de la machine (--journal), sinon ces purges seraient oubliées."
        )
    out = io.StringIO()
    call_command("purge", "--reapply", stdout=out)
    say("Purges réappliquées (purge --reapply) :")
    for line in out.getvalue().splitlines():
        say(f"  {line}")
    back = retention.reapply_plan()
    tombstones = retention.journal()
    files_back = [name for t in tombstones for name in t["files"] if storage.exists(name)]
    if back or files_back:
        return [
            f"{len(back)} élément(s) et {len(files_back)} fichier(s) purgés sont encore là "
            "après purge --reapply"
        ]
    say(
        f"Vérifié : rien de ce qui avait été purgé n'est revenu ({len(tombstones)} "
        "pierre(s) tombale(s) du journal, 0 dossier ni fichier présent)."
    )
    return []


# --- Private keys, in their own archive ------------------------------------------------------


@dataclass
class KeyItem:
    member: str
    target: Path


def _key_items() -> tuple[list[KeyItem], list[str]]:
    """The private keys kept in files here, and what is kept elsewhere (not archived)."""
    items: list[KeyItem] = []
    elsewhere: list[str] = []
    store = key_store()
    if isinstance(store, FileKeyStore):
        if store.directory.is_dir():
            items += [
                KeyItem(f"signing/{pem.name}", pem)
                for pem in sorted(store.directory.glob("*.pem"))
                if pem.resolve() != Path(settings.AUDIT_CHECKPOINT_KEY_FILE).resolve()
            ]
    else:
        elsewhere.append(f"clés de signature : magasin {settings.SIGNING_KEY_STORE}")
    elsewhere += sorted(name for name in os.environ if name.startswith(env_name("")))
    if settings.FIELD_KEYS:
        elsewhere.append("trousseau des réponses sensibles : FIELD_KEYS")
    elif sealing.key_file().is_file():
        items.append(KeyItem("field-keys.json", sealing.key_file()))
    if settings.AUDIT_CHECKPOINT_KEY:
        elsewhere.append("clé des points de contrôle : AUDIT_CHECKPOINT_KEY")
    elif Path(settings.AUDIT_CHECKPOINT_KEY_FILE).is_file():
        items.append(KeyItem("audit-checkpoint.pem", Path(settings.AUDIT_CHECKPOINT_KEY_FILE)))
    return items, elsewhere


def _keys_key() -> bytes:
    key = archive.parse_key(settings.BACKUP_KEYS_KEY, "BACKUP_KEYS_KEY")
    if settings.BACKUP_KEY and archive.parse_key(settings.BACKUP_KEY, "BACKUP_KEY") == key:
        raise ArchiveError(
            "BACKUP_KEYS_KEY doit être différente de BACKUP_KEY : les clés privées ne se "
            "gardent pas sous la même clé que les données."
        )
    return key


@dataclass
class KeysWritten:
    path: Path
    members: list[str]
    elsewhere: list[str]
    size: int


def backup_keys(*, path: Path | None = None) -> KeysWritten:
    """Write the private keys kept in files into their own archive (BACKUP_KEYS_KEY)."""
    key = _keys_key()
    now = timezone.now()
    path = _archive_path(path, "guichet-keys", now)
    items, elsewhere = _key_items()
    manifest: dict[str, Any] = {
        "format": KEYS_FORMAT,
        "created_at": utc_text(now),
        "members": {},
        "elsewhere": elsewhere,
    }

    def fill(out: IO[bytes]) -> None:
        writer = archive.Writer(out, key, archive.KEYS)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            mtime = now.timestamp()
            for item in items:
                data = item.target.read_bytes()
                manifest["members"][item.member] = _add_bytes(tar, item.member, data, mtime)
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1).encode(), mtime)
        writer.close()

    size = _write_atomically(path, fill)
    return KeysWritten(path, [item.member for item in items], elsewhere, size)


def _key_target(member: str) -> Path | None:
    if member == "field-keys.json":
        return None if settings.FIELD_KEYS else sealing.key_file()
    if member == "audit-checkpoint.pem":
        return None if settings.AUDIT_CHECKPOINT_KEY else Path(settings.AUDIT_CHECKPOINT_KEY_FILE)
    if re.fullmatch(r"signing/[A-Za-z0-9_-]{1,64}\.pem", member):
        return Path(settings.SIGNING_KEYS_DIR) / member.removeprefix("signing/")
    raise ArchiveError(f"archive de clés : membre inattendu {member!r}.")


def restore_keys(path: Path) -> tuple[list[Path], list[Path], list[str]]:
    """Put the private keys back where this instance looks for them (written, already there
    identical, not written because a variable supplies that key). Refuses, writing
    nothing, if a key file there differs."""
    key = _keys_key()
    members: dict[str, bytes] = {}
    manifest: dict[str, Any] | None = None
    for info, handle in _members(path, key, archive.KEYS):
        if info.name == MANIFEST:
            manifest = json.loads(handle.read())
        else:
            members[info.name] = handle.read()
    if manifest is None or manifest.get("format") != KEYS_FORMAT:
        raise ArchiveError(f"{path.name} : pas de manifeste {KEYS_FORMAT}.")
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}
    if hashes != manifest["members"]:
        raise ArchiveError(f"{path.name} : le contenu ne correspond pas au manifeste.")
    written: list[Path] = []
    same: list[Path] = []
    conflicts: list[Path] = []
    skipped: list[str] = []
    targets = {name: _key_target(name) for name in members}
    for name, target in targets.items():
        if target is None:
            skipped.append(name)
        elif target.exists():
            (same if target.read_bytes() == members[name] else conflicts).append(target)
    if conflicts:
        raise RestoreRefused(
            [
                f"{target} existe déjà avec un autre contenu : rien n'a été écrit."
                for target in conflicts
            ]
        )
    for name, target in targets.items():
        if target is None or target in same:
            continue
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(members[name])
        written.append(target)
    return written, same, skipped
