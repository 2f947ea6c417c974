"""Fuzzing what the submitter controls beyond the data (issue 19, item 6): ids and messages made of terminal
escapes, bidi controls and link syntax rendered in every CI format, and byte streams of any framing sent to the
language server's framer. The generators are the shapes that found N11, N12 and N16."""

from __future__ import annotations

import io
import json
import re

from hypothesis import given
from hypothesis import strategies as st

from conftest import sample_record
from fuzz_support import budget

# what a hostile id is made of: escapes (CSI, OSC 8 links ended by BEL or ST), C0 and C1 controls, bidi
# overrides and isolates, workflow-command and Markdown/SARIF link syntax
PIECES = st.sampled_from([
    "\x1b[31m", "\x1b]8;;http://evil.invalid\x07", "\x1b]8;;\x1b\\", "\x07", "\x00", "\x08", "\x0b", "\x0c", "\r",
    "\x7f", "\x85", "\x9b", "\x9d", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
    "\u2069", "%0A", "\n::warning::forged", "::error::x", "[c](javascript:alert(1))", "![x](http://e.invalid/x.png)",
    "<img src=x>", "\\", "]", "[", "](", "R1", "地块",
])
HOSTILE = st.lists(st.one_of(PIECES, st.text(max_size=4)), min_size=1, max_size=8).map("".join)
RAW = ("\x1b", "\x07", "\x00", "\x9b", "\x9d", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067",
       "\u2068", "\u2069")


def _with(record: dict, text: str) -> dict:
    for conflict in record["conflicts"]:
        conflict["message"] = text
        conflict["messages"] = {"zh": text, "en": text}
        for subject in conflict.get("subjects") or []:
            subject["id"] = text
    return record


@budget(200)
@given(HOSTILE, st.sampled_from(["github", "gitlab", "text", "markdown", "sarif", "junit"]))
def test_no_escape_or_bidi_control_from_an_id_reaches_a_ci_format(text, fmt):
    from rulecheck.report import render

    out = render(_with(sample_record(), text), fmt, lang="en")
    for raw in RAW:
        assert raw not in out, (fmt, repr(raw))
    if fmt == "github":
        assert not any(line.startswith(("::warning::forged", "::error::x")) for line in out.splitlines())
    if fmt == "sarif":
        run = json.loads(out)["runs"][0]
        for result in run["results"]:
            texts = [result["message"]["text"]] + [loc["message"]["text"] for loc in result["locations"]
                                                    if "message" in loc]
            for message in texts:
                assert not re.search(r"(?<!\\)(?:\\\\)*\]\(", message), message  # no [text](target) link


def _frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


JUNK = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"Content-Type: x\r\n\r\n{}", b"Content-Length: -5\r\n\r\n{}", b"Content-Length: 1e3\r\n\r\n",
                     b"Content-Length: 1000000000000\r\n\r\n{}", b"Content-Length: 2\r\n\r\n{}}", b"\r\n\r\n",
                     b"Content-Length:\r\n\r\n", b"X" * 9000 + b"\r\n"]),
)


@budget(300)
@given(st.lists(st.one_of(st.integers(0, 3).map(lambda n: ("good", n)), JUNK.map(lambda j: ("junk", j))), max_size=8))
def test_the_language_server_framer_yields_whole_messages_only(parts):
    """Whatever is sent, the framer gives pygls only well-framed JSON messages, and every good message sent
    after junk that ends in a line break (the next Content-Length header begins a line) is among them."""
    from rulecheck.dsl.lsp import Framer

    stream, good = b"", []
    for kind, value in parts:
        if kind == "good":
            body = json.dumps({"jsonrpc": "2.0", "id": len(good), "method": "m"}).encode()
            good.append(len(good))
            stream += _frame(body)
        else:
            stream += value
    framer = Framer(io.BytesIO(stream), log=lambda message: None)
    seen = []
    while True:
        header = framer.readline()
        if not header:
            break
        assert re.fullmatch(rb"Content-Length: [1-9][0-9]*\r\n", header) and framer.readline() == b"\r\n"
        message = json.loads(framer.read(int(header[16:-2])))
        if isinstance(message, dict) and "id" in message and message.get("method") == "m":
            seen.append(message["id"])
    assert set(seen) <= set(good)
    if all(kind == "good" for kind, _ in parts):
        assert seen == good
