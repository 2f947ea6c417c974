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


def log_text(text: str) -> str:
    """One value for a CI log or a code-quality viewer: control characters (ESC, BEL: ANSI colours and OSC 8
    links; C1 controls; CR) and bidirectional overrides (U+202A-202E, U+2066-2069) escaped; line feeds and tabs
    kept, and carriage returns (the github format percent-encodes CR and LF itself, a JSON writer escapes them)."""
    return _LOG_CONTROL.sub(_escaped, text)


# diagnostics.printable's characters but CR: ESC, BEL and every other C0 control, DEL, C1, bidi, lone surrogates
_LOG_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escaped(m: re.Match) -> str:
    return f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"


_SARIF_SPECIAL = re.compile(r"[\\\[\]]")
_MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]<>()#+\-.!|~]")


def sarif_text(text: str) -> str:
    """A SARIF plain-text message (SARIF 2.1.0 section 3.11.6): controls and bidi overrides escaped as in a log,
    and literal square brackets (and the backslash) escaped with a backslash, so no text from the inputs (an id,
    a message) becomes an embedded link ``[text](target)`` in a viewer."""
    return _SARIF_SPECIAL.sub(lambda m: "\\" + m.group(), printable(text))


def sarif_markdown(text: str) -> str:
    """A SARIF markdown message: every Markdown punctuation character of the text escaped (no link, image or
    HTML from the inputs), line breaks as Markdown hard breaks."""
    return _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(), printable(text)).replace("\n", "  \n")


def for_log(record: dict) -> dict:
    return map_strings(record, log_text)


def terminal_text(text: str) -> str:
    """One value for a terminal line: control characters (ANSI escapes, CR, newlines) escaped."""
    return printable(text, keep_newlines=False)


def xml_text(text: str) -> str:
    """Characters XML 1.0 forbids shown as \\xNN escapes."""
    return _XML_ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)


def for_terminal(record: dict) -> dict:
    return map_strings(record, terminal_text)


def for_xml(record: dict) -> dict:
    """Characters XML forbids, and those a log must not pass (controls, bidi overrides), escaped."""
    return map_strings(record, lambda text: xml_text(log_text(text)))
