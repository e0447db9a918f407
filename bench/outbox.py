"""Outbox throughput: notifications written, committed and handed to a real Kannel, per second.

Run by bench/run.py (`python bench/outbox.py`, DEBUG=1, GUICHET_DATA_DIR at the demo
database). Starts bearerbox, smsbox and the fake SMSC on free loopback ports (as the
integration tests do), then, in this process with the immediate task backend, writes
notifications one after the other: each is a row in its own transaction, and after
commit the delivery task hands it to Kannel's `sendsms` (one HTTP request, with its
delivery-report address). The same loop with the development outbox backend (a table
insert instead of the HTTP call) is timed in the same run, for the ratio. Prints one JSON
object; {"available": false, ...} when Kannel is not installed.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROUNDS = 3
PER_ROUND = 200


def _rate(notify, event: str) -> float:
    from django.db import transaction

    started = time.perf_counter()
    for i in range(PER_ROUND):
        with transaction.atomic():
            notify(user=None, to="+22370555555", event=event, object_ref="B", text=f"Guichet {i}")
    return PER_ROUND / (time.perf_counter() - started)


def main() -> None:
    from guichet.notifications.tests.gateway import (
        BEARERBOX,
        FAKESMSC,
        SENDSMS_PASSWORD,
        SMSBOX,
        free_port,
        kannel_conf,
        wait_for_port,
    )

    if not BEARERBOX.exists():
        print(json.dumps({"available": False, "note": f"{BEARERBOX} is not installed"}))
        return
    tmp = Path(tempfile.mkdtemp(prefix="guichet-outbox-"))
    ports = {name: free_port() for name in ("admin", "smsbox", "fake", "sendsms")}
    conf = kannel_conf(tmp, ports, "http://127.0.0.1:9")  # incoming SMS are not used here
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str, args: list[str], **kwargs) -> subprocess.Popen[bytes]:
        with (tmp / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, **kwargs)
        processes.append(process)
        return process

    try:
        bearerbox = start("bearerbox", [str(BEARERBOX), str(conf)])
        wait_for_port(ports["fake"], bearerbox, tmp / "bearerbox.log")
        start("fakesmsc", [str(FAKESMSC), "-H", "127.0.0.1", "-r", str(ports["fake"]),
                           "-i", "0.01"], stdin=subprocess.PIPE)  # fmt: skip
        smsbox = start("smsbox", [str(SMSBOX), str(conf)])
        wait_for_port(ports["sendsms"], smsbox, tmp / "smsbox.log")
        os.environ.update(
            DJANGO_SETTINGS_MODULE="guichet.settings",
            KANNEL_SENDSMS_URL=f"http://127.0.0.1:{ports['sendsms']}/cgi-bin/sendsms",
            KANNEL_PASSWORD=SENDSMS_PASSWORD,
            KANNEL_FROM="36123",
        )
        import django

        django.setup()
        from django.conf import settings

        from guichet.notifications.models import Notification
        from guichet.notifications.services import notify

        settings.TASKS = {
            "default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}
        }
        kannel, outbox = [], []
        for _ in range(ROUNDS):
            settings.SMS_BACKEND = "guichet.notifications.sms.KannelSmsBackend"
            kannel.append(_rate(notify, "bench.kannel"))
            settings.SMS_BACKEND = "guichet.notifications.sms.OutboxSmsBackend"
            outbox.append(_rate(notify, "bench.outbox"))
        sent = Notification.objects.filter(event="bench.kannel", status="sent").count()
        print(
            json.dumps(
                {
                    "available": True,
                    "kannel_per_s": statistics.median(kannel),
                    "outbox_per_s": statistics.median(outbox),
                    "messages": ROUNDS * PER_ROUND,
                    "sent": sent,
                }
            )
        )
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=10)
            if process.stdin:
                process.stdin.close()


if __name__ == "__main__":
    main()
