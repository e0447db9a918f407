"""The encrypted container: what goes in comes out, and nothing changed, cut, reordered,
appended or read with the wrong key gets through."""

from __future__ import annotations

import io
import os
import struct

import pytest

from guichet.backups import archive
from guichet.backups.archive import CHUNK, ArchiveError

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def _sealed(plain: bytes, key: bytes = KEY, kind: str = archive.DATA) -> bytes:
    out = io.BytesIO()
    writer = archive.Writer(out, key, kind)
    writer.write(plain)
    writer.close()
    return out.getvalue()


def _opened(data: bytes, key: bytes = KEY, kind: str = archive.DATA) -> bytes:
    reader = archive.Reader(io.BytesIO(data), key, kind)
    plain = reader.read(-1)
    reader.finish()
    return plain


def _chunk_offsets(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each length-prefixed chunk after the header and its MAC."""
    (length,) = struct.unpack(">I", data[16:20])
    at = 20 + length + 32
    found = []
    while at < len(data):
        (size,) = struct.unpack(">I", data[at : at + 4])
        found.append((at, at + 4 + size))
        at += 4 + size
    return found


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 12345])
def test_what_was_written_reads_back(size):
    plain = os.urandom(size)
    assert _opened(_sealed(plain)) == plain


def test_small_reads_give_the_same_bytes():
    plain = os.urandom(CHUNK + 5000)
    reader = archive.Reader(io.BytesIO(_sealed(plain)), KEY, archive.DATA)
    parts = []
    while part := reader.read(10240):
        parts.append(part)
    reader.finish()
    assert b"".join(parts) == plain


def test_two_archives_of_the_same_data_differ():
    """A fresh salt, hence a fresh key, per archive: nothing repeats between backups."""
    assert _sealed(b"x" * 100)[60:] != _sealed(b"x" * 100)[60:]


@pytest.mark.parametrize("where", ["header", "first chunk", "last chunk", "last tag"])
def test_a_changed_byte_is_refused(where):
    data = bytearray(_sealed(os.urandom(2 * CHUNK + 100)))
    chunks = _chunk_offsets(bytes(data))
    position = {
        "header": 30,
        "first chunk": chunks[0][0] + 1000,
        "last chunk": chunks[-1][0] + 10,
        "last tag": chunks[-1][1] - 1,
    }[where]
    data[position] ^= 0x01
    with pytest.raises(ArchiveError, match="modifi|abîm"):
        _opened(bytes(data))


def test_an_archive_cut_after_a_chunk_is_refused():
    data = _sealed(os.urandom(2 * CHUNK + 100))
    chunks = _chunk_offsets(data)
    with pytest.raises(ArchiveError, match="tronquée"):
        _opened(data[: chunks[-1][0]])  # the last chunk (the one sealed as last) is gone


def test_chunks_put_in_another_order_are_refused():
    data = _sealed(os.urandom(3 * CHUNK))
    (a, b), (c, d) = _chunk_offsets(data)[:2]
    swapped = data[:a] + data[c:d] + data[a:b] + data[d:]
    with pytest.raises(ArchiveError, match="modifiée"):
        _opened(swapped)


def test_data_after_the_end_is_refused():
    with pytest.raises(ArchiveError, match="après la fin"):
        _opened(_sealed(b"backup") + b"\x00")


def test_a_wrong_key_is_refused_naming_both_keys():
    data = _sealed(b"backup")
    with pytest.raises(ArchiveError, match="autre clé") as refused:
        _opened(data, key=OTHER_KEY)
    assert archive.key_id(KEY) in str(refused.value)
    assert archive.key_id(OTHER_KEY) in str(refused.value)


def test_a_forged_key_id_does_not_get_past_the_header_mac():
    """Someone who rewrites the header's key id to the reader's still fails."""
    data = _sealed(b"backup")
    forged = data.replace(archive.key_id(KEY).encode(), archive.key_id(OTHER_KEY).encode())
    with pytest.raises(ArchiveError, match="mauvaise clé|modifié"):
        _opened(forged, key=OTHER_KEY)


def test_a_keys_archive_is_not_read_as_a_data_archive():
    with pytest.raises(ArchiveError, match="archive de clés"):
        _opened(_sealed(b"keys", kind=archive.KEYS), kind=archive.DATA)


def test_something_else_is_not_an_archive():
    with pytest.raises(ArchiveError, match="pas une archive"):
        _opened(b"PK\x03\x04 a zip file")


@pytest.mark.parametrize("text", ["", "short", "x" * 40, archive.new_key() + "AAAA"])
def test_a_backup_key_is_32_bytes_in_base64url(text):
    with pytest.raises(ArchiveError, match="BACKUP_KEY"):
        archive.parse_key(text, "BACKUP_KEY")


def test_a_new_key_parses():
    assert len(archive.parse_key(archive.new_key(), "BACKUP_KEY")) == 32
