from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test import RequestFactory

from guichet.core import ratelimit
from guichet.core.models import RateLimitWindow
from guichet.core.ratelimit import Limit, RateLimited

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
THREE_PER_15_MIN = Limit("test.three", 3, timedelta(minutes=15))
TEN_PER_DAY = Limit("test.ten", 10, timedelta(days=1))


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


def test_events_up_to_the_limit_pass_and_the_next_one_exceeds(clock):
    usages = [ratelimit.hit(THREE_PER_15_MIN, "k") for _ in range(4)]
    assert [u.hits for u in usages] == [1, 2, 3, 4]
    assert [u.is_exceeded for u in usages] == [False, False, False, True]
    assert usages[2].is_full
    assert usages[0].resets_at == T0 + timedelta(minutes=15)


def test_window_opens_at_the_first_event_and_reopens_after_its_period(clock):
    ratelimit.hit(THREE_PER_15_MIN, "k")
    clock.shift(timedelta(minutes=14, seconds=59))
    ratelimit.hit(THREE_PER_15_MIN, "k")
    assert ratelimit.hit(THREE_PER_15_MIN, "k").hits == 3
    clock.shift(timedelta(seconds=1))  # 15 minutes after the first event
    usage = ratelimit.hit(THREE_PER_15_MIN, "k")
    assert usage.hits == 1
    assert usage.resets_at == T0 + timedelta(minutes=30)
    assert RateLimitWindow.objects.count() == 1  # the row is reused, not added


def test_keys_and_scopes_are_counted_apart(clock):
    ratelimit.hit(THREE_PER_15_MIN, "a")
    ratelimit.hit(THREE_PER_15_MIN, "a")
    assert ratelimit.hit(THREE_PER_15_MIN, "b").hits == 1
    assert ratelimit.hit(TEN_PER_DAY, "a").hits == 1


def test_peek_and_check_count_nothing(clock):
    for _ in range(2):
        ratelimit.hit(THREE_PER_15_MIN, "k")
    assert ratelimit.peek(THREE_PER_15_MIN, "k").hits == 2
    ratelimit.check([(THREE_PER_15_MIN, "k")])  # not full yet
    assert ratelimit.peek(THREE_PER_15_MIN, "k").hits == 2
    ratelimit.hit(THREE_PER_15_MIN, "k")
    with pytest.raises(RateLimited) as refused:
        ratelimit.check([(THREE_PER_15_MIN, "k")])
    assert refused.value.retry_at == T0 + timedelta(minutes=15)
    assert ratelimit.peek(THREE_PER_15_MIN, "unseen") == ratelimit.Usage(0, 3, None)


def test_consume_refuses_without_using_up_the_other_limits(clock):
    for _ in range(3):
        ratelimit.consume([(THREE_PER_15_MIN, "address"), (TEN_PER_DAY, "number")])
    with pytest.raises(RateLimited) as refused:
        ratelimit.consume([(THREE_PER_15_MIN, "address"), (TEN_PER_DAY, "number")])
    assert refused.value.scopes == ["test.three"]
    assert ratelimit.peek(TEN_PER_DAY, "number").hits == 3


def test_refusal_waits_for_the_last_limit_to_reopen(clock):
    for _ in range(10):
        ratelimit.hit(TEN_PER_DAY, "k")
        ratelimit.hit(THREE_PER_15_MIN, "k")
    with pytest.raises(RateLimited) as refused:
        ratelimit.consume([(THREE_PER_15_MIN, "k"), (TEN_PER_DAY, "k")])
    assert refused.value.retry_at == T0 + timedelta(days=1)
    assert refused.value.retry_after_seconds() == 86400
    clock.shift(timedelta(days=1) - timedelta(milliseconds=10))
    assert refused.value.retry_after_seconds() == 1  # never 0: "retry now" would be wrong


def test_reset_and_purge(clock):
    ratelimit.hit(THREE_PER_15_MIN, "a")
    ratelimit.hit(TEN_PER_DAY, "a")
    ratelimit.reset(TEN_PER_DAY, "a")
    assert ratelimit.peek(TEN_PER_DAY, "a").hits == 0
    clock.shift(timedelta(minutes=15))
    ratelimit.hit(TEN_PER_DAY, "b")
    assert ratelimit.purge_expired() == 1
    assert RateLimitWindow.objects.count() == 1


def test_keys_are_not_stored_in_clear(clock):
    ratelimit.hit(THREE_PER_15_MIN, "+22370123456|197.155.1.2")
    (bucket,) = RateLimitWindow.objects.values_list("bucket", flat=True)
    assert bucket.startswith("test.three:")
    assert "22370123456" not in bucket and "197.155" not in bucket


def test_bad_limits_are_refused_at_definition():
    with pytest.raises(ValueError, match="scope"):
        Limit("a:b", 1, timedelta(minutes=1))
    with pytest.raises(ValueError, match="positive"):
        Limit("a", 0, timedelta(minutes=1))


@pytest.mark.parametrize(
    ("remote", "forwarded", "hops", "expected"),
    [
        ("197.155.1.2", "", 0, "197.155.1.2"),
        # Without a trusted proxy, X-Forwarded-For is the client's word: ignored.
        ("197.155.1.2", "10.9.9.9", 0, "197.155.1.2"),
        # Behind one proxy: the entry it appended, not what the client put before it.
        ("127.0.0.1", "6.6.6.6, 197.155.1.2", 1, "197.155.1.2"),
        ("127.0.0.1", "", 1, "127.0.0.1"),
        # IPv6 counts by /64: the whole prefix one subscriber holds.
        ("2001:db8:1:2:aaaa::1", "", 0, "2001:db8:1:2::/64"),
        ("::ffff:197.155.1.2", "", 0, "197.155.1.2"),
        ("", "", 0, "unknown"),
    ],
)
def test_client_address(settings, remote, forwarded, hops, expected):
    settings.TRUSTED_PROXY_HOPS = hops
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert ratelimit.client_ip(request) == expected


@pytest.mark.django_db(transaction=True)
def test_concurrent_events_are_all_counted_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite: see test_processes_sharing_a_sqlite_file_lose_no_count")
    limit = Limit("test.race", 20, timedelta(minutes=5))
    results: list[ratelimit.Usage] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(10):
                results.append(ratelimit.hit(limit, "k"))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(u.hits for u in results) == list(range(1, 81))
    assert sum(not u.is_exceeded for u in results) == 20


def test_processes_sharing_a_sqlite_file_lose_no_count(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DEBUG="1", GUICHET_DATA_DIR=str(tmp_path))
    manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True)
    script = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'guichet.settings';"
        " django.setup(); from datetime import timedelta;"
        " from guichet.core import ratelimit;"
        " limit = ratelimit.Limit('test.processes', 30, timedelta(minutes=5));"
        " [ratelimit.hit(limit, 'k') for _ in range(25)]"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script], env=env, cwd=settings.BASE_DIR)
        for _ in range(4)
    ]
    assert [w.wait(timeout=60) for w in workers] == [0, 0, 0, 0]
    with sqlite3.connect(tmp_path / "guichet.sqlite3") as db:
        assert db.execute("SELECT hits FROM core_ratelimitwindow").fetchall() == [(100,)]
