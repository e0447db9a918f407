"""Crash test: dossier submissions under faults, with nothing lost and nothing doubled.

    python bench/crash.py --short     # CI: under 3 minutes, exits 1 on any violation
    python bench/crash.py             # long form (several minutes), what `make bench` runs

The script makes its own PostgreSQL cluster (initdb in a temporary directory, as the
`postgres` user when run as root; its own port and socket directory), migrates it, loads
the demo catalog and prepares complete drafts, each with a PNG of its own, through the
dossier services (bench/citizen.py). It then starts what production runs: gunicorn with 3
gthread workers (DEBUG=0, persistent connections with health checks), the task worker
(`manage.py db_worker`) and the notification retrier (`manage.py notifications_retry`),
both restarted when they stop, as systemd would; SMS go to the development outbox.

Clients, one citizen each, submit the drafts at a steady pace: a POST of the summary's
form with the draft's submission token, retried with the same token on a connection error,
a 5xx or a 429 until it answers 302 to the dossier page (acknowledged), then a GET of that
page. Meanwhile faults are injected: SIGKILL to a gunicorn worker every few seconds, SIGKILL
to the task worker, PostgreSQL restarted (`pg_ctl restart`, fast then immediate). The last
part of the load runs without faults.

After the notifications have settled and everything is stopped, it checks, in the database
and the file storage: every acknowledged dossier is submitted exactly once (one status
change to submitted, one `dossier.submitted` audit entry), its file is there and its bytes
hash to what was uploaded (Attachment.sha256 and the file re-read), its SMS notice is in the
outbox exactly once; no dossier at all is submitted twice or notified twice; the audit chain
verifies; no 5xx (nor connection error) came more than 30 s after the end of the latest
fault. It prints the counts it compared; the last line is the result as JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
RECOVERY_LIMIT = 30.0
"""No 5xx, and no connection error, may come later than this after the end of a fault."""
GIVE_UP_AFTER = 90.0
"""A client stops retrying one submission after this long (counted as abandoned)."""
REQUEST_TIMEOUT = 30.0
RESTART_DELAY = 1.0
"""Before the task worker or the retrier is started again (systemd's RestartSec)."""
STALE_SECONDS = 15
"""NOTIFICATION_STALE_SECONDS here: a notification left `sending` by a killed worker is
queued again after this long (120 s by default; shortened so the test settles sooner)."""
RETRY_EVERY = 5
"""Seconds between two passes of the notification retrier (60 in `manage.py serve`)."""
WEB_WORKERS = 3
WEB_THREADS = 4
PREPARE_PROCESSES = 2
_REFERENCE = re.compile(r"\b[A-Z]{2}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")


@dataclass(frozen=True)
class Profile:
    name: str
    load_seconds: float
    """How long the clients start new submissions."""
    faults_until: float
    """No fault starts after this (seconds into the load): the rest of the load is calm."""
    rate: float
    """Submissions started per second, all clients together."""
    clients: int
    web_kill_every: float
    worker_kills: int
    database_restarts: tuple[str, ...]
    """`pg_ctl restart -m` modes, spread over the faulty part."""
    settle_seconds: float = 90.0
    """After the load, waiting for the notices gives up after this long without progress."""


SHORT = Profile(
    name="short",
    load_seconds=80,
    faults_until=45,
    rate=6,
    clients=8,
    web_kill_every=4,
    worker_kills=2,
    database_restarts=("fast", "immediate"),
)
LONG = Profile(
    name="long",
    load_seconds=330,
    faults_until=285,
    rate=10,
    clients=10,
    web_kill_every=4,
    worker_kills=6,
    database_restarts=("fast", "immediate", "fast", "immediate"),
)


# --- Inside the server's environment (subcommands) -------------------------------------------


def _unique_png(seed: bytes) -> bytes:
    """A small real PNG whose pixels come from `seed`: each draft's file is its own, so a
    file served for the wrong dossier would not hash right."""
    import io

    from PIL import Image

    pixels = hashlib.shake_256(seed).digest(8 * 8 * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (8, 8), pixels).save(out, format="PNG")
    return out.getvalue()


def prepare_drafts(count: int, users: int, group: int) -> dict[str, Any]:
    """`count` complete drafts dealt in turn to `users` citizens (each with a phone, so the
    submission notice goes by SMS, and a signed-in session); one unique PNG attached each."""
    from bench import citizen
    from guichet.dossiers.tests import samples

    citizen._setup()
    citizen._quick_commits()
    people = [
        citizen._citizen(f"crash-{group}-{i}", f"+223760{group:01d}{i:04d}") for i in range(users)
    ]
    sessions = [citizen._session_for(p) for p in people]
    drafts = []
    for i in range(count):
        png = _unique_png(f"{group}-{i}-{secrets.token_hex(8)}".encode())
        # citizen.fill_draft attaches samples.PNG_BYTES, read when it runs.
        samples.PNG_BYTES = png
        dossier = citizen.fill_draft(people[i % users])
        attachment = dossier.attachments.get()
        expected = hashlib.sha256(png).hexdigest()
        if attachment.sha256 != expected:  # the check below compares with the upload
            raise RuntimeError("the upload was rewritten: the crash test needs a file kept as is")
        drafts.append(
            {
                "reference": dossier.reference,
                "token": str(dossier.submission_token),
                "session": sessions[i % users],
                "attachment": str(attachment.pk),
                "sha256": expected,
                "size": len(png),
            }
        )
    return {"drafts": drafts}


def settle(references: list[str], patience: float) -> dict[str, Any]:
    """Wait until no submission notice is queued or being sent (the worker and the
    retrier deliver them), as long as their number keeps going down: give up after
    `patience` seconds without progress (a busy machine only makes this slower; a lost
    notice stops it). How long it took and what is left."""
    from bench import citizen

    citizen._setup()
    from django.db import close_old_connections

    from guichet.notifications.models import Notification

    started = last_progress = time.monotonic()
    pending = lowest = -1
    while time.monotonic() - last_progress < patience and time.monotonic() - started < 1800:
        close_old_connections()
        with suppress(Exception):  # the database may still be coming back
            pending = (
                Notification.objects.filter(event="dossier.submitted", object_ref__in=references)
                .filter(status__in=[Notification.Status.QUEUED, Notification.Status.SENDING])
                .count()
            )
            if pending == 0:
                break
            if lowest < 0 or pending < lowest:
                lowest, last_progress = pending, time.monotonic()
        time.sleep(1)
    return {"pending": pending, "seconds": round(time.monotonic() - started, 1)}


def verify(drafts: list[dict[str, Any]], acknowledged: set[str]) -> dict[str, Any]:
    """Compare what the clients were told with the database and the file storage."""
    from bench import citizen

    citizen._setup()
    from django.db.models import Count

    from guichet.dossiers.models import Attachment, Dossier, DossierStatus, StatusChange
    from guichet.governance.models import AuditEntry
    from guichet.notifications.models import Notification, OutboxSms

    references = [d["reference"] for d in drafts]
    dossiers = {d.reference: d for d in Dossier.objects.filter(reference__in=references)}
    by_pk = {str(d.pk): ref for ref, d in dossiers.items()}
    changes = dict(
        StatusChange.objects.filter(
            dossier__reference__in=references, to_status=DossierStatus.SUBMITTED
        )
        .values_list("dossier__reference")
        .annotate(n=Count("id"))
    )
    audits: dict[str, int] = {}
    for object_id, n in (
        AuditEntry.objects.filter(action="dossier.submitted", object_id__in=list(by_pk))
        .values_list("object_id")
        .annotate(n=Count("id"))
    ):
        audits[by_pk[object_id]] = n
    notices = dict(
        Notification.objects.filter(
            event="dossier.submitted", object_ref__in=references, channel="sms"
        )
        .values_list("object_ref")
        .annotate(n=Count("id"))
    )
    unsent = set(
        Notification.objects.filter(event="dossier.submitted", object_ref__in=references)
        .exclude(status__in=[Notification.Status.SENT, Notification.Status.DELIVERED])
        .values_list("object_ref", flat=True)
    )
    outbox: dict[str, int] = {}
    for text in OutboxSms.objects.values_list("text", flat=True):
        for ref in set(_REFERENCE.findall(text)):
            outbox[ref] = outbox.get(ref, 0) + 1
    # Only the columns compared (the model may grow while this runs against a working tree).
    attachments = {
        str(pk): (sha256, name, reference, scan)
        for pk, sha256, name, reference, scan in Attachment.objects.filter(
            pk__in=[d["attachment"] for d in drafts]
        ).values_list("pk", "sha256", "file", "dossier__reference", "scan_status")
    }
    storage = Attachment._meta.get_field("file").storage  # type: ignore[union-attr]

    found: dict[str, Any] = {
        "acknowledged": len(acknowledged),
        "in_database": 0,
        "missing": 0,
        "duplicates": 0,
        "files_checked": 0,
        "files_bad": 0,
        "audit_entries": 0,
        "notifications_expected": 0,
        "notifications_once": 0,
        "notifications_missing": 0,
        "notifications_doubled": 0,
        "submitted_unacknowledged": 0,
        "scan_pending": sum(1 for a in attachments.values() if a[3] == "pending"),
    }
    problems: list[str] = []
    for draft in drafts:
        ref = draft["reference"]
        dossier = dossiers.get(ref)
        submitted = dossier is not None and dossier.status != DossierStatus.DRAFT
        n_changes, n_audits = changes.get(ref, 0), audits.get(ref, 0)
        n_sms, n_notices = outbox.get(ref, 0), notices.get(ref, 0)
        # Doubles are looked for in every draft, acknowledged or not.
        if n_changes > 1 or n_audits > 1:
            found["duplicates"] += 1
            problems.append(f"{ref}: submitted {n_changes} times, {n_audits} audit entries")
        if n_sms > 1 or n_notices > 1:
            found["notifications_doubled"] += 1
            problems.append(f"{ref}: {n_notices} notifications, {n_sms} SMS in the outbox")
        if ref not in acknowledged:
            if submitted:
                found["submitted_unacknowledged"] += 1
            continue
        if not submitted or n_changes != 1 or n_audits != 1:
            found["missing"] += 1
            status = dossier.status if dossier else "absent"
            problems.append(
                f"{ref}: acknowledged but {status}, {n_changes} status changes,"
                f" {n_audits} audit entries"
            )
        else:
            found["in_database"] += 1
        found["audit_entries"] += min(n_audits, 1)
        found["files_checked"] += 1
        attachment = attachments.get(draft["attachment"])
        if attachment is None:
            found["files_bad"] += 1
            problems.append(f"{ref}: its file {draft['attachment']} is gone")
        else:
            recorded, name, owner, _ = attachment
            with storage.open(name, "rb") as stream:
                stored = hashlib.sha256(stream.read()).hexdigest()
            if not (recorded == stored == draft["sha256"]) or owner != ref:
                found["files_bad"] += 1
                problems.append(
                    f"{ref}: file {draft['attachment']} of {owner}, sha256 {stored[:12]}…"
                    f" (recorded {recorded[:12]}…, uploaded {draft['sha256'][:12]}…)"
                )
        found["notifications_expected"] += 1
        if n_notices == 1 and n_sms == 1 and ref not in unsent:
            found["notifications_once"] += 1
        elif n_sms == 0 or n_notices == 0 or ref in unsent:
            found["notifications_missing"] += 1
            problems.append(
                f"{ref}: {n_notices} notifications, {n_sms} SMS, unsent: {ref in unsent}"
            )
    # Tasks a killed worker had claimed stay "running" for ever: the retrier queues their
    # notifications again; a lost scan waits for `requeue_pending_scans`.
    from django_tasks_db.models import DBTaskResult

    found["tasks_orphaned"] = dict(
        DBTaskResult.objects.filter(status="RUNNING")
        .values_list("task_path")
        .annotate(n=Count("id"))
    )
    found["problems"] = problems
    return found


def _subcommand(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench/crash.py")
    sub = parser.add_subparsers(dest="command", required=True)
    drafts = sub.add_parser("drafts")
    drafts.add_argument("--count", type=int, required=True)
    drafts.add_argument("--users", type=int, required=True)
    drafts.add_argument("--group", type=int, default=0)
    waits = sub.add_parser("settle")
    waits.add_argument("input", type=Path)
    waits.add_argument("--patience", type=float, default=90)
    checks = sub.add_parser("verify")
    checks.add_argument("input", type=Path)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.command == "drafts":
        result = prepare_drafts(args.count, args.users, args.group)
    else:
        data = json.loads(args.input.read_text())
        if args.command == "settle":
            result = settle([d["reference"] for d in data["drafts"]], args.patience)
        else:
            result = verify(data["drafts"], set(data["acknowledged"]))
    print(json.dumps(result))


# --- The private PostgreSQL cluster ----------------------------------------------------------


def _postgres_bin() -> Path:
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = shutil.which("initdb")
    if found:  # Debian links a few of them into /usr/local/bin; the others sit beside it
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not versions:
        raise RuntimeError("initdb not found: apt-get install postgresql (or set PG_BIN)")
    return versions[-1].parent


def _free_port(preferred: int = 55432) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise SystemExit("no free port")


class PrivatePostgres:
    """A throw-away cluster in `base`: own port on 127.0.0.1, own socket directory, trust
    authentication. Never the shared server on 5432: that one is restarted here."""

    def __init__(self, base: Path) -> None:
        self.bin = _postgres_bin()
        self.base = base
        self.data = base / "data"
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        self.log = base / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/guichet"

    def _run(self, *args: str, timeout: float = 120) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        # To a file, not a pipe: a server that pg_ctl starts would hold a pipe open.
        output = self.base.parent / "pg_ctl.log"
        with output.open("ab") as out:
            done = subprocess.run(
                command, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
            )
        if done.returncode != 0:
            tail = output.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {tail}")

    def version(self) -> str:
        done = subprocess.run(
            [str(self.bin / "postgres"), "-V"], capture_output=True, text=True, check=True
        )
        found = re.search(r"\d+(\.\d+)+", done.stdout)  # postgres (PostgreSQL) 15.20 (Debian …)
        return found.group(0) if found else done.stdout.strip()

    def start(self) -> None:
        self.base.mkdir(mode=0o700)
        if self.as_postgres:
            shutil.chown(self.base, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8",
        )  # fmt: skip
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "guichet")

    def restart(self, mode: str) -> None:
        """`fast`: backends told to stop, checkpoint; `immediate`: as a crash, WAL replayed."""
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", mode, "-w", "-t", "60",
            "restart",
        )  # fmt: skip

    def stop(self) -> None:
        with suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


# --- Processes --------------------------------------------------------------------------------


class Supervised:
    """A process started again `RESTART_DELAY` after it stops, for whatever reason."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.command, self.env, self.log = name, command, env, log
        self.process: subprocess.Popen[bytes] | None = None
        self.killed = 0
        self.died = 0
        """Stops we did not cause (e.g. the database went away under it)."""
        self._kill_pending = False
        self._lock = threading.Lock()
        self._running = False
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _spawn(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def start(self) -> None:
        self._running = True
        self._spawn()
        self._thread.start()

    def _watch(self) -> None:
        while self._running:
            time.sleep(0.2)
            with self._lock:
                if not self._running or self.process is None or self.process.poll() is None:
                    continue
                if self._kill_pending:
                    self._kill_pending = False
                else:
                    self.died += 1
            time.sleep(RESTART_DELAY)
            with self._lock:
                if self._running:
                    self._spawn()

    def kill(self) -> bool:
        with self._lock:
            if self.process is None or self.process.poll() is not None:
                return False
            self.process.kill()
            self._kill_pending = True
            self.killed += 1
            return True

    def stop(self) -> None:
        with self._lock:
            self._running = False
            if self.process is not None:
                _terminate(self.process)
        self._thread.join(timeout=5)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (gunicorn's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, ValueError, IndexError):
            # The command name may hold spaces and parentheses: the fields follow the last ')'.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _wait_for_http(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped:\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/sante/")
            if conn.getresponse().status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the server did not answer within 60 s:\n{log.read_text()[-3000:]}")


# --- Clients ----------------------------------------------------------------------------------


@dataclass
class Answer:
    at: float
    """Seconds since the load began, when the answer (or the error) came."""
    what: str
    """'submit' or 'page'."""
    status: int
    """HTTP status; 0 for a connection error."""
    error: str = ""


@dataclass
class Outcome:
    reference: str
    acknowledged: bool = False
    attempts: int = 0
    seconds: float = 0.0
    note: str = ""


class Client:
    """One citizen: submits their drafts in turn at a steady pace, retrying each with its
    token until the server acknowledges it (302 to the dossier page)."""

    def __init__(self, port: int, drafts: list[dict[str, Any]], t0: float) -> None:
        self.port, self.drafts, self.t0 = port, drafts, t0
        self.csrf = secrets.token_hex(16)  # 32 characters of the CSRF secret's alphabet
        self.answers: list[Answer] = []
        self.outcomes: list[Outcome] = []
        self.conn: http.client.HTTPConnection | None = None

    def _request(
        self, method: str, path: str, what: str, session: str, body: str = ""
    ) -> tuple[int, str]:
        headers = {"Cookie": f"sessionid={session}; csrftoken={self.csrf}"}
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"http://127.0.0.1:{self.port}"
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT
                )
            self.conn.request(method, path, body=body or None, headers=headers)
            response = self.conn.getresponse()
            response.read()
            location = response.getheader("Location", "")
            if response.will_close:
                self.conn.close()
                self.conn = None
        except (OSError, http.client.HTTPException) as exc:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            self.answers.append(
                Answer(time.monotonic() - self.t0, what, 0, f"{type(exc).__name__}: {exc}"[:120])
            )
            return 0, ""
        self.answers.append(Answer(time.monotonic() - self.t0, what, response.status))
        return response.status, location

    def submit(self, draft: dict[str, Any]) -> Outcome:
        expected = f"/mes-demarches/{draft['reference']}/"
        body = urlencode({"csrfmiddlewaretoken": self.csrf, "token": draft["token"]})
        outcome = Outcome(reference=draft["reference"])
        started = time.monotonic()
        wait = 0.2
        while time.monotonic() - started < GIVE_UP_AFTER:
            outcome.attempts += 1
            status, location = self._request(
                "POST", f"{expected}deposer/", "submit", draft["session"], body
            )
            if status == 302 and location == expected:
                outcome.acknowledged = True
                outcome.seconds = time.monotonic() - started
                # What a browser does next: follow the redirect to the dossier page.
                self._request("GET", expected, "page", draft["session"])
                return outcome
            if status not in (0, 429) and status < 500:
                outcome.note = f"HTTP {status} to {location or '-'}"
                return outcome  # an answer no retry will change: reported as a failure
            time.sleep(wait * random.uniform(0.5, 1.5))  # noqa: S311 (jitter, not a secret)
            wait = min(wait * 2, 2.0)
        outcome.note = f"no acknowledgment after {outcome.attempts} attempts"
        return outcome

    def run(self, interval: float, deadline: float) -> None:
        """Submit one draft every `interval` seconds until `deadline` (monotonic)."""
        next_at = time.monotonic() + random.uniform(0, interval)  # noqa: S311
        for draft in self.drafts:
            time.sleep(max(0.0, next_at - time.monotonic()))
            if time.monotonic() >= deadline:
                return
            self.outcomes.append(self.submit(draft))
            next_at += interval


# --- Faults -----------------------------------------------------------------------------------


@dataclass
class Fault:
    kind: str
    """'web worker killed', 'task worker killed', 'database restarted (fast)' …"""
    start: float
    end: float


@dataclass
class Recovery:
    late: int = 0
    """Failures (5xx or connection errors) more than RECOVERY_LIMIT after the end of the
    latest fault of any kind (the issue's rule)."""
    late_5xx: int = 0
    """5xx more than RECOVERY_LIMIT after the end of the latest database restart: killing
    a web or task worker cuts connections but never makes a 5xx, so only the database can
    explain one (a stricter rule, which the web kills every few seconds cannot hide)."""
    longest: float = 0.0
    longest_5xx: float = 0.0


def _since(at: float, faults: list[Fault]) -> float | None:
    """Seconds since the end of the latest of `faults` before `at`; 0 during one; None
    when none came before."""
    if any(f.start <= at <= f.end for f in faults):
        return 0.0
    ends = [f.end for f in faults if f.end <= at]
    return at - max(ends) if ends else None


def recovery(answers: list[Answer], faults: list[Fault]) -> Recovery:
    found = Recovery()
    database = [f for f in faults if f.kind.startswith("database")]
    for answer in answers:
        if answer.status and answer.status < 500:
            continue
        delay = _since(answer.at, faults)
        if delay is None or delay > RECOVERY_LIMIT:  # a failure before any fault is late
            found.late += 1
        found.longest = max(found.longest, delay or 0.0)
        if answer.status >= 500:
            delay = _since(answer.at, database)
            if delay is None or delay > RECOVERY_LIMIT:
                found.late_5xx += 1
            found.longest_5xx = max(found.longest_5xx, delay or 0.0)
    return found


def fault_plan(profile: Profile) -> list[tuple[float, str]]:
    """(second, kind): web kills every few seconds; task-worker kills and database restarts
    spread over the faulty part, never at the same second as another fault."""
    plan: list[tuple[float, str]] = []
    span = profile.faults_until - 4
    restarts = len(profile.database_restarts)
    for i, mode in enumerate(profile.database_restarts):
        plan.append((4 + span * (i + 1) / (restarts + 1), f"database:{mode}"))
    for i in range(profile.worker_kills):
        plan.append((4 + span * (i + 0.5) / profile.worker_kills + 1.3, "task"))
    at = 3.0
    while at <= profile.faults_until:
        if all(abs(at - t) > 1 for t, _ in plan):
            plan.append((at, "web"))
        at += profile.web_kill_every
    return sorted(plan)


class Injector:
    def __init__(
        self,
        plan: list[tuple[float, str]],
        t0: float,
        gunicorn: subprocess.Popen[bytes],
        worker: Supervised,
        postgres: PrivatePostgres,
    ) -> None:
        self.plan, self.t0 = plan, t0
        self.gunicorn, self.worker, self.postgres = gunicorn, worker, postgres
        self.faults: list[Fault] = []
        self.errors: list[str] = []

    def now(self) -> float:
        return time.monotonic() - self.t0

    def run(self) -> None:
        for at, kind in self.plan:
            time.sleep(max(0.0, at - self.now()))
            start = self.now()
            try:
                if kind == "web":
                    workers = _children(self.gunicorn.pid)
                    if not workers:
                        continue
                    os.kill(random.choice(workers), signal.SIGKILL)  # noqa: S311
                    name = "web worker killed"
                elif kind == "task":
                    if not self.worker.kill():
                        continue
                    name = "task worker killed"
                else:
                    mode = kind.split(":")[1]
                    self.postgres.restart(mode)
                    name = f"database restarted ({mode})"
            except Exception as exc:  # noqa: BLE001 (reported: a fault that failed to happen)
                self.errors.append(f"{kind} at {start:.0f} s: {exc}")
                continue
            self.faults.append(Fault(name, start, self.now()))


# --- One run ----------------------------------------------------------------------------------


@dataclass
class CrashResult:
    profile: str
    load_seconds: float = 0.0
    faults_until: float = 0.0
    rate: float = 0.0
    clients: int = 0
    server: str = ""
    postgres: str = ""
    drafts: int = 0
    tried: int = 0
    acknowledged: int = 0
    abandoned: int = 0
    refused: int = 0
    counts: dict[str, Any] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    fault_errors: list[str] = field(default_factory=list)
    worker_died: int = 0
    retrier_died: int = 0
    answers: int = 0
    errors_5xx: int = 0
    connection_errors: int = 0
    too_many: int = 0
    recovery: Recovery = field(default_factory=Recovery)
    database_downtime_max: float = 0.0
    latency_p50: float = 0.0
    latency_p95: float = 0.0
    latency_max: float = 0.0
    retried: int = 0
    settle_seconds: float = 0.0
    audit_chain: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        c = self.counts
        found = list(c.get("problems", []))[:20]
        if not self.acknowledged:
            found.append("no submission was acknowledged")
        if c.get("missing"):
            found.append(f"{c['missing']} acknowledged submissions not in the database once")
        if c.get("duplicates"):
            found.append(f"{c['duplicates']} dossiers submitted more than once")
        if c.get("files_bad"):
            found.append(f"{c['files_bad']} files missing or not matching their SHA-256")
        if c.get("notifications_missing") or c.get("notifications_doubled"):
            found.append(
                f"notifications: {c.get('notifications_missing', 0)} not sent,"
                f" {c.get('notifications_doubled', 0)} sent more than once"
            )
        if self.recovery.late:
            found.append(
                f"{self.recovery.late} 5xx or connection errors more than"
                f" {RECOVERY_LIMIT:.0f} s after a fault"
            )
        if self.recovery.late_5xx:
            found.append(
                f"{self.recovery.late_5xx} 5xx more than {RECOVERY_LIMIT:.0f} s after a"
                " database restart"
            )
        if self.abandoned or self.refused:
            found.append(f"{self.abandoned} submissions never acknowledged, {self.refused} refused")
        if self.audit_chain != "ok":
            found.append(f"audit chain: {self.audit_chain}")
        found += [f"fault not injected: {e}" for e in self.fault_errors]
        return found

    def summary(self) -> list[str]:
        c, r = self.counts, self.recovery
        orphaned = (
            ", ".join(f"{n} {path.rsplit('.', 1)[-1]}" for path, n in c["tasks_orphaned"].items())
            if c.get("tasks_orphaned")
            else "none"
        )
        faults = ", ".join(f"{n} {k}" for k, n in self.faults.items()) or "none"
        return [
            f"Crash test ({self.profile}): {self.load_seconds:.0f} s of load, {self.clients}"
            f" clients at {self.rate:g} submissions/s; {self.server}; PostgreSQL {self.postgres}",
            f"  faults injected: {faults}",
            f"  task worker stopped by itself {self.worker_died}x, retrier"
            f" {self.retrier_died}x (restarted after {RESTART_DELAY:.0f} s)",
            f"  submissions: {self.tried} tried, {self.acknowledged} acknowledged"
            f" ({self.retried} after a retry), {self.abandoned} abandoned,"
            f" {self.refused} refused; p50 {self.latency_p50:.2f} s,"
            f" p95 {self.latency_p95:.2f} s, max {self.latency_max:.1f} s",
            f"  acknowledged {c.get('acknowledged', 0)}: in the database exactly once"
            f" {c.get('in_database', 0)}, missing {c.get('missing', 0)}; duplicates (all"
            f" drafts) {c.get('duplicates', 0)}; submitted but not acknowledged"
            f" {c.get('submitted_unacknowledged', 0)}",
            f"  audit entries {c.get('audit_entries', 0)}; audit chain {self.audit_chain}",
            f"  files checked {c.get('files_checked', 0)}, SHA-256 mismatched or missing"
            f" {c.get('files_bad', 0)}; still pending a virus scan {c.get('scan_pending', 0)}",
            f"  tasks left running by a killed task worker: {orphaned}",
            f"  notifications expected {c.get('notifications_expected', 0)}, sent exactly once"
            f" {c.get('notifications_once', 0)}, missing {c.get('notifications_missing', 0)},"
            f" doubled {c.get('notifications_doubled', 0)} (settled"
            f" {self.settle_seconds:.0f} s after the load)",
            f"  answers {self.answers}: 5xx {self.errors_5xx}, connection errors"
            f" {self.connection_errors}, 429 {self.too_many}; failures more than"
            f" {RECOVERY_LIMIT:.0f} s after a fault {r.late}, 5xx more than"
            f" {RECOVERY_LIMIT:.0f} s after a database restart {r.late_5xx}",
            f"  recovery: latest failure {r.longest:.1f} s after the end of a fault, latest"
            f" 5xx {r.longest_5xx:.1f} s after a database restart; longest database restart"
            f" {self.database_downtime_max:.1f} s",
        ]


def _env(data_dir: Path, database_url: str) -> dict[str, str]:
    """As deployed (DEBUG=0, persistent connections), on the private cluster."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "GUICHET_", "SMS_", "TASKS_"))
        and k not in ("DEBUG", "SECRET_KEY", "SECRET_KEY_FILE", "ALLOWED_HOSTS", "DB_CONN_MAX_AGE")
    }
    return {
        **keep,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "DB_CONN_MAX_AGE": "60",
        "GUICHET_DATA_DIR": str(data_dir),
        "SMS_BACKEND": "guichet.notifications.sms.OutboxSmsBackend",
        "NOTIFICATION_STALE_SECONDS": str(STALE_SECONDS),
        # Every client comes from 127.0.0.1 and submits far more than a person would.
        "RATE_LIMIT_SCALE": "100000",
        "PYTHONUNBUFFERED": "1",
    }


def _python(args: list[str], env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    return done.stdout


def _last_json(output: str) -> Any:
    return json.loads(output.strip().splitlines()[-1])


def _prepare(env: dict[str, str], count: int, users: int) -> list[dict[str, Any]]:
    """The drafts, made by PREPARE_PROCESSES processes at once."""
    per = math.ceil(count / PREPARE_PROCESSES)
    users_per = max(1, users // PREPARE_PROCESSES)
    # Each file's virus scan runs as its draft is made (AcceptAllScanner here): the load
    # starts with an empty task queue, as if the citizens had uploaded their files earlier.
    env = {**env, "TASKS_BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "drafts",
                f"--count={per}",
                f"--users={users_per}",
                f"--group={g}",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for g in range(PREPARE_PROCESSES)
    ]
    drafts: list[dict[str, Any]] = []
    for run in runs:
        out, err = run.communicate(timeout=900)
        if run.returncode != 0:
            raise RuntimeError(f"preparing drafts failed:\n{err[-4000:]}")
        drafts += _last_json(out)["drafts"]
    return drafts


@contextmanager
def _workspace(keep: bool) -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="guichet-crash-"))
    base.chmod(0o755)  # the postgres user goes through it to its cluster
    try:
        yield base
    finally:
        if keep:
            print(f"Kept {base}", flush=True)
        else:
            shutil.rmtree(base, ignore_errors=True)


def run(profile: Profile, *, keep: bool = False) -> CrashResult:
    """Set up, load under faults, settle, check; always stops and removes what it made."""
    began = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - began:5.0f} s] {text}", flush=True)

    result = CrashResult(
        profile=profile.name,
        load_seconds=profile.load_seconds,
        faults_until=profile.faults_until,
        rate=profile.rate,
        clients=profile.clients,
    )
    with _workspace(keep) as base:
        postgres = PrivatePostgres(base / "pg")
        processes: list[Supervised] = []
        gunicorn: subprocess.Popen[bytes] | None = None
        try:
            say(f"Private PostgreSQL cluster on 127.0.0.1:{postgres.port} ...")
            postgres.start()
            env = _env(base / "data", postgres.url)
            dev = {**env, "DEBUG": "1"}
            _python(["manage.py", "migrate", "--noinput"], dev)
            _python(["manage.py", "load_demo"], dev)
            result.postgres = postgres.version()
            count = math.ceil(profile.rate * profile.load_seconds * 1.1) + profile.clients
            say(f"Preparing {count} drafts, each with its own PNG ...")
            drafts = _prepare(env, count, profile.clients)
            result.drafts = len(drafts)

            port = _free_port(0)
            log = base / "gunicorn.log"
            command = [
                sys.executable, "-m", "gunicorn", "guichet.wsgi:application",
                f"--bind=127.0.0.1:{port}", f"--workers={WEB_WORKERS}",
                "--worker-class=gthread", f"--threads={WEB_THREADS}", "--timeout=30",
                "--graceful-timeout=5", f"--error-logfile={log}",
            ]  # fmt: skip
            result.server = f"gunicorn, {WEB_WORKERS} workers x {WEB_THREADS} threads (gthread)"
            gunicorn = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            _wait_for_http(port, gunicorn, log)
            worker = Supervised(
                "task worker", [sys.executable, "manage.py", "db_worker"], env, base / "worker.log"
            )
            retrier = Supervised(
                "retrier",
                [sys.executable, "manage.py", "notifications_retry", f"--every={RETRY_EVERY}"],
                env,
                base / "retrier.log",
            )
            processes = [worker, retrier]
            for process in processes:
                process.start()

            sessions = sorted({d["session"] for d in drafts})
            t0 = time.monotonic()
            clients = [Client(port, [d for d in drafts if d["session"] == s], t0) for s in sessions]
            interval = len(clients) / profile.rate
            plan = fault_plan(profile)
            injector = Injector(plan, t0, gunicorn, worker, postgres)
            say(
                f"Load: {len(clients)} clients, {profile.rate:g} submissions/s for"
                f" {profile.load_seconds:.0f} s; {len(plan)} faults until"
                f" {profile.faults_until:.0f} s ..."
            )
            # Daemons: stopped by a signal, the run cleans up without waiting for them.
            threads = [
                threading.Thread(
                    target=c.run, args=(interval, t0 + profile.load_seconds), daemon=True
                )
                for c in clients
            ]
            threads.append(threading.Thread(target=injector.run, daemon=True))
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

            outcomes = [o for c in clients for o in c.outcomes]
            answers = [a for c in clients for a in c.answers]
            acknowledged = [o for o in outcomes if o.acknowledged]
            result.tried = len(outcomes)
            result.acknowledged = len(acknowledged)
            result.refused = sum(1 for o in outcomes if o.note.startswith("HTTP"))
            result.abandoned = sum(
                1 for o in outcomes if not o.acknowledged and not o.note.startswith("HTTP")
            )
            result.notes += [f"{o.reference}: {o.note}" for o in outcomes if o.note][:10]
            result.retried = sum(1 for o in acknowledged if o.attempts > 1)
            seconds = sorted(o.seconds for o in acknowledged)
            if seconds:
                result.latency_p50 = statistics.median(seconds)
                result.latency_p95 = seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))]
                result.latency_max = seconds[-1]
            result.answers = len(answers)
            result.errors_5xx = sum(1 for a in answers if a.status >= 500)
            result.connection_errors = sum(1 for a in answers if a.status == 0)
            result.too_many = sum(1 for a in answers if a.status == 429)
            result.recovery = recovery(answers, injector.faults)
            result.fault_errors = injector.errors
            for fault in injector.faults:
                result.faults[fault.kind] = result.faults.get(fault.kind, 0) + 1
            result.database_downtime_max = max(
                (f.end - f.start for f in injector.faults if f.kind.startswith("database")),
                default=0.0,
            )

            state = base / "acknowledged.json"
            state.write_text(
                json.dumps(
                    {
                        "drafts": [
                            d for d in drafts if d["reference"] in {o.reference for o in outcomes}
                        ],
                        "acknowledged": [o.reference for o in acknowledged],
                    }
                )
            )
            say("Waiting for the notifications to settle ...")
            settled = _last_json(
                _python(
                    [__file__, "settle", str(state), f"--patience={profile.settle_seconds}"],
                    env,
                    timeout=1900,
                )
            )
            result.settle_seconds = settled["seconds"]
            for process in processes:
                process.stop()
            result.worker_died, result.retrier_died = worker.died, retrier.died
            _terminate(gunicorn)
            gunicorn = None
            say("Checking the database and the files ...")
            result.counts = _last_json(_python([__file__, "verify", str(state)], env))
            chain = subprocess.run(
                [sys.executable, "manage.py", "audit_verify"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            result.audit_chain = (
                "ok"
                if chain.returncode == 0
                else (chain.stdout + chain.stderr).strip().splitlines()[-1][:200]
            )
        finally:
            for process in processes:
                process.stop()
            if gunicorn is not None:
                _terminate(gunicorn)
            postgres.stop()
    result.seconds = time.monotonic() - began
    return result


def report_lines(result: CrashResult) -> list[str]:
    """The section of BENCHMARKS.md."""
    c = result.counts
    faults = ", ".join(f"{n} × {k}" for k, n in result.faults.items()) or "none"
    return [
        f"`python bench/crash.py` (long form; CI runs `--short`): {result.server}, DEBUG=0,"
        f" `DB_CONN_MAX_AGE=60` with health checks, on a private PostgreSQL"
        f" {result.postgres} cluster; the task worker (`db_worker`) and the notification"
        f" retrier restarted {RESTART_DELAY:.0f} s after they stop; SMS to the development"
        f" outbox; rate limits scaled up (every client is 127.0.0.1). {result.clients}"
        f" clients (one citizen each) submit complete drafts (one PNG of its own each) at"
        f" {result.rate:g}/s for {result.load_seconds:.0f} s, retrying with the same token"
        f" on a connection error, a 5xx or a 429; the last"
        f" {result.load_seconds - result.faults_until:.0f} s of load run without faults."
        f" This part took {result.seconds:.0f} s.",
        "",
        "| compared | count |",
        "|---|---|",
        f"| faults injected | {faults} |",
        f"| task worker / retrier stopped by a database restart (restarted) |"
        f" {result.worker_died} / {result.retrier_died} |",
        f"| submissions tried / acknowledged (302) / after a retry | {result.tried} /"
        f" {result.acknowledged} / {result.retried} |",
        f"| acknowledged and in the database exactly once (status change + audit entry) |"
        f" {c.get('in_database', 0)} |",
        f"| acknowledged but missing | {c.get('missing', 0)} |",
        f"| dossiers submitted twice (all drafts) | {c.get('duplicates', 0)} |",
        f"| submitted but not acknowledged (client gave up) |"
        f" {c.get('submitted_unacknowledged', 0)} |",
        f"| files checked / SHA-256 mismatched or missing | {c.get('files_checked', 0)} /"
        f" {c.get('files_bad', 0)} |",
        f"| notifications expected / sent exactly once / missing / doubled |"
        f" {c.get('notifications_expected', 0)} / {c.get('notifications_once', 0)} /"
        f" {c.get('notifications_missing', 0)} / {c.get('notifications_doubled', 0)} |",
        f"| audit chain after the run | {result.audit_chain} |",
        f"| answers / 5xx / connection errors / 429 | {result.answers} /"
        f" {result.errors_5xx} / {result.connection_errors} / {result.too_many} |",
        f"| 5xx or connection errors more than {RECOVERY_LIMIT:.0f} s after a fault /"
        f" 5xx more than {RECOVERY_LIMIT:.0f} s after a database restart |"
        f" {result.recovery.late} / {result.recovery.late_5xx} |",
        f"| max time to recovery: latest failure after the end of a fault / latest 5xx"
        f" after a database restart | {result.recovery.longest:.1f} s /"
        f" {result.recovery.longest_5xx:.1f} s |",
        f"| longest database restart | {result.database_downtime_max:.1f} s |",
        f"| acknowledged submission time, p50 / p95 / max (retries included) |"
        f" {result.latency_p50:.2f} / {result.latency_p95:.2f} / {result.latency_max:.1f} s |",
        f"| notifications settled after the load | {result.settle_seconds:.0f} s |",
        f"| files still pending a virus scan / tasks left running by a killed worker |"
        f" {c.get('scan_pending', 0)} / {sum((c.get('tasks_orphaned') or {}).values())} |",
        "",
        "A task the killed worker had claimed stays `running` in django-tasks' table: the"
        " retrier queues its notification again (a row `queued` after 30 s, `sending` after"
        f" `NOTIFICATION_STALE_SECONDS`, {STALE_SECONDS} s here); a lost virus scan waits"
        " for `dossiers.services.requeue_pending_scans` (10 minutes). The verdict fails on"
        " anything lost or doubled, on a 5xx or connection error more than"
        f" {RECOVERY_LIMIT:.0f} s after the end of a fault, and on a 5xx more than"
        f" {RECOVERY_LIMIT:.0f} s after a database restart (a killed web or task worker cuts"
        " connections, it never makes a 5xx).",
    ]


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] in ("drafts", "settle", "verify"):
        _subcommand(sys.argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the CI form (under 3 minutes)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    # Stopped (CI's timeout, Ctrl-C): the `finally` blocks still stop the servers and
    # the private cluster and remove the work directory.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result = run(SHORT if args.short else LONG, keep=args.keep)
    print("\n".join(result.summary()))
    problems = result.problems()
    for note in result.notes:
        print(f"  note: {note}")
    print(f"{'FAIL' if problems else 'PASS'} in {result.seconds:.0f} s")
    for problem in problems:
        print(f"FAIL: {problem}")
    print(json.dumps({**asdict(result), "problems": problems}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
