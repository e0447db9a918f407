"""Conditions of display (`show_if`), evaluated on the server.

A condition is the JSON of the definition:

    {field: pour, equals: enfant}          {field: pour, not_equals: moi}
    {field: pour, in: [enfant, tiers]}     {field: age, gte: 18}    (also gt, lt, lte)
    {field: email, is_set: true}
    {all: [...]}  {any: [...]}  {not: {...}}

Semantics, chosen so that a hidden or unanswered field behaves as "no answer":
- a missing answer (absent, "", [] or null) satisfies only `not_equals` and `is_set: false`;
- on a multiple choice answer (a list), `equals: v` means "v is among the ticked boxes",
  `not_equals: v` its opposite, and `in: [...]` "at least one of them is ticked";
- booleans only equal booleans (`equals: true` never matches the number 1);
- `gt`, `gte`, `lt`, `lte` compare numbers; anything else is false.

This module is pure: it knows nothing of pages or field types. `definition.py` checks
where a condition may point; `spec.py` decides which answers it sees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

Condition = Mapping[str, Any]
COMBINATORS = ("all", "any", "not")
OPERATORS = ("equals", "not_equals", "in", "gt", "gte", "lt", "lte", "is_set")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def is_empty(value: Any) -> bool:
    """No answer: what an optional field left blank gives. `False` and `0` are answers."""
    return value is None or value == "" or value == [] or value == {}


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(answer: Any, expected: Any) -> bool:
    if isinstance(answer, bool) or isinstance(expected, bool):
        return isinstance(answer, bool) and isinstance(expected, bool) and answer == expected
    if is_number(answer) and is_number(expected):
        return bool(answer == expected)
    return type(answer) is type(expected) and answer == expected


def _matches(answer: Any, expected: Any) -> bool:
    if isinstance(answer, list):
        return any(_same(item, expected) for item in answer)
    return _same(answer, expected)


def evaluate(condition: Condition, answer_of: Callable[[str], Any]) -> bool:
    """Whether `condition` holds, reading answers through `answer_of(field_id)`."""
    if "all" in condition:
        return all(evaluate(c, answer_of) for c in condition["all"])
    if "any" in condition:
        return any(evaluate(c, answer_of) for c in condition["any"])
    if "not" in condition:
        return not evaluate(condition["not"], answer_of)
    answer = answer_of(condition["field"])
    if "is_set" in condition:
        return bool((not is_empty(answer)) == condition["is_set"])
    if is_empty(answer):
        return "not_equals" in condition
    if "equals" in condition:
        return _matches(answer, condition["equals"])
    if "not_equals" in condition:
        return not _matches(answer, condition["not_equals"])
    if "in" in condition:
        return any(_matches(answer, v) for v in condition["in"])
    for op, compare in _COMPARE.items():
        if op in condition:
            limit = condition[op]
            return is_number(answer) and is_number(limit) and compare(answer, limit)
    return False


def references(condition: Condition) -> Iterator[tuple[tuple[str | int, ...], Condition]]:
    """Every leaf `{field: …}` with its path inside the condition (for error messages)."""
    for key in ("all", "any"):
        for index, child in enumerate(condition.get(key) or ()):
            for path, leaf in references(child):
                yield (key, index, *path), leaf
    if "not" in condition:
        for path, leaf in references(condition["not"]):
            yield ("not", *path), leaf
    if "field" in condition:
        yield (), condition


def shape_errors(condition: Condition) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """What the schema cannot say: one combinator, or one field with exactly one operator."""
    keys = set(condition)
    combinators = [k for k in COMBINATORS if k in keys]
    operators = [k for k in OPERATORS if k in keys]
    if combinators:
        if len(keys) > 1:
            extra = sorted(keys - {combinators[0]})[0]
            yield (
                (extra,),
                (
                    f"« {combinators[0]} » s'écrit seul : "
                    f"mettez « {extra} » dans une condition à part"
                ),
            )
            return
        key = combinators[0]
        children = [condition[key]] if key == "not" else condition[key]
        for index, child in enumerate(children):
            prefix: tuple[str | int, ...] = (key,) if key == "not" else (key, index)
            for path, message in shape_errors(child):
                yield (*prefix, *path), message
        return
    if "field" not in keys:
        yield (
            (),
            "une condition porte sur un champ (field) ou combine des conditions (all, any, not)",
        )
        return
    if len(operators) != 1:
        where = (operators[1],) if len(operators) > 1 else ()
        yield (
            where,
            (
                "une condition sur un champ a exactement un opérateur parmi : "
                + ", ".join(OPERATORS)
            ),
        )
