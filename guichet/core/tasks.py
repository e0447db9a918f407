"""Background tasks shared by every app.

Tasks use the `django.tasks` API (through the django-tasks backport on Django 5.2); the
database backend runs them in `manage.py db_worker` on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task


@task()
def worker_heartbeat() -> str:
    """Prove that a worker picks up tasks: returns the time it ran (ISO 8601, UTC)."""
    return timezone.now().isoformat()
