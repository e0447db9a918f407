from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from guichet.core.env import env_bool, env_int, env_list, env_str


def test_bad_boolean_is_a_loud_error(monkeypatch):
    monkeypatch.setenv("DEBUG", "peut-être")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='peut-être' is not a boolean"):
        env_bool("DEBUG", default=False)


def test_bad_integer_and_minimum_are_loud_errors(monkeypatch):
    monkeypatch.setenv("X", "dix")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("X", 1)
    monkeypatch.setenv("X", "-1")
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env_int("X", 1, minimum=0)


def test_required_string_and_secret_file(monkeypatch, tmp_path):
    monkeypatch.delenv("SOME_SECRET", raising=False)
    with pytest.raises(ImproperlyConfigured, match="SOME_SECRET is required"):
        env_str("SOME_SECRET")
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("SOME_SECRET_FILE", str(secret))
    assert env_str("SOME_SECRET") == "s3cret"
    monkeypatch.setenv("SOME_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_str("SOME_SECRET")


def test_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.ml , b.bf,,")
    assert env_list("HOSTS", []) == ["a.ml", "b.bf"]


def _start(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "DATABASE_URL")
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os;"
            " os.environ['DJANGO_SETTINGS_MODULE'] = 'guichet.settings'; django.setup()",
        ],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _start(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_unknown_database_url_is_refused(tmp_path):
    result = _start(
        DEBUG="1", DATABASE_URL="mysql://root@127.0.0.1/x", GUICHET_DATA_DIR=str(tmp_path)
    )
    assert result.returncode != 0
    assert "DATABASE_URL must be sqlite" in result.stderr


@pytest.mark.django_db
def test_migrations_match_the_models():
    call_command("makemigrations", check=True, dry_run=True, verbosity=0)


def test_embedded_default_is_sqlite_in_wal_mode(tmp_path):
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        env={**clean, "DEBUG": "1", "GUICHET_DATA_DIR": str(tmp_path)},
        check=True,
    )
    database = tmp_path / "guichet.sqlite3"
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
