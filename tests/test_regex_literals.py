"""The bytes every match of a pattern must hold (regex_literals.py): what is read from the
pattern's text, what is left alone, and, over generated patterns and texts, that no byte it
names is ever missing from a real match."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisord_lite.regex_literals import required_bytes


@pytest.mark.parametrize(
    ("pattern", "needed"),
    [
        (r"^step (?P<done>\d+)/(?P<total>\d+)", b" /step"),
        (r"\[(?P<done>\d+)\] (?P<phase>\w+)", b"[] "),
        (r"(?P<done>\d+)%", b"%"),
        ("s?tep", b"tep"),
        ("ab+c{2}d", b"abd"),
        (r"[]x](a|b)z", b"z"),
        (r"(?P<a>x)\.y", b".y"),
        (r"a\nb", b"ab"),
        (r"a\x41b", b"a"),
    ],
)
def test_the_literals_every_match_holds(pattern: str, needed: bytes) -> None:
    assert b"".join(required_bytes(pattern)) == needed


@pytest.mark.parametrize(
    "pattern", ["x*", "a|b", r"\d+", "(?i)step", "(?x) a b", "é", "", r"(?:ab)+", r"a\x61|"]
)
def test_nothing_is_sure(pattern: str) -> None:
    assert required_bytes(pattern) == ()


def test_a_pattern_that_is_not_one_raises() -> None:
    with pytest.raises(re.error):
        required_bytes("(unclosed")


_PIECES = st.sampled_from(
    [
        "a",
        "b",
        "/",
        " ",
        "%",
        ".",
        r"\d",
        r"\.",
        "[ab]",
        "(a|/)",
        "(?P<n>b)",
        "?",
        "*",
        "+",
        "{2}",
        "{0,1}",
        "|",
        "^",
        "$",
        r"\x61",
        "(?i)",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=8), st.text(alphabet="ab/ %.1\n", max_size=30))
def test_every_byte_named_is_in_every_match(pieces: list[str], text: str) -> None:
    pattern = "".join(pieces)
    try:
        compiled = re.compile(pattern.encode())
    except re.error:
        return
    needed = required_bytes(pattern)
    for match in compiled.finditer(text.encode()):
        for byte in needed:
            assert byte in match.group(), (pattern, text)
