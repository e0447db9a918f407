"""The online form of a procedure at run time: pages, conditions, validation, summary.

This is the API the web layer uses to let a citizen fill a procedure's form, one page at a
time, without JavaScript. Typical flow for one dossier whose answers are kept as a JSON dict:

    spec = FormSpec.from_definition(procedure.definition)     # a normalised definition
    page = spec.first_page(answers)
    form = spec.build_form(page.id, answers, language="fr")    # GET: a Django form
    form = spec.build_form(page.id, answers, data=request.POST, language="fr")   # POST
    if form.is_valid():
        answers = spec.with_page_answers(answers, page.id, form.answers)
        next_page = spec.next_page(page.id, answers)           # None: go to the summary
    ...
    sections = spec.summary(answers, "fr")                     # the summary page
    notice = spec.privacy_notice("fr")                         # shown with the summary
    final = spec.clean_answers(answers, attachments={...})     # at submission; AnswersError

API (all methods are pure: no database, no request):

- `FormSpec.from_definition(data)`; `spec.pages`; `spec.page(page_id)`; `spec.field(id)`.
- `spec.visible_pages(answers)`, `spec.first_page(answers)`,
  `spec.next_page(page_id, answers)`, `spec.previous_page(page_id, answers)`: navigation
  skips pages whose `show_if` does not hold.
- `spec.build_form(page_id, answers, *, data=None, language, attachments=None, today=None)`
  returns a `PageForm` (a `django.forms.Form`, see `forms.py`): `form.answers` after
  `is_valid()`, `form.layout()` to render fields, texts and repeatable groups in order.
- `spec.with_page_answers(answers, page_id, page_answers)`: the dict to store after a page
  is valid (the page's old answers replaced, so a cleared optional field disappears).
- `spec.effective_answers(answers)`: answers with those of hidden pages and fields dropped.
- `spec.clean_answers(answers, *, attachments=None, today=None, language="fr")`: every
  visible page is validated again at submission with the same Django fields (a stored value is never
  trusted: a tampered value, an unknown choice or a wrong JSON type is an error); answers of
  hidden fields are dropped; an unknown key is an error. Returns the clean dict or raises
  `AnswersError` listing `(page_id, field_id, message)`.
- `spec.summary(answers, language)`: `[SummarySection(page_id, title, rows)]`, each row a
  `SummaryRow(field_id, label, value)` with the answer as text.
- `spec.file_rules()`: `FileRules` (accept, max_size_mb, max_files, document) of every file
  field, for the upload code; `files.sniff_type(first_bytes)` tells a file's real type.

Conditions without JavaScript: a `show_if` that reads answers of earlier pages is decided
when the page is built (the field is simply absent). A `show_if` that reads an answer of the
same page cannot be decided before the citizen submits: the field is shown with a hint,
"(si vous avez répondu « Mon enfant » à « Pour qui ? »)", is not required by the browser,
and `PageForm.clean()` decides after submission: condition true → checked and required as
defined; condition false → its value and any error on it are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from django.utils.translation import override

from guichet.catalog.texts import pick
from guichet.core import sealing
from guichet.formdefs import conditions
from guichet.formdefs.conditions import Condition, evaluate, is_empty
from guichet.formdefs.fields import KINDS, AnswerTypeError, answer_display
from guichet.formdefs.files import DEFAULT_MAX_FILES, DEFAULT_MAX_SIZE_MB, FILE_KINDS, FileRules
from guichet.formdefs.forms import PageForm

Text = Mapping[str, str]
DEFAULT_GROUP_MAX = 10


class NoFormError(ValueError):
    """The procedure has no online form (`form: null`)."""


class PageNotAvailable(LookupError):
    """The page does not exist, or its condition hides it for these answers."""


@dataclass(frozen=True)
class AnswerError:
    page_id: str
    field_id: str | None
    message: str


class AnswersError(Exception):
    """Stored answers that do not pass validation at submission time."""

    def __init__(self, errors: list[AnswerError]) -> None:
        super().__init__("; ".join(f"{e.page_id}.{e.field_id}: {e.message}" for e in errors))
        self.errors = errors

    @property
    def first_page_id(self) -> str:
        """Where to send the citizen back to."""
        return self.errors[0].page_id


@dataclass(frozen=True)
class FieldSpec:
    """One field of the form, with its definition (`options`) as normalised."""

    id: str
    type: str
    label: Text
    help: Text | None
    required: bool
    show_if: Condition | None
    options: Mapping[str, Any]
    page_id: str
    group_id: str | None = None
    children: tuple[FieldSpec, ...] = ()
    # The condition reads an answer given on the same page (or in the same group item), so
    # it can only be decided once the page is submitted.
    same_page_condition: bool = False
    region_country: str = ""  # region and commune fields: the country of the list
    file_rules: FileRules = field(
        default_factory=lambda: FileRules((), FILE_KINDS, DEFAULT_MAX_SIZE_MB, 1, None)
    )

    @property
    def sensitive(self) -> bool:
        """Marked `sensitive` by the procedure: stored sealed, masked for whoever does not
        need it (core/sealing.py)."""
        return bool(self.options.get("sensitive"))

    @property
    def holds_answer(self) -> bool:
        return self.type != "explanation"

    def choice_label(self, value: Any, language: str | None = None) -> str:
        for choice in self.options.get("choices", ()):
            if choice["value"] == value:
                return pick(choice["label"], language)
        return str(value)

    @property
    def min_items(self) -> int:
        return int(self.options.get("min", 0))

    @property
    def max_items(self) -> int:
        return int(self.options.get("max", DEFAULT_GROUP_MAX))

    def child(self, child_id: str) -> FieldSpec | None:
        return next((c for c in self.children if c.id == child_id), None)


@dataclass(frozen=True)
class PageSpec:
    id: str
    title: Text
    intro: Text | None
    show_if: Condition | None
    fields: tuple[FieldSpec, ...]


@dataclass(frozen=True)
class PrivacyNotice:
    """The data protection notice shown on the summary page, in one language."""

    purpose: str
    legal_basis: str
    retention: str
    recipients: str


@dataclass(frozen=True)
class SummaryRow:
    field_id: str
    label: str
    value: str


@dataclass(frozen=True)
class SummarySection:
    page_id: str
    title: str
    rows: list[SummaryRow]


class FormSpec:
    """The form of one procedure version; build it once per version and reuse it."""

    def __init__(
        self,
        *,
        procedure_id: str,
        country: str,
        documents: list[Text],
        pages: tuple[PageSpec, ...],
        privacy: Mapping[str, Text],
    ) -> None:
        self.procedure_id = procedure_id
        self.country = country
        self.documents = documents
        self.pages = pages
        self.privacy = privacy
        self._page_index = {page.id: i for i, page in enumerate(pages)}
        self._fields = {f.id: f for page in pages for f in page.fields}
        self._field_page = {f.id: self._page_index[f.page_id] for f in self._fields.values()}

    # --- Construction ---------------------------------------------------------------------

    @classmethod
    def from_definition(cls, data: Mapping[str, Any]) -> FormSpec:
        """From a normalised, validated definition (`Definition.data`, `Procedure.definition`)."""
        form = data.get("form")
        if not form:
            raise NoFormError(f"{data.get('id')}: cette démarche n'a pas de formulaire en ligne")
        country = data["country"]
        documents = data["documents"]
        region_countries: dict[str, str] = {}
        pages = []
        for page in form["pages"]:
            fields = []
            seen: set[str] = set()
            for raw in page["fields"]:
                fields.append(
                    _field_spec(
                        raw,
                        page_id=page["id"],
                        same_page=seen,
                        country=country,
                        documents=documents,
                        region_countries=region_countries,
                    )
                )
                seen.add(raw["id"])
            pages.append(
                PageSpec(
                    id=page["id"],
                    title=page["title"],
                    intro=page.get("intro"),
                    show_if=page.get("show_if"),
                    fields=tuple(fields),
                )
            )
        return cls(
            procedure_id=data["id"],
            country=country,
            documents=documents,
            pages=tuple(pages),
            privacy=form["privacy"],
        )

    # --- Lookups --------------------------------------------------------------------------

    def page(self, page_id: str) -> PageSpec:
        try:
            return self.pages[self._page_index[page_id]]
        except KeyError:
            raise PageNotAvailable(page_id) from None

    def field(self, field_id: str) -> FieldSpec:
        return self._fields[field_id]

    def file_rules(self) -> list[FileRules]:
        rules = []
        for page in self.pages:
            for spec in page.fields:
                if spec.type == "file":
                    rules.append(spec.file_rules)
                rules.extend(c.file_rules for c in spec.children if c.type == "file")
        return rules

    def privacy_notice(self, language: str | None = None) -> PrivacyNotice:
        return PrivacyNotice(**{k: pick(v, language) for k, v in self.privacy.items()})

    # --- Visibility and navigation ------------------------------------------------------

    def effective_answers(self, answers: Mapping[str, Any]) -> dict[str, Any]:
        """The answers that count: those of hidden pages and fields, and empty ones, dropped.

        Conditions are evaluated in form order on what is kept so far, so that a field
        hidden by an earlier answer also hides whatever depends on it.
        """
        kept: dict[str, Any] = {}
        for page in self.pages:
            if page.show_if is not None and not evaluate(page.show_if, kept.get):
                continue
            for spec in page.fields:
                if not spec.holds_answer:
                    continue
                if spec.show_if is not None and not evaluate(spec.show_if, kept.get):
                    continue
                value = answers.get(spec.id)
                if spec.type == "group":
                    value = _effective_items(spec, value, kept)
                if not is_empty(value):
                    kept[spec.id] = value
        return kept

    def _visible(self, page: PageSpec, effective: Mapping[str, Any]) -> bool:
        """The page's condition holds and earlier answers leave at least one field on it."""
        if page.show_if is not None and not evaluate(page.show_if, effective.get):
            return False
        return any(
            f.show_if is None or f.same_page_condition or evaluate(f.show_if, effective.get)
            for f in page.fields
        )

    def visible_pages(self, answers: Mapping[str, Any]) -> list[PageSpec]:
        effective = self.effective_answers(answers)
        return [page for page in self.pages if self._visible(page, effective)]

    def is_visible(self, page_id: str, answers: Mapping[str, Any]) -> bool:
        return self._visible(self.page(page_id), self.effective_answers(answers))

    def first_page(self, answers: Mapping[str, Any]) -> PageSpec:
        return self.visible_pages(answers)[0]  # the first page cannot have a condition

    def next_page(self, current_page_id: str, answers: Mapping[str, Any]) -> PageSpec | None:
        """The next visible page after `current_page_id`; None after the last one."""
        index = self._page_index[self.page(current_page_id).id]
        return next(
            (p for p in self.visible_pages(answers) if self._page_index[p.id] > index), None
        )

    def previous_page(self, current_page_id: str, answers: Mapping[str, Any]) -> PageSpec | None:
        index = self._page_index[self.page(current_page_id).id]
        earlier = [p for p in self.visible_pages(answers) if self._page_index[p.id] < index]
        return earlier[-1] if earlier else None

    # --- Forms --------------------------------------------------------------------------

    def build_form(
        self,
        page_id: str,
        answers: Mapping[str, Any],
        *,
        data: Mapping[str, Any] | None = None,
        language: str = "fr",
        attachments: Mapping[str, Any] | None = None,
        today: date | None = None,
    ) -> PageForm:
        """The Django form of one page; `answers` are the dossier's answers so far.

        Raises PageNotAvailable when the page is unknown or hidden by earlier answers.
        """
        page = self.page(page_id)
        effective = self.effective_answers(answers)
        if not self._visible(page, effective):
            raise PageNotAvailable(page_id)
        number = self._page_index[page_id]
        prior = {k: v for k, v in effective.items() if self._field_page[k] < number}
        with override(language):
            return PageForm(
                spec=self,
                page=page,
                prior=prior,
                stored=answers,
                data=data,
                language=language,
                attachments=attachments,
                today=today or timezone.localdate(),
            )

    def with_page_answers(
        self, answers: Mapping[str, Any], page_id: str, page_answers: Mapping[str, Any]
    ) -> dict[str, Any]:
        page_fields = {f.id for f in self.page(page_id).fields}
        kept = {k: v for k, v in answers.items() if k not in page_fields}
        return {**kept, **page_answers}

    def clean_answers(
        self,
        answers: Mapping[str, Any],
        *,
        attachments: Mapping[str, Any] | None = None,
        today: date | None = None,
        language: str = "fr",
    ) -> dict[str, Any]:
        """Validate every visible answer again, as at submission; see the module docstring.

        `attachments` maps the dossier's uploaded attachment ids to their sniffed type
        (`files.sniff_type`); when given, a file answer must name one of them, of a type
        its field accepts. `language` is the language of the error messages.
        """
        errors = [
            AnswerError(self.pages[0].id, key, _("Champ inconnu dans ce formulaire."))
            for key in answers
            if key not in self._fields
        ]
        cleaned: dict[str, Any] = {}
        for page in self.pages:
            if not self._visible(page, cleaned):
                continue
            try:
                data = self._page_data(page, answers)
            except _BadAnswer as exc:
                errors.append(AnswerError(page.id, exc.field_id, exc.message))
                continue
            form = self.build_form(
                page.id, cleaned, data=data, language=language, attachments=attachments, today=today
            )
            if form.is_valid():
                cleaned.update(form.answers)
                continue
            for name, messages in form.errors.items():
                field_id = name.split("-")[0] if name != "__all__" else None
                errors.extend(AnswerError(page.id, field_id, str(m)) for m in messages)
        if errors:
            raise AnswersError(errors)
        return cleaned

    def _page_data(self, page: PageSpec, answers: Mapping[str, Any]) -> MultiValueDict[str, str]:
        """Stored answers of one page as the POST data that would have produced them."""
        data: MultiValueDict[str, str] = MultiValueDict()

        def put(spec: FieldSpec, name: str, value: Any, field_id: str) -> None:
            if is_empty(value):
                return
            try:
                for key, values in KINDS[spec.type].as_data(spec, name, value).items():
                    data.setlist(key, values)
            except (AnswerTypeError, ValueError):
                raise _BadAnswer(field_id, _("Réponse d'un type inattendu.")) from None

        for spec in page.fields:
            value = answers.get(spec.id)
            if spec.type == "explanation" or value is None:
                continue
            if spec.type != "group":
                put(spec, spec.id, value, spec.id)
                continue
            if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
                raise _BadAnswer(spec.id, _("Réponse d'un type inattendu."))
            if len(value) > spec.max_items:
                raise _BadAnswer(spec.id, _("Trop d'éléments dans cette liste."))
            data.setlist(f"{spec.id}-count", [str(len(value))])
            for i, item in enumerate(value):
                for key, item_value in item.items():
                    child = spec.child(key)
                    if child is None or not child.holds_answer:
                        raise _BadAnswer(spec.id, _("Champ inconnu dans ce formulaire."))
                    put(child, f"{spec.id}-{i}-{key}", item_value, spec.id)
        return data

    # --- Summary --------------------------------------------------------------------------

    def summary(
        self, answers: Mapping[str, Any], language: str | None = None, *, masked: bool = False
    ) -> list[SummarySection]:
        """What the citizen answered, page by page, for the page before submission.
        `masked`: sensitive answers shown as `••••34` (for a person who does not need them)."""
        language = language or "fr"

        def shown(spec: FieldSpec, value: Any) -> str:
            text = answer_display(spec, value, language)
            return sealing.mask(text) if masked and spec.sensitive else text

        effective = self.effective_answers(answers)
        sections = []
        with override(language):
            for page in self.pages:
                if not self._visible(page, effective):
                    continue
                rows = []
                for spec in page.fields:
                    if not spec.holds_answer:
                        continue
                    if spec.show_if is not None and not evaluate(spec.show_if, effective.get):
                        continue
                    label = pick(spec.label, language)
                    value = effective.get(spec.id)
                    if spec.type != "group":
                        rows.append(SummaryRow(spec.id, label, shown(spec, value)))
                        continue
                    items = value or []
                    item_label = pick(spec.options.get("item_label") or spec.label, language)
                    rows.append(SummaryRow(spec.id, label, str(len(items))))
                    for n, item in enumerate(items, 1):
                        for child in spec.children:
                            if child.holds_answer and child.id in item:
                                rows.append(
                                    SummaryRow(
                                        spec.id,
                                        f"{item_label} {n} — {pick(child.label, language)}",
                                        shown(child, item[child.id]),
                                    )
                                )
                sections.append(SummarySection(page.id, pick(page.title, language), rows))
        return sections


class _BadAnswer(Exception):
    def __init__(self, field_id: str, message: str) -> None:
        super().__init__(message)
        self.field_id, self.message = field_id, message


def _effective_items(group: FieldSpec, items: Any, context: Mapping[str, Any]) -> Any:
    if not isinstance(items, list):
        return items  # a wrong type: left for clean_answers to reject
    kept_items = []
    child_ids = {c.id for c in group.children}
    for item in items:
        if not isinstance(item, dict):
            kept_items.append(item)
            continue
        kept: dict[str, Any] = {}

        def answer_of(key: str, kept: dict[str, Any] = kept) -> Any:
            return kept.get(key) if key in child_ids else context.get(key)

        for child in group.children:
            if not child.holds_answer:
                continue
            if child.show_if is not None and not evaluate(child.show_if, answer_of):
                continue
            if not is_empty(item.get(child.id)):
                kept[child.id] = item[child.id]
        if kept:
            kept_items.append(kept)
    return kept_items


def _reads_same_page(condition: Condition | None, same_page: set[str]) -> bool:
    if condition is None:
        return False
    return any(leaf["field"] in same_page for _path, leaf in conditions.references(condition))


def _field_spec(
    raw: Mapping[str, Any],
    *,
    page_id: str,
    same_page: set[str],
    country: str,
    documents: list[Text],
    region_countries: dict[str, str],
    group_id: str | None = None,
    outer_same_page: set[str] | None = None,
) -> FieldSpec:
    kind = raw["type"]
    visible_here = same_page | (outer_same_page or set())
    children: list[FieldSpec] = []
    if kind == "group":
        siblings: set[str] = set()
        local_regions = dict(region_countries)
        for child in raw["fields"]:
            children.append(
                _field_spec(
                    child,
                    page_id=page_id,
                    same_page=siblings,
                    country=country,
                    documents=documents,
                    region_countries=local_regions,
                    group_id=raw["id"],
                    outer_same_page=visible_here,
                )
            )
            siblings.add(child["id"])
    region_country = ""
    if kind == "region":
        region_country = raw.get("country", country)
        region_countries[raw["id"]] = region_country
    elif kind == "commune":
        region_country = region_countries.get(raw.get("region_field", ""), country)
    rules = FileRules((), FILE_KINDS, DEFAULT_MAX_SIZE_MB, DEFAULT_MAX_FILES, None)
    if kind == "file":
        document = raw.get("document")
        if isinstance(document, str):
            texts = [d["fr"] for d in documents]
            document = texts.index(document) if document in texts else None
        rules = FileRules(
            path=(group_id, raw["id"]) if group_id else (raw["id"],),
            accept=tuple(raw.get("accept", FILE_KINDS)),
            max_size_mb=raw.get("max_size_mb", DEFAULT_MAX_SIZE_MB),
            max_files=raw.get("max_files", DEFAULT_MAX_FILES),
            document=document,
        )
    return FieldSpec(
        id=raw["id"],
        type=kind,
        label=raw.get("label") or {"fr": ""},
        help=raw.get("help"),
        required=raw.get("required", True),
        show_if=raw.get("show_if"),
        options=raw,
        page_id=page_id,
        group_id=group_id,
        children=tuple(children),
        same_page_condition=_reads_same_page(raw.get("show_if"), visible_here),
        region_country=region_country,
        file_rules=rules,
    )
