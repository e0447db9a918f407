"""Issued documents: how many a server signs per second, how big they are, how dense the QR.

Run by bench/run.py against the demo database (`python bench/documents.py`, with
GUICHET_DATA_DIR pointing at it and DEBUG=1); prints one JSON object. Each round issues
documents through `documents.services.issue` (answers → claims → Ed25519 → PDF → seal →
file → row → audit entry), in a transaction rolled back at the end, so the demo data is
left as it was. Rendering alone is timed in the same run to show where the time goes.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guichet.settings")

ROUNDS = 5
PER_ROUND = 40
VERIFY_PER_ROUND = 400
PUBLIC_URL = "https://guichet.gouv.ml"
"""A realistic production address: its length counts in the QR."""


def main() -> None:
    import django

    django.setup()
    from django.db import transaction
    from django.test import Client

    from guichet.accounts.models import User
    from guichet.documents import codes, render, services
    from guichet.documents.codes import DocumentKind
    from guichet.documents.verify import verify_pdf
    from guichet.dossiers.models import Dossier
    from guichet.web.tests.pages import measure

    agent = User.objects.get(username="agent-c3")
    dossiers = list(Dossier.objects.filter(service_id="ml-ec-bamako-c3").order_by("pk")[:3])
    out: dict[str, object] = {}
    with transaction.atomic():
        for i in range(5):  # warm-up: fonts, templates, key loading
            services.issue(dossier=dossiers[i % 3], kind=DocumentKind.ACCEPTANCE, actor=agent)
        issue_rates, render_rates, verify_rates = [], [], []
        documents = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            for i in range(PER_ROUND):
                document = services.issue(
                    dossier=dossiers[i % len(dossiers)], kind=DocumentKind.ACCEPTANCE, actor=agent
                )
                documents.append(document)
            issue_rates.append(PER_ROUND / (time.perf_counter() - started))
            sample = documents[-1]
            claims = codes.decode(sample.code)[0]
            page = render.Page(
                claims=claims,
                qr_text=codes.code_url(PUBLIC_URL, sample.code),
                country="Mali",
                authority="Mairie – état civil",
                text="Extrait certifié conforme aux registres de l'état civil de la commune.",
                verify_address=f"{PUBLIC_URL}/verifier/",
            )
            started = time.perf_counter()
            for _ in range(PER_ROUND):
                render.render(page)
            render_rates.append(PER_ROUND / (time.perf_counter() - started))
        keyset = services.published_keyset()
        with sample.file.open("rb") as handle:
            pdf = handle.read()
        for _ in range(ROUNDS):
            started = time.perf_counter()
            for _ in range(VERIFY_PER_ROUND):
                assert verify_pdf(pdf, keyset).is_authentic
            verify_rates.append(VERIFY_PER_ROUND / (time.perf_counter() - started))
        sizes = [d.size for d in documents]
        qrs = [render.make_qr(codes.code_url(PUBLIC_URL, d.code)) for d in documents[:3]]
        client = Client(HTTP_HOST="127.0.0.1")
        link_page = measure(client, "/V/" + sample.code)
        form_page = measure(client, "/verifier/")
        out = {
            "documents_per_s": statistics.median(issue_rates),
            "renders_per_s": statistics.median(render_rates),
            "verifications_per_s": statistics.median(verify_rates),
            "pdf_bytes_median": statistics.median(sizes),
            "pdf_bytes_max": max(sizes),
            "code_chars": len(sample.code),
            "signed_bytes": len(codes.decode(sample.code)[1]),
            "qr_version": max(q.version for q in qrs),
            "qr_modules": max(q.symbol_size(scale=1, border=0)[0] for q in qrs),
            "qr_mode": qrs[0].mode,
            "link_page_bytes": link_page.transferred,
            "form_page_bytes": form_page.transferred,
            "issued": len(documents) + 5,
        }
        transaction.set_rollback(True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
