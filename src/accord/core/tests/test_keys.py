"""Ids read from what users type or post: a number, or nothing, never an error."""

import pytest


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("12", 12),
        (" 7 ", 7),
        ("0", None),
        ("-3", None),
        ("²", None),
        ("1e3", None),
        ("9" * 19, None),
        (str(2**63 - 1), 2**63 - 1),
        ("9" * 5000, None),
        ("", None),
        (None, None),
    ],
)
def test_key_of_reads_an_id_or_nothing(text, key):
    from accord.core.forms import key_of

    assert key_of(text) == key
