"""The upload attack corpus (guichet/dossiers/tests/corpus.py) through the citizen's upload
page, as a browser sends it: every bad file refused with a message that says why, or kept
with the danger taken out, or quarantined by the antivirus; every ordinary file accepted.

With clamd (always in CI) uploads are scanned by it; without it outside CI, the cases that
need the antivirus are skipped and the rest is scanned by the development scanner.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from guichet.catalog.models import Procedure
from guichet.dossiers import services
from guichet.dossiers.models import Attachment, ScanStatus
from guichet.dossiers.tests.corpus import Case, bad_files, good_files

pytestmark = pytest.mark.django_db

PROCEDURE = "ml-extrait-acte-naissance"


@pytest.fixture
def scanner(request, use_scanner) -> Iterator[bool]:
    """True when uploads go through the real clamd (then the antivirus cases run)."""
    try:
        request.getfixturevalue("clamd")
    except pytest.skip.Exception:
        use_scanner("guichet.dossiers.scanning.AcceptAllScanner")
        yield False
    else:
        yield True


@pytest.fixture
def upload(client, citizen, demo_catalog, settings, django_capture_on_commit_callbacks):
    settings.RATE_LIMIT_SCALE = 1000  # sixty uploads in a row from one test client
    client.force_login(citizen)
    procedure = Procedure.objects.get(pk=PROCEDURE)

    def send(case: Case) -> tuple[int, str, Attachment | None]:
        """(HTTP status, page text, the file kept if any) for one case, on a new draft."""
        dossier = services.start_dossier(procedure=procedure, actor=citizen)
        dossier.answers = {"objet": "extrait", "pour": "enfant"}
        dossier.save(update_fields=["answers"])
        file = SimpleUploadedFile(case.filename, case.data, content_type=case.content_type)
        url = f"/mes-demarches/{dossier.reference}/pages/pieces/fichiers/volet_2/"
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {"file": file})
        page = client.get(f"/mes-demarches/{dossier.reference}/pages/pieces/")
        text = response.content.decode() if response.status_code != 302 else ""
        return response.status_code, text + page.content.decode(), dossier.attachments.first()

    return send


def _stored(attachment: Attachment) -> bytes:
    with attachment.file.open("rb") as handle:
        data: bytes = handle.read()
    return data


def _outcome(case: Case, status: int, page: str, attachment: Attachment | None) -> str | None:
    """What is wrong with how `case` came out (None: as it must)."""
    if case.expect == "refused" or (case.also_refused and attachment is None):
        if attachment is not None:
            return f"kept ({attachment.scan_status})"
        if status != 400:
            return f"answered {status}"
        if case.message and case.message.replace("'", "&#x27;") not in page:
            return f"message without {case.message!r}"
        return None
    if attachment is None:
        return f"refused ({status})"
    if case.expect == "quarantined":
        if attachment.scan_status != ScanStatus.INFECTED or attachment.quarantined_at is None:
            return f"not quarantined ({attachment.scan_status})"
        if "contient un virus ou un programme dangereux" not in page:
            return "the citizen is not told"
        return None
    if attachment.scan_status != ScanStatus.CLEAN:
        return f"scan {attachment.scan_status}: {attachment.scan_detail}"
    stored = _stored(attachment)
    if case.expect == "accepted":
        return _same_content(case, attachment, stored)
    assert case.check is not None
    problem = case.check(attachment.original_name, stored)
    if problem is None and case.name.startswith("name-") and case.filename in page:
        problem = "the raw name is on the page"
    return problem


def _same_content(case: Case, attachment: Attachment, stored: bytes) -> str | None:
    """An accepted file is the one sent: the same bytes, or for a photo the same pixels
    (only metadata went) in the same orientation."""
    if attachment.kind == "pdf":
        return None if stored == case.data else "PDF changed"
    from PIL import Image, ImageChops

    sent, kept = Image.open(io.BytesIO(case.data)), Image.open(io.BytesIO(stored))
    if sent.size != kept.size or sent.mode != kept.mode:
        return f"{sent.size} {sent.mode} became {kept.size} {kept.mode}"
    if sent.getexif().get(0x0112) != kept.getexif().get(0x0112):
        return "orientation lost"
    if kept.getexif().get_ifd(0x8825):
        return "GPS position kept"
    if ImageChops.difference(sent.convert("RGB"), kept.convert("RGB")).getbbox() is not None:
        return "pixels changed"
    return None


def _run(upload, cases: tuple[Case, ...]) -> dict[str, str]:
    failures = {}
    for case in cases:
        problem = _outcome(case, *upload(case))
        if problem is not None:
            failures[case.name] = problem
    return failures


def test_the_corpus_is_big_enough():
    bad, good = bad_files(), good_files()
    assert len(bad) >= 30 and len(good) >= 10
    assert len({c.name for c in bad + good}) == len(bad + good)


def test_every_bad_file_is_refused_or_neutralised(upload, scanner):
    cases = tuple(c for c in bad_files() if c.expect != "quarantined")
    assert _run(upload, cases) == {}


def test_every_infected_file_is_quarantined(upload, clamd):
    cases = tuple(c for c in bad_files() if c.expect == "quarantined")
    assert cases
    assert _run(upload, cases) == {}


def test_every_ordinary_file_is_accepted(upload, scanner):
    assert _run(upload, good_files()) == {}
