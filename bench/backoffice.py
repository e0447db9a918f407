"""How fast the back office answers when a service's queue holds hundreds of thousands of
dossiers: the agent's queue page, a dossier's page and the queue search, at 10k, 100k and
1M dossiers on PostgreSQL (10k and 100k on SQLite).

For each database: a fresh database (PostgreSQL: `guichet_bench`, dropped and made again,
dropped at the end) with the demo organisation and catalog; `bench/seed.py grow` brings it
to each size in turn (10k → 100k → 1M, set-based SQL on PostgreSQL), then
`bench/seed.py sample` gives the bench agent (an agent of the biggest service) a session
verified with a TOTP device and picks dossiers of that service to open. One waitress
process serves the pages with DEBUG=0 and persistent database connections, as deployed
(`submissions.server_command`, `DB_CONN_MAX_AGE=60`) for all sizes. One
client on one kept-alive connection asks, in rounds so that a noisy minute hits every kind
alike, for each page kind below and for the bare `/sante/` view; every answer must be a
200. In-process, `CaptureQueriesContext` counts the SQL statements of each page kind once
per size (`python bench/backoffice.py queries`, in the server's environment): the count
must not grow with the queue.

Nothing here fails the bench: the section says OVER BUDGET when a queue page or the dossier
page is slower than BUDGET_MS at the 95th percentile from BUDGET_SIZE dossiers, shows the
plan of any slow statement at the largest size on PostgreSQL, and says ERROR when a page
did not answer 200 or a step failed.

Alone, for a quicker look: `python bench/backoffice.py run --postgres-sizes=10000,100000
--sqlite-sizes= --requests=20` (BENCH_KEEP_DB=1 keeps `guichet_bench` for EXPLAIN, and
reuses it on the next run: `--postgres-sizes=1000000` again measures without seeding).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import seed, submissions  # noqa: E402

POSTGRES_SIZES = [10_000, 100_000, 1_000_000]
SQLITE_SIZES = [10_000, 100_000]
REQUESTS = 60
"""Timed requests per page kind and size (after WARMUP untimed ones)."""
WARMUP = 3
BARE_PER_ROUND = 3
BUDGET_MS = 100.0
BUDGET_SIZE = 1_000_000
BUDGETED = ("queue", "queue_filtered", "queue_recent", "dossier")
"""Page kinds whose p95 must stay under BUDGET_MS from BUDGET_SIZE dossiers."""
SAMPLES = 60
EXPLAIN_OVER_MS = 20.0
"""At the largest size on PostgreSQL, the report shows the plan of any page's slowest
statement that took longer than this."""
NAME_FRAGMENT = "traor"
POSTGRES_DATABASE = "guichet_bench"
REQUEST_TIMEOUT = 60.0


@dataclass(frozen=True)
class PageKind:
    key: str
    label: str
    path: Callable[[dict[str, Any], int], str]
    """The path for round `i`, from what `seed.py sample` returned."""


def _queue(service: str, **params: str) -> str:
    query = f"?{urlencode(params)}" if params else ""
    return f"/instruction/services/{quote(service)}/{query}"


KINDS = [
    PageKind(
        "queue", "queue: open dossiers, soonest deadline first", lambda s, i: _queue(s["service"])
    ),
    PageKind(
        "queue_filtered",
        "queue: unassigned and overdue (`attribution=none&retard=1`)",
        lambda s, i: _queue(s["service"], attribution="none", retard="1"),
    ),
    PageKind(
        "queue_recent",
        "queue: open dossiers, last submitted first (`tri=recent`)",
        lambda s, i: _queue(s["service"], tri="recent"),
    ),
    PageKind(
        "dossier",
        "dossier page (a random dossier of the queue)",
        lambda s, i: f"/instruction/dossiers/{s['references'][i % len(s['references'])]}/",
    ),
    PageKind(
        "search_name",
        f"search by name fragment (`q={NAME_FRAGMENT}`)",
        lambda s, i: _queue(s["service"], q=NAME_FRAGMENT),
    ),
    PageKind(
        "search_reference",
        "search by reference (`q=ML-…`, an open dossier)",
        lambda s, i: _queue(s["service"], q=s["open_references"][i % len(s["open_references"])]),
    ),
]


@dataclass
class PageTiming:
    kind: str
    ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rows: int = -1
    """Dossier links on the first answer (queue kinds), to show the page was not empty."""
    queries: int | None = None
    slowest_sql_ms: float | None = None
    slowest_sql: str = ""
    plan: list[str] = field(default_factory=list)
    """EXPLAIN ANALYZE of the slowest statement, when it took over EXPLAIN_OVER_MS."""

    @property
    def p50(self) -> float:
        return percentile(self.ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.ms, 95)


@dataclass
class SizeResult:
    size: int
    seeded: dict[str, Any] = field(default_factory=dict)
    bare_ms: list[float] = field(default_factory=list)
    pages: dict[str, PageTiming] = field(default_factory=dict)


@dataclass
class BackendResult:
    name: str
    server: str = ""
    note: str = ""
    """Why it was not measured (no PostgreSQL)."""
    failed: str = ""
    """The step that failed, if one did: the sizes before it stand."""
    sizes: list[SizeResult] = field(default_factory=list)
    seconds: float = 0.0

    def over_budget(self) -> list[str]:
        found = []
        for size in self.sizes:
            for key in BUDGETED:
                page = size.pages.get(key)
                if _over(size, key) and page:
                    found.append(
                        f"OVER BUDGET: {self.name}, {size.size:,} dossiers, {key} page p95"
                        f" {page.p95:.0f} ms > {BUDGET_MS:.0f} ms"
                    )
        return found

    def errors(self) -> list[str]:
        found = [
            f"ERROR: {self.name}, {s.size:,} dossiers, {p.kind}: {len(p.errors)} failed"
            f" ({p.errors[0]})"
            for s in self.sizes
            for p in s.pages.values()
            if p.errors
        ]
        if self.failed:
            found.append(f"ERROR: {self.name}: the back-office bench stopped: {self.failed}")
        return found


def _over(size: SizeResult, key: str) -> bool:
    page = size.pages.get(key)
    return bool(
        key in BUDGETED
        and size.size >= BUDGET_SIZE
        and page is not None
        and page.ms
        and page.p95 > BUDGET_MS
    )


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: p95 of 60 values is the 57th)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


# --- The client ---------------------------------------------------------------------------


class Client:
    """One kept-alive connection; reconnects when the server closes it."""

    def __init__(self, port: int, session: str, *, keep_alive: bool = True) -> None:
        self.port = port
        # Without keep-alive (runserver: see submissions.server_command), a fresh connection
        # per request.
        self.bare_headers = {} if keep_alive else {"Connection": "close"}
        self.headers = {**self.bare_headers, "Cookie": f"sessionid={session}"}
        self.conn = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)

    def get(self, path: str, *, cookie: bool = True) -> tuple[int, bytes, float]:
        """(status, body, milliseconds from sending to the last byte)."""
        started = time.perf_counter()
        try:
            self.conn.request("GET", path, headers=self.headers if cookie else self.bare_headers)
            response = self.conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = self._connect()
            raise
        ms = (time.perf_counter() - started) * 1000
        if response.will_close:
            self.conn.close()
            self.conn = self._connect()
        return response.status, body, ms

    def close(self) -> None:
        self.conn.close()


def time_pages(
    port: int, sample: dict[str, Any], result: SizeResult, requests: int, *, keep_alive: bool
) -> None:
    client = Client(port, sample["session"], keep_alive=keep_alive)
    pages = {k.key: PageTiming(k.key) for k in KINDS}
    result.pages = pages
    try:
        for kind in KINDS:
            for i in range(WARMUP):
                status, body, _ms = client.get(kind.path(sample, i))
                if i == 0 and kind.key != "dossier":
                    pages[kind.key].rows = body.count(b'href="/instruction/dossiers/')
        for i in range(requests):
            for kind in KINDS:
                path = kind.path(sample, i)
                try:
                    status, body, ms = client.get(path)
                except (OSError, http.client.HTTPException) as exc:
                    pages[kind.key].errors.append(f"{path}: {type(exc).__name__}: {exc}")
                    continue
                if status == 200:
                    pages[kind.key].ms.append(ms)
                else:
                    pages[kind.key].errors.append(f"{path}: HTTP {status}")
            for _ in range(BARE_PER_ROUND):
                status, body, ms = client.get("/sante/", cookie=False)
                if status == 200:
                    result.bare_ms.append(ms)
    finally:
        client.close()


# --- One database, every size ---------------------------------------------------------------


def _seed(args: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        submissions.run_python(["bench/seed.py", *args], env, timeout=timeout)
    )
    return data


def _count_queries(env: dict[str, str], sample: dict[str, Any], *, explain: bool) -> dict[str, Any]:
    command = ["bench/backoffice.py", "queries", "--sample", json.dumps(sample)]
    if explain:
        command.append(f"--explain-over-ms={EXPLAIN_OVER_MS}")
    data: dict[str, Any] = json.loads(submissions.run_python(command, env, timeout=300))
    return data


def bench_backend(
    name: str,
    sizes: list[int],
    *,
    env: dict[str, str],
    manage: Callable[[list[str], dict[str, str]], None],
    serve: Callable[[list[str], dict[str, str], Path, int], Any],
    free_port: Callable[[], int],
    logs: Path,
    requests: int = REQUESTS,
) -> BackendResult:
    """Migrate the database `env` points at, then for each size: grow, sample, count the
    queries in-process, time the pages against one server kept up for all sizes. A step
    that fails ends this database's run with what was measured and says why (the rest of
    `make bench` goes on)."""
    started = time.monotonic()
    result = BackendResult(name=name)
    try:
        manage(["migrate", "--noinput"], {**env, "DEBUG": "1"})
        port = free_port()
        command, result.server, keep_alive = submissions.server_command(port)
        log = logs / f"server-backoffice-{name.split()[0].lower()}.log"
        # As deployed (deploy/production.env.example): persistent database connections.
        with serve(command, {**env, "DB_CONN_MAX_AGE": "60"}, log, port):
            for size in sizes:
                size_result = _one_size(
                    name, size, env, port, requests, keep_alive=keep_alive, last=size == sizes[-1]
                )
                result.sizes.append(size_result)
    except (SystemExit, Exception) as exc:  # noqa: BLE001 (report it; the other parts go on)
        lines = [x for x in str(exc).strip().splitlines() if x.strip()]
        result.failed = " / ".join(lines[:1] + lines[-2:]) if lines else type(exc).__name__
        print(f"  {name}: FAILED: {result.failed}", flush=True)
    result.seconds = time.monotonic() - started
    for line in result.over_budget():
        print(f"  {line}", flush=True)
    return result


def _one_size(
    name: str,
    size: int,
    env: dict[str, str],
    port: int,
    requests: int,
    *,
    keep_alive: bool,
    last: bool,
) -> SizeResult:
    result = SizeResult(size=size)
    print(f"  {name}: seeding to {size:,} dossiers ...", flush=True)
    result.seeded = seeded = _seed(["grow", f"--to={size}"], env, timeout=900)
    print(
        f"  {name}: {seeded['dossiers']:,} dossiers (+{seeded['added']:,} in"
        f" {seeded['seconds']:.1f} s: write {seeded['write_seconds']:.1f} s, indexes"
        f" {seeded['index_seconds']:.1f} s, ANALYZE {seeded['analyze_seconds']:.1f} s);"
        f" biggest queue {seeded['biggest_service']}: {seeded['biggest_queue']:,}"
        f" ({seeded['biggest_open']:,} open)",
        flush=True,
    )
    sample = _seed(["sample", f"--count={SAMPLES}"], env, timeout=300)
    counts = _count_queries(env, sample, explain=last)
    time_pages(port, sample, result, requests, keep_alive=keep_alive)
    for key, page in result.pages.items():
        found = counts.get("pages", {}).get(key, {})
        page.queries = found.get("queries")
        page.slowest_sql_ms = found.get("slowest_ms")
        page.slowest_sql = found.get("slowest_sql", "")
        page.plan = found.get("plan", [])
        if found.get("status") not in (None, 200):
            page.errors.append(f"in-process: HTTP {found.get('status')}")
    bare = percentile(result.bare_ms, 50)
    for kind in KINDS:
        page = result.pages[kind.key]
        print(
            f"    {kind.key}: p50 {page.p50:.1f} ms, p95 {page.p95:.1f} ms"
            f" (x{page.p50 / bare if bare else 0:.0f} bare), {page.queries} queries"
            + (f", {len(page.errors)} errors: {page.errors[0]}" if page.errors else ""),
            flush=True,
        )
    return result


@contextmanager
def postgres_database() -> Iterator[str]:
    """`guichet_bench` on the local PostgreSQL, dropped and made again, and dropped
    afterwards; with BENCH_KEEP_DB=1, kept afterwards and reused when it is there (seeding
    then only adds what is missing: a second run at 1M skips the minutes of seeding).
    Yields its URL."""
    import psycopg

    keep = os.environ.get("BENCH_KEEP_DB") == "1"
    admin = f"{submissions.POSTGRES_SERVER}/postgres"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [POSTGRES_DATABASE]
        ).fetchone()
        if exists and not keep:
            conn.execute(f'DROP DATABASE "{POSTGRES_DATABASE}" WITH (FORCE)')
        if not exists or not keep:
            conn.execute(f'CREATE DATABASE "{POSTGRES_DATABASE}"')
    try:
        yield f"{submissions.POSTGRES_SERVER}/{POSTGRES_DATABASE}"
    finally:
        if not keep:
            with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{POSTGRES_DATABASE}" WITH (FORCE)')


def bench_all(
    tmp: Path,
    *,
    production_env: Callable[..., dict[str, str]],
    manage: Callable[[list[str], dict[str, str]], None],
    serve: Callable[..., Any],
    free_port: Callable[[], int],
    postgres_sizes: list[int] = POSTGRES_SIZES,
    sqlite_sizes: list[int] = SQLITE_SIZES,
    requests: int = REQUESTS,
) -> list[BackendResult]:
    """SQLite, then PostgreSQL when it answers (else a result that says why not)."""
    common = {"manage": manage, "serve": serve, "free_port": free_port, "logs": tmp}
    results = []
    if sqlite_sizes:
        print("Back office on SQLite ...", flush=True)
        env = production_env(tmp / "backoffice-sqlite")
        results.append(bench_backend("SQLite", sqlite_sizes, env=env, requests=requests, **common))
    if postgres_sizes:
        try:
            version = submissions.postgres_version()
        except Exception as exc:  # noqa: BLE001 (no PostgreSQL here: say so, measure the rest)
            error = " ".join(str(exc).split())
            note = f"PostgreSQL did not answer at {submissions.POSTGRES_SERVER}: {error}"
            print(f"Back office on PostgreSQL: skipped, {note}", flush=True)
            return [*results, BackendResult(name="PostgreSQL", note=note)]
        print(f"Back office on PostgreSQL {version} ...", flush=True)
        with postgres_database() as url:
            env = production_env(tmp / "backoffice-postgres", DATABASE_URL=url)
            results.append(
                bench_backend(
                    f"PostgreSQL {version}", postgres_sizes, env=env, requests=requests, **common
                )
            )
    return results


# --- Report -------------------------------------------------------------------------------


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


def report_lines(results: list[BackendResult]) -> list[str]:
    lines: list[str] = []
    for r in results:
        if not r.sizes:
            why = r.note or f"failed, {r.failed}"
            lines += [f"### {r.name}", "", f"Not measured: {why}.", ""]
            continue
        lines += [f"### {r.name}", ""]
        lines += [
            "| dossiers | added | seeding | of which indexes | ANALYZE | biggest queue (open) |",
            "|---|---|---|---|---|---|",
        ]
        for s in r.sizes:
            d = s.seeded
            lines.append(
                f"| {d['dossiers']:,} | {d['added']:,} | {d['seconds']:.1f} s"
                f" | {d['index_seconds']:.1f} s | {d['analyze_seconds']:.1f} s"
                f" | `{d['biggest_service']}`: {d['biggest_queue']:,} ({d['biggest_open']:,}) |"
            )
        header = " | ".join(f"{_size(s.size)}: p50 / p95 (× bare)" for s in r.sizes)
        lines += [
            "",
            f"| page | {header} | SQL queries ({' / '.join(_size(s.size) for s in r.sizes)}) |",
            "|---|" + "---|" * len(r.sizes) + "---|",
        ]
        bare_cells = []
        for s in r.sizes:
            bare_cells.append(
                f"{percentile(s.bare_ms, 50):.1f} / {percentile(s.bare_ms, 95):.1f} ms"
            )
        lines.append(f"| bare `/sante/` | {' | '.join(bare_cells)} | — |")
        for kind in KINDS:
            cells = []
            for s in r.sizes:
                page = s.pages.get(kind.key)
                if page is None or not page.ms:
                    cells.append("—" if page is None else f"FAIL ({len(page.errors)} errors)")
                    continue
                bare = percentile(s.bare_ms, 50)
                ratio = f" (×{page.p50 / bare:.0f})" if bare else ""
                flag = " **OVER BUDGET**" if _over(s, kind.key) else ""
                errors = f", {len(page.errors)} failed" if page.errors else ""
                cells.append(f"{page.p50:.0f} / {page.p95:.0f} ms{ratio}{flag}{errors}")
            counts = " / ".join(
                str(s.pages[kind.key].queries)
                if kind.key in s.pages and s.pages[kind.key].queries is not None
                else "?"
                for s in r.sizes
            )
            lines.append(f"| {kind.label} | {' | '.join(cells)} | {counts} |")
        slowest = []
        last = r.sizes[-1]
        for kind in KINDS:
            page = last.pages.get(kind.key)
            if page and page.slowest_sql_ms is not None:
                slowest.append(f"{kind.key} {page.slowest_sql_ms:.0f} ms")
        rows = [
            f"{k.key} {last.pages[k.key].rows}"
            for k in KINDS
            if k.key in last.pages and last.pages[k.key].rows >= 0
        ]
        lines += [
            "",
            f"Server: {r.server}; this part took {r.seconds:.0f} s. At {last.size:,} dossiers, "
            f"the slowest SQL statement of each page (in-process, once): {', '.join(slowest)}; "
            f"dossiers listed on the first answer: {', '.join(rows)}.",
            "",
        ]
        lines += [f"- {x}" for x in r.over_budget() + r.errors()]
        if r.over_budget() or r.errors():
            lines.append("")
        for kind in KINDS:
            page = last.pages.get(kind.key)
            if not page or not page.plan:
                continue
            lines += [
                "<details><summary>"
                f"{kind.key} at {last.size:,} dossiers: slowest statement"
                f" {page.slowest_sql_ms:.0f} ms, its plan</summary>",
                "",
                "```",
                page.slowest_sql,
                "",
                *page.plan,
                "```",
                "",
                "</details>",
                "",
            ]
    return lines


def section(results: list[BackendResult]) -> list[str]:
    """The BENCHMARKS.md section (without its title)."""
    if not results:
        return ["Not measured (--skip-backoffice)."]
    intro = (
        "Dossiers seeded by `bench/seed.py` (one set-based statement over `generate_series` "
        "on PostgreSQL, `executemany` on SQLite; `ANALYZE` after each step), grown in place "
        f"from size to size: 70% in three big services ({', '.join(seed.BIG_SERVICES)}), "
        f"{seed.DRAFT_SHARE:.0%} drafts, 15% open, the rest decided; deadlines from the "
        "procedures, some overdue; most assigned; Malian, Burkinabè and Nigerien names; "
        f"{seed.APPLICANTS:,} applicants. The bench agent (an agent of the biggest service, "
        "session verified with a TOTP device) asks one server process (DEBUG=0, persistent "
        "database connections `DB_CONN_MAX_AGE=60` as in deploy/production.env.example) "
        f"for each page {REQUESTS} times after "
        f"{WARMUP} untimed, in rounds (each round: every page kind once, then "
        f"{BARE_PER_ROUND} bare `/sante/`), from one client on one kept-alive connection. "
        "Times run from sending the request to the last byte of the answer; every timed "
        "answer is a 200. Each cell: p50 / p95 in ms, and (× bare) the page's p50 over the "
        "bare view's p50 in the same run. SQL queries: statements per page, counted "
        "in-process with `CaptureQueriesContext` once per size (the dossier page's on a "
        "dossier in review, the status with the most actions, and with its audit entry). "
        f"Budget: the queue pages (not the searches) and the dossier page under "
        f"{BUDGET_MS:.0f} ms at the 95th percentile at {BUDGET_SIZE:,} dossiers."
    )
    return [intro, "", *report_lines(results)]


# --- In-process query counts (run in the server's environment) ----------------------------


def count_queries(sample: dict[str, Any], explain_over_ms: float | None) -> dict[str, Any]:
    """Each page kind once (after an untimed request): its status, its SQL statements and
    the slowest one's time; on PostgreSQL, with `explain_over_ms`, the plan of that
    statement when it took longer (EXPLAIN ANALYZE: it runs again)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guichet.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from guichet.accounts.models import User

    user = User.objects.get(pk=sample["agent"])
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    client = DjangoClient(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id if device else ""
    session.save()
    pages: dict[str, Any] = {}
    for kind in KINDS:
        path = kind.path(sample, 0)
        client.get(path)  # the first request of a process pays for one-off work
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        statements = captured.captured_queries
        times = [float(q.get("time") or 0) * 1000 for q in statements]
        slowest = max(range(len(times)), key=times.__getitem__) if times else None
        page: dict[str, Any] = {
            "status": response.status_code,
            "queries": len(statements),
            "slowest_ms": round(times[slowest], 1) if slowest is not None else 0.0,
        }
        if (
            slowest is not None
            and explain_over_ms is not None
            and connection.vendor == "postgresql"
            and times[slowest] > explain_over_ms
            and statements[slowest]["sql"].lstrip().upper().startswith("SELECT")
        ):
            sql = statements[slowest]["sql"]
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                page["plan"] = [row[0] for row in cursor.fetchall()]
            page["slowest_sql"] = sql
        pages[kind.key] = page
    return {"vendor": connection.vendor, "pages": pages}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    queries = sub.add_parser("queries", help="in-process query counts (used by the bench)")
    queries.add_argument("--sample", required=True, help="JSON printed by seed.py sample")
    queries.add_argument("--explain-over-ms", type=float, default=None)
    run = sub.add_parser("run", help="this part of the bench alone")
    run.add_argument("--postgres-sizes", default=",".join(map(str, POSTGRES_SIZES)))
    run.add_argument("--sqlite-sizes", default=",".join(map(str, SQLITE_SIZES)))
    run.add_argument("--requests", type=int, default=REQUESTS)
    args = parser.parse_args()
    if args.command == "queries":
        print(json.dumps(count_queries(json.loads(args.sample), args.explain_over_ms)))
        return 0
    import tempfile

    from bench import run as bench_run

    defaults = {"postgres_sizes": POSTGRES_SIZES, "sqlite_sizes": SQLITE_SIZES}
    sizes = {
        k: [int(x) for x in getattr(args, k).split(",") if x.strip()] if args.command else v
        for k, v in defaults.items()
    }
    with tempfile.TemporaryDirectory(prefix="guichet-bench-") as tmp:
        results = bench_all(
            Path(tmp),
            production_env=bench_run._production_env,
            manage=bench_run._manage,
            serve=bench_run._serving,
            free_port=bench_run._free_port,
            requests=getattr(args, "requests", REQUESTS),
            **sizes,
        )
    print()
    print("\n".join(section(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
