"""`PageForm`: the Django form of one page, built at run time from the definition.

Build it with `FormSpec.build_form` (see spec.py). Field names are the field ids; inside a
repeatable group they are `<group>-<n>-<child>` (ids cannot contain "-"), with a hidden
`<group>-count` saying how many items the page showed and, for items the citizen may drop,
a `<group>-<n>-remove` checkbox.

Rendering: `form.layout()` gives, in order, `FieldBlock`s (a bound field), `TextBlock`s
(display-only texts) and `GroupBlock`s (a fieldset per item, then the hidden count).

Groups without JavaScript: the page shows the stored items plus one blank item while the
group has room; a blank item beyond `min` is ignored. To add several, the page has a second
submit button ("Ajouter un autre …", shown when `GroupBlock.can_add`): when the form is
valid the view stores the answers and shows the same page again, now with one more blank.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from django import forms
from django.forms import BoundField
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, override

from guichet.catalog.texts import pick
from guichet.formdefs import references
from guichet.formdefs.conditions import Condition, evaluate, is_empty
from guichet.formdefs.fields import KINDS, AnswerTypeError, BuildContext, build_field

if TYPE_CHECKING:
    from guichet.formdefs.spec import FieldSpec, FormSpec, PageSpec

AnswerOf = Callable[[str], Any]


@dataclass
class _Single:
    spec: FieldSpec
    name: str
    decide_later: bool  # the condition reads an answer of this page
    enforce_required: bool  # Django does not enforce `required`: clean() does


@dataclass
class _Info:
    spec: FieldSpec
    hint: str


@dataclass
class _Item:
    index: int
    entries: list[_Single | _Info]
    remove_name: str | None


@dataclass
class _Group:
    spec: FieldSpec
    count_name: str
    items: list[_Item] = field(default_factory=list)


@dataclass(frozen=True)
class FieldBlock:
    spec: FieldSpec
    field: BoundField


@dataclass(frozen=True)
class TextBlock:
    spec: FieldSpec
    title: str
    text: str
    condition_hint: str  # "(si …)" when the text depends on an answer of this page


@dataclass(frozen=True)
class GroupItemBlock:
    legend: str
    blocks: list[FieldBlock | TextBlock]
    remove: BoundField | None


@dataclass(frozen=True)
class GroupBlock:
    spec: FieldSpec
    legend: str
    help: str
    items: list[GroupItemBlock]
    count: BoundField  # hidden: render it inside the form
    can_add: bool
    add_label: str
    errors: list[str]


Block = FieldBlock | TextBlock | GroupBlock


class PageForm(forms.Form):
    """One page of a procedure's form; `answers` holds its JSON answers once valid."""

    def __init__(
        self,
        *,
        spec: FormSpec,
        page: PageSpec,
        prior: Mapping[str, Any],
        stored: Mapping[str, Any],
        data: Mapping[str, Any] | None,
        language: str,
        attachments: Mapping[str, Any] | None,
        today: date,
    ) -> None:
        super().__init__(data=data)
        self.spec, self.page, self.language = spec, page, language
        self.title = pick(page.title, language)
        self.intro = pick(page.intro, language) if page.intro else ""
        self.ctx = BuildContext(
            country=spec.country,
            language=language,
            today=today,
            prior=prior,
            attachments=attachments,
        )
        self._entries: list[_Single | _Info | _Group] = []
        self._answers: dict[str, Any] = {}
        for spec_field in page.fields:
            if self._hidden_by_earlier_pages(spec_field):
                continue
            if spec_field.type == "group":
                self._entries.append(self._add_group(spec_field, stored.get(spec_field.id)))
            else:
                entry = self._add(spec_field, spec_field.id, stored.get(spec_field.id), None)
                self._entries.append(entry)

    # --- Building ----------------------------------------------------------------------

    def _hidden_by_earlier_pages(self, spec: FieldSpec) -> bool:
        if spec.show_if is None or spec.same_page_condition:
            return False
        return not evaluate(spec.show_if, self.ctx.prior.get)

    def _resolver(self, group: FieldSpec | None) -> Callable[[str], FieldSpec | None]:
        def resolve(field_id: str) -> FieldSpec | None:
            if group is not None and group.child(field_id) is not None:
                return group.child(field_id)
            return self.spec.field(field_id)

        return resolve

    def _add(
        self, spec: FieldSpec, name: str, stored: Any, group: FieldSpec | None
    ) -> _Single | _Info:
        hint = ""
        if spec.same_page_condition and spec.show_if is not None:
            hint = describe(spec.show_if, self._resolver(group), self.language)
        if spec.type == "explanation":
            return _Info(spec, hint)
        suffix = ", ".join(
            part for part in (_("facultatif") if not spec.required else "", hint) if part
        )
        label = pick(spec.label, self.language) + (f" ({suffix})" if suffix else "")
        in_group = group is not None
        enforce = spec.same_page_condition or in_group
        self.fields[name] = build_field(
            spec, self.ctx, label=label, required=spec.required and not enforce
        )
        if stored is not None:
            kind = KINDS[spec.type]
            try:
                kind.check(stored)
            except AnswerTypeError:
                pass  # a stale or tampered answer: show the field empty
            else:
                self.initial[name] = kind.initial(spec, stored)
        return _Single(spec, name, spec.same_page_condition, enforce)

    def _add_group(self, group: FieldSpec, stored: Any) -> _Group:
        items: list[Mapping[str, Any]] = []
        if isinstance(stored, list):
            items = [i for i in stored if isinstance(i, dict)]
        low, high = group.min_items, group.max_items
        count_name = f"{group.id}-count"
        if self.is_bound:
            try:
                count = int(str(self.data.get(count_name, "")))
            except ValueError:
                count = max(low, 1)
        else:
            count = max(low, len(items), 1)
            if len(items) >= max(low, 1):
                count += 1  # one blank item to add another
        count = min(max(count, low), high)
        self.fields[count_name] = forms.IntegerField(
            widget=forms.HiddenInput, required=False, initial=count
        )
        entry = _Group(group, count_name)
        item_label = pick(group.options.get("item_label") or group.label, self.language)
        for i in range(count):
            stored_item = items[i] if i < len(items) else {}
            children: list[_Single | _Info] = []
            for child in group.children:
                if self._hidden_by_earlier_pages(child):
                    continue
                name = f"{group.id}-{i}-{child.id}"
                children.append(self._add(child, name, stored_item.get(child.id), group))
            remove_name = None
            if i >= low:
                remove_name = f"{group.id}-{i}-remove"
                self.fields[remove_name] = forms.BooleanField(
                    required=False,
                    label=_("Retirer %(item)s %(n)d") % {"item": item_label.lower(), "n": i + 1},
                )
            entry.items.append(_Item(i, children, remove_name))
        return entry

    # --- Validation ------------------------------------------------------------------------

    def full_clean(self) -> None:
        with override(self.language):
            super().full_clean()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        values: dict[str, Any] = dict(self.ctx.prior)
        answers: dict[str, Any] = {}
        for entry in self._entries:
            if isinstance(entry, _Single):
                self._clean_single(entry, values.get, values)
                if entry.spec.id in values:
                    answers[entry.spec.id] = values[entry.spec.id]
            elif isinstance(entry, _Group):
                items = self._clean_group(entry, values.get)
                if items:
                    values[entry.spec.id] = answers[entry.spec.id] = items
        self._answers = answers
        return cleaned

    def _drop(self, name: str) -> None:
        self.cleaned_data.pop(name, None)
        self.errors.pop(name, None)

    def _clean_single(self, entry: _Single, answer_of: AnswerOf, sink: dict[str, Any]) -> None:
        spec, name = entry.spec, entry.name
        if entry.decide_later and spec.show_if and not evaluate(spec.show_if, answer_of):
            self._drop(name)  # hidden after all: neither its value nor its errors count
            return
        if name in self.errors:
            return
        value = self.cleaned_data.get(name)
        if is_empty(value):
            if entry.enforce_required and spec.required:
                message = self.fields[name].error_messages["required"]
                self.add_error(name, forms.ValidationError(message, "required"))
            return
        if spec.type == "commune" and not self._commune_in_region(spec, value, answer_of):
            self.add_error(name, _("Cette commune n'est pas dans la région choisie."))
            return
        sink[spec.id] = value

    def _commune_in_region(self, spec: FieldSpec, value: Any, answer_of: AnswerOf) -> bool:
        region = spec.options.get("region") or answer_of(spec.options.get("region_field", ""))
        known = references.territories(spec.region_country)
        if not isinstance(value, str) or not isinstance(region, str) or known is None:
            return True
        commune = known.communes.get(value)
        return commune is None or commune.region == region

    def _clean_group(self, entry: _Group, outer: AnswerOf) -> list[dict[str, Any]]:
        group = entry.spec
        child_ids = {c.id for c in group.children}
        items: list[dict[str, Any]] = []
        for item in entry.items:
            names = [e.name for e in item.entries if isinstance(e, _Single)]
            removed = item.remove_name is not None and self.cleaned_data.get(item.remove_name)
            blank = all(is_empty(self.cleaned_data.get(n)) and n not in self.errors for n in names)
            if removed or (blank and item.index >= group.min_items):
                for name in names:
                    self._drop(name)
                continue
            kept: dict[str, Any] = {}

            def answer_of(key: str, kept: dict[str, Any] = kept) -> Any:
                return kept.get(key) if key in child_ids else outer(key)

            for child in item.entries:
                if isinstance(child, _Single):
                    self._clean_single(child, answer_of, kept)
            items.append(kept)
        if len(items) < group.min_items:
            item_label = pick(group.options.get("item_label") or group.label, self.language)
            self.add_error(
                entry.count_name,
                ngettext(
                    "Ajoutez au moins %(n)d élément (%(item)s).",
                    "Ajoutez au moins %(n)d éléments (%(item)s).",
                    group.min_items,
                )
                % {"n": group.min_items, "item": item_label.lower()},
            )
        return items

    @property
    def answers(self) -> dict[str, Any]:
        """The page's answers as JSON (hidden fields dropped); only after `is_valid()`."""
        if not self.is_valid():
            raise ValueError("answers of an invalid form")
        return dict(self._answers)

    # --- Rendering -----------------------------------------------------------------------

    def layout(self) -> list[Block]:
        """What to render, in order; every input of the form appears in exactly one block."""
        blocks: list[Block] = []
        for entry in self._entries:
            if isinstance(entry, _Group):
                blocks.append(self._group_block(entry))
            else:
                blocks.append(self._block(entry))
        return blocks

    def _block(self, entry: _Single | _Info) -> FieldBlock | TextBlock:
        if isinstance(entry, _Info):
            title = pick(entry.spec.label, self.language) if entry.spec.label.get("fr") else ""
            text = pick(entry.spec.options["text"], self.language)
            return TextBlock(entry.spec, title, text, f"({entry.hint})" if entry.hint else "")
        return FieldBlock(entry.spec, self[entry.name])

    def _group_block(self, entry: _Group) -> GroupBlock:
        group = entry.spec
        item_label = pick(group.options.get("item_label") or group.label, self.language)
        items = [
            GroupItemBlock(
                legend=f"{item_label} {item.index + 1}",
                blocks=[self._block(e) for e in item.entries],
                remove=self[item.remove_name] if item.remove_name else None,
            )
            for item in entry.items
        ]
        count_field = self[entry.count_name]
        return GroupBlock(
            spec=group,
            legend=pick(group.label, self.language),
            help=pick(group.help, self.language) if group.help else "",
            items=items,
            count=count_field,
            can_add=len(items) < group.max_items,
            add_label=_("Ajouter : %(item)s") % {"item": item_label.lower()},
            errors=[str(e) for e in count_field.errors],
        )


# --- Describing a condition, for the "(si …)" hint ---------------------------------------------


def _quoted(text: str, limit: int = 60) -> str:
    text = text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
    return f"« {text} »"


def _answer_text(spec: FieldSpec | None, value: Any, language: str) -> str:
    """A value of a condition as the citizen saw it: a choice's label, Oui/Non, a name."""
    if spec is None or spec.type not in KINDS:
        return str(value)
    if spec.type in ("choice", "multiple_choice"):
        return spec.choice_label(value, language)
    try:
        KINDS[spec.type].check(value)
        return KINDS[spec.type].display(spec, value, language)
    except (AnswerTypeError, ValueError):
        return str(value)


def describe(
    condition: Condition, resolve: Callable[[str], FieldSpec | None], language: str
) -> str:
    """A condition in plain French, starting with "si" ("sauf si" for a negation)."""
    with override(language):
        if "all" in condition:
            return _(" et ").join(describe(c, resolve, language) for c in condition["all"])
        if "any" in condition:
            return _(" ou ").join(describe(c, resolve, language) for c in condition["any"])
        if "not" in condition:
            return _("sauf %(condition)s") % {
                "condition": describe(condition["not"], resolve, language)
            }
        spec = resolve(condition["field"])
        question = _quoted(pick(spec.label, language) if spec else condition["field"])
        if "is_set" in condition:
            if condition["is_set"]:
                return _("si vous avez répondu à %(question)s") % {"question": question}
            return _("si vous n'avez pas répondu à %(question)s") % {"question": question}
        if "equals" in condition or "in" in condition:
            values = condition["in"] if "in" in condition else [condition["equals"]]
            answers = _(" ou ").join(_quoted(_answer_text(spec, v, language)) for v in values)
            return _("si vous avez répondu %(answers)s à %(question)s") % {
                "answers": answers,
                "question": question,
            }
        if "not_equals" in condition:
            answer = _quoted(_answer_text(spec, condition["not_equals"], language))
            return _("si vous n'avez pas répondu %(answer)s à %(question)s") % {
                "answer": answer,
                "question": question,
            }
        templates = {
            "gt": _("si %(question)s est plus grand que %(n)s"),
            "gte": _("si %(question)s vaut au moins %(n)s"),
            "lt": _("si %(question)s est plus petit que %(n)s"),
            "lte": _("si %(question)s vaut au plus %(n)s"),
        }
        op = next(k for k in templates if k in condition)
        number = str(condition[op]).replace(".", ",")
        return templates[op] % {"question": question, "n": number}
