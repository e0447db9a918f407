import pytest

from guichet.core.spreadsheets import safe_text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+22370123456", "'+22370123456"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\x01=cmd", "'=cmd"),
        ("Traoré Awa", "Traoré Awa"),
        ("ML-7K3Q-9DXC", "ML-7K3Q-9DXC"),
        ("a=b", "a=b"),
    ],
)
def test_text_cells_are_neutralised(value, expected):
    assert safe_text(value) == expected
