"""Virus scanning of uploaded files, behind one small interface.

The scanner is chosen by the `ATTACHMENT_SCANNER` setting (a dotted path). Until the
security issue plugs in the ClamAV daemon, the default scanner accepts every file; the
rule that only *clean* files are served to anyone but their uploader holds either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import IO, Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class ScanResult:
    is_clean: bool
    detail: str = ""


class ScannerUnavailable(Exception):
    """The scanner could not be reached: the file stays pending (fail closed)."""


class Scanner(Protocol):
    def scan(self, stream: IO[bytes]) -> ScanResult: ...


class AcceptAllScanner:
    """Development default: marks every file clean. Replace with ClamAV in production."""

    def scan(self, stream: IO[bytes]) -> ScanResult:
        return ScanResult(is_clean=True, detail="non analysé (aucun antivirus configuré)")


@cache
def get_scanner() -> Scanner:
    scanner: Scanner = import_string(settings.ATTACHMENT_SCANNER)()
    return scanner
