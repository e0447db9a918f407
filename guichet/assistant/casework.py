"""Help for the agent who instructs a dossier: which required documents seem to be there,
and the dossier in a few lines. Advice only: both read what is stored and write nothing,
and a test (tests/test_advisory_only.py) keeps any move of a dossier out of this app.

The checklist compares the procedure's `documents` with the files: the form field a file
was given for (when the field names the document, or its label says the same thing), the
file's name and the text OCR read in it. Words are compared as the catalog search compares
them (accents, elisions, stems: `catalog.search`), with some tolerance for OCR's typos.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rapidfuzz import fuzz, process

from guichet.assistant.models import ReadingStatus
from guichet.catalog.search import load_lexicon, stem, words
from guichet.catalog.texts import pick
from guichet.dossiers.models import (
    MESSAGE_FIELD,
    Attachment,
    Dossier,
    DossierStatus,
    InformationRequest,
    Message,
    ScanStatus,
)
from guichet.formdefs.conditions import evaluate, is_empty
from guichet.formdefs.spec import FieldSpec, FormSpec

MATCH_SHARE = 0.6
"""Share of a document's key words a file must show (in its text, name or field label)."""
OCR_WORD_SIMILARITY = 85
"""rapidfuzz ratio from which a word OCR read counts as the word sought ("naissanee")."""
MIN_FUZZY_LENGTH = 5
KEY_ANSWERS = 4
QUOTE_CHARS = 160

# Words that say what kind of paper a file is, not which document: "Copie certifiée
# conforme du diplôme" is found by "diplôme". Folded, before stemming.
_GENERIC = {
    "copie", "copies", "photocopie", "certifiee", "certifie", "conforme", "original",
    "originale", "legalisee", "legalise", "document", "fichier", "scan", "photo", "img",
    "image", "pdf", "jpg", "jpeg", "png",
}  # fmt: skip
_PARENTHESES = re.compile(r"\([^)]*\)")
_ALTERNATIVES = re.compile(r"\s+ou\s+|;")
_TOKEN = re.compile(r"\w+")
_PREFIX = re.compile(r"^[^:]{1,30}:\s")  # "Adulte : carte d'identité…", "Le cas échéant : …"


class Presence(StrEnum):
    PRESENT = "present"
    MISSING = "missing"
    NOT_ASKED = "not_asked"
    """The form asks for it only in other cases (its field is hidden by the answers)."""


@dataclass(frozen=True)
class ChecklistItem:
    document: str
    """As the procedure lists it, in the page's language."""
    presence: Presence
    reason: str
    """Why, in French: which file, and what matched (or that nothing did)."""
    files: tuple[str, ...] = ()
    """Names of the files that seem to be this document."""

    @property
    def seems_present(self) -> bool:
        return self.presence == Presence.PRESENT


# --- Words --------------------------------------------------------------------------------------


@cache
def _stopwords() -> frozenset[str]:
    return load_lexicon().stopwords | _GENERIC


def _keys(text: str) -> list[str]:
    """Stems of the words that tell documents apart, in order, without repeats."""
    stopwords = _stopwords()
    found = [stem(w) for w in words(text) if w not in stopwords and (len(w) > 1 or w.isdigit())]
    return list(dict.fromkeys(found))


def _alternatives(document: str) -> list[list[str]]:
    """Key words of each alternative the document allows ("extrait de naissance ou
    certificat de nationalité"); what is in parentheses qualifies, it is not on the paper."""
    text = _PREFIX.sub("", _PARENTHESES.sub(" ", document).strip())
    alternatives = [_keys(part) for part in _ALTERNATIVES.split(text)]
    return [keys for keys in alternatives if keys] or [_keys(document)]


def _found_in(keys: list[str], source: set[str], *, fuzzy: bool = False) -> list[str]:
    return [key for key in keys if key in source or (fuzzy and _resembles(key, source))]


def _resembles(key: str, source: set[str]) -> bool:
    """A word OCR misread a little ("naissanee" for "naissance"); short words would
    resemble too many others."""
    if len(key) < MIN_FUZZY_LENGTH:
        return False
    close = process.extractOne(key, source, scorer=fuzz.ratio, score_cutoff=OCR_WORD_SIMILARITY)
    return close is not None


def _match(
    document: list[list[str]], source: list[str], *, fuzzy: bool = False, short: bool = False
) -> list[str]:
    """The document's key words the source shows, when they are enough to say it is there.
    `short`: the source is a name or a label, which says less than the document but
    nothing else (every word of "Volet n°2 de la déclaration" is in the document)."""
    source_set = set(source)
    best: list[str] = []
    for keys in document:
        found = _found_in(keys, source_set, fuzzy=fuzzy)
        enough = len(found) >= MATCH_SHARE * len(keys)
        if short and len(source_set) >= 2 and source_set <= set(keys):
            enough = True
        if enough and len(found) > len(best):
            best = found
    return best


# --- Checklist ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _File:
    name: str
    field_label: str
    field_document: int | None
    name_keys: list[str]
    label_keys: list[str]
    text_keys: list[str]


def _field_of(spec: FormSpec, field_id: str) -> FieldSpec | None:
    """The form field a file was given for: `acte`, or `enfants-0-acte` in a group."""
    parts = field_id.split("-")
    try:
        field = spec.field(parts[0])
    except KeyError:
        return None
    return field.child(parts[-1]) if len(parts) == 3 else field


def _files(dossier: Dossier, spec: FormSpec) -> list[_File]:
    files = []
    for attachment in _applicant_files(dossier):
        field = _field_of(spec, attachment.field_id)
        label = pick(field.label, "fr") if field else ""
        reading = getattr(attachment, "reading", None)
        text = reading.text if reading and reading.status == ReadingStatus.DONE else ""
        files.append(
            _File(
                name=attachment.original_name,
                field_label=label,
                field_document=field.file_rules.document if field else None,
                name_keys=_keys(attachment.original_name.rsplit(".", 1)[0]),
                label_keys=_keys(label),
                text_keys=_keys(text),
            )
        )
    return files


def _applicant_files(dossier: Dossier) -> list[Attachment]:
    """Files the applicant gave, with the form or a message, that the antivirus did not
    refuse (uses the dossier's prefetched attachments and readings when there are)."""
    return [
        a
        for a in dossier.attachments.all()
        if a.uploaded_by_id == dossier.applicant_id and a.scan_status != ScanStatus.INFECTED
    ]


@dataclass(frozen=True)
class _Field:
    label: str
    shown: bool
    """Asked for with these answers (its page and its condition hold)."""


def _document_fields(spec: FormSpec, answers: Mapping[str, Any]) -> dict[int, list[_Field]]:
    """The file fields that name each document (`document:` in the form)."""
    effective = spec.effective_answers(answers)
    visible = {page.id for page in spec.visible_pages(answers)}
    found: dict[int, list[_Field]] = {}
    for page in spec.pages:
        for field in page.fields:
            shown = page.id in visible and (
                field.show_if is None or evaluate(field.show_if, effective.get)
            )
            for f in (field, *field.children):
                if f.type == "file" and f.file_rules.document is not None:
                    found.setdefault(f.file_rules.document, []).append(
                        _Field(pick(f.label, "fr"), shown)
                    )
    return found


def checklist(
    dossier: Dossier, language: str | None = None, *, spec: FormSpec | None = None
) -> list[ChecklistItem]:
    """Each document the procedure requires, and whether a file seems to be it."""
    spec = spec or FormSpec.from_definition(dossier.version.definition)
    files = _files(dossier, spec)
    fields = _document_fields(spec, dossier.answers)
    items = []
    for index, document in enumerate(dossier.version.definition.get("documents", [])):
        # The label of a field meant for the document names it as the paper does ("Volet
        # n°2 de la déclaration de naissance"), without the procedure's explanations.
        words_of = " ".join([pick(document, "fr"), *(f.label for f in fields.get(index, []))])
        alternatives = _alternatives(pick(document, "fr")) + [
            keys for f in fields.get(index, []) if (keys := _keys(f.label))
        ]
        reasons, names = [], []
        for file in files:
            reason = _why(index, words_of, alternatives, file)
            if reason:
                reasons.append(reason)
                names.append(file.name)
        if reasons:
            presence = Presence.PRESENT
        elif index in fields and not any(f.shown for f in fields[index]):
            presence = Presence.NOT_ASKED
            reasons.append(_("Le formulaire ne la demande pas pour ces réponses."))
        else:
            presence = Presence.MISSING
            reasons.append(_("Aucun fichier ne semble correspondre."))
        items.append(
            ChecklistItem(pick(document, language), presence, " ".join(reasons), tuple(names))
        )
    return items


def _why(index: int, written: str, alternatives: list[list[str]], file: _File) -> str:
    """Why `file` seems to be the document, or ''. `written`: the document's text and
    labels, to quote the words found as they are written."""
    if file.field_document == index:
        return _("« %(file)s » a été joint au champ « %(field)s », prévu pour cette pièce.") % {
            "file": file.name,
            "field": file.field_label,
        }
    # A field meant for another document does not name this one, whatever its words.
    named_elsewhere = file.field_document is not None
    if (
        not named_elsewhere
        and file.label_keys
        and _match(alternatives, file.label_keys, short=True)
    ):
        return _("« %(file)s » a été joint au champ « %(field)s », dont l'intitulé correspond.") % {
            "file": file.name,
            "field": file.field_label,
        }
    found = _match(alternatives, file.text_keys, fuzzy=True)
    if found:
        return _("Le texte lu dans « %(file)s » contient %(words)s.") % {
            "file": file.name,
            "words": _shown_words(found, written),
        }
    if file.name_keys and _match(alternatives, file.name_keys, short=True):
        return _("Le nom du fichier « %(file)s » correspond.") % {"file": file.name}
    return ""


def _shown_words(found: Iterable[str], written: str) -> str:
    """The matched stems as the document writes them ("naissanc" → "naissance")."""
    spelled: dict[str, str] = {}
    for token in _TOKEN.findall(written):
        for word in words(token):
            spelled.setdefault(stem(word), token)
    return ", ".join(f"« {spelled.get(key, key)} »" for key in found)


# --- Summary ------------------------------------------------------------------------------------


def _date(value: Any) -> str:
    return f"{timezone.localtime(value):%d/%m/%Y}"


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"


def summary(
    dossier: Dossier,
    language: str | None = None,
    *,
    spec: FormSpec | None = None,
    thread: Sequence[Message] | None = None,
    open_request: InformationRequest | None = None,
) -> list[str]:
    """The dossier in a few lines, each one taken from what is stored (nothing written by
    a model): procedure, declared name, dates, state, files, the last exchange, answers.

    `thread`: the dossier's messages, and `open_request`: the request for information it
    waits on, when the caller has read them already (its page has); read here otherwise."""
    definition = dossier.version.definition
    lines = [_("Démarche : %(title)s.") % {"title": pick(definition["title"], language)}]
    if dossier.applicant_name:
        lines.append(_("Nom déclaré : %(name)s.") % {"name": dossier.applicant_name})
    if dossier.submitted_at:
        lines.append(_("Déposé le %(date)s.") % {"date": _date(dossier.submitted_at)})
    lines.append(_("État : %(state)s.") % {"state": dossier.get_status_display()})
    if dossier.due_at:
        lines.append(_("À décider avant le %(date)s.") % {"date": _date(dossier.due_at)})
    attachments = list(dossier.attachments.all())
    form_files = sum(1 for a in attachments if a.field_id != MESSAGE_FIELD)
    files = ngettext(
        "%(n)d fichier joint au formulaire", "%(n)d fichiers joints au formulaire", form_files
    ) % {"n": form_files}
    if message_files := len(attachments) - form_files:
        files += ngettext(
            ", %(n)d envoyé avec les messages", ", %(n)d envoyés avec les messages", message_files
        ) % {"n": message_files}
    lines.append(files + ".")
    if thread is None:
        thread = list(dossier.messages.order_by("-created_at", "-pk")[:1])
    message = max(thread, key=lambda m: (m.created_at, m.pk), default=None)
    # A dossier waiting for its applicant: the request it waits on is the last one.
    if open_request is not None and dossier.status == DossierStatus.INFO_REQUESTED:
        request: InformationRequest | None = open_request
    else:
        request = dossier.info_requests.order_by("-created_at", "-pk").first()
    if request and (message is None or request.created_at >= message.created_at):
        asked = {"date": _date(request.created_at), "text": _quote(request.message)}
        lines.append(
            _("Dernier échange : complément demandé le %(date)s, « %(text)s », répondu.") % asked
            if request.answered_at
            else _("Dernier échange : complément demandé le %(date)s, « %(text)s », sans réponse.")
            % asked
        )
    elif message:
        lines.append(
            _("Dernier message, %(who)s le %(date)s : « %(text)s ».")
            % {
                "who": _("du demandeur") if message.from_applicant else _("du service"),
                "date": _date(message.created_at),
                "text": _quote(message.body) or _("(fichier seul)"),
            }
        )
    lines += _key_answers(dossier, language, spec or FormSpec.from_definition(definition))
    return lines


def _key_answers(dossier: Dossier, language: str | None, spec: FormSpec) -> list[str]:
    """The first answers that say what is asked: those that route the dossier first, then
    in form order; not the name (above), contacts, files, lists or sensitive answers."""
    definition = dossier.version.definition
    workflow = definition.get("workflow") or {}
    skip = set(workflow.get("name_fields", []))
    first = list(workflow.get("route_by", []))
    rows = [
        row
        for section in spec.summary(dossier.answers, language)
        for row in section.rows
        if row.field_id not in skip
        and spec.field(row.field_id).type not in ("file", "group", "phone", "email")
        and not spec.field(row.field_id).sensitive
        and not is_empty(dossier.answers.get(row.field_id))
    ]
    rows.sort(key=lambda row: first.index(row.field_id) if row.field_id in first else len(first))
    return [f"{row.label} : {row.value}" for row in rows[:KEY_ANSWERS]]
