"""How many dossier submissions one server process takes per second, next to a bare view.

For each database (SQLite, then PostgreSQL when it answers on 127.0.0.1:5432): a fresh
database with the demo catalog; `bench/citizen.py drafts` makes the complete drafts
(through the dossier services, one PNG attached each); then for each server configuration
(PostgreSQL is measured twice: a connection per request, the default, and persistent
connections) one multi-threaded WSGI server starts with DEBUG=0 and, RUNS times, K client
threads ask for `/sante/` (no database, no session) during BARE_SECONDS, then right after
the same K threads submit N fresh drafts, each a POST of the summary's form (token + CSRF
+ session cookie) that must answer 302 to the dossier page.
The figure that travels between machines is the ratio submissions/s / bare requests/s:
both are measured on the same machine, server and minute.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import secrets
import statistics
import string
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3
SUBMISSIONS_PER_RUN = 200
CLIENTS = 4
SERVER_THREADS = 4
BARE_SECONDS = 2.0
REQUEST_TIMEOUT = 15.0
RUN_DEADLINE = 120.0
"""No run of submissions may take longer than this; the rest are counted as failed."""
POSTGRES_SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
# Django's CSRF secret alphabet; the form may carry the secret itself (unmasked).
_CSRF_CHARS = string.ascii_letters + string.digits


@dataclass
class LoadRun:
    bare_requests: int = 0
    bare_errors: int = 0
    bare_seconds: float = 0.0
    submitted: int = 0
    tried: int = 0
    submit_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def bare_rate(self) -> float:
        return self.bare_requests / self.bare_seconds if self.bare_seconds else 0.0

    @property
    def submit_rate(self) -> float:
        return self.submitted / self.submit_seconds if self.submit_seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.submit_rate / self.bare_rate if self.bare_rate else 0.0


@dataclass
class BackendResult:
    name: str
    server: str = ""
    note: str = ""
    runs: list[LoadRun] = field(default_factory=list)
    prepare_seconds: float = 0.0

    def problems(self) -> list[str]:
        found = []
        for i, run in enumerate(self.runs, 1):
            if run.bare_errors:
                found.append(f"{self.name}, run {i}: {run.bare_errors} failed requests to /sante/")
            if run.submitted != run.tried:
                first = run.failures[0] if run.failures else "?"
                found.append(
                    f"{self.name}, run {i}: {run.tried - run.submitted}/{run.tried} submissions"
                    f" did not answer 302 to the dossier page ({first})"
                )
        return found


# --- The server -----------------------------------------------------------------------------


def server_command(port: int) -> tuple[list[str], str, bool]:
    """(command, description, keep connections alive?): waitress when installed (a
    production WSGI server, threads), else Django's runserver. On a kept-alive connection
    runserver answers in about 43 ms whatever the view (measured: 23 requests/s on
    `/sante/` against 1,100 with a new connection each; it sends headers and body in two
    writes, which Nagle's algorithm holds until the client's delayed ACK), so with it the
    clients open a connection per request."""
    if importlib.util.find_spec("waitress") is not None:
        command = [
            sys.executable,
            "-m",
            "waitress",
            f"--listen=127.0.0.1:{port}",
            f"--threads={SERVER_THREADS}",
            "guichet.wsgi:application",
        ]
        return command, f"waitress, 1 process, {SERVER_THREADS} threads", True
    command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    description = "Django runserver, threaded, a connection per request (waitress is not installed)"
    return command, description, False


# --- The clients ----------------------------------------------------------------------------


def _connect(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)


def _bare(port: int, deadline: float, keep_alive: bool) -> tuple[int, int]:
    """GET /sante/ on one connection until `deadline`: (answered ok, errors)."""
    conn = _connect(port)
    headers = {} if keep_alive else {"Connection": "close"}
    ok = errors = 0
    try:
        while time.monotonic() < deadline:
            try:
                conn.request("GET", "/sante/", headers=headers)
                response = conn.getresponse()
                body = response.read()
                if response.status == 200 and body.startswith(b"ok"):
                    ok += 1
                else:
                    errors += 1
                if response.will_close or not keep_alive:
                    conn.close()
                    conn = _connect(port)
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = _connect(port)
    finally:
        conn.close()
    return ok, errors


def _submit_all(
    port: int, drafts: list[dict[str, str]], deadline: float, keep_alive: bool
) -> tuple[int, list[str]]:
    """POST each draft's submit form, as the summary page sends it: (302s, failures)."""
    csrf = "".join(secrets.choice(_CSRF_CHARS) for _ in range(32))
    origin = f"http://127.0.0.1:{port}"
    conn = _connect(port)
    ok = 0
    failures: list[str] = []
    try:
        for draft in drafts:
            if time.monotonic() > deadline:
                failures.append(f"{draft['reference']}: not tried, run deadline passed")
                continue
            expected = f"/mes-demarches/{draft['reference']}/"
            body = urlencode({"csrfmiddlewaretoken": csrf, "token": draft["token"]})
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"sessionid={draft['session']}; csrftoken={csrf}",
                "Origin": origin,
            }
            if not keep_alive:
                headers["Connection"] = "close"
            try:
                conn.request("POST", f"{expected}deposer/", body=body, headers=headers)
                response = conn.getresponse()
                content = response.read()
                location = response.getheader("Location", "")
                if response.status == 302 and location == expected:
                    ok += 1
                else:
                    text = content[:120].decode("utf-8", "replace").replace("\n", " ")
                    failures.append(f"{draft['reference']}: HTTP {response.status} {text!r}")
                if response.will_close or not keep_alive:
                    conn.close()
                    conn = _connect(port)
            except (OSError, http.client.HTTPException) as exc:
                failures.append(f"{draft['reference']}: {type(exc).__name__}: {exc}")
                conn.close()
                conn = _connect(port)
    finally:
        conn.close()
    return ok, failures


def _in_parallel(jobs: list[Callable[[], Any]]) -> tuple[list[Any], float]:
    """Run the jobs on one thread each, started together; (results, wall seconds)."""
    start = threading.Barrier(len(jobs) + 1)

    def wrapped(job: Callable[[], Any]) -> Any:
        start.wait()
        return job()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(wrapped, job) for job in jobs]
        start.wait()
        began = time.perf_counter()
        results = [f.result() for f in futures]
        return results, time.perf_counter() - began


def load_run(
    port: int, drafts: list[dict[str, str]], clients: int, *, keep_alive: bool = True
) -> LoadRun:
    run = LoadRun(tried=len(drafts))
    deadline = time.monotonic() + BARE_SECONDS
    bare, run.bare_seconds = _in_parallel(
        [lambda: _bare(port, deadline, keep_alive) for _ in range(clients)]
    )
    run.bare_requests = sum(ok for ok, _ in bare)
    run.bare_errors = sum(errors for _, errors in bare)
    # Each client is one citizen: it submits the drafts of its own session.
    sessions = sorted({d["session"] for d in drafts})
    shares = [[d for d in drafts if d["session"] == s] for s in sessions]
    deadline = time.monotonic() + RUN_DEADLINE
    done, run.submit_seconds = _in_parallel(
        [lambda share=share: _submit_all(port, share, deadline, keep_alive) for share in shares]
    )
    run.submitted = sum(ok for ok, _ in done)
    run.failures = [f for _, failures in done for f in failures]
    return run


# --- PostgreSQL -------------------------------------------------------------------------------


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the local PostgreSQL, dropped afterwards; yields its URL."""
    import psycopg

    name = f"guichet_bench_{os.getpid()}"
    admin = f"{POSTGRES_SERVER}/postgres"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_version() -> str:
    import psycopg

    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else "?"


# --- One backend, end to end -------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One server configuration measured on a database."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    """Settings added to the database's environment (e.g. persistent connections)."""


def run_python(args: list[str], env: dict[str, str], *, timeout: float) -> str:
    """Run a Python script of the project (from its root) and return what it printed;
    stop the bench with its output if it fails."""
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
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _make_drafts(env: dict[str, str], count: int, clients: int) -> list[dict[str, str]]:
    command = ["bench/citizen.py", "drafts", f"--count={count}", f"--users={clients}"]
    drafts: list[dict[str, str]] = json.loads(run_python(command, env, timeout=240))["drafts"]
    return drafts


def bench_backend(
    variants: list[Variant],
    *,
    env: dict[str, str],
    manage: Callable[[list[str], dict[str, str]], None],
    serve: Callable[[list[str], dict[str, str], Path, int], Any],
    free_port: Callable[[], int],
    logs: Path,
    runs: int = RUNS,
    per_run: int = SUBMISSIONS_PER_RUN,
    clients: int = CLIENTS,
) -> list[BackendResult]:
    """Load the demo catalog in the database `env` points at, make the drafts of every
    variant at once, then for each variant start a server, measure `runs` times, stop it.

    `manage` runs a manage.py command; `serve` is a context manager that starts a server
    command and stops it whatever happens (both from run.py).
    """
    dev = {**env, "DEBUG": "1"}
    manage(["migrate", "--noinput"], dev)
    manage(["load_demo"], dev)
    started = time.monotonic()
    drafts = _make_drafts(env, len(variants) * runs * per_run, clients)
    prepare_seconds = time.monotonic() - started
    results = []
    for v, variant in enumerate(variants):
        result = BackendResult(name=variant.name, prepare_seconds=prepare_seconds)
        port = free_port()
        command, result.server, keep_alive = server_command(port)
        log = logs / f"server-{variant.name.split()[0].lower()}-{v}.log"
        # Four citizens submit hundreds of dossiers from 127.0.0.1 in a minute: far over the
        # per-account and per-address limits, which this bench does not measure.
        with serve(command, {**env, **variant.env, "RATE_LIMIT_SCALE": "1000"}, log, port):
            for i in range(runs):
                first = (v * runs + i) * per_run
                run = load_run(
                    port, drafts[first : first + per_run], clients, keep_alive=keep_alive
                )
                result.runs.append(run)
                print(
                    f"  {variant.name}, run {i + 1}: /sante/ {run.bare_rate:.0f} req/s,"
                    f" submissions {run.submitted}/{run.tried} at {run.submit_rate:.1f}/s,"
                    f" ratio {run.ratio:.3f}",
                    flush=True,
                )
        results.append(result)
    return results


# --- Report -------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def report_lines(results: list[BackendResult]) -> list[str]:
    rows = [
        "| database | server | bare `/sante/`, req/s | submissions/s | ratio"
        " | bare requests per submission | submitted | each run (bare req/s, subm./s, ratio) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for r in results:
        if not r.runs:
            notes.append(f"- {r.name}: not measured ({r.note}).")
            continue
        each = "; ".join(f"{x.bare_rate:.0f}, {x.submit_rate:.1f}, {x.ratio:.3f}" for x in r.runs)
        bare = _median([x.bare_rate for x in r.runs])
        rate = _median([x.submit_rate for x in r.runs])
        ratio = _median([x.ratio for x in r.runs])
        submitted = sum(x.submitted for x in r.runs)
        tried = sum(x.tried for x in r.runs)
        rows.append(
            f"| {r.name} | {r.server} | {bare:.0f} | {rate:.1f} | {ratio:.3f}"
            f" | {1 / ratio if ratio else 0:.0f} | {submitted}/{tried} | {each} |"
        )
        if r.note:
            notes.append(f"- {r.name}: {r.note}")
    return rows + ([""] + notes if notes else [])
