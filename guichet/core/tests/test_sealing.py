"""The sealing primitive: AES-256-GCM bound to its place, padded, keys in a ring."""

from __future__ import annotations

from typing import Any

import pytest

from guichet.core import sealing


@pytest.fixture(autouse=True)
def ring(tmp_path, settings):
    settings.FIELD_KEY_RING = tmp_path / "ring.json"
    settings.FIELD_KEYS = ""
    settings.FIELD_KEYS_AUTO_CREATE = True
    yield
    sealing._ring = None


def test_a_value_opens_only_in_its_own_place():
    box = sealing.seal("AB123456", context="ML-AAAA-BBBB", path="nina")
    assert "AB123456" not in box[sealing.MARK]
    assert sealing.unseal(box, context="ML-AAAA-BBBB", path="nina") == "AB123456"
    for context, path in (("ML-AAAA-CCCC", "nina"), ("ML-AAAA-BBBB", "cnib")):
        with pytest.raises(sealing.SealingError):
            sealing.unseal(box, context=context, path=path)


def test_lengths_are_hidden_to_the_block_and_values_keep_their_json_type():
    short = sealing.seal("A1", context="c", path="p")[sealing.MARK]
    longer = sealing.seal("A1234567890", context="c", path="p")[sealing.MARK]
    assert len(short) == len(longer)
    value = {"other": "Kati"}
    assert sealing.unseal(sealing.seal(value, context="c", path="p"), context="c", path="p") == (
        value
    )


def test_an_edited_sealed_value_is_refused():
    box = sealing.seal("AB123456", context="c", path="p")
    kid, _, body = box[sealing.MARK].partition(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(sealing.SealingError):
        sealing.unseal({sealing.MARK: f"{kid}.{flipped}"}, context="c", path="p")


def test_group_answers_are_sealed_per_item_and_opened_back(settings):
    answers: dict[str, Any] = {
        "associes": [{"nom": "A", "cnib": "B1234567"}, {"nom": "B"}],
        "x": 1,
    }
    closed = sealing.seal_answers(answers, ("associes.cnib", "absent"), context="c")
    assert sealing.is_sealed(closed["associes"][0]["cnib"])
    assert closed["associes"][1] == {"nom": "B"} and closed["x"] == 1
    assert answers["associes"][0]["cnib"] == "B1234567"  # the caller's dict is untouched
    assert sealing.open_answers(closed, context="c") == ("associes.cnib",)
    assert closed == answers


def test_a_ring_from_the_environment_and_a_broken_one(settings):
    made = sealing.KeyRing(current="", keys={}, created={}).with_new_key()
    settings.FIELD_KEYS = made.dumps()
    assert sealing.ring().current == "f1"
    settings.FIELD_KEYS = '{"current": "f9", "keys": {}}'
    with pytest.raises(sealing.SealingError, match="current key is missing"):
        sealing.ring()


def test_masking_shows_little():
    assert sealing.mask("12345678901234A") == "••••4A"
    assert sealing.mask("12345") == "••••"
