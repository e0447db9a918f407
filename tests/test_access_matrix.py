"""The authorization matrix: every route × every persona × every object, with the outcome
each must get. A route missing from EXPECTED fails the suite, so a new page cannot land
without saying who may see it; `test_an_unprotected_view_is_caught` shows the check bites.

Personas (staff ones signed in with both factors):
    anonymous, citizen_a (owns the dossiers), citizen_b, intermediary (a signed-in account
    that files for others: no right on anyone's dossier), agent_s1_t1 (agent of the
    Commune III civil-status centre, where citizen A's dossier is routed), agent_s1_t2
    (the same kind of service, Commune IV), agent_s2 (a court's nationality office),
    supervisor (of service 1), procedure_admin (of the civil-status authority), auditor
    (of the same authority).
Objects: citizen A's draft with a file, citizen A's submitted dossier with a file (in
service 1's queue) and the document issued on it, service 1 and service 2, an export of
service 1's queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from conftest import SERVICE_1, make_staff
from guichet.documents.services import issue
from guichet.web.access import ACCESS_LEVELS
from guichet.web.tests.staff import verified_login

# Pages that are not ours: Django's admin guards itself (staff + permissions + TOTP).
THIRD_PARTY_PREFIXES = ("admin/",)

CITIZENS = ("citizen_a", "citizen_b", "intermediary")
STAFF = (
    "agent_s1_t1",
    "agent_s1_t2",
    "agent_s2",
    "supervisor",
    "procedure_admin",
    "auditor",
)
PERSONAS = ("anonymous", *CITIZENS, *STAFF)
SERVICE_2 = "ml-tgi-bamako"

LOGIN = "→ /connexion/"
STAFF_LOGIN = "→ /instruction/connexion/"
Outcome = int | str


@dataclass(frozen=True)
class Case:
    """One URL (one object) of a route, and what each persona gets on GET."""

    url: str
    outcomes: dict[str, Outcome]
    actors: frozenset[str] = field(default_factory=frozenset)
    """Who may POST to it; with `post_probe`, everyone else's POST must change nothing."""
    post_probe: bool = False


def everyone(status: Outcome = 200) -> dict[str, Outcome]:
    return dict.fromkeys(PERSONAS, status)


def signed_in(status: Outcome = 200) -> dict[str, Outcome]:
    return {**everyone(status), "anonymous": LOGIN}


def owner_only(status: Outcome) -> dict[str, Outcome]:
    """A citizen page of one of citizen A's objects: anyone else, staff included, gets 404."""
    return {**signed_in(404), "citizen_a": status}


def staff_only(allowed: dict[str, Outcome], others: Outcome = 404) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {
        "anonymous": STAFF_LOGIN,
        **dict.fromkeys(CITIZENS, 404),
        **dict.fromkeys(STAFF, others),
    }
    return {**outcomes, **allowed}


READERS_OF_S1 = {"agent_s1_t1": 200, "supervisor": 200, "auditor": 200}
"""Who may read service 1's queue and dossiers: its agents, its supervisor, the auditor
of its authority. Not the same service elsewhere, not another service, not the
procedure administrator."""
READERS_WITH_PURPOSE = {**READERS_OF_S1, "auditor": 302}
"""Files and documents: the auditor is first sent to give the purpose of the reading."""
ACTORS_OF_S1 = frozenset({"agent_s1_t1", "supervisor"})
REGISTER_READERS = {"procedure_admin": 200, "auditor": 200}
"""Who reads the register of processing activities of the civil-status authority."""


def _post_only_staff(url: str) -> list[Case]:
    # `staff_page` runs first: staff get 405 on GET whatever the object (says nothing);
    # the POST probe checks the object-level refusal.
    return [Case(url, staff_only({}, others=405), actors=ACTORS_OF_S1, post_probe=True)]


EXPECTED: dict[str, list[Case]] = {
    "health": [Case("/sante/", everyone())],
    "verify-link": [Case("/V/{code}", everyone())],
    "verify-link-lower": [Case("/v/{code}", everyone())],
    "verifier:verify": [Case("/verifier/", everyone())],
    # Called by the SMS gateway: no sender → 400, a report address not signed → 404.
    "sms-incoming": [Case("/passerelle/sms/entrant/", everyone(400))],
    "sms-dlr": [Case("/passerelle/sms/dlr/1/0000/?status=1", everyone(404))],
    # A signed link to a stored file: only on FILES_HOST (unset here), with a valid token.
    "signed-file": [Case("/f/not-a-signed-link", everyone(404))],
    "ussd": [Case("/passerelle/ussd/", everyone(405))],  # the aggregator POSTs
    "verifier:keys": [Case("/verifier/cles/", everyone())],
    "verifier:keys-json": [Case("/verifier/cles.json", everyone())],
    "verifier:offline": [Case("/verifier/hors-ligne.html", everyone())],
    "assistant:question": [Case("/question/?q=prix+du+passeport&pays=ML", everyone())],
    # A rating without its signed reference is refused (GET: only POST is allowed).
    "assistant:feedback": [Case("/question/avis/", everyone(405))],
    "assistant:api": [Case("/api/assistant/?q=passeport", everyone())],
    "public:openapi": [Case("/api/openapi.json", everyone())],
    "public:home": [Case("/", everyone())],
    "public:catalog": [Case("/demarches/", everyone())],
    "public:procedure": [Case("/demarches/ml-passeport/", everyone())],
    "public:procedure-version": [Case("/demarches/ml-passeport/versions/1/", everyone())],
    "accounts:login": [Case("/connexion/", everyone())],
    # No code asked for in this session: back to the number.
    "accounts:login-code": [Case("/connexion/code/", everyone(302))],
    "accounts:login-resend": [Case("/connexion/code/renvoyer/", everyone(405))],
    "accounts:logout": [Case("/deconnexion/", everyone())],
    "accounts:profile": [Case("/mon-compte/", signed_in())],
    "dossiers:start": [Case("/demarches/ml-extrait-acte-naissance/en-ligne/", signed_in())],
    "dossiers:list": [Case("/mes-demarches/", signed_in())],
    "dossiers:detail": [
        Case("/mes-demarches/{draft}/", owner_only(302)),  # a draft: back to its page
        Case("/mes-demarches/{ref}/", owner_only(200)),
    ],
    "dossiers:page": [
        Case("/mes-demarches/{draft}/pages/demande/", owner_only(200)),
        Case("/mes-demarches/{ref}/pages/demande/", owner_only(302)),  # submitted: frozen
    ],
    "dossiers:upload": [
        Case(
            "/mes-demarches/{draft}/pages/pieces/fichiers/volet_2/",
            signed_in(405),
            actors=frozenset({"citizen_a"}),
            post_probe=True,
        )
    ],
    "dossiers:download": [
        Case("/mes-demarches/{draft}/fichiers/{draft_file}/", owner_only(200)),
        Case("/mes-demarches/{ref}/fichiers/{file}/", owner_only(200)),
    ],
    "dossiers:remove-file": [
        Case(
            "/mes-demarches/{draft}/fichiers/{draft_file}/retirer/",
            signed_in(405),
            actors=frozenset({"citizen_a"}),
            post_probe=True,
        )
    ],
    "dossiers:summary": [
        Case("/mes-demarches/{draft}/recapitulatif/", owner_only(200)),
        Case("/mes-demarches/{ref}/recapitulatif/", owner_only(302)),
    ],
    "dossiers:submit": [
        Case(
            "/mes-demarches/{draft}/deposer/",
            signed_in(405),
            actors=frozenset({"citizen_a"}),
            post_probe=True,
        )
    ],
    "dossiers:messages": [
        Case(
            "/mes-demarches/{ref}/messages/",
            signed_in(405),
            actors=frozenset({"citizen_a"}),
            post_probe=True,
        )
    ],
    "dossiers:resubmit": [
        Case(
            "/mes-demarches/{ref}/renvoyer/",
            signed_in(405),
            actors=frozenset({"citizen_a"}),
            post_probe=True,
        )
    ],
    "dossiers:receipt": [
        Case("/mes-demarches/{draft}/recepisse.pdf", owner_only(302)),  # none before submission
        Case("/mes-demarches/{ref}/recepisse.pdf", owner_only(200)),
    ],
    "dossiers:document": [
        Case("/mes-demarches/{ref}/documents/{doc}.pdf", owner_only(200)),
        Case("/mes-demarches/{draft}/documents/{doc}.pdf", owner_only(404)),
    ],
    "staff:login": [Case("/instruction/connexion/", everyone())],
    "staff:totp-setup": [Case("/instruction/securite/", staff_only({}, others=200))],
    "staff:logout": [Case("/instruction/deconnexion/", everyone())],
    "backoffice:home": [Case("/instruction/", staff_only({}, others=200))],
    "backoffice:queue": [
        Case(f"/instruction/services/{SERVICE_1}/", staff_only(READERS_OF_S1)),
        Case(f"/instruction/services/{SERVICE_2}/", staff_only({"agent_s2": 200})),
    ],
    "backoffice:assign-many": _post_only_staff(f"/instruction/services/{SERVICE_1}/attribuer/"),
    "backoffice:workload": [
        Case(f"/instruction/services/{SERVICE_1}/charge/", staff_only({"supervisor": 200}))
    ],
    "backoffice:dossier": [
        Case("/instruction/dossiers/{ref}/", staff_only(READERS_OF_S1)),
        Case("/instruction/dossiers/{draft}/", staff_only({})),  # drafts are the citizen's
    ],
    # Why a reader outside the service opens the dossier (the auditor sees this form, not
    # the dossier, until they give one): POSTed by its readers, refused to everyone else.
    "backoffice:purpose": [
        Case(
            "/instruction/dossiers/{ref}/motif/",
            staff_only({}, others=405),
            actors=frozenset(READERS_OF_S1),
            post_probe=True,
        )
    ],
    "backoffice:transition": _post_only_staff("/instruction/dossiers/{ref}/etat/"),
    "backoffice:request-info": _post_only_staff("/instruction/dossiers/{ref}/complement/"),
    "backoffice:assign": _post_only_staff("/instruction/dossiers/{ref}/attribution/"),
    "backoffice:message": _post_only_staff("/instruction/dossiers/{ref}/messages/"),
    "backoffice:annotate": _post_only_staff("/instruction/dossiers/{ref}/notes/"),
    "backoffice:file": [
        Case("/instruction/dossiers/{ref}/fichiers/{file}/", staff_only(READERS_WITH_PURPOSE)),
        Case("/instruction/dossiers/{draft}/fichiers/{draft_file}/", staff_only({})),
    ],
    "backoffice:document": [
        Case("/instruction/dossiers/{ref}/documents/{doc}.pdf", staff_only(READERS_WITH_PURPOSE)),
    ],
    "backoffice:revoke-document": _post_only_staff(
        "/instruction/dossiers/{ref}/documents/{doc}/annuler/"
    ),
    "backoffice:exports": [
        Case(
            f"/instruction/services/{SERVICE_1}/exports/",
            staff_only({"supervisor": 200}),
            actors=frozenset({"supervisor"}),
            post_probe=True,
        )
    ],
    "backoffice:procedures": [
        Case("/instruction/demarches/", staff_only({"procedure_admin": 200}))
    ],
    "backoffice:procedure": [
        Case(
            "/instruction/demarches/ml-extrait-acte-naissance/",
            staff_only({"procedure_admin": 200}),
            actors=frozenset({"procedure_admin"}),
            post_probe=True,
        ),
        # Another authority's procedure: not even its administrator's neighbour sees it.
        Case("/instruction/demarches/ml-passeport/", staff_only({})),
    ],
    "backoffice:procedure-yaml": [
        Case(
            "/instruction/demarches/ml-extrait-acte-naissance/definition.yaml",
            staff_only({"procedure_admin": 200}),
        )
    ],
    "backoffice:export-download": [
        Case("/instruction/exports/{export}/", staff_only({"supervisor": 200}))
    ],
    "governance:algorithms": [Case("/algorithmes/", everyone())],
    # The register of processing activities: who answers for an authority's procedures.
    "governance:register": [Case("/registre/", staff_only(REGISTER_READERS))],
    "governance:register-csv": [Case("/registre.csv", staff_only(REGISTER_READERS))],
    "governance:register-ods": [Case("/registre.ods", staff_only(REGISTER_READERS))],
    "privacy:home": [Case("/mes-donnees/", signed_in())],
    # Anyone signed in files a request about their own data (GET: only POST is allowed).
    "privacy:request": [Case("/mes-donnees/demandes/", signed_in(405))],
    "privacy:export-json": [Case("/mes-donnees/export.json", signed_in())],
    "privacy:export-html": [Case("/mes-donnees/export/", signed_in())],
    # A notice version is public, like the procedure's past versions: nothing personal.
    "privacy:notice": [
        Case("/demarches/ml-extrait-acte-naissance/mentions/1/", everyone()),
        Case("/demarches/ml-extrait-acte-naissance/mentions/99/", everyone(404)),
    ],
    # Its owner only; this dossier does not rest on consent: back to the dossier. The
    # withdrawal itself is in guichet/privacy/tests/test_consent.py.
    "privacy:withdraw-consent": [
        Case(
            "/mes-demarches/{ref}/consentement/",
            owner_only(302),
            actors=frozenset({"citizen_a"}),
            post_probe=True,
        )
    ],
    # Each staff member sees the requests of their own services (maybe none).
    "privacy:staff-requests": [Case("/instruction/demandes-donnees/", staff_only({}, others=200))],
    # No request in this world: GET and POST answer 404 alike for everyone (the refusal of
    # another service's request is in guichet/privacy/tests/test_requests.py).
    "privacy:staff-answer": [
        Case(
            "/instruction/demandes-donnees/999999/",
            staff_only({}),
            actors=frozenset(),
            post_probe=True,
        )
    ],
}


# --- Walking the resolver ----------------------------------------------------------------------


def _patterns(
    resolver: URLResolver, prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str, URLPattern]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _patterns(entry, prefix + str(entry.pattern), ns)
        else:
            yield prefix + str(entry.pattern), f"{namespace}{entry.name}", entry


def our_pages(urlconf: str | None = None) -> list[tuple[str, str, URLPattern]]:
    return [
        p for p in _patterns(get_resolver(urlconf)) if not p[0].startswith(THIRD_PARTY_PREFIXES)
    ]


def undeclared(urlconf: str | None = None) -> list[str]:
    """Routes whose view carries no access declaration (web/access.py)."""
    return [
        route
        for route, _, p in our_pages(urlconf)
        if getattr(p.callback, "access", None) not in ACCESS_LEVELS
    ]


def without_expectation(urlconf: str | None = None) -> list[str]:
    """Routes this matrix says nothing about, or says nothing about for some persona."""
    missing = []
    for _, name, _ in our_pages(urlconf):
        cases = EXPECTED.get(name)
        if not cases or any(set(c.outcomes) != set(PERSONAS) for c in cases):
            missing.append(name)
    return missing


def test_every_page_declares_its_audience():
    assert undeclared() == []


def test_every_route_has_an_expected_outcome_for_every_persona():
    assert without_expectation() == []
    routed = {name for _, name, _ in our_pages()}
    assert set(EXPECTED) - routed == set(), "expectations for routes that no longer exist"


def test_an_unprotected_view_is_caught():
    """A view added without a declaration, or without a row here, fails the two checks."""
    urlconf = "tests.unprotected_urls"
    assert undeclared(urlconf) == ["instruction/oubli/"]
    assert without_expectation(urlconf) == ["backoffice:forgotten"]


# --- Requests ----------------------------------------------------------------------------------


@pytest.fixture
def world(submitted_dossier, citizen, other_citizen, django_user_model):
    """Every object and every persona's client."""
    from guichet.catalog.models import Procedure
    from guichet.dossiers import services
    from guichet.dossiers.tests.samples import PNG_BYTES

    dossier, attachment = submitted_dossier
    draft = services.start_dossier(
        procedure=Procedure.objects.get(pk="ml-extrait-acte-naissance"), actor=citizen
    )
    draft_file = services.add_attachment(
        dossier=draft,
        field_name="volet_2",
        upload=SimpleUploadedFile("volet.png", PNG_BYTES, content_type="image/png"),
        actor=citizen,
    )
    people = {
        "citizen_a": citizen,
        "citizen_b": other_citizen,
        "intermediary": django_user_model.objects.create_user(username="ecrivain-public"),
        "agent_s1_t1": make_staff("agent-c3", ("agent", SERVICE_1)),
        "agent_s1_t2": make_staff("agent-c4", ("agent", "ml-ec-bamako-c4")),
        "agent_s2": make_staff("agent-tgi", ("agent", SERVICE_2)),
        "supervisor": make_staff("superviseur-c3", ("supervisor", SERVICE_1)),
        "procedure_admin": make_staff("admin-ec", ("procedure_admin", "ml-mairie-etat-civil")),
        "auditor": make_staff("auditeur-ec", ("auditor", "ml-mairie-etat-civil")),
    }
    export = _ready_export(people["supervisor"])
    # A document as a decision issues it (the dossier's state does not matter here).
    document = issue(dossier=dossier, kind="A", actor=people["supervisor"])
    return SimpleNamespace(
        people=people,
        values={
            "ref": dossier.reference,
            "file": attachment.pk,
            "draft": draft.reference,
            "draft_file": draft_file.pk,
            "export": export.pk,
            "doc": document.number,
            "code": document.code,
        },
        dossier=dossier,
    )


def _ready_export(supervisor):
    from django.core.files.base import ContentFile

    from guichet.organisation.models import Service
    from guichet.workflow.models import Export

    export = Export.objects.create(
        requested_by=supervisor,
        service=Service.objects.get(pk=SERVICE_1),
        filters={},
        format="csv",
        status="ready",
        row_count=1,
    )
    export.file.save("matrix.csv", ContentFile(b"ref\n"), save=True)
    return export


def _client(world, persona: str) -> Client:
    client = Client()
    user = world.people.get(persona)
    if user is None:
        return client
    if user.is_staff:
        verified_login(client, user)
    else:
        client.force_login(user)
    return client


def _check(response, expected: Outcome, url: str) -> bool:
    if isinstance(expected, int):
        return response.status_code == expected
    target = expected.removeprefix("→ ")
    return response.status_code == 302 and response["Location"] == f"{target}?next={url}"


def _read(response) -> None:
    if getattr(response, "streaming", False):  # read it through: the file gets closed
        b"".join(response.streaming_content)


def _state(world) -> tuple:
    """What a refused POST must leave unchanged."""
    from guichet.catalog.models import ProcedureVersion
    from guichet.documents.models import IssuedDocument
    from guichet.dossiers.models import Attachment, Dossier, Message
    from guichet.workflow.models import Annotation, Export

    dossier = Dossier.objects.get(pk=world.dossier.pk)
    return (
        dossier.status,
        dossier.assigned_to_id,
        Dossier.objects.filter(status="draft").count(),
        Attachment.objects.count(),
        Message.objects.count(),
        Annotation.objects.count(),
        Export.objects.count(),
        ProcedureVersion.objects.count(),
        IssuedDocument.objects.filter(revoked_at__isnull=False).count(),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_each_persona_gets_what_the_matrix_says(persona, world):
    client = _client(world, persona)
    wrong = []
    for _, name, _ in our_pages():
        for case in EXPECTED[name]:
            url = case.url.format(**world.values)
            response = client.get(url)
            _read(response)
            if not _check(response, case.outcomes[persona], url):
                wrong.append((name, url, response.status_code, case.outcomes[persona]))
    assert wrong == []


@pytest.mark.django_db
@pytest.mark.parametrize("persona", [p for p in PERSONAS if p != "anonymous"])
def test_who_may_not_act_changes_nothing(persona, world):
    """A POST to an object by anyone but its actors is refused like a missing page."""
    client = _client(world, persona)
    before = _state(world)
    wrong = []
    for name, cases in EXPECTED.items():
        for case in cases:
            if not case.post_probe or persona in case.actors:
                continue
            url = case.url.format(**world.values)
            response = client.post(url, {"to": "accepted", "reason": "x", "body": "x"})
            _read(response)
            if response.status_code != 404:
                wrong.append((name, url, response.status_code))
    assert wrong == []
    assert _state(world) == before
