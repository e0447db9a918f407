from __future__ import annotations

import itertools
import random

from guichet.dossiers.references import ALPHABET, new_reference, parse_reference


def test_new_reference_has_the_readable_shape_and_checks_out():
    reference = new_reference("ml")
    assert reference.startswith("ML-")
    country, first, second = reference.split("-")
    assert len(first) == len(second) == 4
    assert set(first + second) <= set(ALPHABET)
    assert parse_reference(reference) == reference


def test_parse_forgives_case_spaces_dashes_and_look_alikes():
    reference = new_reference("BF")
    typed = reference.lower().replace("-", " ")
    assert parse_reference(typed) == reference
    assert parse_reference(reference.replace("-", "")) == reference
    with_look_alikes = reference.replace("0", "O").replace("1", "l")
    assert parse_reference(with_look_alikes) == reference


def test_every_single_wrong_symbol_is_caught():
    rng = random.Random(7)
    for _ in range(200):
        reference = new_reference("NE")
        body = reference.replace("-", "")[2:]
        position = rng.randrange(len(body))
        for symbol in ALPHABET:
            if symbol == body[position]:
                continue
            wrong = body[:position] + symbol + body[position + 1 :]
            assert parse_reference("NE" + wrong) is None


def test_almost_every_swap_of_neighbours_is_caught():
    caught = total = 0
    for _ in range(500):
        body = new_reference("ML").replace("-", "")[2:]
        for i in range(len(body) - 1):
            if body[i] == body[i + 1]:
                continue
            swapped = body[:i] + body[i + 1] + body[i] + body[i + 2 :]
            total += 1
            caught += parse_reference("ML" + swapped) is None
    assert caught / total > 0.95


def test_garbage_is_not_a_reference():
    for text in ["", "ML", "ML-1234", "XX-!!!!-????", "ML-ABCD-EFGH-IJKL", "12-3456-7890"]:
        assert parse_reference(text) is None


def test_references_do_not_repeat_in_a_large_draw():
    drawn = [new_reference("ML") for _ in range(20_000)]
    assert len(set(drawn)) == len(drawn)
    assert all(parse_reference(r) for r in itertools.islice(drawn, 100))
