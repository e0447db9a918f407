"""Guichet against a real SMS gateway: Kannel's bearerbox and smsbox (Debian's `kannel`),
with the fake SMSC of `kannel-extras` standing in for the operator.

Everything runs as separate processes, as in production: Guichet's web server (waitress)
and task worker on a fresh SQLite file with the demo data, bearerbox and smsbox with
`smsc = fake`, and `fakesmsc` as the phone network, which prints every SMS it receives
and sends what the test types as SMS from a phone. Checked:
- the demo's three submitted dossiers each produce exactly one receipt SMS, which reaches
  the fake SMSC, and Kannel's delivery reports mark them delivered;
- `STATUT <ref>` from the dossier's number gets its state; from another number, nothing
  personal;
- 150 messages delivered while the task worker is killed with SIGKILL twice in the middle
  of the queue and restarted: each reaches the phone exactly once.

Outside CI a machine without /usr/sbin/bearerbox skips these tests; in CI (CI=true) a
missing Kannel fails them, so the suite cannot go green by not running.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote_plus

import pytest

from guichet.notifications.tests.gateway import (
    BEARERBOX,
    DEMO_PHONE,
    FAKESMSC,
    GOT,
    INBOUND_TOKEN,
    ROOT,
    SENDSMS_PASSWORD,
    SHORT_CODE,
    SMSBOX,
    free_port,
    kannel_conf,
    wait_for_port,
    wait_until,
)

pytestmark = pytest.mark.kannel

# How fakesmsc logs each part of a concatenated SMS: its UDH, and the text URL-encoded.
PART = re.compile(r"Got message \d+: <(\S+) (\S+) udh (\S+) data (.*)>$")


@dataclass
class Stack:
    tmp: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def start(self, name: str, args: list[str], **kwargs) -> subprocess.Popen[bytes]:
        log = self.tmp / f"{name}.log"
        with log.open("ab") as handle:  # the child keeps its own copy
            process = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, **kwargs)
        self.processes[name], self.logs[name] = process, log
        return process

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdin is not None:
            process.stdin.close()

    def manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"manage.py {args[0]}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def query(self, code: str) -> object:
        """Run Python against Guichet's database; `code` prints one JSON value last."""
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])

    def received(self) -> list[tuple[str, str]]:
        """(number, text) of every SMS the fake SMSC received (the phones' side)."""
        lines = self.logs["fakesmsc"].read_text(errors="replace").splitlines()
        return [(m.group(2), m.group(3)) for m in map(GOT.search, lines) if m]

    def parts(self) -> list[tuple[str, str, str]]:
        """(number, UDH, URL-encoded text) of each part of concatenated SMS received."""
        lines = self.logs["fakesmsc"].read_text(errors="replace").splitlines()
        return [(m.group(2), m.group(3), m.group(4)) for m in map(PART.search, lines) if m]

    def phone_sends(self, number: str, text: str) -> None:
        phone = self.processes["fakesmsc"]
        assert phone.stdin is not None
        phone.stdin.write(f"{number} {SHORT_CODE} text {text}\n".encode())
        phone.stdin.flush()

    def start_worker(self) -> None:
        self.start(
            "worker",
            [sys.executable, "manage.py", "db_worker", "--interval", "0.1", "--no-startup-delay"],
            cwd=ROOT,
            env=self.env,
        )


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    missing = [p for p in (BEARERBOX, SMSBOX, FAKESMSC) if not p.exists()]
    if missing:
        message = f"{missing[0]} is missing: apt-get install kannel kannel-extras"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must run the Kannel tests.")
        pytest.skip(message)
    ports = {name: free_port() for name in ("web", "admin", "smsbox", "fake", "sendsms")}
    web = f"http://127.0.0.1:{ports['web']}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTEST_CURRENT_TEST")}
    env.update(
        DEBUG="0",
        GUICHET_DATA_DIR=str(tmp_path / "data"),
        TASKS_BACKEND="django_tasks_db.DatabaseBackend",
        SMS_BACKEND="guichet.notifications.sms.KannelSmsBackend",
        KANNEL_SENDSMS_URL=f"http://127.0.0.1:{ports['sendsms']}/cgi-bin/sendsms",
        KANNEL_PASSWORD=SENDSMS_PASSWORD,
        KANNEL_FROM=SHORT_CODE,
        SMS_CALLBACK_BASE_URL=web,
        SMS_INBOUND_TOKEN=INBOUND_TOKEN,
        NOTIFICATION_STALE_SECONDS="3",
        ALLOWED_HOSTS="127.0.0.1",
    )
    stack = Stack(tmp_path, env)
    stack.manage("migrate", "--noinput")
    stack.manage("load_demo", env={**env, "DEBUG": "1"})  # three submitted dossiers, queued SMS
    try:
        server = stack.start(
            "web",
            [sys.executable, "-m", "waitress", "--host=127.0.0.1", f"--port={ports['web']}",
             "--threads=4", "guichet.wsgi:application"],
            cwd=ROOT,
            env=env,
        )  # fmt: skip
        wait_for_port(ports["web"], server, stack.logs["web"])
        conf = kannel_conf(tmp_path, ports, web)
        bearerbox = stack.start("bearerbox", [str(BEARERBOX), str(conf)])
        wait_for_port(ports["fake"], bearerbox, stack.logs["bearerbox"])
        phone = stack.start(
            "fakesmsc",
            [str(FAKESMSC), "-H", "127.0.0.1", "-r", str(ports["fake"]), "-i", "0.01"],
            stdin=subprocess.PIPE,
        )
        smsbox = stack.start("smsbox", [str(SMSBOX), str(conf)])
        wait_for_port(ports["sendsms"], smsbox, stack.logs["smsbox"])
        assert phone.poll() is None, stack.logs["fakesmsc"].read_text()
        yield stack
    finally:
        for name in ("worker", "retrier", "smsbox", "fakesmsc", "bearerbox", "web"):
            stack.stop(name)


def _demo_references(stack: Stack) -> list[str]:
    refs = stack.query(
        "import json; from guichet.dossiers.models import Dossier; "
        "print(json.dumps(sorted(Dossier.objects.exclude(status='draft')"
        ".values_list('reference', flat=True))))"
    )
    assert isinstance(refs, list) and len(refs) == 3
    return refs


def _statuses(stack: Stack) -> dict[str, list[str]]:
    """Each notification's text → its status and its history, from Guichet's database."""
    return stack.query(  # type: ignore[return-value]
        "import json; from guichet.notifications.models import Notification as N; "
        "print(json.dumps({n.text: [n.status] + [h.detail for h in n.history.all()] "
        "for n in N.objects.all()}))"
    )


def test_receipts_reach_the_phone_once_with_a_report_and_statut_answers_only_the_owner(
    stack: Stack,
) -> None:
    references = _demo_references(stack)
    stack.start_worker()

    def receipts() -> list[tuple[str, str]]:
        return [r for r in stack.received() if "bien déposé" in r[1]]

    wait_until(lambda: len(receipts()) >= 3, "the three receipts on the fake SMSC")
    time.sleep(1)  # a fourth would be a duplicate
    got = receipts()
    assert Counter(ref for ref in references for _, text in got if ref in text) == Counter(
        references
    )
    assert {number for number, _ in got} == {"+" + DEMO_PHONE}

    def all_delivered() -> bool:
        return all(v[0] == "delivered" for v in _statuses(stack).values())

    wait_until(all_delivered, "the delivery reports")
    history = next(iter(_statuses(stack).values()))
    assert "remis à la passerelle" in history and "rapport : reçu par le téléphone" in history

    before = len(stack.received())
    stack.phone_sends(DEMO_PHONE, f"statut {references[0].lower()}")
    reply = wait_until(lambda: stack.received()[before:], "the answer to STATUT")
    assert reply == [(DEMO_PHONE, f"Guichet : Dossier {references[0]} : Déposé. "
                                  "Le service l'instruit.")]  # fmt: skip
    before = len(stack.received())
    stack.phone_sends("22370999999", f"STATUT {references[0]}")
    reply = wait_until(lambda: stack.received()[before:], "the answer to a stranger")
    assert reply[0][0] == "22370999999" and references[0] not in reply[0][1]
    assert "aucun dossier" in reply[0][1]

    # A question to the assistant: its answer (longer than one SMS) reaches the phone as
    # one concatenated SMS of two parts, and ends with the address of the official sheet.
    before = len(stack.parts())
    stack.phone_sends("22370999999", "QUESTION pieces pour le passeport")
    wait_until(lambda: len(stack.parts()) >= before + 2, "the assistant's two SMS")
    time.sleep(1)  # a third part would break the two-SMS promise
    parts = stack.parts()[before:]
    assert [(number, udh[-6:]) for number, udh, _ in parts] == [
        ("22370999999", "%02%01"),  # part 1 of 2
        ("22370999999", "%02%02"),  # part 2 of 2
    ]
    text = "".join(unquote_plus(data) for _, _, data in parts)
    assert text.startswith("Guichet : Passeport biométrique ordinaire.")
    assert "Pièces à fournir : Extrait d'acte de naissance" in text
    assert text.endswith("/demarches/ml-passeport/")


def _handled(stack: Stack) -> int:
    """How many of the test's notifications the worker has taken (read straight from the
    SQLite file: fast enough to catch the worker in the middle of its queue)."""
    with sqlite3.connect(stack.tmp / "data" / "guichet.sqlite3", timeout=5) as db:
        row = db.execute(
            "SELECT count(*) FROM notifications_notification "
            "WHERE object_ref = 'T' AND status != 'queued'"
        ).fetchone()
    return int(row[0])


def test_killing_the_worker_mid_delivery_loses_and_doubles_nothing(stack: Stack) -> None:
    count = 150
    stack.query(
        "import json; from django.db import transaction; "
        "from guichet.notifications.services import notify\n"
        f"for i in range({count}):\n"
        "    with transaction.atomic():\n"
        "        notify(user=None, to='+22370555555', event='test', object_ref='T',"
        " text=f'Guichet : message {i:03d}')\n"
        "print(json.dumps(True))"
    )
    ours = re.compile(r"^Guichet : message (\d{3})$")

    def delivered_to_phone() -> list[str]:
        return [t for _, t in stack.received() if ours.match(t)]

    killed_at = []
    for round_ in range(2):
        stack.start_worker()
        wanted = 20 + 40 * round_
        wait_until(lambda: _handled(stack) >= wanted, "the worker at work")  # noqa: B023
        stack.stop("worker", signal.SIGKILL)  # no cleanup: its task stays "running"
        killed_at.append(_handled(stack))
    assert all(n < count for n in killed_at), f"killed too late to test anything: {killed_at}"
    stack.start_worker()
    stack.start(
        "retrier",
        [sys.executable, "manage.py", "notifications_retry", "--every", "1"],
        cwd=ROOT,
        env=stack.env,
    )
    wait_until(lambda: len(set(delivered_to_phone())) >= count, "every message", timeout=120)
    time.sleep(5)  # longer than NOTIFICATION_STALE_SECONDS: a duplicate would show now
    texts = Counter(delivered_to_phone())
    assert len(texts) == count and set(texts.values()) == {1}, texts
    statuses = {t: v[0] for t, v in _statuses(stack).items() if ours.match(t)}
    assert set(statuses.values()) <= {"sent", "delivered"} and len(statuses) == count
