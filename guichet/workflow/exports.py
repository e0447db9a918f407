"""A service's queue exported as a spreadsheet, built in the background.

A supervisor asks (`request_export`: the row, the audit entry, then the task after
commit); the worker builds the file (`build_export`, run by `tasks.build_export`) by
iterating the queue in chunks, so memory stays flat whatever the queue's size: CSV and
XLSX (openpyxl's write-only mode) are streamed to a temporary file, and ODS is streamed
too (odfpy writes the document, its styles and header; the rows' XML is streamed into it,
never held as one tree). The file is built whole in a temporary file and only then
stored: a failed build leaves no half file. Files are kept `KEEP_DAYS` days (`purge_old_exports`).

Formats:
- CSV: UTF-8 with a BOM (Excel then reads accents right) and `;` between values, what
  Excel expects in French-speaking locales (where `,` is the decimal separator); dates
  as text, `AAAA-MM-JJ HH:MM`.
- XLSX and ODS: dates are real dates shown as `AAAA-MM-JJ HH:MM`, so they sort and filter.
All dates are in the project's time zone (settings.TIME_ZONE). Every text cell is
neutralised against formula injection (`core.spreadsheets.safe_text`): a value starting
with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading apostrophe, so that no
spreadsheet runs what an applicant typed in their name.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import partial
from typing import IO, Any
from xml.sax.saxutils import escape as xml_escape
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.core import ods
from guichet.core.spreadsheets import safe_text
from guichet.dossiers.models import DossierStatus
from guichet.governance import audit
from guichet.organisation.models import Service
from guichet.organisation.queries import StaffRights, staff_rights
from guichet.workflow.models import Export, ExportFormat, ExportStatus
from guichet.workflow.queries import QueueFilters, filters_from_params, is_overdue, queue
from guichet.workflow.services import TransitionError

logger = logging.getLogger(__name__)

KEEP_DAYS = 7
"""Exports older than this are deleted (files and rows) and no longer listed."""
CHUNK_SIZE = 2000
"""Dossiers read from the database at a time while building a file."""
MAX_ROWS = 1_000_000
"""Both spreadsheet formats stop at 1,048,576 rows; past this, narrow the filters."""
MAX_IN_PROGRESS = 3
"""Exports of one service waiting or being built at once."""

HEADER = (
    "Référence",
    "Démarche",
    "État",
    "Déposé le",
    "Échéance",
    "En retard",
    "Attribué à",
    "Demandeur",
)
"""Column titles, in French: the working language of the administrations."""
DATE_COLUMNS = (3, 4)
COLUMN_WIDTHS = (16, 40, 22, 17, 17, 10, 24, 32)
"""In characters, for XLSX and ODS."""

CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.ODS: "application/vnd.oasis.opendocument.spreadsheet",
}

Cell = str | datetime | None
Row = tuple[Cell, ...]


# --- Cell values --------------------------------------------------------------------------------


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    """A naive datetime in the project's time zone, to the minute (spreadsheets hold no
    time zone)."""
    if moment is None:
        return None
    return moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)


def _as_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return value


def _person(user: User | None) -> str:
    if user is None:
        return ""
    return user.display_name or user.get_full_name() or user.get_username()


def export_rows(export: Export) -> Iterator[Row]:
    """The export's dossiers as rows, read `CHUNK_SIZE` at a time; text already neutralised."""
    service = export.service
    filters = filters_from_params(export.filters)
    zone = ZoneInfo(settings.TIME_ZONE)
    now = timezone.now()
    labels = dict(DossierStatus.choices)
    dossiers = queue(service, filters, export.requested_by)
    for dossier in dossiers.iterator(chunk_size=CHUNK_SIZE):
        yield (
            safe_text(dossier.reference),
            safe_text(dossier.procedure.title),
            safe_text(labels.get(dossier.status, dossier.status)),
            _local(dossier.submitted_at, zone),
            _local(dossier.due_at, zone),
            "oui" if is_overdue(dossier, now) else "non",
            safe_text(_person(dossier.assigned_to)),
            safe_text(dossier.applicant_name),
        )


# --- Writers: each streams rows to an open binary file and returns how many it wrote -------------


class TooManyRows(Exception):
    pass


def _counted(rows: Iterator[Row]) -> Iterator[Row]:
    for number, row in enumerate(rows, start=1):
        if number > MAX_ROWS:
            raise TooManyRows
        yield row


def write_csv(out: IO[bytes], rows: Iterator[Row]) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    count = 0
    try:
        writer.writerow(HEADER)
        for row in _counted(rows):
            writer.writerow([_as_text(value) for value in row])
            count += 1
    finally:
        text.flush()
        text.detach()  # leave `out` to the caller, who closes it
    return count


def write_xlsx(out: IO[bytes], rows: Iterator[Row]) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Dossiers")
    for index, width in enumerate(COLUMN_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for title in HEADER:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    count = 0
    try:
        for row in _counted(rows):
            values: list[Any] = []
            for value in row:
                if isinstance(value, datetime):
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.number_format = "yyyy-mm-dd hh:mm"
                    values.append(cell)
                else:
                    # None, or a string that safe_text made sure is no formula: stored as text.
                    values.append(value)
            sheet.append(values)
            count += 1
    except BaseException:
        _discard_sheet(sheet)
        raise
    book.save(out)  # also removes the sheet's temporary file
    return count


def _discard_sheet(sheet: Any) -> None:
    """End an unfinished write-only sheet and remove its temporary file at once (openpyxl
    would leave both to the process's exit: a long-running worker would pile them up)."""
    try:
        sheet.close()
    finally:
        writer = sheet._writer
        if writer is not None and os.path.exists(writer.out):
            writer.cleanup()


_ODS_TABLE_END = b"</table:table>"


def _ods_skeleton() -> bytes:
    """A whole ODS file with the styles and the header row, written by odfpy."""
    from odf import number
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.style import Style
    from odf.table import TableRow

    doc = OpenDocumentSpreadsheet()
    date_style = number.DateStyle(name="iso-minute")
    for part in (
        number.Year(style="long"),
        number.Text(text="-"),
        number.Month(style="long"),
        number.Text(text="-"),
        number.Day(style="long"),
        number.Text(text=" "),
        number.Hours(style="long"),
        number.Text(text=":"),
        number.Minutes(style="long"),
    ):
        date_style.addElement(part)
    doc.styles.addElement(date_style)
    doc.styles.addElement(Style(name="date", family="table-cell", datastylename="iso-minute"))
    table = ods.sheet(doc, "Dossiers", COLUMN_WIDTHS)
    header = TableRow()
    for title in HEADER:
        header.addElement(_ods_cell(title, stylename="header"))
    table.addElement(header)
    doc.spreadsheet.addElement(table)
    skeleton = io.BytesIO()
    doc.write(skeleton)
    return skeleton.getvalue()


def _ods_cell(value: Cell, **attributes: str) -> Any:
    from odf.table import TableCell
    from odf.text import P

    if value is None:
        return TableCell()
    if isinstance(value, datetime):
        cell = TableCell(
            valuetype="date", datevalue=value.isoformat(timespec="seconds"), stylename="date"
        )
    else:
        cell = TableCell(valuetype="string", **attributes)
    cell.addElement(P(text=_as_text(value)))
    return cell


def _ods_row_xml(row: Row) -> bytes:
    """The XML odfpy writes for a row of `_ods_cell`s (a test checks they agree), written
    directly: building odfpy elements costs 0.6 ms a row, too much for a large queue."""
    cells = []
    for value in row:
        if value is None:
            cells.append("<table:table-cell/>")
        elif isinstance(value, datetime):
            cells.append(
                '<table:table-cell office:value-type="date" '
                f'office:date-value="{value.isoformat(timespec="seconds")}" '
                f'table:style-name="date"><text:p>{_as_text(value)}</text:p></table:table-cell>'
            )
        else:
            cells.append(
                '<table:table-cell office:value-type="string">'
                f"<text:p>{xml_escape(value)}</text:p></table:table-cell>"
            )
    return ("<table:table-row>" + "".join(cells) + "</table:table-row>").encode("utf-8")


def write_ods(out: IO[bytes], rows: Iterator[Row]) -> int:
    """odfpy's skeleton copied part by part, with the rows streamed into content.xml
    before the table's end tag."""
    count = 0
    with (
        zipfile.ZipFile(io.BytesIO(_ods_skeleton())) as skeleton,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in skeleton.infolist():  # `mimetype` first and stored, as ODF requires
            data = skeleton.read(info)
            if info.filename != "content.xml":
                target.writestr(info, data)
                continue
            head, end, tail = data.partition(_ODS_TABLE_END)
            if not end:
                raise ValueError("odfpy's content.xml has no table")
            entry = zipfile.ZipInfo("content.xml", info.date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            with target.open(entry, "w") as content:
                content.write(head)
                for row in _counted(rows):
                    content.write(_ods_row_xml(row))
                    count += 1
                content.write(end + tail)
    return count


WRITERS: dict[str, Callable[[IO[bytes], Iterator[Row]], int]] = {
    ExportFormat.CSV: write_csv,
    ExportFormat.XLSX: write_xlsx,
    ExportFormat.ODS: write_ods,
}


# --- Filters ------------------------------------------------------------------------------------

# --- Services -----------------------------------------------------------------------------------


def request_export(*, service: Service, filters: QueueFilters, format: str, actor: User) -> Export:
    """Ask for the file of a service's queue; only its supervisors may. Built after commit."""
    if not staff_rights(actor).can_supervise(service.pk):
        raise TransitionError(_("Seul un superviseur du service peut exporter sa file."))
    if format not in ExportFormat.values:
        raise TransitionError(_("Choisissez un format : CSV, XLSX ou ODS."))
    with transaction.atomic():
        in_progress = Export.objects.filter(
            service=service, status__in=[ExportStatus.PENDING, ExportStatus.RUNNING]
        ).count()
        if in_progress >= MAX_IN_PROGRESS:
            raise TransitionError(
                _("Des exports de ce service sont en préparation : attendez qu'ils soient prêts.")
            )
        export = Export.objects.create(
            requested_by=actor, service=service, filters=filters.describe(), format=format
        )
        audit.record(
            "export.requested",
            obj=service,
            actor=actor,
            data={"export": export.pk, "format": format, "filters": export.filters},
        )
        transaction.on_commit(partial(_enqueue, export.pk))
    return export


def _enqueue(export_id: int) -> None:
    from guichet.workflow.tasks import build_export

    build_export.enqueue(export_id=export_id)


FAILED_MESSAGE = (
    "L'export n'a pas pu être préparé. Demandez-en un nouveau ; si cela se répète, signalez-le."
)
TOO_MANY_MESSAGE = "Plus d'un million de dossiers : choisissez des filtres plus précis."
NOT_SUPERVISOR_MESSAGE = "La personne qui l'a demandé n'est plus superviseur de ce service."


def _fail(export: Export, message: str) -> str:
    export.status = ExportStatus.FAILED
    export.error = message
    export.finished_at = timezone.now()
    export.save(update_fields=["status", "error", "finished_at"])
    return ExportStatus.FAILED


def build_export(export_id: int) -> str:
    """Build the file of a waiting export; returns the export's status. Run once: a retry
    of a task that already ran (or runs) changes nothing."""
    claimed = Export.objects.filter(pk=export_id, status=ExportStatus.PENDING).update(
        status=ExportStatus.RUNNING
    )
    export = Export.objects.select_related("service", "requested_by").filter(pk=export_id).first()
    if export is None:  # purged before the worker came to it
        return "missing"
    if not claimed:
        return export.status
    if not staff_rights(export.requested_by).can_supervise(export.service_id):
        return _fail(export, NOT_SUPERVISOR_MESSAGE)
    try:
        with translation.override(settings.LANGUAGE_CODE), tempfile.TemporaryFile() as out:
            count = WRITERS[export.format](out, export_rows(export))
            out.seek(0)
            export.file.save(f"{export.pk}.{export.format}", File(out), save=False)
    except TooManyRows:
        return _fail(export, TOO_MANY_MESSAGE)
    except Exception:
        logger.exception("export %s failed", export_id)
        return _fail(export, FAILED_MESSAGE)
    export.status = ExportStatus.READY
    export.row_count = count
    export.finished_at = timezone.now()
    try:
        export.save(update_fields=["status", "row_count", "file", "finished_at"])
    except Exception:
        export.file.delete(save=False)  # no file without its row
        raise
    return ExportStatus.READY


def purge_old_exports(*, now: datetime | None = None) -> int:
    """Delete exports older than `KEEP_DAYS` days, files first; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=KEEP_DAYS)
    count = 0
    for export in Export.objects.filter(created_at__lt=cutoff).iterator(chunk_size=500):
        if export.file:
            export.file.delete(save=False)
        export.delete()
        count += 1
    return count


# --- Reads --------------------------------------------------------------------------------------


def recent_exports(service: Service, *, limit: int = 100) -> QuerySet[Export]:
    """The service's exports of the last `KEEP_DAYS` days, whoever asked, newest first."""
    since = timezone.now() - timedelta(days=KEEP_DAYS)
    return Export.objects.filter(service=service, created_at__gte=since).select_related(
        "requested_by"
    )[:limit]


def export_for_download(rights: StaffRights, export_id: int) -> Export:
    """A ready export of a service the person supervises, still kept; the same 404 for
    missing, not ready, too old and not yours."""
    since = timezone.now() - timedelta(days=KEEP_DAYS)
    export = (
        Export.objects.select_related("service")
        .filter(pk=export_id, status=ExportStatus.READY, created_at__gte=since)
        .first()
    )
    if export is None or not export.file or not rights.can_supervise(export.service_id):
        raise Http404
    return export


def download_name(export: Export) -> str:
    """`ml-ec-bamako-c3-2026-11-29.xlsx`: the service and the day it was asked."""
    day = export.created_at.astimezone(ZoneInfo(settings.TIME_ZONE))
    return f"{export.service_id}-{day:%Y-%m-%d}.{export.format}"


def record_download(export: Export, actor: User) -> None:
    audit.record(
        "export.downloaded",
        obj=export.service,
        actor=actor,
        data={"export": export.pk, "format": export.format, "rows": export.row_count},
    )
