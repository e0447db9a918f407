"""Kannel on this machine for tests and the bench: its binaries, a configuration with a
fake SMSC on free loopback ports, and waiting for its processes to listen."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
BEARERBOX = Path("/usr/sbin/bearerbox")
SMSBOX = Path("/usr/sbin/smsbox")
FAKESMSC = Path("/usr/lib/kannel/test/fakesmsc")
SHORT_CODE = "36123"
DEMO_PHONE = "22370000001"  # the demo citizen (load_demo), as the operator passes it
GOT = re.compile(r"Got message \d+: <(\S+) (\S+) text (.*)>$")
TIMEOUT = 60.0
SENDSMS_USER, SENDSMS_PASSWORD = "guichet", "kannel-test-password"
INBOUND_TOKEN = "gw-secret"  # what the get-url adds, checked by Guichet (SMS_INBOUND_TOKEN)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args!r} stopped:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}:\n{log.read_text()[-3000:]}")


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def kannel_conf(tmp: Path, ports: dict[str, int], web: str) -> Path:
    conf = tmp / "kannel.conf"
    conf.write_text(
        f"""group = core
admin-port = {ports["admin"]}
admin-password = admin-{ports["admin"]}
smsbox-port = {ports["smsbox"]}
log-level = 1
log-file = "{tmp}/bearerbox-core.log"
box-allow-ip = 127.0.0.1
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {ports["fake"]}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {ports["smsbox"]}
sendsms-port = {ports["sendsms"]}
log-level = 1
log-file = "{tmp}/smsbox-core.log"

group = sendsms-user
username = {SENDSMS_USER}
password = {SENDSMS_PASSWORD}
default-sender = {SHORT_CODE}

group = sms-service
keyword = default
catch-all = yes
max-messages = 2
concatenation = true
omit-empty = yes
get-url = "{web}/passerelle/sms/entrant/?token={INBOUND_TOKEN}&from=%p&text=%a&id=%I"
""",
        encoding="utf-8",
    )
    return conf
