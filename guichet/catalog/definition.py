"""Procedure definitions: YAML files, checked against a JSON Schema, with precise errors.

A definition file describes one procedure (see docs/procedure-format.md). This module
reads it, keeps the line of every value so that an error can name it, validates it
against `schema/procedure-v1.schema.json` plus the rules a schema cannot say, and
returns the normalised definition that the catalog stores: every translatable text as a
`{"fr": ..., "en": ...}` mapping, keys in a fixed order. Normalising first makes
"same content" mean "same hash", so re-importing an unchanged file is a no-op.

The online form (`form`) has its own schema, `schema/form-v1.schema.json`, loaded into the
same validator; its cross-field rules and normal form live in `guichet/formdefs/definition.py`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from guichet.formdefs.definition import form_errors, normalise_form
from guichet.formdefs.definition import normalise_text as _text

FORMAT_VERSION = 1
SCHEMA_PATH = Path(__file__).parent / "schema" / "procedure-v1.schema.json"
FORM_SCHEMA_PATH = Path(__file__).parent / "schema" / "form-v1.schema.json"

# Fields whose value is a translatable text (or a list of them), in definition order.
TEXT_FIELDS = ("title", "summary", "audience", "legal_basis", "office")
TEXT_LIST_FIELDS = ("documents", "steps")

FIELD_ORDER = (
    "format", "id", "country", "title", "summary", "theme", "authority", "audience",
    "documents", "fees", "delay", "legal_basis", "steps", "office", "sources",
    "last_verified", "confidence", "keywords", "form", "workflow", "issued_documents",
    "data_protection",
)  # fmt: skip

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class DefinitionError:
    """One problem in one file, located as precisely as the file allows."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field_part = f" {self.path} :" if self.path else ""
        return f"{where}:{field_part} {self.message}"


@dataclass
class Definition:
    """A valid, normalised procedure definition and where it came from."""

    data: dict[str, Any]
    source: str
    content_hash: str = field(init=False)

    def __post_init__(self) -> None:
        self.content_hash = content_hash(self.data)

    @property
    def id(self) -> str:
        return str(self.data["id"])


class DefinitionSetError(Exception):
    """Raised when a set of files holds at least one error; carries all of them."""

    def __init__(self, errors: Sequence[DefinitionError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = list(errors)


# --- Reading YAML with line numbers ------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Safe loader that keeps dates as ISO strings (the schema checks their shape)."""


_Loader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)


def _collect_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            # A key's own line is the best place to point at for a wrong value.
            lines[(*path, key)] = key_node.start_mark.line + 1
            _collect_lines(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_lines(item, (*path, index), lines)


def _read(text: str, source: str) -> tuple[Any, dict[Path_, int]]:
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise DefinitionSetError(
            [DefinitionError(source, line, "", f"YAML illisible : {exc.problem or exc}")]
        ) from exc
    except yaml.YAMLError as exc:
        raise DefinitionSetError(
            [DefinitionError(source, None, "", f"YAML illisible : {exc}")]
        ) from exc
    lines: dict[Path_, int] = {}
    if node is not None:
        _collect_lines(node, (), lines)
    return data, lines


# --- Validation ------------------------------------------------------------------------------


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    form_schema = json.loads(FORM_SCHEMA_PATH.read_text(encoding="utf-8"))
    resources = []
    for document in (schema, form_schema):
        Draft202012Validator.check_schema(document)
        resources.append((document["$id"], Resource.from_contents(document)))
    return Draft202012Validator(schema, registry=Registry().with_resources(resources))


def _is_text_schema(schema: Any) -> bool:
    """The `text` or `optional_text` definition: a string, or a table of translations."""
    options = schema.get("oneOf", []) if isinstance(schema, dict) else []
    return any(o == {"type": "string", "minLength": 1} or "$ref" in o for o in options)


def _dotted(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_for(path: Path_, lines: dict[Path_, int]) -> int | None:
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        path = path[:-1]


def _describe(value: Any) -> str:
    if value is None:
        return "rien (null)"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "…"


_TYPE_NAMES = {
    "string": "un texte",
    "integer": "un nombre entier",
    "array": "une liste",
    "object": "une table de champs",
    "null": "null (inconnu)",
    "number": "un nombre",
    "boolean": "oui ou non",
}


def _message(error: ValidationError) -> tuple[Path_, str]:
    """Turn a jsonschema error into a field path and a French message."""
    path: Path_ = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    validator, found = error.validator, _describe(error.instance)
    expected: Any = error.validator_value
    instance: Any = error.instance
    if validator == "required":
        missing = [name for name in expected if name not in instance]
        field_name = missing[0] if missing else "?"
        return (*path, field_name), "champ obligatoire manquant"
    if validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(instance) - set(allowed))
        return (*path, extra[0]) if extra else path, (
            f"champ inconnu ; champs possibles : {', '.join(allowed)}"
        )
    if validator == "type":
        expected = expected
        names = [
            _TYPE_NAMES.get(t, t) for t in ([expected] if isinstance(expected, str) else expected)
        ]
        return path, f"attendu {' ou '.join(names)}, trouvé {found}"
    if validator == "enum":
        choices = ", ".join(str(c) for c in expected)
        return path, f"valeur {found} non reconnue ; valeurs possibles : {choices}"
    if validator == "const":
        return path, f"attendu {expected}, trouvé {found}"
    if validator == "pattern":
        return path, f"format invalide {found} ; attendu {_pattern_hint(path, expected)}"
    if validator == "oneOf":
        if path and path[-1] in ("fr",) or _is_text_schema(schema):
            return path, (
                f"attendu un texte non vide ou une table de traductions "
                f"(fr: …, en: …), trouvé {found}"
            )
        return path, f"valeur invalide {found}"
    if validator == "minimum":
        return path, f"attendu un nombre ≥ {expected}, trouvé {found}"
    if validator == "maximum":
        return path, f"attendu un nombre ≤ {expected}, trouvé {found}"
    if validator == "exclusiveMinimum":
        return path, f"attendu un nombre > {expected}, trouvé {found}"
    if validator == "minItems" and expected > 1:
        return path, f"attendu au moins {expected} éléments"
    if validator in ("minLength", "minItems", "minProperties"):
        return path, "ne doit pas être vide"
    if validator == "maxLength":
        return path, f"trop long (au plus {expected} caractères)"
    if validator == "uniqueItems":
        return path, "contient des doublons"
    if validator == "propertyNames":
        return path, f"code de langue invalide {found} (attendu 2 ou 3 lettres minuscules)"
    return path, error.message


def _pattern_hint(path: Path_, expected: str) -> str:
    last = path[-1] if path else ""
    if path and path[0] == "form":
        if last in ("min", "max"):
            return "une date AAAA-MM-JJ, today, ou un écart comme -18y, +30d, -6m"
        if last in ("value", "region", "scheme"):
            return "minuscules, chiffres, - ou _ (ex. mon-enfant)"
        return "minuscules, chiffres et _, en commençant par une lettre (ex. date_naissance)"
    hints = {
        "id": "minuscules, chiffres et tirets, préfixé par le pays (ex. ml-passeport)",
        "last_verified": "une date AAAA-MM-JJ",
        "sources": "une adresse http(s)://…",
    }
    return hints.get(str(path[0] if path else ""), f"le motif {expected}")


def _schema_errors(data: Any, lines: dict[Path_, int], source: str) -> list[DefinitionError]:
    errors = []
    for error in sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.path))):
        path, message = _message(error)
        errors.append(DefinitionError(source, _line_for(path, lines), _dotted(path), message))
    return errors


def _rule_errors(
    data: dict[str, Any], lines: dict[Path_, int], source: str
) -> list[DefinitionError]:
    """Rules the schema cannot state: they tie several fields together."""
    errors: list[DefinitionError] = []

    def add(path: Path_, message: str) -> None:
        errors.append(DefinitionError(source, _line_for(path, lines), _dotted(path), message))

    prefix = data["id"].split("-", 1)[0].upper()
    if prefix != data["country"]:
        add(
            ("id",),
            f"l'identifiant commence par « {prefix.lower()}- » mais le pays est {data['country']}",
        )
    stem = Path(source).stem
    if stem != data["id"] and not source.startswith("<"):
        add(
            ("id",), f"l'identifiant « {data['id']} » doit être le nom du fichier (« {stem}.yaml »)"
        )
    fees = data["fees"]
    if fees["kind"] == "fixed" and "amount_xof" not in fees:
        add(("fees", "kind"), "un tarif fixe (fixed) demande un montant amount_xof")
    if fees["kind"] != "fixed" and "amount_xof" in fees:
        add(("fees", "amount_xof"), "un montant n'est permis qu'avec kind: fixed")
    if fees["kind"] == "varies" and "details" not in fees:
        add(("fees", "kind"), "un tarif variable (varies) demande des détails (details)")
    for path, message in form_errors(data):
        add(path, message)
    for path, message in _workflow_errors(data):
        add(path, message)
    for path, message in _issued_document_errors(data):
        add(path, message)
    return errors


ROUTING_FIELD_TYPES = ("commune", "region")


def _workflow_errors(data: dict[str, Any]) -> list[tuple[Path_, str]]:
    """An online form needs services to handle its dossiers; routing and name fields must be
    fields of the form's pages (not inside a group), routing ones a commune or a region,
    name ones not sensitive."""
    workflow, form = data.get("workflow"), data.get("form")
    if form and not workflow:
        return [(("workflow",), "un formulaire en ligne demande workflow.services")]
    if not workflow:
        return []
    if not form:
        return [(("workflow",), "workflow n'a de sens qu'avec un formulaire en ligne (form)")]
    types = {f["id"]: f["type"] for page in form["pages"] for f in page["fields"]}
    problems: list[tuple[Path_, str]] = []
    for i, field_id in enumerate(workflow.get("route_by", [])):
        if types.get(field_id) not in ROUTING_FIELD_TYPES:
            problems.append(
                (
                    ("workflow", "route_by", i),
                    f"« {field_id} » doit être un champ commune ou region du formulaire",
                )
            )
    sensitive = {f["id"] for page in form["pages"] for f in page["fields"] if f.get("sensitive")}
    for i, field_id in enumerate(workflow.get("name_fields", [])):
        if field_id not in types:
            problems.append(
                (("workflow", "name_fields", i), f"« {field_id} » n'est pas un champ du formulaire")
            )
        elif field_id in sensitive:
            # The name is shown in queues and exports, in clear: never a sensitive answer.
            problems.append(
                (
                    ("workflow", "name_fields", i),
                    f"« {field_id} » est marqué sensible : il ne peut pas nommer le dossier "
                    "dans les files et les exports",
                )
            )
    return problems


PRINTABLE_FIELD_EXCLUDED = ("file", "group", "explanation")


def _issued_document_errors(data: dict[str, Any]) -> list[tuple[Path_, str]]:
    """Documents are issued on a decision, so they need an online form; what they print
    must be answers of its pages (not files, groups or explanations)."""
    documents, form = data.get("issued_documents"), data.get("form")
    if not documents:
        return []
    if not form:
        return [(("issued_documents",), "un document délivré demande un formulaire en ligne")]
    types = {f["id"]: f["type"] for page in form["pages"] for f in page["fields"]}
    problems: list[tuple[Path_, str]] = []
    for kind, template in documents.items():
        refs: list[tuple[Path_, str]] = [
            (("issued_documents", kind, "holder", i), ref)
            for i, ref in enumerate(template.get("holder", []))
        ]
        refs += [
            (("issued_documents", kind, "fields", i, "field"), item["field"])
            for i, item in enumerate(template.get("fields", []))
        ]
        for path, ref in refs:
            if types.get(ref, "file") in PRINTABLE_FIELD_EXCLUDED:
                problems.append((path, f"« {ref} » n'est pas une réponse imprimable du formulaire"))
    return problems


def parse_definition(text: str, source: str) -> Definition:
    """Parse and validate one definition; raise DefinitionSetError listing every problem."""
    data, lines = _read(text, source)
    if not isinstance(data, dict):
        raise DefinitionSetError(
            [
                DefinitionError(
                    source, 1, "", "le fichier doit décrire une démarche (une table de champs)"
                )
            ]
        )
    errors = _schema_errors(data, lines, source)
    if not errors:
        errors = _rule_errors(data, lines, source)
    if errors:
        raise DefinitionSetError(errors)
    return Definition(data=normalise(data), source=source)


def load_definitions(paths: Iterable[Path]) -> list[Definition]:
    """Read every YAML file under `paths`; all valid, or DefinitionSetError with every error."""
    files = sorted(_expand(paths))
    definitions: list[Definition] = []
    errors: list[DefinitionError] = []
    seen: dict[str, str] = {}
    if not files:
        raise DefinitionSetError(
            [DefinitionError(", ".join(map(str, paths)), None, "", "aucun fichier .yaml trouvé")]
        )
    for file in files:
        source = str(file)
        try:
            definition = parse_definition(file.read_text(encoding="utf-8"), source)
        except DefinitionSetError as exc:
            errors.extend(exc.errors)
            continue
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(DefinitionError(source, None, "", f"fichier illisible : {exc}"))
            continue
        if definition.id in seen:
            errors.append(
                DefinitionError(
                    source,
                    None,
                    "id",
                    f"identifiant « {definition.id} » déjà utilisé par {seen[definition.id]}",
                )
            )
        seen[definition.id] = source
        definitions.append(definition)
    if errors:
        raise DefinitionSetError(sorted(errors, key=lambda e: (e.file, e.line or 0)))
    return definitions


def _expand(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from (p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
        else:
            yield path


# --- Normal form -------------------------------------------------------------------------------


def normalise(data: dict[str, Any]) -> dict[str, Any]:
    """The canonical form stored in the database and written by `procedures export`."""
    out: dict[str, Any] = {}
    for key in FIELD_ORDER:
        if key not in data:
            continue
        value = data[key]
        if key in TEXT_FIELDS and value is not None:
            value = _text(value)
        elif key in TEXT_LIST_FIELDS:
            value = [_text(v) for v in value]
        elif key == "authority":
            value = {k: (_text(v) if k != "id" else v) for k, v in value.items()}
        elif key == "fees":
            value = {**value}
            if "details" in value:
                value["details"] = _text(value["details"])
        elif key == "delay":
            value = {**value, "text": _text(value["text"]) if value["text"] is not None else None}
        elif key == "form" and value is not None:
            value = normalise_form(value)
        out[key] = value
    return out


def content_hash(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_FIRST_KEYS = (*FIELD_ORDER, "type", "name", "label", "title", "intro", "hint", "fr", "en")


def _key_rank(key: str) -> tuple[int, str]:
    """Known keys in the documented order, then the others alphabetically: the same text
    whatever order the database kept (PostgreSQL's jsonb reorders keys)."""
    return (_FIRST_KEYS.index(key) if key in _FIRST_KEYS else len(_FIRST_KEYS), key)


def dump_definition(data: dict[str, Any]) -> str:
    """YAML for one normalised definition; single-language texts are written as plain strings."""

    def compact(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"fr"} and isinstance(value["fr"], str):
                return value["fr"]
            return {k: compact(value[k]) for k in sorted(value, key=_key_rank)}
        if isinstance(value, list):
            return [compact(v) for v in value]
        return value

    return yaml.safe_dump(compact(data), allow_unicode=True, sort_keys=False, width=100)
