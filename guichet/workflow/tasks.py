"""Background work of the back office."""

from __future__ import annotations

from django_tasks import task

from guichet.workflow import exports


@task()
def build_export(export_id: int) -> str:
    """Build an export's file; returns its status. Then delete the exports past their
    seven days, so that old files go without a scheduler."""
    status = exports.build_export(export_id)
    exports.purge_old_exports()
    return status


@task()
def purge_old_exports() -> int:
    return exports.purge_old_exports()
