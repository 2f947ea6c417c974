"""The byte searches that tell whether a JSON manifest holds a character YAML reads differently or refuses find
exactly what the regular expression _JSON_NOT_YAML finds (rulecheck.model.sources._json_not_yaml)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rulecheck.model.sources import _JSON_NOT_YAML, _json_not_yaml

SPECIAL = ["\x00", "\x07", "\t", "\n", "\r", "\r\n", "\x0b", "\x1f", "\x7f", "\x80", "\x85", "\x9f", "\xa0", "\xff",
           "\u2027", "\u2028", "\u2029", "\u202a", "\ud7ff", "\ud800", "\udfff", "\ue000", "\ufffd", "\ufffe", "\uffff",
           "\U00010000", "\U0010ffff", "\\u", "\\ud800", "\\uD9", "\\udc", "\\uDBFF", "\\u00e9", "\\\\ud800", "\u4e2d",
           "\u00c2", "\u0100", "a", "{", '"']


def agree(text: str) -> None:
    found, encoded = _json_not_yaml(text)
    assert found == bool(_JSON_NOT_YAML.search(text)), ascii(text)
    assert encoded is None or encoded == text.encode("utf-8")


@pytest.mark.parametrize("piece", SPECIAL)
def test_each_special_character_alone_and_among_text(piece):
    for text in (piece, f'{{"a": "x{piece}y"}}', f"{piece}\u4e2d\n", f"\u4e2d{piece}"):
        agree(text)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(SPECIAL), st.text(max_size=5)), max_size=12))
def test_any_text_is_judged_as_the_regular_expression_judges_it(pieces):
    agree("".join(pieces))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=20))
def test_any_code_points(text):
    agree(text)
