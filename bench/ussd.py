"""USSD menu: how long each key press takes to answer, and the longest screen sent.

Run by bench/run.py against the demo database (`python bench/ussd.py`, with
GUICHET_DATA_DIR pointing at it and DEBUG=1); prints one JSON object. Whole sessions are
replayed as the aggregator sends them (one POST per key press, with the path so far) in
process through Django's test client: following a dossier, listing the demo citizen's
dossiers, and walking the catalog down to a procedure and its SMS, with a mistake, a page
turn and a step back on the way. Each press replays its whole path, so deep screens cost
more: the timing covers that. Everything runs in one transaction rolled back at the end,
so the SMS asked for are never kept or sent.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guichet.settings")

SESSIONS = 240
WARM_UP = 5
DEMO_PHONE = "+22370000001"
"""The demo citizen of `load_demo`, who has three submitted dossiers."""
OTHER_PHONE = "22376123456"
"""A number without an account, sent without `+` as some aggregators do."""


def sessions(references: list[str]) -> list[tuple[str, list[str]]]:
    """(caller, key presses) of the sessions replayed, in turn."""
    compact = [r.replace("-", "").lower() for r in references]
    kinds: list[tuple[str, list[str]]] = []
    for i in range(SESSIONS):
        country = str(i % 3 + 1)
        reference = compact[i % len(compact)]
        kinds.append(
            [
                (DEMO_PHONE, ["1", reference]),
                (OTHER_PHONE, ["1", "ML7K3Q", reference]),
                (DEMO_PHONE, ["2", str(i % len(compact) + 1)]),
                (DEMO_PHONE, ["3", country, "1", "1", "1"]),
                (OTHER_PHONE, ["3", "x", country, "9", "1", "1", "0", "1", "1"]),
                (DEMO_PHONE, ["3", country, "2", "1", "00", "2", "1"]),
            ][i % 6]
        )
    return kinds


def main() -> None:
    import django

    django.setup()
    from django.db import transaction
    from django.test import Client

    from guichet.dossiers.models import Dossier

    references = list(
        Dossier.objects.filter(applicant__phone=DEMO_PHONE)
        .exclude(status="draft")
        .values_list("reference", flat=True)
    )
    if not references:
        raise SystemExit("no demo dossier: run `manage.py load_demo` first")
    client = Client(HTTP_HOST="127.0.0.1")
    timings: list[float] = []
    longest = 0
    with transaction.atomic():
        for number, (caller, keys) in enumerate(sessions(references)):
            path: list[str] = []
            for key in ["", *keys]:
                if key:
                    path.append(key)
                data = {
                    "sessionId": f"bench-{number}",
                    "serviceCode": "*384*123#",
                    "phoneNumber": caller,
                    "networkCode": "61001",
                    "text": "*".join(path),
                }
                started = time.perf_counter()
                response = client.post("/passerelle/ussd/", data)
                elapsed = time.perf_counter() - started
                screen = response.content.decode()
                assert response.status_code == 200 and screen[:4] in ("CON ", "END "), screen
                if number >= WARM_UP:
                    timings.append(elapsed * 1000)
                longest = max(longest, len(screen))
        transaction.set_rollback(True)
    out = {
        "requests": len(timings),
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(statistics.quantiles(timings, n=20)[-1], 2),
        "max_screen_chars": longest,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
