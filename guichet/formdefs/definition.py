"""The `form` of a procedure definition: rules beyond the schema, and its normal form.

`catalog/definition.py` validates a definition against `procedure-v1.schema.json`, which
pulls in `form-v1.schema.json` for the `form` key; once the schema is satisfied it calls
`form_errors` here for the rules that tie several values together, and `normalise_form`
to store the form in canonical shape. The form format is documented in
docs/procedure-format.md.

This module is pure (no Django, no database) and imports nothing from `catalog` but the
text helper, so the catalog can call it without an import cycle.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from guichet.formdefs import conditions, references

Path_ = tuple[str | int, ...]
Problem = tuple[Path_, str]

VALUE_TYPES = (
    "text", "long_text", "number", "amount", "date", "email", "phone", "choice",
    "multiple_choice", "yes_no", "country", "region", "commune", "national_id", "file", "group",
)  # fmt: skip
NUMERIC_TYPES = ("number", "amount")
ONLY_IS_SET_TYPES = ("file", "group")
STRING_TYPES = ("text", "long_text", "email", "phone", "date", "national_id", "commune")

# Keys of a field in the order the normal form (and `procedures export`) writes them.
FIELD_KEYS = (
    "id", "type", "label", "text", "help", "required", "sensitive", "show_if", "min_length",
    "max_length",
    "pattern", "pattern_message", "autocomplete", "integer", "min", "max", "choices", "country",
    "region_field", "region", "scheme", "accept", "max_size_mb", "max_files", "document",
    "item_label", "fields",
)  # fmt: skip
TEXT_KEYS = ("label", "text", "help", "pattern_message", "item_label")
PRIVACY_KEYS = ("purpose", "legal_basis", "retention", "recipients")
_RELATIVE = re.compile(r"^([+-])(\d{1,3})([dmy])$")


# --- Normal form ---------------------------------------------------------------------------


def normalise_text(value: str | Mapping[str, str]) -> dict[str, str]:
    """`{"fr": …, other languages sorted}`: the same normal form as the catalog's texts."""
    if isinstance(value, str):
        return {"fr": value.strip()}
    return {
        "fr": value["fr"].strip(),
        **{k: v.strip() for k, v in sorted(value.items()) if k != "fr"},
    }


def _normalise_field(field: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in FIELD_KEYS:
        if key not in field:
            continue
        value = field[key]
        if key in TEXT_KEYS:
            value = normalise_text(value)
        elif key == "choices":
            value = [{"value": c["value"], "label": normalise_text(c["label"])} for c in value]
        elif key == "fields":
            value = [_normalise_field(f) for f in value]
        elif key == "document" and isinstance(value, str):
            value = value.strip()
        out[key] = value
    return out


def normalise_form(form: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical form: texts as translation tables, keys in a fixed order, defaults left out."""
    pages = []
    for page in form["pages"]:
        out: dict[str, Any] = {"id": page["id"], "title": normalise_text(page["title"])}
        if "intro" in page:
            out["intro"] = normalise_text(page["intro"])
        if "show_if" in page:
            out["show_if"] = page["show_if"]
        out["fields"] = [_normalise_field(f) for f in page["fields"]]
        pages.append(out)
    privacy = {k: normalise_text(form["privacy"][k]) for k in PRIVACY_KEYS}
    return {"pages": pages, "privacy": privacy}


def sensitive_paths(definition: Mapping[str, Any]) -> tuple[str, ...]:
    """Where the answers of fields marked `sensitive` are: "field", or "group.child" for a
    field inside a repeatable group. These are stored sealed (core/sealing.py)."""
    found: list[str] = []
    for page in (definition.get("form") or {}).get("pages", ()):
        for field in page["fields"]:
            if field.get("sensitive"):
                found.append(field["id"])
            found.extend(
                f"{field['id']}.{child['id']}"
                for child in field.get("fields", ())
                if child.get("sensitive")
            )
    return tuple(found)


# --- Dates -----------------------------------------------------------------------------------


def resolve_date_bound(bound: str, today: date) -> date:
    """`today`, `-18y`, `+30d`, `-6m` or `AAAA-MM-JJ` as a date (29 Feb falls back to 28)."""
    if bound == "today":
        return today
    match = _RELATIVE.match(bound)
    if not match:
        return date.fromisoformat(bound)
    sign = -1 if match[1] == "-" else 1
    amount, unit = int(match[2]) * sign, match[3]
    if unit == "d":
        return date.fromordinal(today.toordinal() + amount)
    months = today.year * 12 + today.month - 1 + (amount if unit == "m" else 12 * amount)
    year, month = divmod(months, 12)
    day = today.day
    while True:
        try:
            return date(year, month + 1, day)
        except ValueError:
            day -= 1


# --- Rules -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Slot:
    """Where a field sits: what a condition written on it may refer to."""

    field: Mapping[str, Any]
    path: Path_
    page: int
    order: int  # position among the top-level fields of the whole form
    group: str | None = None  # id of the enclosing group, for a group's child
    index: int = 0  # position inside the group


class _Index:
    def __init__(self, form: Mapping[str, Any]) -> None:
        self.top: dict[str, _Slot] = {}
        self.children: dict[str, dict[str, _Slot]] = {}
        self.duplicates: list[Problem] = []
        order = 0
        for p, page in enumerate(form["pages"]):
            for i, field in enumerate(page["fields"]):
                path: Path_ = ("form", "pages", p, "fields", i)
                slot = _Slot(field, path, p, order)
                order += 1
                if field["id"] in self.top:
                    first = self.top[field["id"]].path
                    self.duplicates.append(
                        (
                            (*path, "id"),
                            f"identifiant « {field['id']} » déjà utilisé ({_dotted(first)})",
                        )
                    )
                else:
                    self.top[field["id"]] = slot
                if field["type"] == "group":
                    self.children.setdefault(field["id"], {})
                    self._children(slot, field)

    def _children(self, parent: _Slot, group: Mapping[str, Any]) -> None:
        seen = self.children[group["id"]]
        for j, child in enumerate(group["fields"]):
            path: Path_ = (*parent.path, "fields", j)
            if child["id"] in seen:
                self.duplicates.append(
                    (
                        (*path, "id"),
                        f"identifiant « {child['id']} » déjà utilisé dans ce groupe "
                        f"({_dotted(seen[child['id']].path)})",
                    )
                )
                continue
            seen[child["id"]] = _Slot(child, path, parent.page, parent.order, group["id"], j)

    def slots(self) -> Iterator[_Slot]:
        for slot in self.top.values():
            yield slot
            if slot.field["type"] == "group":
                yield from self.children[slot.field["id"]].values()

    def group_of(self, field_id: str) -> str | None:
        return next((g for g, kids in self.children.items() if field_id in kids), None)


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _resolve(
    index: _Index, ref: str, *, page: int, slot: _Slot | None
) -> tuple[_Slot | None, str | None]:
    """The field `ref` names, seen from a page condition (slot None) or a field condition."""
    if slot is not None and slot.group is not None:
        sibling = index.children[slot.group].get(ref)
        if sibling is not None:
            if sibling.index == slot.index:
                return None, "un champ ne peut pas dépendre de lui-même"
            if sibling.index > slot.index:
                return None, _later(ref)
            return sibling, None
    target = index.top.get(ref)
    if target is None:
        group = index.group_of(ref)
        if group is not None:
            return None, (
                f"« {ref} » est dans le groupe répété « {group} » : seuls les champs de ce "
                "groupe peuvent dépendre de lui"
            )
        return None, f"champ « {ref} » inconnu dans ce formulaire"
    if slot is None:
        if target.page >= page:
            where = "est sur cette page" if target.page == page else "est sur une page suivante"
            return None, (
                f"« {ref} » {where} : une page ne peut dépendre que des réponses des pages "
                "précédentes"
            )
        return target, None
    if slot.group is None and target.order == slot.order:
        return None, "un champ ne peut pas dépendre de lui-même"
    if target.order > slot.order or (slot.group is not None and target.order == slot.order):
        return None, _later(ref)
    return target, None


def _later(ref: str) -> str:
    return (
        f"« {ref} » est placé après : une condition ne peut dépendre que d'un champ placé avant "
        "(page précédente, ou plus haut sur la même page)"
    )


def _value_problem(target: Mapping[str, Any], value: Any, country: str) -> str | None:
    kind, ref = target["type"], target["id"]
    if kind in ("choice", "multiple_choice"):
        values = [c["value"] for c in target["choices"]]
        if value not in values or not isinstance(value, str):
            return (
                f"valeur {_show(value)} absente des choix de « {ref} » ; "
                f"choix possibles : {', '.join(values)}"
            )
    elif kind == "yes_no":
        if not isinstance(value, bool):
            return f"« {ref} » est une question oui/non : écrivez true ou false"
    elif kind in NUMERIC_TYPES:
        if not conditions.is_number(value):
            return f"« {ref} » attend un nombre, trouvé {_show(value)}"
    elif kind == "country":
        if value not in references.countries():
            return f"code pays {_show(value)} inconnu (attendu un code ISO comme ML, FR)"
    elif kind == "region":
        known = references.territories(target.get("country", country))
        if known is not None and value not in known.regions:
            return f"région {_show(value)} inconnue ; codes possibles : {', '.join(known.regions)}"
    elif not isinstance(value, str):
        return f"« {ref} » attend un texte, trouvé {_show(value)}"
    return None


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"« {value} »" if isinstance(value, str) else str(value)


def _condition_problems(
    index: _Index,
    condition: Mapping[str, Any],
    base: Path_,
    *,
    page: int,
    slot: _Slot | None,
    country: str,
) -> Iterator[Problem]:
    shape = list(conditions.shape_errors(condition))
    for path, message in shape:
        yield (*base, *path), message
    if shape:
        return
    for path, leaf in conditions.references(condition):
        target, problem = _resolve(index, leaf["field"], page=page, slot=slot)
        if problem is not None:
            yield (*base, *path, "field"), problem
            continue
        assert target is not None
        kind, ref = target.field["type"], leaf["field"]
        operator = next(op for op in conditions.OPERATORS if op in leaf)
        if kind == "explanation":
            yield (
                (*base, *path, "field"),
                f"« {ref} » est un texte d'information : il n'a pas de réponse",
            )
        elif kind in ONLY_IS_SET_TYPES and operator != "is_set":
            yield (
                (*base, *path, operator),
                (f"sur « {ref} » ({kind}), seule la condition is_set est possible"),
            )
        elif operator in ("gt", "gte", "lt", "lte") and kind not in NUMERIC_TYPES:
            yield (
                (*base, *path, operator),
                (
                    f"« {ref} » n'est pas un nombre : {operator} ne s'applique qu'aux types "
                    "number et amount"
                ),
            )
        elif operator in ("equals", "not_equals"):
            problem = _value_problem(target.field, leaf[operator], country)
            if problem:
                yield (*base, *path, operator), problem
        elif operator == "in":
            for k, value in enumerate(leaf["in"]):
                problem = _value_problem(target.field, value, country)
                if problem:
                    yield (*base, *path, "in", k), problem


def _field_problems(
    index: _Index, slot: _Slot, *, country: str, documents: list[Any]
) -> Iterator[Problem]:
    field, path = slot.field, slot.path
    kind = field["type"]

    def bounds(low: str, high: str) -> Iterator[Problem]:
        if low in field and high in field and field[low] > field[high]:
            yield (*path, high), f"{high} ({field[high]}) est plus petit que {low} ({field[low]})"

    if kind in ("text", "long_text"):
        yield from bounds("min_length", "max_length")
    if kind in NUMERIC_TYPES:
        yield from bounds("min", "max")
    if kind == "text":
        if "pattern" in field:
            try:
                re.compile(field["pattern"])
            except re.error as exc:
                yield (*path, "pattern"), f"motif invalide : {exc}"
            if "pattern_message" not in field:
                yield (
                    (*path, "pattern"),
                    ("un motif (pattern) demande un message d'erreur en clair (pattern_message)"),
                )
        elif "pattern_message" in field:
            yield (
                (*path, "pattern_message"),
                "pattern_message n'a de sens qu'avec un motif (pattern)",
            )
    if kind == "date":
        resolved = {}
        for key in ("min", "max"):
            if key in field:
                try:
                    resolved[key] = resolve_date_bound(field[key], date(2000, 1, 1))
                except ValueError:
                    yield (*path, key), f"date inexistante « {field[key]} »"
        # A relative bound against an absolute one depends on the day: compare like with like.
        same_kind = len({field[k][:1].isdigit() for k in resolved}) == 1
        if len(resolved) == 2 and same_kind and resolved["min"] > resolved["max"]:
            yield (*path, "max"), f"max ({field['max']}) est avant min ({field['min']})"
    if kind in ("choice", "multiple_choice"):
        seen: set[str] = set()
        for k, choice in enumerate(field["choices"]):
            if choice["value"] in seen:
                yield (*path, "choices", k, "value"), f"valeur « {choice['value']} » en double"
            seen.add(choice["value"])
    if kind == "region":
        code = field.get("country", country)
        if references.territories(code) is None:
            yield (*path, "country"), f"aucune liste de régions pour le pays {code}"
    if kind == "commune":
        yield from _commune_problems(index, slot, country)
    if kind == "national_id":
        schemes = references.id_schemes()
        if field["scheme"] not in schemes:
            yield (
                (*path, "scheme"),
                (
                    f"schéma « {field['scheme']} » inconnu ; "
                    f"schémas possibles : {', '.join(schemes)}"
                ),
            )
    if kind == "file" and "document" in field:
        yield from _document_problems(field["document"], (*path, "document"), documents)
    if kind == "group":
        if slot.group is not None:
            yield (*path, "type"), "un groupe ne peut pas contenir un autre groupe"
        low, high = field.get("min", 0), field.get("max", 10)
        if low > high:
            yield (
                (*path, "max" if "max" in field else "min"),
                f"max ({high}) est plus petit que min ({low})",
            )
    if "show_if" in field:
        yield from _condition_problems(
            index, field["show_if"], (*path, "show_if"), page=slot.page, slot=slot, country=country
        )


def _commune_problems(index: _Index, slot: _Slot, country: str) -> Iterator[Problem]:
    field, path = slot.field, slot.path
    if ("region_field" in field) == ("region" in field):
        yield (
            path,
            (
                "une commune dépend soit d'un champ région (region_field), soit d'une région fixe "
                "(region) : indiquez l'un des deux"
            ),
        )
        return
    if "region" in field:
        known = references.territories(country)
        if known is None or field["region"] not in known.regions:
            codes = ", ".join(known.regions) if known else "aucune"
            yield (
                (*path, "region"),
                f"région « {field['region']} » inconnue ; codes possibles : {codes}",
            )
        return
    target, problem = _resolve(index, field["region_field"], page=slot.page, slot=slot)
    if problem is not None:
        yield (*path, "region_field"), problem
    elif target is not None and target.field["type"] != "region":
        yield (
            (*path, "region_field"),
            f"« {field['region_field']} » n'est pas un champ de type region",
        )


def _document_problems(document: Any, path: Path_, documents: list[Any]) -> Iterator[Problem]:
    if isinstance(document, int):
        if document >= len(documents):
            yield (
                path,
                (
                    f"la démarche n'a pas de pièce n°{document} (documents compte {len(documents)} "
                    "pièce(s), numérotées à partir de 0)"
                ),
            )
        return
    texts = [d if isinstance(d, str) else d["fr"] for d in documents]
    if document.strip() not in [t.strip() for t in texts]:
        yield (
            path,
            (
                f"« {document} » ne correspond à aucune pièce de la liste documents "
                "(recopiez le texte exact, ou donnez son numéro à partir de 0)"
            ),
        )


def form_errors(data: Mapping[str, Any]) -> list[Problem]:
    """Problems of a schema-valid definition's `form`, as (path from the root, French message)."""
    form = data.get("form")
    if not form:
        return []
    index = _Index(form)
    problems = list(index.duplicates)
    seen_pages: dict[str, int] = {}
    for p, page in enumerate(form["pages"]):
        if page["id"] in seen_pages:
            problems.append(
                (
                    ("form", "pages", p, "id"),
                    f"identifiant de page « {page['id']} » déjà utilisé "
                    f"(form.pages[{seen_pages[page['id']]}])",
                )
            )
        seen_pages.setdefault(page["id"], p)
        if "show_if" in page:
            problems.extend(
                _condition_problems(
                    index,
                    page["show_if"],
                    ("form", "pages", p, "show_if"),
                    page=p,
                    slot=None,
                    country=data["country"],
                )
            )
    for slot in index.slots():
        problems.extend(
            _field_problems(index, slot, country=data["country"], documents=data["documents"])
        )
    return sorted(problems, key=lambda problem: [str(part).zfill(4) for part in problem[0]])
