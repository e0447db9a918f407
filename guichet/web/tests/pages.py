"""What a public page costs a citizen on 2G: measured the same way by tests and the bench."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.test import Client

# Debian's Chromium (never a downloaded browser); flags that keep it off the network.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
    "--disable-quic",
]

BUDGET_BYTES = 14 * 1024
"""TCP's first flight (10 segments, RFC 6928): a page this small arrives in one round trip."""

BACKOFFICE_BUDGET_BYTES = 50 * 1024
"""Agents work on office connections, often shared and slow: a back-office page stays this small."""

# Tags whose URL attribute makes the browser fetch something on its own.
_FETCHING = re.compile(
    r"<(?:link|script|img|iframe|source|video|audio|embed|object)\b[^>]*?\b(?:href|src|data)=\"([^\"]*)\"",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)", re.IGNORECASE)


def public_urls(procedure_ids: list[str]) -> list[str]:
    """Every public page kind, and every procedure sheet."""
    return [
        "/",
        "/demarches/",
        "/demarches/?pays=ML",
        "/demarches/?q=passeport",
        "/demarches/?q=extrait+de+naissanse&pays=ML",
        "/en/",
        "/bm/demarches/",
        "/mos/",
        "/verifier/",
        "/verifier/cles/",
        "/question/",
        "/question/?q=quelles+pieces+pour+le+passeport&pays=ML",
        "/question/?q=carte+grise+moto&pays=ML",
        *[f"/demarches/{pid}/" for pid in procedure_ids],
    ]


@dataclass
class PageWeight:
    url: str
    status: int
    transferred: int
    """Compressed body plus response headers, plus every sub-resource the page loads."""
    subresources: list[str]
    external: list[str]
    has_script: bool


def _header_bytes(response: object) -> int:
    headers = response.headers  # type: ignore[attr-defined]
    return len("HTTP/1.1 200 OK\r\n") + sum(len(f"{k}: {v}\r\n") for k, v in headers.items()) + 2


def measure(client: Client, url: str) -> PageWeight:
    response = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
    body = response.content
    html = _decompress(response)
    refs = _FETCHING.findall(html) + _CSS_URL.findall(html)
    external = [r for r in refs if urlsplit(r).netloc or r.startswith("//")]
    total = len(body) + _header_bytes(response)
    local = [r for r in refs if r not in external and not r.startswith("data:")]
    for ref in local:
        sub = client.get(ref, HTTP_ACCEPT_ENCODING="gzip")
        total += len(sub.content) + _header_bytes(sub)
    return PageWeight(
        url=url,
        status=response.status_code,
        transferred=total,
        subresources=local,
        external=external,
        has_script=bool(re.search(r"<script\b|\bon[a-z]+=\"", html, re.IGNORECASE)),
    )


def _decompress(response: object) -> str:
    import gzip

    content: bytes = response.content  # type: ignore[attr-defined]
    if response.get("Content-Encoding") == "gzip":  # type: ignore[attr-defined]
        content = gzip.decompress(content)
    return content.decode("utf-8")
