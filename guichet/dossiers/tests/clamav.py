"""A ClamAV daemon for the tests, on a signature database made here for the EICAR test file.

ClamAV cannot download its signatures on this network, and CI must stay fast: `sigtool`
builds a two-signature database (the EICAR file's MD5, as ClamAV's own test signature does,
and its bytes anywhere in a file, to find it inside a PDF or a JPEG), and clamd loads it in
well under a second. Production uses the official database (docs/security.md).

Tests use the daemon named by CLAMD_TEST_ADDRESS (what `.ci/clamav.sh` starts and prints),
or else start one of their own when Debian's `clamav-daemon` and `clamav` are installed.
Outside CI a machine without them skips the tests that need it; in CI (CI=true) that
fails them, so the suite cannot go green by not scanning.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from guichet.dossiers.scanning import ClamdScanner

# Split in two so that this source file is not itself the EICAR test file to a scanner.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Eicar-Test-Signature"


def _binary(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )


def build_database(folder: Path) -> Path:
    """`folder/db` with the EICAR signatures, made by sigtool from the file itself."""
    sigtool = _binary("sigtool")
    assert sigtool is not None
    db = folder / "db"
    db.mkdir(parents=True, exist_ok=True)
    sample = folder / "eicar.com"
    sample.write_bytes(EICAR)
    md5 = subprocess.run(
        [sigtool, "--md5", str(sample)], check=True, capture_output=True, text=True
    ).stdout.strip()
    digest, size, _name = md5.split(":")
    (db / "eicar.hdb").write_text(f"{digest}:{size}:{SIGNATURE}\n")
    hexdump = subprocess.run(
        [sigtool, "--hex-dump"], input=EICAR, check=True, capture_output=True
    ).stdout.decode()
    (db / "eicar.ndb").write_text(f"{SIGNATURE}-Body:0:*:{hexdump.strip()}\n")
    return db


def start_clamd(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """clamd in the foreground (the fixture owns the process) on `folder/clamd.sock`."""
    clamd = _binary("clamd")
    assert clamd is not None
    db = build_database(folder)
    socket_path = folder / "clamd.sock"
    conf = folder / "clamd.conf"
    conf.write_text(
        f"LocalSocket {socket_path}\nDatabaseDirectory {db}\nForeground yes\n"
        f"LogFile {folder / 'clamd.log'}\nStreamMaxLength 25M\n"
    )
    process = subprocess.Popen([clamd, "-c", str(conf)], stdout=subprocess.DEVNULL)
    scanner = ClamdScanner(str(socket_path), timeout=5)
    deadline = time.monotonic() + 30
    while not scanner.ping():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log = (folder / "clamd.log").read_text(errors="replace")
            raise RuntimeError(f"clamd did not start:\n{log}")
        time.sleep(0.05)
    return process, str(socket_path)


def clamd_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The body of the session fixture `clamd_address` (guichet/dossiers/tests/conftest.py)."""
    given = os.environ.get("CLAMD_TEST_ADDRESS")
    if given:
        if not ClamdScanner(given, timeout=5).ping():
            pytest.fail(f"CLAMD_TEST_ADDRESS={given} does not answer PING")
        yield given
        return
    missing = [name for name in ("clamd", "sigtool") if _binary(name) is None]
    if missing:
        message = f"{missing[0]} is missing: apt-get install clamav clamav-daemon"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must run the antivirus tests.")
        pytest.skip(message)
    # A short path: a unix socket's path must fit in 108 bytes.
    folder = Path(tmp_path_factory.mktemp("clamd"))
    process, address = start_clamd(folder)
    try:
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)
