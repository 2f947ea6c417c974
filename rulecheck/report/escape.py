"""Text from the inputs made safe for each report format: no control characters reach a terminal, no character
XML forbids reaches the JUnit report, no Markdown image or link is made from user text (no remote resource)."""

from __future__ import annotations

import re
from typing import Any, Callable

from rulecheck.diagnostics import printable

# characters XML 1.0 does not allow (ElementTree would write them and make the document not well-formed)
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """A copy of a JSON-like record with `fn` applied to every string (keys included)."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {map_strings(k, fn) if isinstance(k, str) else k: map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [map_strings(v, fn) for v in value]
    if isinstance(value, tuple):
        return tuple(map_strings(v, fn) for v in value)
    return value


def terminal_text(text: str) -> str:
    """One value for a terminal line: control characters (ANSI escapes, CR, newlines) escaped."""
    return printable(text, keep_newlines=False)


def xml_text(text: str) -> str:
    """Characters XML 1.0 forbids shown as \\xNN escapes."""
    return _XML_ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)


def for_terminal(record: dict) -> dict:
    return map_strings(record, terminal_text)


def for_xml(record: dict) -> dict:
    return map_strings(record, xml_text)
