"""Many dossiers, fast, for the back-office bench (bench/backoffice.py).

Run by bench/backoffice.py in the server's own environment (same database, same SECRET_KEY,
so the session it writes is valid for the server):

    python bench/seed.py grow --to 1000000     # demo organisation and catalog, applicants,
                                               # agents, then dossiers up to that many
    python bench/seed.py sample --count 60     # the bench agent's verified session and
                                               # dossiers of the biggest queue to open

Each prints one JSON object on stdout (progress goes to stderr).

The dossiers are written set-wise, never through the ORM one by one. On PostgreSQL, one
`INSERT … SELECT … FROM generate_series` makes them all in the server (names, applicants and
agents come from small temporary tables; foreign-key triggers are off for the load,
`session_replication_role = replica`, since every row points at services, procedures,
versions and users that exist); when the load more than doubles the table, its secondary
indexes are dropped first and rebuilt after. On SQLite, the same rows are made in Python
and written with `executemany` in one transaction. `ANALYZE` follows either way.

What the rows look like (a country's services after a year or two online):
- 70% of the dossiers in three big services (the civil-status centre of Bamako's Commune III
  alone holds 40%), the rest spread evenly over the other services of the demo
  organisation, each dossier of a procedure that routes there;
- 2% drafts (no service), then 85% decided (accepted, refused, closed) over the last two
  years and 15% open (submitted, in review, information requested), submitted in the last
  weeks (exponential, mean 8 days) so that some are past their deadline; ids, hence the
  order of the rows on disk, follow the dates within each load (oldest first), as in life;
- the deadline is the procedure's (`workflow.due_days`), pushed back while the applicant
  has the dossier; open dossiers in review or waiting, and 95% of the decided ones, are
  assigned to one of the service's agents, 30% of the newly submitted ones too;
- names drawn from common Malian, Burkinabè and Nigerien family and given names (or a
  company's), stored as the procedure's `workflow.name_fields` answers, with
  `applicant_name` and `search_text` (folded name, compact reference, phone) as
  `dossiers.services` makes them;
- references of the project's shape (`ML-7K3Q-9DXC`, Luhn mod 32 check symbol as
  `references.check_symbol`), unique by construction: the seven symbols are a bijective
  scramble of the dossier's id;
- 5,000 applicants, a third per country, with a phone number of their country;
- `sample` gives the dossiers it picks a timeline (status changes), a few messages and
  sometimes a private note, as the dossier page shows them.

1M dossiers on PostgreSQL take about a minute on a 2-core machine (10k → 100k → 1M).
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

APPLICANTS = 5000
BIG_SERVICES = {"ml-ec-bamako-c3": 0.40, "bf-tgi-ouagadougou": 0.16, "ne-ec-niamey-1": 0.14}
"""Share of all dossiers in each big queue; the other services share the rest evenly."""
DRAFT_SHARE = 0.02
STATUS_WEIGHTS = {
    "submitted": 0.06,
    "in_review": 0.06,
    "info_requested": 0.03,
    "accepted": 0.62,
    "rejected": 0.13,
    "closed_without_decision": 0.10,
}
OPEN = ("submitted", "in_review", "info_requested")
OPEN_MEAN_AGE_DAYS = 8.0
OPEN_MAX_AGE_DAYS = 120.0
DECIDED_AGE_DAYS = (5.0, 730.0)
SUBMITTED_ASSIGNED = 0.30
DECIDED_ASSIGNED = 0.95
SECOND_GIVEN_NAME = 0.30
COMPANY_SHARE = 0.30
"""For procedures that name a person or a company: how often a company applies."""
AGENTS_PER_BIG_SERVICE = 12
AGENTS_PER_SERVICE = 2
BENCH_AGENT = "bench-agent"
SEED = 20261129
SQLITE_BATCH = 5000
PHONE_PREFIX = {"ML": "+2237", "BF": "+2267", "NE": "+2279"}

FAMILY_NAMES = {
    "ML": "Traoré Coulibaly Diarra Keïta Konaté Touré Cissé Diallo Sangaré Sidibé Dembélé Koné"
    " Maïga Doumbia Sissoko Samaké Camara Kanté Bagayoko Dicko Fofana Tounkara Diakité Kouyaté"
    " Guindo Togola Bouaré Sacko Haïdara Ballo",
    "BF": "Ouédraogo Sawadogo Compaoré Kaboré Zongo Ouattara Nikiéma Zoungrana Ilboudo Tapsoba"
    " Yaméogo Kiemtoré Sanou Traoré Diallo Bationo Somé Dabiré Kinda Bamogo Tiendrébéogo Congo"
    " Kafando Nana Zida Guiro Belem Simporé Sankara Konaté",
    "NE": "Issoufou Abdou Moussa Hamani Mahamadou Oumarou Boubacar Garba Souley Idrissa Hassane"
    " Amadou Saïdou Ibrahim Maïga Harouna Adamou Salifou Yacouba Mamane Seyni Tanko Daouda"
    " Illiassou Ousmane Sani Bako Issaka Mounkaïla Touré",
}
GIVEN_NAMES = {
    "ML": "Awa Moussa Fatoumata Mamadou Aminata Ibrahim Mariam Seydou Kadiatou Oumar Salif"
    " Aïssata Adama Rokia Boubacar Hawa Modibo Assitan Bakary Djénéba Souleymane Oumou Sékou"
    " Nana Drissa Kadidia Lassina Mariétou Youssouf Sitan",
    "BF": "Rasmané Salamata Boukary Alimata Issaka Awa Abdoulaye Mariam Adama Zénabou Hamidou"
    " Fatimata Inoussa Aminata Souleymane Rokia Moumouni Safiatou Harouna Assétou Lassané"
    " Bibata Ousmane Haoua Idrissa Habibou Rasmata Karim Pauline Jean-Baptiste",
    "NE": "Hadiza Mariama Ramatou Zeinabou Aïchatou Halima Fati Rabi Nafissa Balkissa Moussa"
    " Abdoulaye Ibrahim Ali Souleymane Oumarou Mahamadou Issa Hamidou Aboubacar Salamatou"
    " Hawaou Haoua Zaliha Rakia Yahaya Sani Nouhou Adamou Kadri",
}
COMPANY_WORDS = ["Ets", "Société", "Groupe", "Entreprise", "Atelier", "Boutique"]
COMPANY_FIELDS = {"denomination", "raison_sociale"}
COMPANY_SUFFIX = "et frères"

# References: the id times an odd number modulo 2**35 (32**7 symbols), then an xor-shift;
# both steps are bijections, so distinct ids give distinct references (ids stay < 2**33).
_MULTIPLIER = 0x2545F491
_MASK = (1 << 35) - 1
_SHIFT = 17


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guichet.settings")
    import django

    django.setup()


def _scramble(n: int) -> int:
    x = (n * _MULTIPLIER) & _MASK
    return x ^ (x >> _SHIFT)


def reference_for(country: str, n: int) -> str:
    """The reference of the bench dossier with id `n`: distinct ids, distinct references."""
    from guichet.dossiers.references import ALPHABET, check_symbol, format_reference

    y = _scramble(n)
    payload = "".join(ALPHABET[(y >> shift) & 31] for shift in range(30, -1, -5))
    return format_reference(country, payload + check_symbol(payload))


# --- The organisation, the catalog, the people --------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One procedure routing to one service, with its share of the dossiers and how its
    name answers are shaped."""

    service: str
    procedure: str
    version: int
    country: str
    due_days: int
    weight: float
    family_field: str = ""
    given_field: str = ""
    full_field: str = ""
    """A single person field: "Family Given"."""
    company_field: str = ""
    company_share: float = 0.0
    agents: tuple[int, ...] = ()


@dataclass
class People:
    """Per country: names (and their folded forms) and applicants."""

    family: list[str]
    given: list[str]
    applicants: list[int] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)


def load_demo() -> None:
    """The demo organisation and catalog, as the `demo_catalog` test fixture loads them
    (both idempotent: loading again writes nothing new)."""
    from django.conf import settings

    from guichet.catalog.definition import load_definitions
    from guichet.catalog.services import import_definitions
    from guichet.organisation.services import load_organisation

    load_organisation(path=settings.DEMO_ORGANISATION_FILE, actor="bench")
    import_definitions(definitions=load_definitions([settings.DEMO_PROCEDURES_DIR]), actor="bench")


def _name_shape(name_fields: list[str]) -> dict[str, Any]:
    person = [f for f in name_fields if f not in COMPANY_FIELDS]
    company = [f for f in name_fields if f in COMPANY_FIELDS]
    shape: dict[str, Any] = {}
    if len(person) == 1:
        shape["full_field"] = person[0]
    elif person:
        given = next((f for f in person if "prenom" in f), person[-1])
        shape["given_field"] = given
        shape["family_field"] = next(f for f in person if f != given)
    if company:
        shape["company_field"] = company[0]
        shape["company_share"] = COMPANY_SHARE if person else 1.0
    if not shape:
        shape = {"family_field": "nom", "given_field": "prenoms"}
    return shape


def service_weights(services: list[str]) -> dict[str, float]:
    big = {s: w for s, w in BIG_SERVICES.items() if s in services}
    if not big:  # the demo organisation changed: its first three take the same shares
        big = dict(zip(services[:3], BIG_SERVICES.values(), strict=False))
    rest = [s for s in services if s not in big]
    share = (1 - sum(big.values())) / len(rest) if rest else 0.0
    weights = {**big, **{s: share for s in rest}}
    total = sum(weights.values())
    return {s: w / total for s, w in weights.items()}


def routes() -> dict[str, list[tuple[Any, dict[str, Any]]]]:
    """Each active service, with the published procedures that route dossiers to it."""
    from guichet.catalog.models import Procedure
    from guichet.organisation.models import Service

    active = set(Service.objects.filter(is_active=True).values_list("pk", flat=True))
    found: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    for procedure in Procedure.objects.select_related("current_version").order_by("pk"):
        if procedure.current_version is None:
            continue
        definition = procedure.current_version.definition
        for service in (definition.get("workflow") or {}).get("services") or []:
            if service in active:
                found.setdefault(service, []).append((procedure, definition))
    if not found:
        raise SystemExit("no procedure routes to any service: is demo/organisation.yaml loaded?")
    return found


def biggest_service() -> str:
    weights = service_weights(sorted(routes()))
    return max(weights, key=lambda s: weights[s])


def plan(agents: dict[str, list[int]]) -> list[Slot]:
    from guichet.dossiers.services import deadline_days

    by_service = routes()
    weights = service_weights(sorted(by_service))
    slots = []
    for service in sorted(by_service):
        for procedure, definition in by_service[service]:
            workflow = definition.get("workflow") or {}
            slots.append(
                Slot(
                    service=service,
                    procedure=procedure.pk,
                    version=procedure.current_version_id,
                    country=procedure.country,
                    due_days=deadline_days(definition) or 0,
                    weight=weights[service] / len(by_service[service]),
                    agents=tuple(agents.get(service, ())),
                    **_name_shape(list(workflow.get("name_fields") or [])),
                )
            )
    return slots


def ensure_applicants() -> dict[str, People]:
    """APPLICANTS citizens (made once), a third per country."""
    from django.contrib.auth.hashers import make_password

    from guichet.accounts.models import User

    rng = random.Random(SEED)  # noqa: S311 (made-up data, not secrets)
    people = {
        c: People(family=FAMILY_NAMES[c].split(), given=GIVEN_NAMES[c].split())
        for c in PHONE_PREFIX
    }
    countries = sorted(PHONE_PREFIX)
    existing = User.objects.filter(username__startswith="bench-citizen-").count()
    if existing < APPLICANTS:
        users = []
        for i in range(existing, APPLICANTS):
            country = countries[i % len(countries)]
            names = people[country]
            users.append(
                User(
                    username=f"bench-citizen-{i}",
                    password=make_password(None),  # unusable: citizens sign in by SMS code
                    phone=f"{PHONE_PREFIX[country]}{i:07d}",
                    display_name=f"{rng.choice(names.given)} {rng.choice(names.family)}",
                )
            )
        User.objects.bulk_create(users, batch_size=1000)
    rows = User.objects.filter(username__startswith="bench-citizen-").order_by("pk")
    for pk, phone in rows.values_list("pk", "phone"):
        for country, prefix in PHONE_PREFIX.items():
            if phone and phone.startswith(prefix):
                people[country].applicants.append(pk)
                people[country].phones.append(phone)
    return people


def ensure_agents(weights: dict[str, float]) -> dict[str, list[int]]:
    """A few agents per service (more in the big ones), the bench agent first in the
    biggest; {service: [user id]}."""
    from guichet.accounts.models import User
    from guichet.organisation.models import RoleKind, Service, StaffRole
    from guichet.organisation.services import grant_role

    biggest = max(weights, key=lambda s: weights[s])
    for service_id in weights:
        count = AGENTS_PER_BIG_SERVICE if service_id in BIG_SERVICES else AGENTS_PER_SERVICE
        service = Service.objects.get(pk=service_id)
        for i in range(count):
            name = BENCH_AGENT if (service_id == biggest and i == 0) else f"agent-{service_id}-{i}"
            user, created = User.objects.get_or_create(username=name, defaults={"is_staff": True})
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
                grant_role(user=user, role=RoleKind.AGENT, service=service, actor="bench")
    found: dict[str, list[int]] = {}
    roles = StaffRole.objects.filter(role=RoleKind.AGENT, service_id__in=list(weights))
    for service_id, user_id in roles.values_list("service_id", "user_id"):
        found.setdefault(service_id, []).append(user_id)
    return {s: sorted(ids) for s, ids in found.items()}


# --- The dossiers -----------------------------------------------------------------------

COLUMNS = [
    "id",
    "reference",
    "procedure_id",
    "version_id",
    "applicant_id",
    "status",
    "answers",
    "current_page",
    "submission_token",
    "created_at",
    "updated_at",
    "submitted_at",
    "service_id",
    "assigned_to_id",
    "applicant_name",
    "search_text",
    "due_at",
    "waiting_since",
]
"""The columns this module fills; any other column of the table gets its field's default."""
_TIME_COLUMNS = [COLUMNS.index(c) for c in ("created_at", "updated_at", "submitted_at")]
_TIME_COLUMNS += [COLUMNS.index(c) for c in ("due_at", "waiting_since")]
DAY = 86400.0


def _extra_columns() -> list[tuple[str, Any]]:
    """Columns of the dossier table this module does not know (a field added since), with
    their defaults."""
    from guichet.dossiers.models import Dossier

    return [
        (f.column, f.get_default())
        for f in Dossier._meta.concrete_fields
        if f.column not in COLUMNS
    ]


def _edges(weights: list[float]) -> list[float]:
    """Lower edges of the buckets of cumulative weights (what width_bucket takes)."""
    total = sum(weights)
    edges, running = [], 0.0
    for w in weights:
        edges.append(running / total)
        running += w
    return edges


# PostgreSQL: every row made in the server. `OFFSET 0` keeps each layer a subquery, so its
# columns are computed once per row rather than pasted into every expression that uses them.
_INSERT = """
WITH draws AS MATERIALIZED (
    SELECT random() AS r_draft, random() AS r_slot, random() AS r_status, random() AS r_app,
        random() AS r_family, random() AS r_given, random() AS r_given2, random() AS r_two,
        random() AS r_company, random() AS r_word, random() AS r_age, random() AS r_upd,
        random() AS r_assign, random() AS r_agent, random() AS r_created
    FROM generate_series(1, %(count)s)
),
keyed AS (
    SELECT d.*, d.r_draft < %(draft_share)s AS is_draft,
        (%(statuses)s::text[])[width_bucket(d.r_status, %(status_edges)s::float8[])] AS decided
    FROM draws AS d
    OFFSET 0
),
aged AS (
    SELECT k.*,
        CASE WHEN k.is_draft THEN k.r_age * 30
            WHEN k.decided = ANY(%(open)s::text[])
                THEN least(-ln(1 - k.r_age) * %(open_mean)s, %(open_max)s)
            ELSE %(decided_min)s + k.r_age * %(decided_span)s END AS age_days
    FROM keyed AS k
    OFFSET 0
),
-- Ids (hence the order of the rows on disk) follow the dates, oldest first, as in life.
numbered AS (
    SELECT a.*, %(first)s::bigint - 1 + row_number() OVER (ORDER BY a.age_days DESC) AS n
    FROM aged AS a
),
scrambled AS (
    SELECT m.*,
        (((m.n * %(multiplier)s) & %(mask)s) # (((m.n * %(multiplier)s) & %(mask)s) >> %(shift)s))
            AS y
    FROM numbered AS m
    OFFSET 0
),
symbols AS (
    SELECT g.*,
        ((y >> 30) & 31)::int AS v0, ((y >> 25) & 31)::int AS v1, ((y >> 20) & 31)::int AS v2,
        ((y >> 15) & 31)::int AS v3, ((y >> 10) & 31)::int AS v4, ((y >> 5) & 31)::int AS v5,
        (y & 31)::int AS v6
    FROM scrambled AS g
    OFFSET 0
),
picked AS (
    SELECT s.n, s.age_days, s.r_upd, s.r_assign, s.r_agent, s.r_created, s.is_draft, s.decided,
        t.*,
        c.family[1 + floor(s.r_family * c.n_family)::int] AS family,
        c.family_f[1 + floor(s.r_family * c.n_family)::int] AS family_f,
        c.given[1 + floor(s.r_given * c.n_given)::int]
            || CASE WHEN s.r_two < %(second_given)s
                THEN ' ' || c.given[1 + floor(s.r_given2 * c.n_given)::int] ELSE '' END AS given,
        c.given_f[1 + floor(s.r_given * c.n_given)::int]
            || CASE WHEN s.r_two < %(second_given)s
                THEN ' ' || c.given_f[1 + floor(s.r_given2 * c.n_given)::int] ELSE '' END
            AS given_f,
        s.r_company < t.company_share AS is_company,
        (%(words)s::text[])[1 + floor(s.r_word * %(n_words)s)::int] AS word,
        (%(words_f)s::text[])[1 + floor(s.r_word * %(n_words)s)::int] AS word_f,
        a.id AS applicant,
        a.phone,
        t.country || '-' || substr(%(alphabet)s, v0 + 1, 1) || substr(%(alphabet)s, v1 + 1, 1)
            || substr(%(alphabet)s, v2 + 1, 1) || substr(%(alphabet)s, v3 + 1, 1) || '-'
            || substr(%(alphabet)s, v4 + 1, 1) || substr(%(alphabet)s, v5 + 1, 1)
            || substr(%(alphabet)s, v6 + 1, 1)
            || substr(%(alphabet)s, (32 - ((2 * v6) / 32 + (2 * v6) %% 32 + v5
                + (2 * v4) / 32 + (2 * v4) %% 32 + v3 + (2 * v2) / 32 + (2 * v2) %% 32 + v1
                + (2 * v0) / 32 + (2 * v0) %% 32) %% 32) %% 32 + 1, 1) AS reference
    FROM symbols AS s
    JOIN bench_slot AS t ON t.k = width_bucket(s.r_slot, %(slot_edges)s::float8[])
    JOIN bench_country AS c ON c.country = t.country
    JOIN bench_applicant AS a ON a.country = t.country AND a.i = floor(s.r_app * c.n_apps)::int
    OFFSET 0
),
dated AS (
    SELECT p.*,
        CASE WHEN p.is_draft THEN 'draft' ELSE p.decided END AS status,
        CASE WHEN p.is_company
            THEN p.word || ' ' || p.family || ' ' || %(suffix)s
            ELSE p.family || ' ' || p.given END AS name,
        CASE WHEN p.is_company
            THEN p.word_f || ' ' || p.family_f || ' ' || %(suffix_f)s
            ELSE p.family_f || ' ' || p.given_f END AS name_f,
        now() - p.age_days * interval '1 day' AS submitted
    FROM picked AS p
    OFFSET 0
),
timed AS (
    SELECT d.*,
        CASE WHEN d.status = ANY(%(open)s::text[])
            THEN d.submitted + (now() - d.submitted) * d.r_upd
            ELSE d.submitted + (1 + d.r_upd * 25) * interval '1 day' END AS updated,
        CASE WHEN d.status = 'info_requested'
            THEN d.submitted + (now() - d.submitted) * d.r_upd END AS waiting,
        CASE WHEN d.status = 'submitted' THEN d.r_assign < %(submitted_assigned)s
            WHEN d.status = ANY(%(open)s::text[]) THEN true
            ELSE d.r_assign < %(decided_assigned)s END AS assigned
    FROM dated AS d
    OFFSET 0
)
INSERT INTO dossiers_dossier (%(columns)s)
SELECT n, reference, procedure, version, applicant, status,
    CASE WHEN is_draft THEN '{}'::jsonb
        WHEN is_company THEN jsonb_build_object(company_field, name)
        WHEN full_field <> '' THEN jsonb_build_object(full_field, name)
        ELSE jsonb_build_object(family_field, family, given_field, given) END,
    '', gen_random_uuid(),
    CASE WHEN is_draft THEN submitted ELSE submitted - r_created * interval '2 days' END,
    CASE WHEN is_draft THEN submitted + r_upd * interval '1 hour' ELSE updated END,
    CASE WHEN NOT is_draft THEN submitted END,
    CASE WHEN NOT is_draft THEN service END,
    CASE WHEN NOT is_draft AND assigned AND n_agents > 0
        THEN agents[1 + floor(r_agent * n_agents)::int] END,
    CASE WHEN is_draft THEN '' ELSE name END,
    CASE WHEN is_draft THEN ''
        ELSE left(name_f || ' ' || lower(replace(reference, '-', '')) || ' ' || phone, 400) END,
    CASE WHEN NOT is_draft AND due_days > 0
        THEN submitted + due_days * interval '1 day' + coalesce(now() - waiting, interval '0')
        END,
    CASE WHEN NOT is_draft THEN waiting END
    %(extra)s
FROM timed
"""


def _fold(text: str) -> str:
    from guichet.catalog.search import fold

    return fold(text)


def _secondary_indexes(cursor: Any, table: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the table's indexes that back no constraint."""
    cursor.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = %s::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
        ORDER BY i.relname
        """,
        [table],
    )
    return [(name, sql) for name, sql in cursor.fetchall()]


def write_postgres(
    slots: list[Slot], people: dict[str, People], first: int, count: int, *, rebuild: bool
) -> float:
    """INSERT … SELECT `count` dossiers from id `first`; returns the seconds spent
    rebuilding the secondary indexes (0 when they were kept)."""
    from django.db import connection, transaction

    extra = _extra_columns()
    columns = COLUMNS + [c for c, _ in extra]
    extra_sql = "".join(f", %(extra_{i})s" for i in range(len(extra)))
    seconds = 0.0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if cursor.fetchone()[0]:  # only a superuser may skip the foreign-key triggers
            cursor.execute("SET LOCAL session_replication_role TO replica")
        cursor.execute("SET LOCAL maintenance_work_mem TO '256MB'")
        cursor.execute("SET LOCAL work_mem TO '64MB'")
        cursor.execute(
            "CREATE TEMP TABLE bench_slot (k int PRIMARY KEY, service text, procedure text,"
            " version bigint, country text, due_days int, family_field text, given_field text,"
            " full_field text, company_field text, company_share float8, agents bigint[],"
            " n_agents int) ON COMMIT DROP"
        )
        cursor.executemany(
            "INSERT INTO bench_slot VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    k,
                    s.service,
                    s.procedure,
                    s.version,
                    s.country,
                    s.due_days,
                    s.family_field,
                    s.given_field,
                    s.full_field,
                    s.company_field,
                    s.company_share,
                    list(s.agents),
                    len(s.agents),
                )
                for k, s in enumerate(slots, 1)
            ],
        )
        cursor.execute(
            "CREATE TEMP TABLE bench_country (country text PRIMARY KEY, family text[],"
            " family_f text[], n_family int, given text[], given_f text[], n_given int,"
            " n_apps int) ON COMMIT DROP"
        )
        cursor.executemany(
            "INSERT INTO bench_country VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    country,
                    p.family,
                    [_fold(x) for x in p.family],
                    len(p.family),
                    p.given,
                    [_fold(x) for x in p.given],
                    len(p.given),
                    len(p.applicants),
                )
                for country, p in people.items()
            ],
        )
        # Applicants in a table of their own: big arrays would be read whole for each row.
        cursor.execute(
            "CREATE TEMP TABLE bench_applicant (country text, i int, id bigint, phone text,"
            " PRIMARY KEY (country, i)) ON COMMIT DROP"
        )
        cursor.executemany(
            "INSERT INTO bench_applicant VALUES (%s, %s, %s, %s)",
            [
                (country, i, pk, phone)
                for country, p in people.items()
                for i, (pk, phone) in enumerate(zip(p.applicants, p.phones, strict=True))
            ],
        )
        cursor.execute("ANALYZE bench_slot, bench_country, bench_applicant")
        dropped = _secondary_indexes(cursor, "dossiers_dossier") if rebuild else []
        for name, _sql in dropped:
            cursor.execute(f'DROP INDEX "{name}"')
        from guichet.dossiers.references import ALPHABET

        params = {
            "multiplier": _MULTIPLIER,
            "mask": _MASK,
            "shift": _SHIFT,
            "first": first,
            "count": count,
            "draft_share": DRAFT_SHARE,
            "statuses": list(STATUS_WEIGHTS),
            "status_edges": _edges(list(STATUS_WEIGHTS.values())),
            "slot_edges": _edges([s.weight for s in slots]),
            "second_given": SECOND_GIVEN_NAME,
            "words": COMPANY_WORDS,
            "words_f": [_fold(w) for w in COMPANY_WORDS],
            "n_words": len(COMPANY_WORDS),
            "suffix": COMPANY_SUFFIX,
            "suffix_f": _fold(COMPANY_SUFFIX),
            "alphabet": ALPHABET,
            "open": list(OPEN),
            "open_mean": OPEN_MEAN_AGE_DAYS,
            "open_max": OPEN_MAX_AGE_DAYS,
            "decided_min": DECIDED_AGE_DAYS[0],
            "decided_span": DECIDED_AGE_DAYS[1] - DECIDED_AGE_DAYS[0],
            "submitted_assigned": SUBMITTED_ASSIGNED,
            "decided_assigned": DECIDED_ASSIGNED,
        }
        params.update({f"extra_{i}": _pg_value(v) for i, (_, v) in enumerate(extra)})
        sql = _INSERT.replace("%(columns)s", ", ".join(columns)).replace("%(extra)s", extra_sql)
        cursor.execute(sql, params)
        started = time.monotonic()
        for name, create in dropped:
            _log(f"    rebuilding index {name} ...")
            cursor.execute(create)
        seconds = time.monotonic() - started
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('dossiers_dossier', 'id'),"
            " (SELECT max(id) FROM dossiers_dossier))"
        )
    return seconds


def _pg_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (dict, list)) else value


# SQLite: the same rows, made in Python.


def dossier_rows(
    slots: list[Slot], people: dict[str, People], first: int, count: int, now: float
) -> Iterator[tuple[Any, ...]]:
    """The rows of `write_postgres`, in COLUMNS order, as SQLite stores them: the same
    draws, and ids that follow the dates (oldest first)."""
    rng = random.Random(SEED + first)  # noqa: S311 (made-up data, not secrets)
    slot_edges = _edges([s.weight for s in slots])
    status_edges = _edges(list(STATUS_WEIGHTS.values()))
    statuses = list(STATUS_WEIGHTS)
    folded: dict[str, str] = {}

    def fold(text: str) -> str:
        if text not in folded:
            folded[text] = _fold(text)
        return folded[text]

    def stamp(ts: float | None) -> str | None:
        if ts is None:
            return None
        return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None).isoformat(sep=" ")

    drafts: list[tuple[float, Slot, str, int, float]] = []
    dossiers: list[tuple[float, Slot, str, int, dict[str, str], str, float | None]] = []
    for _ in range(count):
        slot = slots[bisect.bisect_right(slot_edges, rng.random()) - 1]
        decided = statuses[bisect.bisect_right(status_edges, rng.random()) - 1]
        age = rng.random()
        app = rng.randrange(len(people[slot.country].applicants))
        if rng.random() < DRAFT_SHARE:
            drafts.append((age * 30, slot, "draft", app, rng.random()))
            continue
        p = people[slot.country]
        family = rng.choice(p.family)
        given = rng.choice(p.given)
        if rng.random() < SECOND_GIVEN_NAME:
            given = f"{given} {rng.choice(p.given)}"
        if rng.random() < slot.company_share:
            name = f"{rng.choice(COMPANY_WORDS)} {family} {COMPANY_SUFFIX}"
            answers = {slot.company_field: name}
        elif slot.full_field:
            name = f"{family} {given}"
            answers = {slot.full_field: name}
        else:
            name = f"{family} {given}"
            answers = {slot.family_field: family, slot.given_field: given}
        if decided in OPEN:
            days = min(-math.log(1 - age) * OPEN_MEAN_AGE_DAYS, OPEN_MAX_AGE_DAYS)
        else:
            low, high = DECIDED_AGE_DAYS
            days = low + age * (high - low)
        assigned = rng.random()
        agent = rng.choice(slot.agents) if slot.agents else None
        if decided == "submitted":
            agent = agent if assigned < SUBMITTED_ASSIGNED else None
        elif decided not in OPEN:
            agent = agent if assigned < DECIDED_ASSIGNED else None
        dossiers.append((days, slot, decided, app, answers, name, agent))
    ordered = sorted(
        [(d[0], i, False) for i, d in enumerate(dossiers)]
        + [(d[0], i, True) for i, d in enumerate(drafts)],
        key=lambda x: -x[0],
    )
    for n, (days, i, is_draft) in enumerate(ordered, first):
        token = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        if is_draft:
            _days, slot, _status, app, upd = drafts[i]
            created = now - days * DAY
            yield (
                n,
                reference_for(slot.country, n),
                slot.procedure,
                slot.version,
                people[slot.country].applicants[app],
                "draft",
                "{}",
                "",
                token,
                stamp(created),
                stamp(created + upd * 3600),
                None,
                None,
                None,
                "",
                "",
                None,
                None,
            )
            continue
        _days, slot, decided, app, answers, name, agent = dossiers[i]
        p = people[slot.country]
        reference = reference_for(slot.country, n)
        submitted = now - days * DAY
        if decided in OPEN:
            updated = submitted + (now - submitted) * rng.random()
        else:
            updated = submitted + (1 + rng.random() * 25) * DAY
        waiting = updated if decided == "info_requested" else None
        due = None
        if slot.due_days:
            due = submitted + slot.due_days * DAY + ((now - waiting) if waiting else 0.0)
        compact = reference.replace("-", "").lower()
        yield (
            n,
            reference,
            slot.procedure,
            slot.version,
            p.applicants[app],
            decided,
            json.dumps(answers, ensure_ascii=False),
            "",
            token,
            stamp(submitted - rng.random() * 2 * DAY),
            stamp(updated),
            stamp(submitted),
            slot.service,
            agent,
            name,
            f"{fold(name)} {compact} {p.phones[app]}"[:400],
            stamp(due),
            stamp(waiting),
        )


def write_sqlite(slots: list[Slot], people: dict[str, People], first: int, count: int) -> None:
    from django.db import connection, transaction

    extra = _extra_columns()
    columns = COLUMNS + [c for c, _ in extra]
    extra_values = tuple(_pg_value(v) for _, v in extra)
    marks = ", ".join("?" * len(columns))
    sql = f"INSERT INTO dossiers_dossier ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
    connection.ensure_connection()
    raw = connection.connection
    with transaction.atomic():
        batch: list[tuple[Any, ...]] = []
        for row in dossier_rows(slots, people, first, count, time.time()):
            batch.append((*row, *extra_values))
            if len(batch) >= SQLITE_BATCH:
                raw.executemany(sql, batch)
                batch.clear()
        if batch:
            raw.executemany(sql, batch)


def check_references(limit: int = 2000) -> None:
    """The references written are the project's: they parse back to themselves."""
    from guichet.dossiers.models import Dossier
    from guichet.dossiers.references import parse_reference

    rows = Dossier.objects.order_by("-pk").values_list("pk", "reference")[:limit]
    for pk, reference in rows:
        if parse_reference(reference) != reference or reference != reference_for(reference[:2], pk):
            raise SystemExit(f"bench seed: dossier {pk} has a malformed reference {reference}")


def grow(target: int) -> dict[str, Any]:
    """Add dossiers until there are `target` of them (drafts included)."""
    from django.db import connection

    from guichet.dossiers.models import Dossier

    started = time.monotonic()
    load_demo()
    weights = service_weights(sorted(routes()))
    people = ensure_applicants()
    slots = plan(ensure_agents(weights))
    setup_seconds = time.monotonic() - started
    existing = Dossier.objects.count()
    add = max(0, target - existing)
    first = (Dossier.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    rebuild = add > 2 * existing and add > 50_000
    _log(f"  {connection.vendor}: {existing:,} dossiers, adding {add:,} ...")
    began = time.monotonic()
    index_seconds = 0.0
    if add:
        if connection.vendor == "postgresql":
            index_seconds = write_postgres(slots, people, first, add, rebuild=rebuild)
        else:
            write_sqlite(slots, people, first, add)
    write_seconds = time.monotonic() - began
    began = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    analyze_seconds = time.monotonic() - began
    check_references()
    biggest = max(weights, key=lambda s: weights[s])
    in_biggest = Dossier.objects.filter(service_id=biggest).count()
    open_in_biggest = Dossier.objects.filter(service_id=biggest, status__in=OPEN).count()
    return {
        "vendor": connection.vendor,
        "dossiers": existing + add,
        "added": add,
        "services": len(weights),
        "biggest_service": biggest,
        "biggest_queue": in_biggest,
        "biggest_open": open_in_biggest,
        "setup_seconds": round(setup_seconds, 2),
        "write_seconds": round(write_seconds - index_seconds, 2),
        "index_seconds": round(index_seconds, 2),
        "analyze_seconds": round(analyze_seconds, 2),
        "seconds": round(time.monotonic() - started, 2),
    }


# --- What the bench opens -------------------------------------------------------------------


def _verified_session(user: Any) -> str:
    """A session signed in with both factors, as the staff sign-in leaves it."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.create()
    assert session.session_key
    return session.session_key


def _timeline(dossier: Any, agent_id: int, rng: random.Random) -> None:
    """The status changes that led to the dossier's status, a short message thread and
    maybe a private note."""
    from django.utils import timezone

    from guichet.dossiers.models import Message, StatusChange
    from guichet.workflow.models import Annotation

    steps = [("draft", "submitted", dossier.applicant_id)]
    if dossier.status != "submitted":
        steps.append(("submitted", "in_review", agent_id))
    if dossier.status == "info_requested" or (dossier.status != "submitted" and rng.random() < 0.3):
        steps.append(("in_review", "info_requested", agent_id))
        if dossier.status != "info_requested":
            steps.append(("info_requested", "in_review", dossier.applicant_id))
    if dossier.status not in OPEN:
        steps.append(("in_review", dossier.status, agent_id))
    changes = StatusChange.objects.bulk_create(
        StatusChange(dossier=dossier, from_status=a, to_status=b, actor_id=who)
        for a, b, who in steps
    )
    start = dossier.submitted_at or timezone.now()
    span = max((dossier.updated_at - start).total_seconds(), 60.0)
    for i, change in enumerate(changes):
        change.at = start + timedelta(seconds=span * i / len(changes))
    StatusChange.objects.bulk_update(changes, ["at"])
    texts = [
        (False, "Bonjour, votre dossier est en cours d'examen."),
        (True, "Merci. Faut-il passer au centre avec l'original ?"),
        (False, "Oui, avec votre pièce d'identité, aux heures d'ouverture."),
    ]
    Message.objects.bulk_create(
        Message(
            dossier=dossier,
            author_id=dossier.applicant_id if from_applicant else agent_id,
            from_applicant=from_applicant,
            body=body,
        )
        for from_applicant, body in texts[: rng.randint(0, 3)]
    )
    if rng.random() < 0.5:
        Annotation.objects.create(
            dossier=dossier, author_id=agent_id, body="Acte retrouvé au registre, page 112."
        )


def sample(count: int) -> dict[str, Any]:
    """The bench agent's session, `count` random dossiers of the biggest queue (each with a
    timeline) and open ones to look up by reference."""
    from django.db.models import Exists, OuterRef

    from guichet.accounts.models import User
    from guichet.dossiers.models import Dossier, StatusChange

    rng = random.Random()  # noqa: S311 (made-up data, not secrets)
    service = biggest_service()
    agent = User.objects.get(username=BENCH_AGENT)
    in_queue = Dossier.objects.filter(service_id=service).exclude(status="draft")
    # The first is in review (the most actions on its page): query counts compare alike.
    first = in_queue.filter(status="in_review").order_by("?").values_list("pk", flat=True)[:1]
    picked = list(first) + list(in_queue.order_by("?").values_list("pk", flat=True)[: count - 1])
    with_timeline = set(
        Dossier.objects.filter(pk__in=picked)
        .filter(Exists(StatusChange.objects.filter(dossier=OuterRef("pk"))))
        .values_list("pk", flat=True)
    )
    for dossier in Dossier.objects.filter(pk__in=set(picked) - with_timeline):
        _timeline(dossier, dossier.assigned_to_id or agent.pk, rng)
    reference_of = dict(Dossier.objects.filter(pk__in=picked).values_list("pk", "reference"))
    references = [reference_of[pk] for pk in dict.fromkeys(picked)]
    open_refs = list(
        in_queue.filter(status__in=OPEN).order_by("?").values_list("reference", flat=True)[:count]
    )
    return {
        "service": service,
        "session": _verified_session(agent),
        "agent": agent.pk,
        "references": references,
        "open_references": open_refs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    grow_parser = sub.add_parser("grow")
    grow_parser.add_argument("--to", type=int, required=True)
    sample_parser = sub.add_parser("sample")
    sample_parser.add_argument("--count", type=int, default=60)
    args = parser.parse_args()
    _setup()
    if args.command == "grow":
        result = grow(max(0, args.to))
    else:
        result = sample(max(1, min(args.count, 1000)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
