from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django_tasks import TaskResultStatus

from guichet.core.tasks import worker_heartbeat

DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.mark.django_db(transaction=True)
def test_a_queued_task_waits_in_the_database_until_the_worker_runs_it(settings):
    settings.TASKS = DB_BACKEND
    result = worker_heartbeat.enqueue()
    assert result.status == TaskResultStatus.READY
    # The worker runs in this process; `refresh()` reads the row it updated.
    call_command("db_worker", batch=True, interval=0, startup_delay=False)
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value.endswith("+00:00")


@pytest.mark.django_db(transaction=True)
def test_check_worker_fails_loudly_when_no_worker_runs(settings):
    settings.TASKS = DB_BACKEND
    with pytest.raises(CommandError, match="Aucun travailleur"):
        call_command("check_worker", timeout=0.5)


def test_manage_py_knows_the_worker_command():
    out = subprocess.run(
        [sys.executable, "manage.py", "help", "db_worker"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--batch" in out.stdout
