"""`manage.py serve` keeps its background processes running, and stops them all."""

from __future__ import annotations

import sys
import time

from guichet.core.management.commands.serve import Children


def test_a_child_that_exits_is_started_again_and_all_stop_together(monkeypatch):
    monkeypatch.setattr(Children, "RESTART_DELAY", 0.1)
    children = Children(
        [
            [sys.executable, "-c", "pass"],  # exits at once, like a worker after a DB restart
            [sys.executable, "-c", "import time; time.sleep(60)"],
        ]
    )
    first, steady = children.pids
    deadline = time.monotonic() + 10
    while children.pids[0] == first and time.monotonic() < deadline:
        time.sleep(0.05)
    assert children.pids[0] != first  # started again
    assert children.pids[1] == steady  # a running one is left alone
    children.stop()
    assert all(p.poll() is not None for p in children.processes)
