"""Reads of the back office: a service's queue, and one dossier for one staff member.

Every read that shows a dossier to staff goes through `dossier_for_staff`, which answers
the same 404 for "missing", "a draft" and "not in your services"."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db.models import F, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from guichet.accounts.models import User
from guichet.catalog.models import Procedure, ProcedureVersion
from guichet.catalog.search import fold
from guichet.dossiers.models import OPEN_STATUSES, Attachment, Dossier, DossierStatus, ScanStatus
from guichet.dossiers.references import parse_reference
from guichet.organisation.models import Service
from guichet.organisation.queries import StaffRights

S = DossierStatus
OPEN = OPEN_STATUSES
RUNNING = (S.SUBMITTED, S.IN_REVIEW)
"""States whose time counts against the administration: only these can be overdue."""
PAGE_SIZE = 50


def is_overdue(dossier: Dossier, now: datetime | None = None) -> bool:
    return (
        dossier.status in RUNNING
        and dossier.due_at is not None
        and dossier.due_at < (now or timezone.now())
    )


@dataclass(frozen=True)
class QueueFilters:
    status: str = "open"
    """`open`, `all`, or one status value."""
    procedure: str = ""
    overdue: bool = False
    assigned: str = ""
    """`me`, `none`, or empty for everyone."""
    q: str = ""
    sort: str = "due"
    """`due` (soonest deadline first) or `recent` (last submitted first)."""
    page: int = 1

    def describe(self) -> dict[str, str]:
        """The filters as saved with an export (no empty values)."""
        values = {
            "statut": self.status,
            "demarche": self.procedure,
            "retard": "1" if self.overdue else "",
            "attribution": self.assigned,
            "q": self.q,
            "tri": self.sort,
        }
        return {k: v for k, v in values.items() if v}


QUEUE_STATUSES = frozenset({"open", "all", *S.values} - {S.DRAFT})
_SLUG = re.compile(r"^[-a-z0-9_]{1,80}$")
MAX_PAGE = 10_000


def filters_from_params(params: Mapping[str, Any]) -> QueueFilters:
    """The queue's filters from its parameters (a query string, a form, or what
    `QueueFilters.describe()` saved with an export); anything unknown is the default."""

    def value(name: str) -> str:
        raw = params.get(name, "")
        return raw.strip() if isinstance(raw, str) else ""

    status, procedure = value("statut"), value("demarche")
    assigned, sort, page = value("attribution"), value("tri"), value("page")
    # isdecimal, not isdigit: int() refuses "²"; and 5,000 digits (Python's limit is 4,300).
    number = int(page) if page.isdecimal() and len(page) <= 6 else 0
    return QueueFilters(
        status=status if status in QUEUE_STATUSES else "open",
        procedure=procedure if _SLUG.match(procedure) else "",
        overdue=value("retard") == "1",
        assigned=assigned if assigned in ("me", "none") else "",
        q=value("q")[:100],
        sort=sort if sort in ("due", "recent") else "due",
        page=min(number, MAX_PAGE) if number > 0 else 1,
    )


def service_for_staff(rights: StaffRights, service_id: str, *, to_act: bool = False) -> Service:
    """A queue the person works in or (reading only) audits; 404 otherwise."""
    service = Service.objects.select_related("authority").filter(pk=service_id).first()
    if service is None:
        raise Http404
    if rights.can_review(service.pk):
        return service
    if to_act or not rights.can_audit(service.authority_id):
        raise Http404
    return service


def queue(service: Service, filters: QueueFilters, user: User) -> QuerySet[Dossier]:
    """The dossiers of one service matching the filters, sorted; not yet sliced."""
    # One status condition, so that PostgreSQL sees it implies the partial index's (the
    # open queue by due date: `queue_open_by_due`), and estimates the rows right.
    statuses: tuple[str, ...] | None = None  # None: every state but drafts
    if filters.status == "open":
        statuses = OPEN
    elif filters.status in S.values and filters.status != S.DRAFT:
        statuses = (filters.status,)
    if filters.overdue:
        statuses = tuple(s for s in (statuses or RUNNING) if s in RUNNING)
    dossiers = Dossier.objects.filter(service=service)
    if statuses is None:
        dossiers = dossiers.exclude(status=S.DRAFT)
    else:
        dossiers = dossiers.filter(status__in=statuses)
    if filters.overdue:
        dossiers = dossiers.filter(due_at__lt=timezone.now())
    if filters.procedure:
        dossiers = dossiers.filter(procedure_id=filters.procedure)
    if filters.assigned == "me":
        dossiers = dossiers.filter(assigned_to=user)
    elif filters.assigned == "none":
        dossiers = dossiers.filter(assigned_to__isnull=True)
    text = filters.q.strip()
    if text:
        reference = parse_reference(text)
        if reference is not None:
            dossiers = dossiers.filter(reference=reference)
        else:
            # Every word, in any order ("awa traore" finds "Traoré Awa"); a piece of a
            # reference also matches without its dashes, as `search_text` keeps it
            # ("7K3Q-9DXC" or "MSXY-TEQK"), while a hyphenated name keeps its dash.
            for word in fold(text).split()[:5]:
                match = Q(search_text__contains=word)
                if "-" in word:
                    match |= Q(search_text__contains=word.replace("-", ""))
                dossiers = dossiers.filter(match)
    if filters.sort == "recent":
        dossiers = dossiers.order_by("-submitted_at", "-id")
    else:
        dossiers = dossiers.order_by(F("due_at").asc(nulls_last=True), "id")
    return dossiers.select_related("procedure", "assigned_to")


def queue_page(service: Service, filters: QueueFilters, user: User) -> tuple[list[Dossier], bool]:
    """One page of the queue and whether there is a next one (no COUNT over the queue:
    at a million dossiers it would cost more than the page itself)."""
    start = (max(filters.page, 1) - 1) * PAGE_SIZE
    rows = list(queue(service, filters, user)[start : start + PAGE_SIZE + 1])
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def dossier_for_staff(rights: StaffRights, reference: str, *, to_act: bool = False) -> Dossier:
    """The dossier if the person works in or audits its service; the same 404 otherwise.
    `to_act`: only the people who work in the service (an auditor reads, never acts)."""
    canonical = parse_reference(reference)
    dossier = (
        Dossier.objects.select_related(
            "procedure", "version", "applicant", "service__authority", "assigned_to"
        )
        .exclude(status=S.DRAFT)
        .filter(reference=canonical)
        .first()
        if canonical
        else None
    )
    if dossier is None or dossier.service is None:
        raise Http404
    if rights.can_review(dossier.service_id):
        return dossier
    if to_act or not rights.can_audit(dossier.service.authority_id):
        raise Http404
    return dossier


def my_open_dossiers(user: User) -> QuerySet[Dossier]:
    return Dossier.objects.filter(assigned_to=user, status__in=OPEN)


def attachment_for_staff(dossier: Dossier, attachment_id: str) -> Attachment:
    """A clean file of a dossier the caller may read (checked before); 404 otherwise, also
    while the antivirus has not passed it: only its uploader may fetch a pending file."""
    try:
        pk = uuid.UUID(attachment_id)
    except ValueError:
        raise Http404 from None
    attachment = Attachment.objects.filter(
        pk=pk, dossier=dossier, scan_status=ScanStatus.CLEAN
    ).first()
    if attachment is None:
        raise Http404
    return attachment


@dataclass(frozen=True)
class Load:
    """Open dossiers of one person (or of nobody: `user` None) in one service."""

    user: User | None
    by_status: dict[str, int]
    overdue: int

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def workload(service: Service) -> list[Load]:
    """Who holds how many open dossiers, and how many are late: one grouped query."""
    from django.db.models import Count

    rows = (
        Dossier.objects.filter(service=service, status__in=OPEN)
        .values("assigned_to", "status")
        .annotate(
            n=Count("id"),
            late=Count("id", filter=Q(status__in=RUNNING, due_at__lt=timezone.now())),
        )
        .order_by()
    )
    people = {u.pk: u for u in User.objects.filter(staff_roles__service=service).distinct()}
    loads: dict[int | None, dict[str, Any]] = {}
    for row in rows:
        entry = loads.setdefault(row["assigned_to"], {"by_status": {}, "overdue": 0})
        entry["by_status"][row["status"]] = row["n"]
        entry["overdue"] += row["late"]
    for pk in people:
        loads.setdefault(pk, {"by_status": {}, "overdue": 0})
    missing = [pk for pk in loads if pk is not None and pk not in people]
    people.update({u.pk: u for u in User.objects.filter(pk__in=missing)})
    result = [
        Load(user=people.get(pk) if pk is not None else None, **entry)
        for pk, entry in loads.items()
    ]
    return sorted(result, key=lambda load: (load.user is not None, -load.total))


@lru_cache(maxsize=4096)
def _services_of_version(version_id: int, content_hash: str) -> tuple[str, ...]:
    """Versions never change once written: what one names is read once per process (the
    hash in the key guards against an id reused after a rolled-back import)."""
    definition = ProcedureVersion.objects.values_list("definition", flat=True).get(pk=version_id)
    return tuple((definition.get("workflow") or {}).get("services") or [])


def procedures_of(service_id: str) -> list[tuple[str, str]]:
    """(id, title) of the procedures whose current version names this service."""
    rows = (
        Procedure.objects.exclude(current_version=None)
        .order_by("title")
        .values_list("pk", "title", "current_version_id", "current_version__content_hash")
    )
    return [
        (pk, title)
        for pk, title, version, digest in rows
        if service_id in _services_of_version(version, digest)
    ]
