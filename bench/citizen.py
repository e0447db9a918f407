"""Citizens, sessions and dossiers for the bench, made through the dossier services.

Run by bench/run.py in the server's own environment (same database, same SECRET_KEY, so
the sessions it writes are valid for the server):

    python bench/citizen.py pages                      # one citizen, a draft, a submitted dossier
    python bench/citizen.py drafts --count 600 --users 4   # complete drafts to submit

Each prints one JSON object on stdout. The answers are those of the dossier flow tests
(guichet/web/tests/test_dossier_flow.py), one PNG attached: the same shape as a citizen's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROCEDURE = "ml-extrait-acte-naissance"
PAGE_PHONE = "+22370123456"
SIGN_IN_PHONE = "+22370000001"


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guichet.settings")
    import django

    django.setup()


def _quick_commits() -> None:
    """This process only: commits need not wait for the disk (the data is made, not measured)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET synchronous_commit TO OFF")
        elif connection.vendor == "sqlite":
            cursor.execute("PRAGMA synchronous=OFF")


def _session_for(user: Any) -> str:
    """A signed-in session, as `login()` would write it; returns its key (the cookie value)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    assert session.session_key
    return session.session_key


def _citizen(username: str, phone: str = "") -> Any:
    from guichet.accounts.models import User

    user = User.objects.create_user(username=username, phone=phone or None)
    return user


def fill_draft(user: Any) -> Any:
    """A draft filled up to the summary, page by page, as the page view stores it."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.http import QueryDict

    from guichet.catalog.models import Procedure
    from guichet.dossiers import services
    from guichet.dossiers.tests.samples import PNG_BYTES
    from guichet.web.tests.test_dossier_flow import CONTACT, DEMANDE, DEMANDEUR, PERSONNE

    procedure = Procedure.objects.get(pk=PROCEDURE)
    dossier = services.start_dossier(procedure=procedure, actor=user)
    services.add_attachment(
        dossier=dossier,
        field_name="volet_2",
        upload=SimpleUploadedFile("volet.png", PNG_BYTES, content_type="image/png"),
        actor=user,
    )
    spec = services.form_spec(dossier)
    attachments = services.attachment_kinds(dossier)
    files = services.attachment_ids_by_field(dossier)
    for page_id, values in [
        ("demande", DEMANDE),
        ("personne", PERSONNE),
        ("demandeur", DEMANDEUR),
        ("pieces", {}),
        ("contact", CONTACT),
    ]:
        dossier.refresh_from_db()
        data = QueryDict(mutable=True)
        for key, value in values.items():
            data[key] = value
        for name, ids in files.items():
            data.setlist(name, ids)
        form = spec.build_form(page_id, dossier.answers, data=data, attachments=attachments)
        if not form.is_valid():
            raise SystemExit(f"bench draft, page {page_id}: {form.errors.as_json()}")
        services.save_page(dossier=dossier, page_id=page_id, page_answers=form.answers, actor=user)
    dossier.refresh_from_db()
    if dossier.current_page:
        raise SystemExit(f"bench draft stopped at {dossier.current_page!r}, not the summary")
    return dossier


def _pending_sign_in() -> str:
    """An anonymous session that asked for a code: what the code page needs to render."""
    from django.contrib.sessions.backends.db import SessionStore

    from guichet.accounts import services
    from guichet.web.accounts_views import SESSION_KEY

    code = services.request_code(
        phone=SIGN_IN_PHONE, address="127.0.0.1", replaces=None, actor="system:bench"
    )
    session = SessionStore()
    session[SESSION_KEY] = {"phone": SIGN_IN_PHONE, "code_id": code.pk, "next": "", "country": "ML"}
    session.create()
    assert session.session_key
    return session.session_key


def prepare_pages() -> dict[str, Any]:
    from guichet.dossiers import services

    user = _citizen("bench-pages", PAGE_PHONE)
    draft = fill_draft(user)
    submitted = fill_draft(user)
    services.submit_dossier(dossier=submitted, token=str(submitted.submission_token), actor=user)
    return {
        "session": _session_for(user),
        "sign_in_session": _pending_sign_in(),
        "draft": draft.reference,
        "submitted": submitted.reference,
        "procedure": PROCEDURE,
    }


def prepare_drafts(count: int, users: int) -> dict[str, Any]:
    """`count` complete drafts, dealt in turn to `users` citizens with a session each."""
    citizens = [_citizen(f"bench-submit-{i}") for i in range(users)]
    sessions = [_session_for(c) for c in citizens]
    drafts = []
    for i in range(count):
        dossier = fill_draft(citizens[i % users])
        drafts.append(
            {
                "reference": dossier.reference,
                "token": str(dossier.submission_token),
                "session": sessions[i % users],
            }
        )
    return {"drafts": drafts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("pages")
    drafts = sub.add_parser("drafts")
    drafts.add_argument("--count", type=int, required=True)
    drafts.add_argument("--users", type=int, default=4)
    args = parser.parse_args()
    _setup()
    _quick_commits()
    if args.command == "pages":
        result = prepare_pages()
    else:
        result = prepare_drafts(max(1, min(args.count, 5000)), max(1, min(args.users, 64)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
