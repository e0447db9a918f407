"""Injection: every payload of payloads.py through every place a person types or names
something, and every place it comes out (pages, PDFs, spreadsheets, SMS, headers).

A sink passes when the payload arrived (its text, escaped, is there) and came out inert
(none of its `danger` strings raw). Tests loop over the payloads inside one test per input
path, because each test pays for the demo catalog once (a few seconds).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree

import openpyxl
import pypdfium2
import pytest
from django import forms
from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.http import HttpResponse, QueryDict
from django.test import Client
from django.utils.html import escape
from pypdf import PdfReader
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate

from conftest import make_staff
from guichet.accounts.tests.inbox import last_code
from guichet.catalog.definition import load_definitions
from guichet.catalog.models import Procedure
from guichet.catalog.services import import_definitions
from guichet.core.models import RateLimitWindow
from guichet.documents import codes
from guichet.dossiers import services as dossier_services
from guichet.dossiers.models import Dossier, Message
from guichet.dossiers.receipts import ReceiptData, render_receipt
from guichet.dossiers.tests.samples import PNG_BYTES
from guichet.formdefs.fields import CommuneField
from guichet.formdefs.references import OTHER_COMMUNE
from guichet.formdefs.spec import FormSpec
from guichet.governance import policy, registers
from guichet.governance.models import AuditEntry
from guichet.notifications import commands, gsm7, ussd
from guichet.notifications.models import InboundSms, Notification
from guichet.privacy.models import RightsRequest
from guichet.web.tests.payloads import BY_NAME, PAYLOADS, Payload
from guichet.web.tests.staff import verified_login
from guichet.workflow.exports import build_export
from guichet.workflow.models import Annotation, Export, ExportStatus

pytestmark = pytest.mark.django_db

BIRTH_EXTRACT = "ml-extrait-acte-naissance"
COMPANY = "bf-creation-entreprise"


@pytest.fixture
def catalog(demo_organisation):
    """The two demo forms under test and the passport sheet (for the assistant): importing
    three procedures instead of the 45 saves seconds per test."""
    names = ("ml/" + BIRTH_EXTRACT, "bf/" + COMPANY, "ml/ml-passeport")
    paths = [Path(settings.DEMO_PROCEDURES_DIR) / f"{name}.yaml" for name in names]
    import_definitions(definitions=load_definitions(paths), actor="test")


# --- Checking a sink ---------------------------------------------------------------------------

_LINES = re.compile(r"\r\n|\r|\n")


def shown_part(value: str) -> str:
    """The longest line of `value`, trimmed: what any page shows of it (linebreaksbr turns
    the line ends into <br>, fields trim)."""
    longest = max(_LINES.split(value), key=len).strip()
    return longest[:300]


def html_problems(html: str, payload: Payload, values: list[str], where: str) -> list[str]:
    """What is wrong with a page that should show `values` (what was stored from the
    payload) escaped: a value missing (the test would prove nothing) or a danger raw."""
    problems = []
    for value in values:
        part = escape(shown_part(value))
        if part and part not in html:
            problems.append(f"{where}: {payload.name}: {part[:80]!r} not shown")
    for danger in payload.danger:
        if danger in html:
            problems.append(f"{where}: {payload.name}: raw {danger!r}")
    for link in re.findall(r"""(?:href|src|action)\s*=\s*["']?\s*([^"'\s>]*)""", html, re.I):
        # `data:,` is the page's own empty icon.
        if link.lower().startswith(("javascript:", "data:", "vbscript:")) and link != "data:,":
            problems.append(f"{where}: {payload.name}: link to {link[:40]!r}")
    return problems


def is_refused_whole(response: Any) -> bool:
    """Refused before any view (web/middleware.py: a NUL character)."""
    return bool(response.status_code == 400) and str(response["Content-Type"]).startswith(
        ("text/plain", "application/json")
    )


def stored_nul() -> list[str]:
    """Every text stored with a NUL character, in any table: PostgreSQL refuses them (the
    request that tried would have ended in a server error)."""
    found = []
    for model in apps.get_models():
        fields = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        for row in model._default_manager.values_list("pk", *fields):
            for name, value in zip(fields, row[1:], strict=True):
                if any("\x00" in text for text in _strings(value)):
                    found.append(f"{model.__name__}.{name} (pk {row[0]}) holds a NUL")
    return found


def forget_limits() -> None:
    """Rate limits are not under test here: one person sends forty dossiers in a row."""
    RateLimitWindow.objects.all().delete()


# --- Filling a demo form with a payload ------------------------------------------------------

VALID: dict[str, dict[str, dict[str, str]]] = {
    # "tiers": the applicant files for someone else, so the page about them and the
    # free-text link to that person are asked too.
    BIRTH_EXTRACT: {
        "demande": {"objet": "extrait", "pour": "tiers"},
        "personne": {
            "nom": "Traoré",
            "prenoms": "Awa",
            "date_naissance_0": "12",
            "date_naissance_1": "3",
            "date_naissance_2": "2019",
            "region_naissance": "bamako",
            "commune_naissance_0": "bamako-commune-3",
        },
        "demandeur": {
            "demandeur_nom": "Traoré",
            "demandeur_prenoms": "Moussa",
            "lien_tiers": "Oncle",
        },
        "pieces": {},
        "contact": {"telephone": "+22370123456"},
    },
    # A company with partners: a repeatable group.
    COMPANY: {
        "forme": {"forme_juridique": "societe"},
        "promoteur": {"nom": "Ouédraogo", "prenoms": "Salif", "nationalite": "ML"},
        "entreprise": {
            "denomination": "Ets Salif",
            "activite": "Commerce général",
            "region_siege": "centre",
            "commune_siege_0": "ouagadougou",
            "adresse_siege": "Secteur 15",
            "capital": "1000000",
        },
        "associes": {
            "associes-count": "1",
            "associes-0-nom": "Ouédraogo",
            "associes-0-prenoms": "Salif",
            "associes-0-nationalite": "ML",
        },
        "pieces": {},
        "contact": {"telephone": "+22670123456"},
    },
}
FILE_FIELD = {BIRTH_EXTRACT: "volet_2", COMPANY: "documents_joints"}


def text_inputs(form: forms.Form) -> dict[str, dict[str, str]]:
    """Every input of a page where a person types free text, with what must go with it:
    plain text fields (group items included) and the name of a commune missing from the
    list (its select then says "other")."""
    found: dict[str, dict[str, str]] = {}
    for name, field in form.fields.items():
        if type(field) is forms.CharField:
            found[name] = {}
        elif isinstance(field, CommuneField):
            found[f"{name}_1"] = {f"{name}_0": OTHER_COMMUNE}
    return found


def hostile_file(payload: Payload) -> SimpleUploadedFile:
    """A real PNG whose name is the payload."""
    return SimpleUploadedFile(f"{payload.text}.png", PNG_BYTES, content_type="image/png")


def _page_id(url: str) -> str | None:
    found = re.search(r"/pages/([\w-]+)/$", url)
    return found.group(1) if found else None


def fill_form(
    client: Client, procedure: str, payload: Payload, problems: list[str]
) -> tuple[Dossier, list[str]]:
    """A draft of `procedure` with `payload` typed in every free-text input that takes it
    (valid answers elsewhere) and uploaded as a file name. Pages that refuse the payload
    must show it back escaped. Returns the dossier and the payload's values it kept."""
    location = client.post(f"/demarches/{procedure}/en-ligne/")["Location"]
    dossier = Dossier.objects.get(reference=location.split("/")[2])
    spec = FormSpec.from_definition(dossier.version.definition)
    while (page_id := _page_id(location)) is not None:
        dossier.refresh_from_db()
        if page_id == "pieces":
            upload = client.post(
                f"{location}fichiers/{FILE_FIELD[procedure]}/", {"file": hostile_file(payload)}
            )
            assert upload.status_code == 302, upload.content.decode()[:500]
        empty = spec.build_form(page_id, dossier.answers, language="fr")
        data = dict(VALID[procedure][page_id])
        for name, extra in text_inputs(empty).items():
            data.update({name: payload.text, **extra})
        response = client.post(location, data)
        if response.status_code == 400:
            html = response.content.decode()
            typed = [] if is_refused_whole(response) else [payload.text]
            problems += html_problems(html, payload, typed, f"{page_id} (refusé)")
            # Keep the valid answer wherever the payload was refused.
            bound = spec.build_form(
                page_id, dossier.answers, data=QueryDict(mutable=True) | data, language="fr"
            )
            bound.is_valid()
            for name in list(bound.errors):
                for key in [k for k in data if k == name or k.startswith(f"{name}_")]:
                    data.pop(key)
                data.update(
                    {k: v for k, v in VALID[procedure][page_id].items() if k.startswith(name)}
                )
            response = client.post(location, data)
        assert response.status_code == 302, (payload.name, page_id, response.content[:3000])
        location = response["Location"]
    dossier.refresh_from_db()
    kept = [v for v in _strings(dossier.answers) if payload.tag in v]
    kept += [a.original_name for a in dossier.attachments.all()]
    return dossier, kept


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def submit(client: Client, dossier: Dossier) -> None:
    summary = client.get(f"/mes-demarches/{dossier.reference}/recapitulatif/").content.decode()
    notice = re.search(r'name="notice" value="(\d+)"', summary)
    assert notice is not None
    response = client.post(
        f"/mes-demarches/{dossier.reference}/deposer/",
        {"token": str(dossier.submission_token), "notice": notice.group(1), "consent": "1"},
    )
    assert response["Location"] == f"/mes-demarches/{dossier.reference}/", response.content[:2000]
    dossier.refresh_from_db()


class Staff:
    """A supervisor of each service a dossier lands in (a supervisor also acts as agent),
    signed in with both factors in a client of its own."""

    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}

    def of(self, dossier: Dossier) -> Client:
        service = str(dossier.service_id)
        if service not in self.clients:
            client = Client()
            verified_login(client, make_staff(f"chef-{service}", ("supervisor", service)))
            self.clients[service] = client
        return self.clients[service]


def decide(staff: Client, dossier: Dossier, to: str, reason: str = "") -> None:
    url = f"/instruction/dossiers/{dossier.reference}/etat/"
    if dossier.status == "submitted":
        assert staff.post(url, {"to": "in_review"}).status_code == 302
    response = staff.post(url, {"to": to, "reason": reason})
    assert response.status_code == 302, response.content.decode()[:2000]
    dossier.refresh_from_db()


def printable(text: str) -> str:
    """What text extraction gives back of a drawn text: no spaces or line breaks (lines
    are wrapped), no invisible characters."""
    return "".join(c for c in text if not c.isspace() and c.isprintable())


def drawn(value: str) -> re.Pattern[str]:
    """`value` as found in a PDF's text. DejaVu has no glyph beyond the BMP (emoji,
    mathematical letters): ReportLab draws a blank box and its text map garbles them,
    so each such character matches any one or two characters."""
    pieces = re.split(r"[\U00010000-\U0010ffff]", printable(value))
    return re.compile(".{0,2}".join(re.escape(piece) for piece in pieces))


def pdf_problems(content: bytes, payload: Payload, values: list[str], where: str) -> list[str]:
    """A PDF should draw `values` as plain text: no markup read (ReportLab's <font>, <a>),
    no PDF syntax broken out of its string, no link or script added."""
    problems = []
    reader = PdfReader(io.BytesIO(content))
    document = pypdfium2.PdfDocument(content)  # reads text ten times faster than pypdf
    try:
        text = printable("".join(page.get_textpage().get_text_range() for page in document))
    finally:
        document.close()
    for value in values:
        if printable(value) and not drawn(shown_part(value)).search(text):
            problems.append(f"{where}: {payload.name}: {value[:60]!r} not drawn as text")
    root = reader.root_object
    for key in ("/OpenAction", "/AA", "/Names", "/AcroForm"):
        if key in root:
            problems.append(f"{where}: {payload.name}: the document has {key}")
    for page in reader.pages:
        if "/Annots" in page:
            problems.append(f"{where}: {payload.name}: a page has links or annotations")
    return problems


@pytest.mark.parametrize("procedure", [BIRTH_EXTRACT, COMPANY])
def test_form_answers_and_file_names_come_out_escaped(client, citizen, catalog, procedure):
    """Every payload in every free-text answer of a real demo form (a repeatable group's
    too) and as a file name: the summary, the citizen's dossier page, the queue, the
    back-office dossier page, the receipt and the issued document show them inert."""
    client.force_login(citizen)
    staff = Staff()
    problems: list[str] = []
    for payload in PAYLOADS:
        forget_limits()
        dossier, kept = fill_form(client, procedure, payload, problems)
        files = [a.original_name for a in dossier.attachments.all()]
        summary = client.get(f"/mes-demarches/{dossier.reference}/recapitulatif/")
        problems += html_problems(summary.content.decode(), payload, kept, "récapitulatif")
        submit(client, dossier)
        page = client.get(f"/mes-demarches/{dossier.reference}/").content.decode()
        problems += html_problems(page, payload, files, "page du dossier")
        receipt = client.get(f"/mes-demarches/{dossier.reference}/recepisse.pdf").content
        problems += pdf_problems(receipt, payload, files, "récépissé")

        agent = staff.of(dossier)
        queue = agent.get(f"/instruction/services/{dossier.service_id}/").content.decode()
        problems += html_problems(queue, payload, [dossier.applicant_name], "file")
        found = agent.get(f"/instruction/services/{dossier.service_id}/", {"q": payload.text})
        problems += html_problems(found.content.decode(), payload, [], "file (recherche)")
        back = agent.get(f"/instruction/dossiers/{dossier.reference}/").content.decode()
        problems += html_problems(back, payload, kept, "instruction")

        decide(agent, dossier, "accepted")
        (document,) = dossier.documents.all()
        claims = codes.decode(document.code)[0]
        shown = [v for v in (claims.holder, *(v for _, v in claims.fields)) if payload.tag in v]
        pdf = client.get(f"/mes-demarches/{dossier.reference}/documents/{document.number}.pdf")
        problems += pdf_problems(b"".join(pdf.streaming_content), payload, shown, "document")
        verified = Client().get(f"/V/{document.code}").content.decode()
        problems += html_problems(verified, payload, shown, "vérification")
    problems += stored_nul()
    assert not problems, "\n".join(problems)


# --- Messages, requests, notes, reasons ----------------------------------------------------------


def submitted_dossier(citizen: Any) -> Dossier:
    """A birth-extract dossier submitted through the services (the form is tested above)."""
    from conftest import BIRTH_EXTRACT_ANSWERS

    procedure = Procedure.objects.get(pk=BIRTH_EXTRACT)
    dossier = dossier_services.start_dossier(procedure=procedure, actor=citizen)
    file = dossier_services.add_attachment(
        dossier=dossier,
        field_name="volet_2",
        upload=SimpleUploadedFile("volet.png", PNG_BYTES),
        actor=citizen,
    )
    dossier.answers = {**BIRTH_EXTRACT_ANSWERS, "volet_2": [str(file.pk)]}
    dossier.save(update_fields=["answers"])
    return dossier_services.submit_dossier(
        dossier=dossier, token=str(dossier.submission_token), actor=citizen
    )


def post_text(
    client: Client, url: str, data: dict[str, Any], payload: Payload, where: str
) -> tuple[bool, list[str]]:
    """POST a payload; a refusal must show the typed text back inert. (taken, problems)"""
    response = client.post(url, data)
    if response.status_code == 302:
        return True, []
    assert response.status_code == 400, (where, payload.name, response.status_code)
    return False, html_problems(response.content.decode(), payload, [], f"{where} (refusé)")


def test_messages_requests_notes_and_reasons_come_out_escaped(client, citizen, catalog):
    """The agent asks for a correction, both sides write messages (with a hostile file
    name), the agent writes a note and refuses with a reason, then cancels the refusal
    letter with another: every text shows inert on both dossier pages, in the refusal
    letter and on the verification page, and no SMS carries any of it."""
    client.force_login(citizen)
    staff = Staff()
    problems: list[str] = []
    for payload in PAYLOADS:
        forget_limits()
        dossier = submitted_dossier(citizen)
        agent = staff.of(dossier)
        base = f"/instruction/dossiers/{dossier.reference}/"
        mine = f"/mes-demarches/{dossier.reference}/"
        text = payload.text
        shown: list[str] = []  # what the citizen's page must show
        noted: list[str] = []  # what only the back office shows
        assert agent.post(base + "etat/", {"to": "in_review"}).status_code == 302

        asked = {"fields": ["nom"], "message": text}
        taken, found = post_text(agent, base + "complement/", asked, payload, "complément")
        problems += found
        if not taken:
            agent.post(base + "complement/", {**asked, "message": "Le nom est mal écrit."})
        shown += [text] if taken else []

        upload = SimpleUploadedFile(f"{text}.png", PNG_BYTES, content_type="image/png")
        said = {"body": text, "file": upload}
        taken, found = post_text(client, mine + "messages/", said, payload, "message du citoyen")
        problems += found
        if not taken:
            upload.seek(0)
            client.post(mine + "messages/", {"body": "Voici le volet.", "file": upload})
        shown += [text] if taken else []
        shown += [m.attachment.original_name for m in dossier.messages.exclude(attachment=None)]
        dossier.refresh_from_db()
        resent = client.post(mine + "renvoyer/", {"token": str(dossier.submission_token)})
        assert resent.status_code == 302

        taken, found = post_text(agent, base + "messages/", {"body": text}, payload, "message")
        problems += found
        shown += [text] if taken else []
        taken, found = post_text(agent, base + "notes/", {"body": text}, payload, "note")
        problems += found
        noted += [text] if taken else []

        refusal = {"to": "rejected", "reason": text}
        taken, found = post_text(agent, base + "etat/", refusal, payload, "refus")
        problems += found
        if not taken:
            agent.post(base + "etat/", {**refusal, "reason": "Acte introuvable au registre."})
        shown += [text] if taken else []
        dossier.refresh_from_db()
        (letter,) = dossier.documents.all()
        pdf = client.get(f"{mine}documents/{letter.number}.pdf")
        problems += pdf_problems(
            b"".join(pdf.streaming_content), payload, [text] if taken else [], "lettre de refus"
        )
        cancel = f"{base}documents/{letter.number}/annuler/"
        taken, found = post_text(agent, cancel, {"reason": text}, payload, "annulation")
        problems += found
        noted += [text] if taken else []  # staff only: the public check says "cancelled"
        verified = Client().get(f"/V/{letter.code}").content.decode()
        problems += html_problems(verified, payload, [], "vérification")

        page = client.get(mine).content.decode()
        problems += html_problems(page, payload, shown, "page du dossier")
        if payload.tag in page.replace(escape(shown_part(text)), "") and not shown:
            problems.append(f"page du dossier: {payload.name}: a note reached the citizen")
        back = agent.get(base).content.decode()
        problems += html_problems(back, payload, shown + noted, "instruction")
        problems += sms_problems(payload, Notification.objects.filter(object_ref=dossier.reference))
    problems += stored_nul()
    assert not problems, "\n".join(problems)


def sms_problems(payload: Payload, notifications: Any) -> list[str]:
    """An SMS tells the state and the reference, never what someone typed; GSM-7, one SMS."""
    problems = []
    for notification in notifications:
        if notification.channel != Notification.Channel.SMS:
            continue
        if payload.tag in notification.text:
            problems.append(f"SMS: {payload.name}: typed text in {notification.text!r}")
        if not gsm7.fits_one_sms(notification.text):
            problems.append(f"SMS: {payload.name}: not one GSM-7 SMS: {notification.text!r}")
    return problems


# --- The citizen's name, requests on personal data ---------------------------------------------


def test_the_citizen_name_comes_out_escaped(client, citizen, catalog):
    """The name a citizen gives in their profile is printed on the receipt and shown on
    the profile page and in "Mes données"."""
    client.force_login(citizen)
    dossier = submitted_dossier(citizen)
    problems: list[str] = []
    for payload in PAYLOADS:
        taken, found = post_text(
            client, "/mon-compte/", {"display_name": payload.text}, payload, "profil"
        )
        problems += found
        citizen.refresh_from_db()
        name = [citizen.display_name] if taken else []
        profile = client.get("/mon-compte/").content.decode()
        problems += html_problems(profile, payload, name, "profil")
        receipt = client.get(f"/mes-demarches/{dossier.reference}/recepisse.pdf").content
        problems += pdf_problems(receipt, payload, name, "récépissé")
        mine = client.get("/mes-donnees/export/").content.decode()
        problems += html_problems(mine, payload, name, "mes données")
        exported = client.get("/mes-donnees/export.json")
        data = json.loads(exported.content)
        if taken and data["account"]["display_name"] != citizen.display_name:
            problems.append(f"export JSON: {payload.name}: the name is not read back as typed")
    problems += stored_nul()
    assert not problems, "\n".join(problems)


def test_rights_requests_and_their_answers_come_out_escaped(client, citizen, catalog):
    """A request about personal data (rectification), then the service's answer: the
    citizen's page, the staff list and the staff answer page show both inert."""
    client.force_login(citizen)
    dossier = submitted_dossier(citizen)
    agent = Staff().of(dossier)
    problems: list[str] = []
    for payload in PAYLOADS:
        asked = {"kind": "rectification", "dossier": dossier.reference, "text": payload.text}
        taken, found = post_text(client, "/mes-donnees/demandes/", asked, payload, "demande")
        problems += found
        if not taken:
            client.post("/mes-donnees/demandes/", {**asked, "text": "Mon nom est mal écrit."})
        request = RightsRequest.objects.get(status="open")
        shown = [request.text] if taken else []
        listing = agent.get("/instruction/demandes-donnees/").content.decode()
        problems += html_problems(listing, payload, [], "demandes (instruction)")
        url = f"/instruction/demandes-donnees/{request.pk}/"
        problems += html_problems(agent.get(url).content.decode(), payload, shown, "demande")
        answer = {"decision": "refuse", "answer": payload.text}
        taken, found = post_text(agent, url, answer, payload, "réponse")
        problems += found
        if not taken:
            agent.post(url, {**answer, "answer": "Le nom est celui de l'acte."})
        shown += [payload.text] if taken else []
        page = client.get("/mes-donnees/").content.decode()
        problems += html_problems(page, payload, shown, "mes données")
    problems += stored_nul()
    assert not problems, "\n".join(problems)


# --- The assistant, SMS and USSD -----------------------------------------------------------------


def test_questions_to_the_assistant_come_out_escaped(client, catalog):
    """The question box shows the question back inert; the JSON API answers valid JSON
    (an answer or an error) and never runs out of its strings."""
    problems: list[str] = []
    for payload in PAYLOADS:
        forget_limits()
        page = client.get("/question/", {"q": payload.text, "pays": "ML"})
        assert page.status_code in (200, 400), (payload.name, page.status_code)
        typed = [payload.text] if len(payload.text) <= 500 and "\x00" not in payload.text else []
        problems += html_problems(page.content.decode(), payload, typed, "question")
        for response in (
            client.get("/api/assistant/", {"q": payload.text, "pays": "ML"}),
            client.post(
                "/api/assistant/",
                {"q": payload.text, "pays": "ML"},
                content_type="application/json",
            ),
        ):
            assert response.status_code in (200, 400), (payload.name, response.status_code)
            assert response["Content-Type"] == "application/json"
            body = json.loads(response.content)
            if response.status_code == 400 and set(body) != {"erreur"}:
                problems.append(f"API: {payload.name}: error without its message: {body}")
    problems += stored_nul()
    assert not problems, "\n".join(problems)


SENDER = "+22370123456"


def test_sms_commands_answer_plain_gsm7_whatever_is_sent(client, citizen, catalog):
    """What a citizen texts (a command, a reference, a question) never comes back in the
    reply: the reply is GSM-7, fits its SMS, and is the same neutral text for a hostile
    reference as for an unknown one."""
    citizen.phone = SENDER
    citizen.save(update_fields=["phone"])
    problems: list[str] = []
    for payload in PAYLOADS:
        forget_limits()
        for i, text in enumerate(
            (payload.text, f"STATUT {payload.text}", f"QUESTION {payload.text}")
        ):
            response = client.post(
                "/passerelle/sms/entrant/",
                {"from": SENDER, "text": text, "id": f"{payload.tag}{i}"},
            )
            if response.status_code == 400:  # refused whole: nothing stored, no reply
                continue
            assert response.status_code == 200, (payload.name, text, response.status_code)
            reply = response.content.decode()
            problems += sms_reply_problems(payload, reply, parts=2)
            if text.startswith("STATUT") and reply != commands.NOT_FOUND:
                problems.append(f"SMS: {payload.name}: a hostile reference got {reply!r}")
    problems += stored_nul()
    assert not problems, "\n".join(problems)


def sms_reply_problems(payload: Payload, reply: str, *, parts: int) -> list[str]:
    problems = []
    if not gsm7.fits_sms(reply, parts):
        problems.append(f"SMS: {payload.name}: not {parts} GSM-7 SMS: {reply!r}")
    if payload.tag in reply or any(d in reply for d in payload.danger):
        problems.append(f"SMS: {payload.name}: the reply repeats what was sent: {reply!r}")
    if "\r" in reply or "\x00" in reply:
        problems.append(f"SMS: {payload.name}: a control character in {reply!r}")
    return problems


def test_ussd_answers_plain_screens_whatever_is_typed(client, citizen, catalog):
    citizen.phone = SENDER
    citizen.save(update_fields=["phone"])
    problems: list[str] = []
    for payload in PAYLOADS:
        for path in (payload.text, f"1*{payload.text}", f"2*{payload.text}", f"3*{payload.text}"):
            data = {"sessionId": payload.tag, "phoneNumber": SENDER, "text": path}
            response = client.post("/passerelle/ussd/", data)
            if response.status_code == 400:
                continue
            assert response.status_code == 200, (payload.name, path, response.status_code)
            screen = response.content.decode()
            if not screen.startswith(("CON ", "END ")):
                problems.append(f"USSD: {payload.name}: {screen[:60]!r}")
            septets = gsm7.septets(screen)
            if septets is None or septets > ussd.MAX_SCREEN_CHARS:
                problems.append(f"USSD: {payload.name}: screen not GSM-7 or too long")
            if payload.tag in screen:
                problems.append(f"USSD: {payload.name}: the screen repeats what was typed")
    problems += stored_nul()
    assert not problems, "\n".join(problems)


# --- Headers: file names, where to go after signing in --------------------------------------------

_DISPOSITION = re.compile(
    '^(?:attachment|inline); (?:filename="((?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e]|\\\\["\\\\])*)"'
    "|filename\\*=utf-8''([A-Za-z0-9%._~/-]*))$"
)


def header_problems(response: Any, payload: Payload, where: str) -> list[str]:
    problems = []
    for name, value in response.items():
        if any(c in value for c in "\r\n\x00"):
            problems.append(f"{where}: {payload.name}: header {name} split: {value!r}")
    if "pwned" in response.cookies:
        problems.append(f"{where}: {payload.name}: a cookie was set from the payload")
    return problems


def disposition_name(value: str) -> str | None:
    """The file name a browser reads from a Content-Disposition header (None: malformed)."""
    found = _DISPOSITION.match(value)
    if found is None:
        return None
    if found.group(1) is not None:
        return re.sub(r"\\(.)", r"\1", found.group(1))
    return unquote(found.group(2))


def test_file_names_never_break_the_download_headers(client, citizen, catalog):
    """A hostile file name, sent with a message, comes back in Content-Disposition as the
    same (cleaned) name, quoted or percent-encoded, on the citizen's download and the
    staff's preview: never a second header, never a path."""
    client.force_login(citizen)
    dossier = submitted_dossier(citizen)
    agent = Staff().of(dossier)
    problems: list[str] = []
    for payload in PAYLOADS:
        forget_limits()
        upload = SimpleUploadedFile(f"{payload.text}.png", PNG_BYTES, content_type="image/png")
        sent = client.post(f"/mes-demarches/{dossier.reference}/messages/", {"file": upload})
        assert sent.status_code == 302, (payload.name, sent.status_code)
        attachment = dossier.attachments.latest("created_at")
        dossier_services.scan_attachment(attachment_id=str(attachment.pk))
        if any(c in attachment.original_name for c in '/\\"<>\x00\u202e'):
            problems.append(f"nom de fichier: {payload.name}: {attachment.original_name!r}")
        for who, url in (
            ("téléchargement", f"/mes-demarches/{dossier.reference}/fichiers/{attachment.pk}/"),
            ("aperçu", f"/instruction/dossiers/{dossier.reference}/fichiers/{attachment.pk}/"),
        ):
            response = (client if who == "téléchargement" else agent).get(url)
            response.close()
            assert response.status_code == 200, (payload.name, who, response.status_code)
            problems += header_problems(response, payload, who)
            shown = disposition_name(response["Content-Disposition"])
            if shown != attachment.original_name:
                problems.append(f"{who}: {payload.name}: {response['Content-Disposition']!r}")
            if response["X-Content-Type-Options"] != "nosniff":
                problems.append(f"{who}: {payload.name}: no nosniff")
    problems += stored_nul()
    assert not problems, "\n".join(problems)


def test_where_to_go_after_signing_in_never_splits_a_header(
    client, citizen, catalog, django_capture_on_commit_callbacks
):
    """`next` comes back in a hidden field (escaped) and, after the code, in Location:
    on this site, with no line break, whatever was asked."""
    problems: list[str] = []
    for payload in PAYLOADS:
        forget_limits()
        browser = Client()
        for wanted in (payload.text, "/mes-demarches/" + payload.text):
            page = browser.get("/connexion/", {"next": wanted})
            if is_refused_whole(page):
                continue
            assert page.status_code == 200, (payload.name, page.status_code)
            problems += html_problems(page.content.decode(), payload, [], "connexion")
            with django_capture_on_commit_callbacks(execute=True):
                asked = browser.post(
                    "/connexion/", {"phone": "70 12 34 56", "country": "ML", "next": wanted}
                )
            problems += header_problems(asked, payload, "connexion")
            entered = browser.post("/connexion/code/", {"code": last_code()})
            assert entered.status_code == 302, (payload.name, entered.status_code)
            problems += header_problems(entered, payload, "code")
            target = urlsplit(entered["Location"])
            if target.scheme or target.netloc or not target.path.startswith("/"):
                problems.append(f"code: {payload.name}: sent to {entered['Location']!r}")
            browser.post("/deconnexion/")
            forget_limits()
    problems += stored_nul()
    assert not problems, "\n".join(problems)


def test_the_purpose_of_a_reading_stays_one_line_and_next_stays_on_the_dossier(
    client, citizen, catalog
):
    """An auditor types why they read a dossier: the audit log keeps it on one printable
    line (no forged log line, ASVS 7.3.1), a refused one comes back inert, and the form's
    `next` never leaves the dossier."""
    client.force_login(citizen)
    dossier = submitted_dossier(citizen)
    auditor = Client()
    authority = dossier.service.authority_id
    verified_login(auditor, make_staff("auditeur", ("auditor", authority)))
    page = f"/instruction/dossiers/{dossier.reference}/"
    problems: list[str] = []
    for payload in PAYLOADS:
        asked = auditor.get(page, {"next": page + payload.text})
        problems += html_problems(asked.content.decode(), payload, [], "motif")
        given = auditor.post(
            page + "motif/",
            {"purpose": "other", "detail": payload.text, "next": page + payload.text},
        )
        problems += header_problems(given, payload, "motif")
        if given.status_code == 400:
            problems += html_problems(given.content.decode(), payload, [], "motif (refusé)")
            continue
        assert given.status_code == 302, (payload.name, given.status_code)
        if not given["Location"].startswith(page):
            problems.append(f"motif: {payload.name}: sent to {given['Location']!r}")
        assert auditor.get(page).status_code == 200
        kept = AuditEntry.objects.filter(action="dossier.viewed").latest("seq").purpose
        if not kept.isprintable() or payload.tag not in kept:
            problems.append(f"journal: {payload.name}: purpose kept as {kept!r}")
    problems += stored_nul()
    assert not problems, "\n".join(problems)


# --- Spreadsheets: the queue exports and the register of processing activities -----------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell_problems(cell: Any, payload: Payload | None, where: str) -> list[str]:
    """A text cell a spreadsheet would run as a formula is the hole (CSV injection)."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return [f"{where}: {payload.name if payload else ''}: formula cell {cell[:40]!r}"]
    return []


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def xlsx_rows(content: bytes) -> tuple[list[list[Any]], list[str]]:
    """The values, and the cells openpyxl reads as formulas."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = book.worksheets[0]
    formulas = [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    book.close()
    return rows, formulas


def ods_rows(content: bytes) -> tuple[list[list[str]], bool]:
    """The text of each cell, and whether any cell carries a formula."""
    with zipfile.ZipFile(io.BytesIO(content)) as ods:
        xml = ods.read("content.xml").decode("utf-8")
    namespaces = {
        "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
        "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    }
    root = ElementTree.fromstring(xml)  # noqa: S314 - the file this test just had built
    rows = [
        ["".join(p.itertext()) for p in row.iterfind(".//text:p", namespaces)]
        for row in root.iterfind(".//table:table-row", namespaces)
    ]
    return rows, "table:formula" in xml


def test_queue_exports_never_hold_a_formula(client, citizen, catalog):
    """Applicants named with every payload, the queue exported in CSV, XLSX and ODS by a
    supervisor: each name is in its row, and no cell starts a formula."""
    dossiers = {}
    for payload in PAYLOADS:
        forget_limits()
        dossier = submitted_dossier(citizen)
        # Any name, even one the forms refuse (the exports trust neither forms nor profiles);
        # but no NUL, which no request brings in (RejectNulMiddleware) and PostgreSQL refuses.
        name = payload.text.replace("\x00", "")[:300]
        Dossier.objects.filter(pk=dossier.pk).update(applicant_name=name)
        dossiers[dossier.reference] = payload
    supervisor = Staff().of(dossier)
    service = dossier.service_id
    problems: list[str] = []
    for format in ("csv", "xlsx", "ods"):
        url = f"/instruction/services/{service}/exports/"
        assert supervisor.post(url, {"format": format}).status_code == 302
        export = Export.objects.latest("pk")
        assert build_export(export.pk) == ExportStatus.READY, export.error
        response = supervisor.get(f"/instruction/exports/{export.pk}/")
        content = response.getvalue()
        response.close()
        if format == "csv":
            rows = csv_rows(content)
        elif format == "xlsx":
            rows, formulas = xlsx_rows(content)
            problems += [f"xlsx: formula cell {c}" for c in formulas]
        else:
            rows, has_formula = ods_rows(content)
            problems += ["ods: a formula cell"] if has_formula else []
        by_reference = {row[0]: row for row in rows[1:]}
        assert set(by_reference) == set(dossiers), format
        for reference, payload in dossiers.items():
            row = by_reference[reference]
            if payload.tag not in str(row[7]):
                problems.append(f"{format}: {payload.name}: name missing: {row[7]!r}")
            for cell in row:
                problems += cell_problems(cell, payload, format)
    assert not problems, "\n".join(problems)


def test_register_exports_never_hold_a_formula():
    """Every text of a processing activity (typed by procedure administrators) through
    the register's CSV and ODS."""
    problems: list[str] = []
    for payload in PAYLOADS:
        text = payload.text
        activity = registers.Activity(
            procedure_id="ml-x",
            country="ML",
            title=text,
            controller=text,
            service=text,
            version=1,
            is_online=True,
            purpose=text,
            legal_basis=text,
            legal_basis_text=text,
            data=(text,),
            sensitive=(text,),
            people=(text,),
            recipients=(text,),
            processors=(text,),
            transfers=(text,),
            retention=policy.policy_for({}).retention,
            sealed=(text,),
        )
        rows = registers.declaration_rows([activity])
        for format, writer in registers.WRITERS.items():
            out = io.BytesIO()
            writer(out, rows)
            if format == "csv":
                found = csv_rows(out.getvalue())
            else:
                found, has_formula = ods_rows(out.getvalue())
                problems += [f"ods: {payload.name}: a formula cell"] if has_formula else []
            (row,) = found[1:]
            if sum(payload.tag in cell for cell in row) < 10:
                problems.append(f"{format}: {payload.name}: the texts are not in the row")
            for cell in row:
                problems += cell_problems(cell, payload, f"registre {format}")
    assert not problems, "\n".join(problems)


# --- SQL, and what pages reflect ----------------------------------------------------------------


def test_sql_in_searches_is_only_text(client, citizen, catalog):
    """A queue search or a catalog search with SQL finds what contains that text, nothing
    more: `' OR 1=1 --` does not list every dossier, `DROP TABLE` drops nothing."""
    client.force_login(citizen)
    named = submitted_dossier(citizen)
    Dossier.objects.filter(pk=named.pk).update(search_text="awa traore p14' or 1=1 --")
    others = [submitted_dossier(citizen) for _ in range(2)]
    agent = Staff().of(named)
    queue = f"/instruction/services/{named.service_id}/"
    problems: list[str] = []
    for payload in PAYLOADS:
        if "sql" not in payload.kinds:
            continue
        found = agent.get(queue, {"q": payload.text})
        assert found.status_code == 200, payload.name
        listed = {d.reference for d in [named, *others] if d.reference in found.content.decode()}
        expected = {named.reference} if payload.tag == "p14" else set()
        if listed != expected:
            problems.append(f"file: {payload.name}: lists {sorted(listed)}")
        catalog_page = client.get("/demarches/", {"q": payload.text}).content.decode()
        every = all(f"/demarches/{p}/" in catalog_page for p in (BIRTH_EXTRACT, COMPANY))
        if payload.tag == "p14" and every:
            problems.append(f"catalogue: {payload.name}: the search matched everything")
    assert Dossier.objects.count() == 3 and Procedure.objects.count() == 3
    assert not problems, "\n".join(problems)


def _reflected_urls(dossier: Dossier, text: str) -> list[tuple[str, str, dict[str, str]]]:
    """(who, url, params): the pages that show back what is in their address."""
    queue = f"/instruction/services/{dossier.service_id}/"
    params = ("q", "statut", "demarche", "attribution", "tri", "page", "retard")
    return [
        ("public", "/demarches/", {"q": text, "pays": text, "theme": text}),
        ("public", f"/demarches/{BIRTH_EXTRACT}/", {"q": text}),
        ("public", "/question/", {"q": text, "pays": text}),
        ("public", "/verifier/", {"code": text}),
        ("public", "/V/" + quote(text, safe=""), {}),
        ("public", "/connexion/", {"next": text}),
        ("public", "/instruction/connexion/", {"next": text}),
        ("citizen", "/mes-demarches/", {"q": text}),
        ("citizen", "/mes-demarches/" + quote(text, safe="") + "/", {}),
        ("staff", queue, dict.fromkeys(params, text)),
        ("staff", queue + "exports/", dict.fromkeys(params, text)),
        ("staff", queue + "charge/", {"q": text}),
        ("staff", f"/instruction/dossiers/{dossier.reference}/", {"next": text}),
        ("staff", "/instruction/dossiers/" + quote(text, safe="") + "/", {}),
        ("staff", "/instruction/demarches/", {"q": text}),
    ]


def test_what_an_address_carries_comes_back_inert(client, citizen, catalog):
    """Every parameter of the pages that read their address, and the ids in the address
    itself, set to each payload: never a server error, never a raw payload, never a
    split header."""
    client.force_login(citizen)
    dossier = submitted_dossier(citizen)
    clients = {"public": Client(), "citizen": client, "staff": Staff().of(dossier)}
    problems: list[str] = []
    for payload in PAYLOADS:
        forget_limits()
        for who, url, params in _reflected_urls(dossier, payload.text):
            response = clients[who].get(url, params)
            where = f"{url} ({who})"
            if response.status_code >= 500:
                problems.append(f"{where}: {payload.name}: {response.status_code}")
                continue
            problems += header_problems(response, payload, where)
            if response["Content-Type"].startswith("text/html"):
                problems += html_problems(response.content.decode(), payload, [], where)
    problems += stored_nul()
    assert not problems, "\n".join(problems)


def test_a_nul_character_is_refused_before_any_view(client, citizen, catalog):
    """PostgreSQL cannot store a NUL (a server error there): refused whole, nothing kept,
    whether it comes in a form, a search, a gateway's call or the address."""
    client.force_login(citizen)
    dossier = submitted_dossier(citizen)
    agent = Staff().of(dossier)
    mine = f"/mes-demarches/{dossier.reference}/"
    base = f"/instruction/dossiers/{dossier.reference}/"
    before = Message.objects.count(), Annotation.objects.count(), InboundSms.objects.count()
    for who, method, url, data in [
        (client, "post", mine + "messages/", {"body": "Bonjour\x00"}),
        (agent, "post", base + "notes/", {"body": "Note\x00"}),
        (agent, "post", base + "etat/", {"to": "in_review", "reason": "\x00"}),
        (agent, "get", f"/instruction/services/{dossier.service_id}/", {"q": "a\x00"}),
        (client, "get", "/mes-demarches/ML-\x00/", {}),
        (client, "post", "/passerelle/sms/entrant/", {"from": SENDER, "text": "STATUT\x00"}),
        (client, "post", "/passerelle/ussd/", {"phoneNumber": SENDER, "text": "1*\x00"}),
    ]:
        response = getattr(who, method)(url, data)
        assert response.status_code == 400, (url, response.status_code)
        assert "caractère nul" in response.content.decode()
    api = client.get("/api/assistant/", {"q": "passeport\x00"})
    assert api.status_code == 400 and json.loads(api.content) == {
        "erreur": "Requête refusée : elle contient un caractère nul."
    }
    after = Message.objects.count(), Annotation.objects.count(), InboundSms.objects.count()
    assert after == before
    dossier.refresh_from_db()
    assert dossier.status == "submitted"
    assert stored_nul() == []


# --- Every form of every page -------------------------------------------------------------------


@dataclass
class FormFound:
    method: str
    action: str
    fields: dict[str, str]
    """Name → input type (`text`, `hidden`, `file`, `select`, `textarea`…)."""


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[FormFound] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            method = (found.get("method") or "get").lower()
            self.forms.append(FormFound(method, found.get("action") or "", {}))
        elif tag in ("input", "select", "textarea", "button") and self.forms:
            name, kind = found.get("name"), found.get("type") or tag
            if name and name != "csrfmiddlewaretoken":
                self.forms[-1].fields.setdefault(name, kind)


def forms_of(html: str) -> list[FormFound]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


FUZZ_PAYLOADS = [
    p for p in PAYLOADS if p.tag in ("p01", "p04", "p08", "p13", "p18", "p22", "p24", "p33", "p37")
] + [p for p in PAYLOADS if "number" in p.kinds]
"""One of each kind: every form times every payload would take minutes."""


def test_every_form_of_every_page_takes_any_value(client, citizen, catalog):
    """Whatever the fields of the forms on the citizen's, the public and the staff pages
    (hidden ones included) are set to, the answer is never a server error, never a
    split header, and shows nothing raw."""
    client.force_login(citizen)
    dossier = submitted_dossier(citizen)
    draft = dossier_services.start_dossier(procedure=dossier.procedure, actor=citizen)
    Dossier.objects.filter(pk=draft.pk).update(answers={"objet": "extrait", "pour": "moi"})

    def with_a_file() -> None:
        """A file to remove (the form that removes one is fuzzed too)."""
        if not draft.attachments.exists():
            dossier_services.add_attachment(
                dossier=draft,
                field_name="volet_2",
                upload=SimpleUploadedFile("volet.png", PNG_BYTES),
                actor=citizen,
            )

    mine, theirs = f"/mes-demarches/{dossier.reference}/", f"/mes-demarches/{draft.reference}/"
    staff = Staff().of(dossier)
    queue = f"/instruction/services/{dossier.service_id}/"
    pages = [
        (Client(), ["/connexion/", "/instruction/connexion/", "/verifier/", "/question/"]),
        (
            client,
            [
                "/demarches/",
                "/mes-demarches/",
                mine,
                theirs + "pages/demande/",
                theirs + "pages/personne/",
                theirs + "pages/pieces/",
                theirs + "recapitulatif/",
                "/mon-compte/",
                "/mes-donnees/",
            ],
        ),
        (
            staff,
            [
                "/instruction/",
                queue,
                queue + "exports/",
                f"/instruction/dossiers/{dossier.reference}/",
                "/instruction/demandes-donnees/",
            ],
        ),
    ]
    problems: list[str] = []
    tried = 0
    for browser, urls in pages:
        for url, payload in itertools.product(urls, FUZZ_PAYLOADS):
            forget_limits()
            with_a_file()
            for form in forms_of(browser.get(url).content.decode()):
                if "deconnexion" in form.action or not form.fields:
                    continue  # signing out, or a button alone: nothing to type
                data: dict[str, Any] = {
                    name: hostile_file(payload) if kind == "file" else payload.text
                    for name, kind in form.fields.items()
                }
                target = form.action or url
                if form.method == "post":
                    response = browser.post(target, data)
                else:
                    response = browser.get(target, data)
                tried += 1
                where = f"{url} → {form.method.upper()} {target}"
                if response.status_code >= 500:
                    problems.append(f"{where}: {payload.name}: {response.status_code}")
                    continue
                problems += header_problems(response, payload, where)
                if response["Content-Type"].startswith("text/html"):
                    problems += html_problems(response.content.decode(), payload, [], where)
    assert tried > 200, tried  # the pages did have forms
    problems += stored_nul()
    assert not problems, "\n".join(problems)


# --- The checks themselves ------------------------------------------------------------------------


def test_the_checks_catch_what_they_look_for():
    """Each checker fails on the output it exists to catch, so a green run means something:
    a payload left raw in a page, a page that dropped it, markup ReportLab obeyed, a
    formula cell, a header split or a name mangled in Content-Disposition."""
    script, attribute = BY_NAME["p01-script"], BY_NAME["p04-attr-double"]
    assert html_problems(f"<p>{script.text}</p>", script, [script.text], "x")
    assert html_problems(f'<input value="{attribute.text}">', attribute, [], "x")
    assert html_problems("<p>rien</p>", script, [script.text], "x")  # never arrived
    assert html_problems('<a href="javascript:alert(1)">x</a>', script, [], "x")
    assert not html_problems(f"<p>{escape(script.text)}</p>", script, [script.text], "x")

    markup = BY_NAME["p35-reportlab-markup"]
    obeyed = io.BytesIO()  # what Paragraph does with the text: reads the tags
    document = SimpleDocTemplate(obeyed)
    document.build([Paragraph(markup.text, getSampleStyleSheet()["Normal"])])
    assert pdf_problems(obeyed.getvalue(), markup, [markup.text], "x")
    assert len(pdf_problems(obeyed.getvalue(), markup, [], "x")) == 1  # the <a> link
    drawn_as_text = render_receipt(
        ReceiptData(
            reference="ML-TEST-0000",
            procedure_title=markup.text,
            authority="Mairie",
            country="Mali",
            submitted_at=datetime(2026, 1, 1, tzinfo=UTC),
            applicant="Awa",
            documents=[],
            site_name="Guichet",
            follow_url="http://localhost/",
        )
    )
    assert not pdf_problems(drawn_as_text, markup, [markup.text], "x")

    assert cell_problems("=1+1", None, "x") and cell_problems("\t=1", None, "x")
    assert not cell_problems("'=1+1", None, "x")

    split = HttpResponse()
    split.headers._store["x-test"] = ("X-Test", "a\r\nSet-Cookie: pwned=1")
    assert header_problems(split, script, "x")
    assert disposition_name('attachment; filename="a.png"') == "a.png"
    assert disposition_name("attachment; filename*=utf-8''%C3%A9t%C3%A9.png") == "été.png"
    assert disposition_name('attachment; filename="a.png"\r\nSet-Cookie: x') is None
    assert disposition_name('attachment; filename="a"b.png"') is None
