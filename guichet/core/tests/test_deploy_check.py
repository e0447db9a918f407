"""`manage.py check --deploy` is clean with the documented production environment."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "deploy" / "production.env.example"


def production_env(tmp_path: Path) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    env.update(  # the placeholders a deployment fills in
        SECRET_KEY=secrets.token_urlsafe(64),
        GUICHET_DATA_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        SIGNING_KEYS_DIR=str(tmp_path / "keys"),
    )
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_documented_production_settings_pass_the_deploy_check(tmp_path):
    done = check_deploy(production_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_the_deploy_check_catches_a_production_setting_left_out(tmp_path):
    env = production_env(tmp_path)
    del env["SECURE_HSTS_SECONDS"]
    env["SMS_BACKEND"] = "guichet.notifications.sms.OutboxSmsBackend"
    del env["ATTACHMENT_SCANNER"]  # the development default: every upload accepted unscanned
    done = check_deploy(env)
    assert done.returncode != 0
    assert "security.W004" in done.stderr + done.stdout
    assert "guichet.notifications.W001" in done.stderr + done.stdout
    assert "guichet.core.W001" in done.stderr + done.stdout
