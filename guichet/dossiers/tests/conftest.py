"""Fixtures of the dossier tests: a ClamAV daemon, and scanners to plug in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from guichet.dossiers.scanning import get_scanner
from guichet.dossiers.tests import clamav


@pytest.fixture(scope="session")
def clamd_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running clamd with the EICAR signatures (guichet/dossiers/tests/clamav.py)."""
    yield from clamav.clamd_address(tmp_path_factory)


@pytest.fixture
def use_scanner(settings) -> Iterator[object]:
    """`use_scanner("dotted.path", CLAMD_ADDRESS=…)`: the scanner uploads go through."""

    def use(path: str, **more: object) -> None:
        settings.ATTACHMENT_SCANNER = path
        for name, value in more.items():
            setattr(settings, name, value)
        get_scanner.cache_clear()

    yield use
    get_scanner.cache_clear()


@pytest.fixture
def clamd(clamd_address: str, use_scanner) -> str:
    """Uploads are scanned by the real clamd; its address."""
    use_scanner("guichet.dossiers.scanning.ClamdScanner", CLAMD_ADDRESS=clamd_address)
    return clamd_address
