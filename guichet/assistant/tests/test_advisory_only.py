"""The assistant advises; it never moves a dossier.

Two proofs. Statically, no module of the assistant (its tests aside) imports the workflow,
names the timeline (`StatusChange`) or writes a `status`. At run time, with every service
of the workflow made to explode, the assistant's code paths (checklist, summary, reading a
file, the reading task and its queuing) run on a submitted dossier, write nothing but
their readings, and leave the dossier and its timeline exactly as they were.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import guichet.assistant
from guichet.assistant import casework, ocr, tasks
from guichet.assistant.models import AttachmentReading
from guichet.dossiers import services as dossier_services
from guichet.dossiers.models import Dossier, DossierStatus, StatusChange
from guichet.workflow import services as workflow_services

ASSISTANT = Path(guichet.assistant.__file__).parent
PACKAGE = "guichet.assistant"
WORKFLOW = "guichet.workflow"
WRITES = re.compile(
    r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.I
)
"""A statement that writes, and its table (SQLite and PostgreSQL as Django writes them)."""


# --- Statically ----------------------------------------------------------------------------------


def _imported(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """The dotted names an import statement brings in, relative ones resolved."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    module = node.module or ""
    if node.level:
        parts = package.split(".")
        base = ".".join(parts[: len(parts) - node.level + 1])
        module = f"{base}.{module}" if module else base
    return [module, *(f"{module}.{alias.name}" for alias in node.names)]


def problems(source: str, package: str = PACKAGE) -> list[str]:
    """What in `source` could move a dossier: an import of the workflow, the timeline, a
    write of a `status`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            for name in _imported(node, package):
                if name == WORKFLOW or name.startswith(WORKFLOW + "."):
                    found.append(f"{line}: imports {name}")
                if name.split(".")[-1] == "StatusChange":
                    found.append(f"{line}: imports StatusChange")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if WORKFLOW in node.value:  # importlib.import_module, import_string
                found.append(f"{line}: names {WORKFLOW} in a string")
        elif isinstance(node, ast.Name | ast.Attribute) and "StatusChange" in (
            node.id if isinstance(node, ast.Name) else node.attr
        ):
            found.append(f"{line}: uses StatusChange")
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == "status":
                    found.append(f"{line}: assigns .status")
        if isinstance(node, ast.Call):
            function = node.func
            name = (
                function.attr
                if isinstance(function, ast.Attribute)
                else getattr(function, "id", "")
            )
            if name == "setattr" and any(
                isinstance(a, ast.Constant) and a.value == "status" for a in node.args
            ):
                found.append(f"{line}: setattr status")
            for keyword in node.keywords:
                if name in ("update", "bulk_update") and keyword.arg == "status":
                    found.append(f"{line}: {name}(status=…)")
                saved = keyword.arg == "update_fields" or (name, keyword.arg) == (
                    "bulk_update",
                    "fields",
                )
                if saved and "status" in ast.unparse(keyword.value):
                    found.append(f"{line}: saves status")
    return found


def _modules() -> list[Path]:
    return sorted(
        p for p in ASSISTANT.rglob("*.py") if "tests" not in p.relative_to(ASSISTANT).parts
    )


def _package(path: Path) -> str:
    return ".".join([PACKAGE, *path.parent.relative_to(ASSISTANT).parts])


def test_no_module_of_the_assistant_can_reach_the_workflow_or_write_a_status():
    modules = _modules()
    assert {"casework.py", "ocr.py", "tasks.py"} <= {p.name for p in modules}
    found = {
        str(p.relative_to(ASSISTANT)): problems(p.read_text(encoding="utf-8"), _package(p))
        for p in modules
    }
    assert {name: lines for name, lines in found.items() if lines} == {}


@pytest.mark.parametrize(
    "source",
    [
        "from guichet.workflow import services",
        "from guichet.workflow.services import transition",
        "import guichet.workflow.services as moves",
        "from ..workflow import services",
        "from guichet import workflow",
        "import importlib\nimportlib.import_module('guichet.workflow.services')",
        "from guichet.dossiers.models import StatusChange",
        "def f(d):\n    d.status = 'accepted'\n    d.save(update_fields=['status'])",
        "def f(Dossier):\n    Dossier.objects.filter(pk=1).update(status='accepted')",
        "def f(d):\n    setattr(d, 'status', 'accepted')",
        "def f(M, ds):\n    M.objects.bulk_update(ds, fields=['status'])",
    ],
)
def test_the_static_check_sees_each_way_to_move_a_dossier(source):
    assert problems(source), source


def test_the_static_check_lets_the_assistant_read_and_store_its_readings():
    assert problems("from guichet.dossiers.models import Dossier, DossierStatus") == []
    assert problems("def f(q):\n    return q.filter(status='submitted')") == []
    assert problems("def f(M):\n    M.objects.update_or_create(defaults={'status': 'done'})") == []


# --- At run time ---------------------------------------------------------------------------------


def _explode(*args: object, **kwargs: object) -> None:
    raise AssertionError("the assistant called a service that moves a dossier")


@pytest.fixture
def workflow_explodes(monkeypatch):
    """Every function of workflow/services.py, and the submission of a dossier, raise."""
    patched = []
    for name, function in inspect.getmembers(workflow_services, inspect.isfunction):
        if function.__module__ == workflow_services.__name__:
            monkeypatch.setattr(workflow_services, name, _explode)
            patched.append(name)
    assert {"transition", "request_information", "resubmit", "assign", "_move"} <= set(patched)
    monkeypatch.setattr(dossier_services, "submit_dossier", _explode)


def _state(dossier: Dossier) -> tuple[Any, list[Any]]:
    row = Dossier.objects.filter(pk=dossier.pk).values().get()
    changes = list(StatusChange.objects.filter(dossier=dossier).values())
    return row, changes


@pytest.mark.django_db
def test_no_assistant_code_path_moves_a_dossier(
    submitted_dossier, workflow_explodes, django_capture_on_commit_callbacks
):
    dossier, attachment = submitted_dossier
    before = _state(dossier)
    assert before[0]["status"] == DossierStatus.SUBMITTED and len(before[1]) == 1
    with CaptureQueriesContext(connection) as queries:
        casework.checklist(dossier)
        casework.summary(dossier)
        ocr.read_attachment(str(attachment.pk))  # done, or failed without tesseract
        AttachmentReading.objects.all().delete()
        dossier = Dossier.objects.prefetch_related("attachments__reading").get(pk=dossier.pk)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            assert tasks.request_readings(dossier)
        assert len(callbacks) == 1
        tasks.read_dossier_attachments.enqueue(dossier_id=dossier.pk)
    assert AttachmentReading.objects.filter(attachment=attachment).exists()
    written = {
        match.group(1).lower()
        for q in queries.captured_queries
        if (match := WRITES.match(q["sql"]))
    }
    assert written == {"assistant_attachmentreading"}, written
    assert _state(dossier) == before


def test_the_assistant_and_ocr_have_their_entries_for_the_algorithm_register():
    from guichet.assistant.register import entries

    found = {entry.id: entry for entry in entries()}
    assert set(found) == {"assistant", "ocr"}
    for entry in found.values():
        for text in (entry.name, entry.purpose, entry.data, entry.legal_basis,
                     entry.human_oversight, entry.contact):  # fmt: skip
            assert str(text).strip()
        assert entry.version
    assert "aucune décision" in str(found["assistant"].human_oversight)
    assert found["ocr"].touches_dossiers and not found["assistant"].touches_dossiers
