from __future__ import annotations

import pytest

from guichet.dossiers import services
from guichet.dossiers.models import ScanStatus
from guichet.dossiers.scanning import ScannerUnavailable, ScanResult, get_scanner

pytestmark = pytest.mark.django_db


class InfectedScanner:
    def scan(self, stream):
        return ScanResult(is_clean=False, detail="Eicar-Test-Signature FOUND")


class DownScanner:
    def scan(self, stream):
        raise ScannerUnavailable("clamd ne répond pas")


@pytest.fixture
def scanner(settings):
    def use(path: str) -> None:
        settings.ATTACHMENT_SCANNER = f"{__name__}.{path}"
        get_scanner.cache_clear()

    yield use
    get_scanner.cache_clear()


def test_an_infected_file_is_marked_and_blocks_submission(draft_with_file, scanner, citizen):
    dossier, attachment = draft_with_file
    scanner("InfectedScanner")
    assert services.scan_attachment(attachment_id=str(attachment.pk)) == ScanStatus.INFECTED
    attachment.refresh_from_db()
    assert attachment.scan_detail == "Eicar-Test-Signature FOUND"
    with pytest.raises(services.DossierError, match="refusé par l'antivirus"):
        services.submit_dossier(dossier=dossier, token=str(dossier.submission_token), actor=citizen)


def test_a_scanner_that_is_down_leaves_the_file_pending(draft_with_file, scanner):
    _, attachment = draft_with_file
    scanner("DownScanner")
    with pytest.raises(ScannerUnavailable):
        services.scan_attachment(attachment_id=str(attachment.pk))
    attachment.refresh_from_db()
    assert attachment.scan_status == ScanStatus.PENDING
    assert attachment.scan_detail == "clamd ne répond pas"


def test_a_clean_verdict_is_final(draft_with_file, scanner):
    _, attachment = draft_with_file
    assert services.scan_attachment(attachment_id=str(attachment.pk)) == ScanStatus.CLEAN
    scanner("InfectedScanner")
    assert services.scan_attachment(attachment_id=str(attachment.pk)) == ScanStatus.CLEAN
