"""The JSON report: the record itself (the public contract of bundle-format.md), without the map layers."""

from __future__ import annotations

import itertools
import re
import json
from collections.abc import Iterator
from typing import Any


def render(record: dict, *, lang: str) -> str:
    """The record as indented UTF-8 JSON, keys in the record's own order; `layers` (map data for html) left out."""
    return "".join(pieces(record, lang=lang))


def pieces(record: dict, *, lang: str) -> Iterator[str]:
    """render's text in pieces of a few megabytes, for writing as they are made (report.render_pieces): the
    indented report (138 MB for a county) is never whole in memory. The record is encoded now, so what json
    cannot encode fails here, not halfway through a file."""
    public = {key: value for key, value in record.items() if key != "layers"}
    return itertools.chain(dumps_indented_pieces(public), ["\n"])


def encoded_pieces(record: dict, *, lang: str) -> Iterator[bytes]:
    """pieces() as the UTF-8 bytes a report file holds, without decoding each piece to text and encoding it
    again; a text holding a lone surrogate (which a file gets as a backslash escape) goes the way of text.

    A plain record (every report rulecheck makes) is written by orjson in one piece (_orjson_indented: 138 MB for
    a county, where the compact text json.dumps makes on the way is 89 MB of bytes and, holding Chinese, twice that
    as a str); anything else is encoded compactly and indented a few megabytes at a time."""
    public = {key: value for key, value in record.items() if key != "layers"}
    made = _orjson_indented(public)
    if made is not None:
        return iter([made, b"\n"])
    try:
        compact = _compact(public)
    except (TypeError, ValueError, RecursionError, OverflowError):
        compact = None
    if compact is None or _SURROGATE.search(compact):
        return (piece.encode("utf-8", "backslashreplace") for piece in pieces(record, lang=lang))
    return itertools.chain(_indent(compact, 2, CHUNK_BYTES), [b"\n"])


_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")  # U+D800..U+DFFF encoded with surrogatepass


def _orjson_indented(value: Any) -> bytes | None:
    """`json.dumps(value, ensure_ascii=False, indent=2)` in UTF-8, made by orjson (in C, the indentation too; a
    tenth of the time for a county's report), where that is certainly the same bytes; else None.

    It is where the value holds only dicts with text keys, lists, texts, whole numbers, true, false, null and
    finite floats of magnitude 1e-4 to 1e16 (or 0), each of exactly that type (_plain): there orjson writes what
    json.dumps writes. A text is escaped character by character the same way (every code point but the
    surrogates is checked in tests/test_json_report_bytes.py; a lone surrogate makes orjson fail), and a float is
    written in the shortest digits that read back as it, in fixed notation within that range (json.dumps writes
    1e-05 where orjson writes 0.00001, and orjson writes a NaN as null). A whole number beyond 64 bits, a tuple, a
    subclass (an enum), a date or any object makes orjson fail or _plain refuse. orjson runs first: it refuses a
    cycle (by its depth limit), so _plain's walk always ends."""
    try:
        import orjson
    except ImportError:  # a dependency (pyproject.toml); without it, json.dumps and numpy as before
        return None
    options = orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS \
        | orjson.OPT_PASSTHROUGH_DATETIME
    try:
        made = orjson.dumps(value, option=options)
    except (TypeError, ValueError, OverflowError, RecursionError):  # orjson.JSONEncodeError is a TypeError
        return None
    return made if _plain(value) else None


def _plain(value: Any) -> bool:
    """Whether the value is plain JSON as _orjson_indented needs it (a value orjson has encoded: no cycle)."""
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            for key in item:
                if type(key) is not str:
                    return False
            extend(item.values())
        elif kind is list:
            extend(item)
        elif kind is float:
            if not (1e-4 <= abs(item) < 1e16 or item == 0.0):
                return False
        elif kind is not str and kind is not int and kind is not bool and item is not None:
            return False
    return True


def _compact(value: Any) -> bytes:
    """The value as compact JSON in UTF-8, with the separators of indented output. Without the check for cycles
    (a set of the containers on the way down, kept for every list and dict): a cycle is a RecursionError instead
    of a ValueError, and each caller then encodes the way json.dumps does, which raises json's own error."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ": "), check_circular=False).encode(
        "utf-8", "surrogatepass")


# ---- json.dumps(value, ensure_ascii=False, indent=2), byte for byte, faster --------------------------------
#
# With `indent`, the standard library encodes in pure Python (a generator per container: 4-6 s for a county's
# 140 MB report); without it, in C. Indenting adds only white space, and only at known places outside strings:
# after an opening bracket, after a comma, before a closing bracket (never inside an empty [] or {}), each time
# a newline and `indent` spaces per level. So the value is encoded compactly in C, with json.dumps's own separators
# for indented output ("," and ": "), and the white space is put in with numpy, a few megabytes at a time.

CHUNK_BYTES = 1 << 22  # the compact text is indented this many bytes at a time (tests use tiny chunks)


def dumps_indented(value: Any, *, indent: int = 2, chunk_bytes: int | None = None) -> str:
    """Exactly `json.dumps(value, ensure_ascii=False, indent=indent)` (a number of spaces), in C and numpy
    instead of pure Python."""
    return "".join(dumps_indented_pieces(value, indent=indent, chunk_bytes=chunk_bytes))


def dumps_indented_pieces(value: Any, *, indent: int = 2, chunk_bytes: int | None = None) -> Iterator[str]:
    """`dumps_indented(value)` in pieces (about `chunk_bytes` of compact text each), the value encoded at once."""
    try:
        compact = _compact(value)
    except (TypeError, ValueError, RecursionError, OverflowError):
        # what cannot be encoded (an object json does not know, a cycle): the standard library's own error
        return iter([json.dumps(value, ensure_ascii=False, indent=indent)])
    # a piece never ends inside a UTF-8 sequence, so each decodes on its own
    pieces = _indent(compact, max(indent, 0), chunk_bytes or CHUNK_BYTES)
    return (piece.decode("utf-8", "surrogatepass") for piece in pieces)


_QUOTE, _BACKSLASH, _COMMA = 0x22, 0x5C, 0x2C
_OPEN, _CLOSE = 0x7B, 0x7D  # '[' and '{', ']' and '}', once folded with | 0x20 (no other byte folds to these)


def _indent(compact: bytes, indent: int, chunk_bytes: int) -> Iterator[bytes]:
    import numpy as np

    raw = np.frombuffer(compact, dtype=np.uint8)
    in_string, depth, start, size = 0, 0, 0, len(raw)
    while start < size:
        stop = min(start + chunk_bytes, size)
        # a chunk never ends on a backslash (an escape stays whole), on an opening bracket (an empty [] or {}
        # stays whole) or inside a UTF-8 sequence
        while stop < size and (raw[stop - 1] in (_BACKSLASH, 0x5B, 0x7B) or 0x80 <= raw[stop] < 0xC0):
            stop += 1
        piece, quotes, change = _indent_chunk(np, raw[start:stop], indent, in_string, depth)
        yield piece
        in_string, depth, start = (in_string + quotes) % 2, depth + change, stop


def _indent_chunk(np: Any, chunk: Any, indent: int, in_string: int, depth: int) -> tuple[bytes, int, int]:
    """One chunk of compact JSON indented: (the bytes, the number of string quotes in it, the change of depth)."""
    size = len(chunk)
    folded = chunk | 0x20  # '[' and '{' fold to '{', ']' and '}' to '}' (no other byte folds to these)
    special = np.flatnonzero((chunk == _QUOTE) | (folded == _OPEN) | (folded == _CLOSE) | (chunk == _COMMA))
    kinds = folded[special]  # a quote and a comma fold to themselves
    quote = kinds == _QUOTE
    quotes = special[quote]
    if np.any(chunk == _BACKSLASH):  # \" inside a string is not a quote (most chunks of a report have no escape)
        escaped = _escaped_quotes(np, chunk, quotes)
        if len(escaped):
            quote[np.searchsorted(special, escaped)] = False
    # a bracket or comma is outside strings when the quotes before it (and one open at the chunk's start) are even
    outside = (np.cumsum(quote, dtype=np.int64) + in_string) % 2 == 0
    token = (kinds != _QUOTE) & outside
    tokens, kinds = special[token], kinds[token]
    opens, closes = kinds == _OPEN, kinds == _CLOSE
    change = opens.astype(np.int64) - closes
    level = np.cumsum(change)
    level -= change
    level += depth  # the containers around each token
    # an empty [] or {} stays as it is (compact text has nothing between the brackets)
    following = folded[np.minimum(tokens + 1, size - 1)]
    preceding = folded[np.maximum(tokens - 1, 0)]
    keep = ~((opens & (following == _CLOSE) & (tokens + 1 < size)) | (closes & (preceding == _OPEN) & (tokens > 0)))
    tokens, opens, closes, level = tokens[keep], opens[keep], closes[keep], level[keep]
    width = indent * (level + opens - closes) + 1  # a newline, then `indent` spaces per level of what follows
    at = tokens + ~closes  # after an opening bracket or a comma; before a closing bracket
    runs = np.empty(2 * len(at) + 1, dtype=np.int64)  # the chunk's own bytes, the white space, alternately
    runs[0::2] = np.diff(at, prepend=0, append=size)
    runs[1::2] = width
    own = np.zeros(len(runs), dtype=bool)
    own[0::2] = True
    mask = np.repeat(own, runs)
    result = np.full(len(mask), 0x20, dtype=np.uint8)
    result[mask] = chunk
    result[at + np.cumsum(width) - width] = 0x0A
    return result.tobytes(), int(np.count_nonzero(quote)), int(change.sum())


def _escaped_quotes(np: Any, chunk: Any, quotes: Any) -> Any:
    """The quotes after an odd run of backslashes (\" inside a string); a run never crosses chunks."""
    before = quotes - 1
    candidates = quotes[(before >= 0) & (chunk[np.maximum(before, 0)] == _BACKSLASH)]
    if not len(candidates):
        return candidates
    run = np.ones(len(candidates), dtype=np.int64)
    open_runs = np.arange(len(candidates))
    while len(open_runs):
        at = candidates[open_runs] - run[open_runs] - 1
        longer = (at >= 0) & (chunk[np.maximum(at, 0)] == _BACKSLASH)
        open_runs = open_runs[longer]
        run[open_runs] += 1
    return candidates[run % 2 == 1]
