"""Source text with line tracking: the YAML manifest (a line for every mapping and key) and GeoJSON feature lines."""

from __future__ import annotations

import bisect
import functools
import gc
import itertools
import json
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import yaml

from rulecheck.diagnostics import Diagnostic
from rulecheck.limits import current as current_limits


class LocDict(dict):
    """A YAML mapping that knows its own line and the line of each of its keys (1-based)."""

    line: int = 0
    key_lines: dict

    def key_line(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LocList(list):
    """A YAML sequence that knows its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list

    def item_line(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """PyYAML's safe loader, building LocDict/LocList; integers written with a leading zero stay text."""


def _loc_mapping(loader: Any, node: yaml.MappingNode, build) -> LocDict:
    """A mapping node as a LocDict, each key and value made by `build`; an unhashable or repeated key refused."""
    loader.flatten_mapping(node)
    mapping = LocDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = key_lines = {}
    for key_node, value_node in node.value:
        key = build(key_node)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            ) from None
        if key in key_lines:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r} (first at line {key_lines[key]})",
                key_node.start_mark,
            )
        mapping[key] = build(value_node)
        key_lines[key] = key_node.start_mark.line + 1
    return mapping


def _loc_sequence(node: yaml.SequenceNode, build) -> LocList:
    """A sequence node as a LocList, each item made by `build`."""
    items = LocList(build(child) for child in node.value)
    items.line = node.start_mark.line + 1
    items.item_lines = [child.start_mark.line + 1 for child in node.value]
    return items


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LocDict:
    return _loc_mapping(loader, node, lambda child: loader.construct_object(child, deep=True))


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LocList:
    return _loc_sequence(node, lambda child: loader.construct_object(child, deep=True))


_LEADING_ZERO_INT = re.compile(r"[-+]?0[0-9_]+\Z")


def _construct_int(loader: _LineLoader, node: yaml.ScalarNode) -> int | str:
    # YAML 1.1 reads 0701 as octal 449; land-use and administrative codes are written that way, so keep the text
    if _LEADING_ZERO_INT.match(node.value):
        return node.value
    return construct_bounded_int(loader, node)


def construct_bounded_int(loader: Any, node: yaml.ScalarNode) -> int:
    """An integer, or a located error for one too long for Python to read (over 4,300 digits)."""
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None, None, f"an integer of {len(node.value)} characters is too long to be a number", node.start_mark
        ) from None


_SURROGATE = re.compile("[\ud800-\udfff]")


def construct_checked_str(loader: Any, node: yaml.ScalarNode) -> str:
    """Text, or a located error when it holds a lone surrogate (an escape such as \\ud800: not Unicode text)."""
    value = loader.construct_scalar(node)
    found = _SURROGATE.search(value)
    if found:
        raise yaml.constructor.ConstructorError(
            None, None, f"the text holds a lone surrogate \\u{ord(found.group()):04x}, which is not a character", node.start_mark
        )
    return value


def _construct_timestamp(loader: _LineLoader, node: yaml.ScalarNode) -> Any:
    # 2031-02-30 looks like a date but is none: keep the text so validation can say where and why
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError:
        return node.value


_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_LineLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_LineLoader.add_constructor("tag:yaml.org,2002:str", construct_checked_str)


@functools.lru_cache(maxsize=8)
def _split_lines(text: str) -> list[str]:
    # cached by the text itself (str caches its hash): many diagnostics on one text split it once, not once each
    return text.splitlines()


def source_line(text: str, line: int | None) -> str | None:
    """The text of a 1-based line of `text`, for an excerpt."""
    if not line:
        return None
    lines = _split_lines(text)
    return lines[line - 1] if 0 < line <= len(lines) else None


class _GraphLimit(yaml.MarkedYAMLError):
    pass


def check_node_graph(root: yaml.Node | None) -> bool:
    """Refuse a composed YAML document that nests too deeply, refers to itself, or expands past the node limit.

    Anchors and aliases let a few lines stand for billions of values (an "alias bomb"): each node's weight is
    the number of values it expands to, computed once per node (linear in the document as written).
    True when the document is a tree (no mapping or sequence used twice), which `construct_tree` can build.
    """
    if root is None:
        return False
    limits = current_limits()
    if _tree_within_limits(root, limits.max_depth, limits.max_yaml_nodes):
        return True
    weight: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            on_stack.discard(key)
            children = _children(node)
            total = 1 + sum(weight[id(child)] for child in children)
            weight[key] = total
            if limits.max_yaml_nodes and total > limits.max_yaml_nodes:
                raise _GraphLimit(None, None, f"the YAML expands to more than {limits.max_yaml_nodes} values "
                                  f"(anchors and aliases count each time they are used); {limits.describe('max_yaml_nodes')}",
                                  node.start_mark)
            continue
        if key in weight:
            continue
        if key in on_stack:
            raise _GraphLimit(None, None, "an alias refers to a node that contains it (a structure without end)", node.start_mark)
        if limits.max_depth and depth > limits.max_depth:
            raise _GraphLimit(None, None, f"nested more than {limits.max_depth} levels deep; {limits.describe('max_depth')}",
                              node.start_mark)
        on_stack.add(key)
        stack.append((node, depth, True))
        for child in _children(node):
            if id(child) not in weight:
                stack.append((child, depth + 1, False))
    return False


def _tree_within_limits(root: yaml.Node, max_depth: int, max_nodes: int) -> bool:
    """Whether a composed document is a tree (no mapping or sequence reached twice: no alias of one, so no cycle)
    within both limits: the common case, decided in one breadth-first pass (a level is a depth; the nodes counted
    are the values the document expands to). False means "not shown": check_node_graph's exact walk decides."""
    seen: set[int] = set()
    level, depth, total = [root], 1, 0
    chain = itertools.chain.from_iterable
    while level:
        total += len(level)
        if (max_depth and depth > max_depth) or (max_nodes and total > max_nodes):
            return False
        following: list[yaml.Node] = []
        for node in level:
            kind = type(node)
            if kind is yaml.ScalarNode:
                continue
            if id(node) in seen:
                return False
            seen.add(id(node))
            if kind is yaml.MappingNode:
                following.extend(chain(node.value))
            elif kind is yaml.SequenceNode:
                following.extend(node.value)
            else:
                return False
        level, depth = following, depth + 1
    return True


_MAPPING, _SEQUENCE = yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG
_MERGE = "tag:yaml.org,2002:merge"
_PLAIN_SCALARS = ("str", "int", "float", "bool", "null", "timestamp")


def _builds_loc_containers(loader: Any) -> bool:
    constructors = loader.yaml_constructors
    return constructors.get(_MAPPING) is _construct_mapping and constructors.get(_SEQUENCE) is _construct_sequence


def construct_tree(loader: Any, root: yaml.Node) -> Any:
    """What `loader.construct_document(root)` builds, for a document check_node_graph found to be a tree: each
    node is built once, so PyYAML's memo of built nodes (for aliases) and its generic dispatch per node are not
    needed. Mappings and sequences as _construct_mapping/_construct_sequence build them; plain scalars by their
    constructors; a merge key (<<) or any other tag goes to the loader itself, for that subtree."""
    scalars = {tag: loader.yaml_constructors[tag] for tag in (f"tag:yaml.org,2002:{name}" for name in _PLAIN_SCALARS)
               if tag in loader.yaml_constructors}

    def build(node: yaml.Node) -> Any:
        kind = type(node)
        if kind is yaml.ScalarNode:
            constructor = scalars.get(node.tag)
            return constructor(loader, node) if constructor is not None else loader.construct_object(node, deep=True)
        if kind is yaml.MappingNode and node.tag == _MAPPING and not any(key.tag == _MERGE for key, _ in node.value):
            return _loc_mapping(loader, node, build)  # as _construct_mapping builds it (a "=" value key is read as text)
        if kind is yaml.SequenceNode and node.tag == _SEQUENCE:
            return _loc_sequence(node, build)
        return loader.construct_object(node, deep=True)

    return build(root)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class DepthLimitedComposer:
    """For PyYAML's pure-Python loaders (whose composer recurses): refuse nesting past the limit max_depth as
    it is met, before Python's own recursion limit is."""

    _depth = 0

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        self._depth += 1
        try:
            limits = current_limits()
            if limits.max_depth and self._depth > limits.max_depth:
                mark = self.peek_event().start_mark  # type: ignore[attr-defined]
                raise _GraphLimit(None, None, f"nested more than {limits.max_depth} levels deep; {limits.describe('max_depth')}", mark)
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1


def load_yaml_with(loader_class: type, text: str) -> tuple[Any, yaml.Node | None]:
    """Compose, check the node graph (depth, self-reference, expansion), then construct; YAML errors propagate."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        tree = check_node_graph(node)
        if tree and isinstance(loader, _LineLoader) and _builds_loc_containers(loader):
            return construct_tree(loader, node), node
        data = loader.construct_document(node) if node is not None else None
        return data, node
    except RecursionError:  # pragma: no cover - the depth checks above come first
        raise _GraphLimit(None, None, "nested too deeply to read", None) from None
    finally:
        loader.dispose()


def yaml_error_location(exc: yaml.YAMLError, text: str) -> tuple[int | None, int | None]:
    """1-based line and column of a YAML error: from its mark, or from a reader error's character position."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return mark.line + 1, mark.column + 1
    position = getattr(exc, "position", None)
    if isinstance(position, int):
        index = LineIndex(text)
        return index.line(position), index.column(position)
    return None, None


def reader_problem(exc: yaml.YAMLError) -> str:
    """A reader error (a character YAML does not allow) in words, without PyYAML's "position N"."""
    character = getattr(exc, "character", None)
    if isinstance(character, str) and len(character) == 1:
        character = ord(character)
    if isinstance(character, int):
        return f"the character U+{character:04X} is not allowed in YAML text"
    return str(getattr(exc, "reason", None) or exc).split("\n")[0]


def load_yaml(text: str, path: str) -> tuple[Any, list[Diagnostic]]:
    """Parse YAML text into LocDict/LocList/scalars; a syntax error becomes a located diagnostic.

    A manifest written as JSON (a county's, generated: thousands of contracts inline) is read by the C JSON
    parser with the lines found in one vectorised pass (`json_with_lines`), when it is JSON that YAML reads
    the same way; anything else, and every error, goes through the YAML loader, which says where.
    """
    data = json_with_lines(text)
    if data is not None:
        return data, []
    try:
        return load_yaml_with(_LineLoader, text)[0], []
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        problem = exc.problem or "invalid YAML"
        if exc.context and exc.context not in problem:
            problem = f"{problem} ({exc.context}"
            if exc.context_mark is not None and exc.problem_mark is not None and exc.context_mark.line != exc.problem_mark.line:
                problem += f" at line {exc.context_mark.line + 1}"
            problem += ")"
        kind = "YAML" if isinstance(exc, (_GraphLimit, yaml.constructor.ConstructorError)) else "YAML syntax error"
        message = f"{kind}: {problem}"
        return None, [Diagnostic(path, message, line=line, column=column, excerpt=source_line(text, line))]
    except yaml.YAMLError as exc:  # e.g. a reader error on a control character
        line, column = yaml_error_location(exc, text)
        return None, [Diagnostic(path, f"YAML error: {reader_problem(exc)}", line=line, column=column,
                                 excerpt=source_line(text, line))]
    except RecursionError:  # pragma: no cover - check_node_graph bounds the depth first
        return None, [Diagnostic(path, "YAML nested too deeply")]


# ---- JSON manifests, read as YAML reads them ------------------------------------------------------

# YAML 1.1 reads a plain 1.5 or 1.5e+3 as a number, but 1e5 or 1.5e3 as text: JSON's numbers are read the same way
_YAML_FLOAT = next(regex for tag, regex in yaml.SafeLoader.yaml_implicit_resolvers["1"] if tag == "tag:yaml.org,2002:float")
# what makes JSON text read differently by YAML, or not at all: a character YAML's reader refuses, a line break
# YAML counts and JSON does not (a lone CR, NEL, LS, PS), an escaped surrogate (libyaml refuses even a pair)
_JSON_NOT_YAML = re.compile("[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|\r(?!\n)"
                            r"|\\u[dD][89a-fA-F]")
_SIMPLE_KEY_CHARS = 1000  # YAML reads a key only within 1024 characters of its ':' (and on the same line)
_WHITE_STEPS = 64  # list items found by stepping over at most this much white space (more: searched)


def _yaml_float(literal: str) -> float | str:
    return float(literal) if _YAML_FLOAT.match(literal) else literal


_CONTROL_BYTES = bytes(range(0x20)) + b"\x7f"  # C0 controls and DEL: in UTF-8, these bytes are those characters
_NOT_CONTROL_BYTES = bytes(byte for byte in range(256) if byte not in _CONTROL_BYTES or byte in (0x09, 0x0A))
# the other characters _JSON_NOT_YAML finds, as UTF-8: C1 controls (U+0080-U+009F), LS, PS, U+FFFE, U+FFFF
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")
_NOT_YAML_UTF8 = (b"\xe2\x80\xa8", b"\xe2\x80\xa9", b"\xef\xbf\xbe", b"\xef\xbf\xbf")
_LONE_CR = re.compile("\r(?!\n)")
_SURROGATE_ESCAPE_START = re.compile(r"\\u[dD][89a-fA-F]")


def _json_not_yaml(text: str) -> tuple[bool, bytes | None]:
    """Whether _JSON_NOT_YAML finds anything in the text (its one regex over a county's 7.6 MB takes 0.06 s), found
    with byte searches over the text's UTF-8 (each character YAML refuses has one encoding, none of whose bytes
    starts another character); and that UTF-8, for _json_structure. A surrogate cannot be encoded: found."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        return True, None
    controls = data.translate(None, _NOT_CONTROL_BYTES)  # every C0 control but tab and LF, and DEL
    if controls.replace(b"\r", b"") or (controls and _LONE_CR.search(text)):
        return True, data
    if not text.isascii():
        if b"\xc2" in data and _C1_UTF8.search(data):
            return True, data
        for code in _NOT_YAML_UTF8:
            if code[:1] in data and code in data:  # (one byte is found fastest: the three only if it is there)
                return True, data
    return bool(b"\\" in data and _SURROGATE_ESCAPE_START.search(text)), data


def json_with_lines(text: str) -> Any:
    """JSON text (a mapping or a list at the top) as the YAML loader would build it, LocDict/LocList with the
    same lines; None when the text is not JSON, or is JSON that YAML would read differently or refuse, or
    breaks a limit (the YAML loader then reads it and says where).

    Equivalence, case by case: JSON keys and strings are YAML double-quoted scalars (the same escapes; none
    that makes a surrogate); true/false/null and integers resolve alike; a float YAML 1.1 does not resolve
    (1e5, 1.5e3, NaN, Infinity) stays text as in YAML; a duplicate key, a key not on its colon's line or far
    from it, a tab outside the top-level brackets, characters YAML refuses, and line breaks other than LF and
    CRLF all go to the YAML loader.
    """
    stripped = text.lstrip(" \t\r\n")
    if stripped[:1] not in ("{", "[") or "\t" in text[: len(text) - len(stripped)]:
        return None
    end = len(text.rstrip(" \t\r\n"))
    if "\t" in text[end:]:
        return None
    not_yaml, encoded = _json_not_yaml(text)
    if not_yaml:
        return None
    duplicates: list[bool] = []

    def mapping(pairs: list[tuple[str, Any]]) -> LocDict:
        built = LocDict(pairs)
        if len(built) != len(pairs):
            duplicates.append(True)
        return built

    try:
        with no_gc():
            data = json.loads(text, object_pairs_hook=mapping, parse_float=_yaml_float, parse_constant=str)
    except (ValueError, RecursionError):  # not JSON, or an integer over 4,300 digits: YAML says where
        return None
    if duplicates or not isinstance(data, (LocDict, list)):
        return None
    structure = _json_structure(text, encoded)
    if structure is None:
        return None
    try:
        with no_gc():
            return structure.attach(data)
    except (_StructureMismatch, RecursionError):
        return None


class _StructureMismatch(Exception):
    pass


@dataclass
class _JSONStructure:
    """The lines of a JSON text's containers (in document order), of each mapping's keys and each list's items."""

    open_lines: list[int]
    key_lines: list[int]
    key_starts: list[int]  # container i's keys are key_lines[key_starts[i]:key_starts[i + 1]]
    item_lines: list[int]
    item_starts: list[int]

    def attach(self, root: Any) -> Any:
        open_lines, key_lines, key_starts = self.open_lines, self.key_lines, self.key_starts
        item_lines, item_starts = self.item_lines, self.item_starts
        count = 0

        def visit(value: Any) -> Any:
            nonlocal count
            index = count
            count += 1
            if index >= len(open_lines):
                raise _StructureMismatch
            if value.__class__ is LocDict:
                start, stop = key_starts[index], key_starts[index + 1]
                if stop - start != len(value):
                    raise _StructureMismatch
                value.line = open_lines[index]
                value.key_lines = dict(zip(value, key_lines[start:stop]))
                for key, child in value.items():
                    if child.__class__ is LocDict or child.__class__ is list:
                        value[key] = visit(child)  # the same key: the mapping keeps its size and order
                return value
            start, stop = item_starts[index], item_starts[index + 1]
            if stop - start != len(value):
                raise _StructureMismatch
            items = LocList(value)
            items.line = open_lines[index]
            items.item_lines = item_lines[start:stop]
            for position, child in enumerate(value):
                if child.__class__ is LocDict or child.__class__ is list:
                    items[position] = visit(child)
            return items

        built = visit(root)
        if count != len(open_lines):
            raise _StructureMismatch
        return built


def _json_structure(text: str, encoded: bytes | None = None) -> _JSONStructure | None:
    """Find, in one vectorised pass over the bytes of JSON text already parsed, where every container opens,
    every key and every list item starts; None when a limit (max_depth, max_yaml_nodes) or a YAML rule for
    keys would be broken, so the YAML loader reads the text and reports it."""
    import numpy as np

    # (`encoded`: the text's UTF-8, when the caller has it) '\n', '"', brackets are single bytes in UTF-8
    raw = np.frombuffer(text.encode("utf-8") if encoded is None else encoded, dtype=np.uint8)
    quotes = np.flatnonzero(raw == 0x22)
    backslash = raw == 0x5C
    if len(quotes) and backslash.any():
        after_backslash = quotes[backslash[np.maximum(quotes - 1, 0)] & (quotes > 0)]
        if len(after_backslash):
            plain = np.flatnonzero(~backslash)
            run = after_backslash - 1 - plain[np.searchsorted(plain, after_backslash) - 1]
            quotes = np.setdiff1d(quotes, after_backslash[run % 2 == 1], assume_unique=True)  # escaped quotes
    del backslash
    table = np.zeros(256, dtype=np.int8)
    for char, kind in (("{", 1), ("[", 2), ("}", 3), ("]", 3), (":", 4), (",", 5)):
        table[ord(char)] = kind
    kinds_all = table[raw]
    positions = np.flatnonzero(kinds_all)
    del kinds_all
    positions = positions[np.searchsorted(quotes, positions) % 2 == 0]  # outside strings
    kinds = table[raw[positions]]
    opens = kinds <= 2
    delta = opens.astype(np.int64) - (kinds == 3)
    depth = np.cumsum(delta) - delta  # containers around each token
    open_positions, open_levels = positions[opens], depth[opens]
    limits = current_limits()
    if len(open_positions) == 0:
        return None
    if limits.max_depth and int(open_levels.max()) + 2 > limits.max_depth:
        return None  # a value nested past the limit (or close to it): the YAML loader says exactly where

    newlines = np.flatnonzero(raw == 0x0A)

    def lines(offsets: Any) -> list[int]:
        return (np.searchsorted(newlines, offsets) + 1).tolist()

    # the container holding a colon or a comma: the last one opened before it, one level up
    span = len(raw) + 1
    open_keys = open_levels * span + open_positions
    order = np.argsort(open_keys, kind="stable")
    sorted_keys = open_keys[order]

    def owner(token_positions: Any, token_depths: Any) -> Any:
        return order[np.searchsorted(sorted_keys, (token_depths - 1) * span + token_positions) - 1]

    n_open = len(open_positions)
    colons = kinds == 4
    colon_positions = positions[colons]
    colon_owner = owner(colon_positions, depth[colons])
    key_quotes = np.searchsorted(quotes, colon_positions)
    if len(colon_positions) and (key_quotes.min() < 2 or (raw[open_positions[colon_owner]] != ord("{")).any()):
        return None
    key_starts_at = quotes[key_quotes - 2] if len(colon_positions) else colon_positions
    if len(colon_positions) and (
        (colon_positions - key_starts_at).max() > _SIMPLE_KEY_CHARS
        or (np.searchsorted(newlines, key_starts_at) != np.searchsorted(newlines, colon_positions)).any()
    ):
        return None  # YAML reads a key only on its colon's line, within 1024 characters

    # list items start at the first character that is not white space after '[' or after a list's ','
    commas = kinds == 5
    comma_positions = positions[commas]
    comma_owner = owner(comma_positions, depth[commas])
    in_list = raw[open_positions[comma_owner]] == ord("[")
    list_opens = np.flatnonzero(raw[open_positions] == ord("["))
    after = np.concatenate([open_positions[list_opens], comma_positions[in_list]]) + 1
    item_owner = np.concatenate([list_opens, comma_owner[in_list]])
    white = np.zeros(256, dtype=bool)
    white[[0x20, 0x09, 0x0A, 0x0D]] = True
    # stepped over the white space a character at a time (a line break and its indentation), only where there is
    # some; a long run is found by searching all the text's significant characters (the text is JSON: one follows)
    starts = after.copy()
    pending = np.flatnonzero(white[raw[starts]])
    for _ in range(_WHITE_STEPS):
        if not len(pending):
            break
        starts[pending] += 1
        pending = pending[white[raw[starts[pending]]]]
    if len(pending):
        significant = np.flatnonzero(~white[raw])
        starts[pending] = significant[np.minimum(np.searchsorted(significant, starts[pending]), len(significant) - 1)]
    is_item = raw[starts] != ord("]")  # '[]' holds nothing
    starts, item_owner = starts[is_item], item_owner[is_item]
    by_owner = np.lexsort((starts, item_owner))
    starts, item_owner = starts[by_owner], item_owner[by_owner]
    by_key_owner = np.argsort(colon_owner, kind="stable")

    n_values = 1 + len(colon_positions) + len(starts)
    if limits.max_yaml_nodes and n_values + len(colon_positions) > limits.max_yaml_nodes:
        return None

    def offsets(owners: Any) -> list[int]:
        return np.concatenate([[0], np.cumsum(np.bincount(owners, minlength=n_open))]).tolist()

    return _JSONStructure(
        open_lines=lines(open_positions),
        key_lines=lines(key_starts_at[by_key_owner]),
        key_starts=offsets(colon_owner),
        item_lines=lines(starts),
        item_starts=offsets(item_owner),
    )


# ---- GeoJSON ----------------------------------------------------------------------------------------


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small containers (json of 100k features)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class LineIndex:
    """Offsets to 1-based lines (and columns) of one text."""

    def __init__(self, text: str):
        self._newlines = [m.start() for m in re.finditer("\n", text)]

    def line(self, offset: int) -> int:
        return bisect.bisect_left(self._newlines, offset) + 1

    def lines(self, offsets: list[int]) -> list[int]:
        import numpy as np

        if not offsets:
            return []
        return (np.searchsorted(np.asarray(self._newlines, dtype=np.int64), np.asarray(offsets, dtype=np.int64)) + 1).tolist()

    def column(self, offset: int) -> int:
        index = bisect.bisect_left(self._newlines, offset)
        start = self._newlines[index - 1] + 1 if index > 0 else 0
        return offset - start + 1


@dataclass
class GeoJSONText:
    """A parsed GeoJSON document: the object, and for a FeatureCollection the offset where each feature starts."""

    text: str
    document: Any
    feature_offsets: list[int] = field(default_factory=list)
    index: LineIndex | None = None

    def feature_lines(self) -> list[int]:
        assert self.index is not None
        return self.index.lines(self.feature_offsets)

    def feature_end(self, position: int) -> int:
        """The offset where the feature at `position` ends (the next one's start, or the end of text)."""
        if position + 1 < len(self.feature_offsets):
            return self.feature_offsets[position + 1]
        return len(self.text)

    def key_line(self, position: int, key: str) -> int | None:
        """The line of `"key":` inside the feature at `position` (searched only when a message needs it)."""
        start = self.feature_offsets[position]
        match = re.compile(r'"%s"\s*:' % re.escape(key)).search(self.text, start, self.feature_end(position))
        return self.index.line(match.start()) if match and self.index else None


_FEATURE_START = re.compile(r'\{\s*"type"\s*:\s*"Feature"\s*,')
_WS = re.compile(r"[ \t\n\r]*")


class GeoJSONSyntaxError(ValueError):
    def __init__(self, message: str, line: int, column: int):
        super().__init__(message)
        self.line, self.column = line, column


def parse_geojson(text: str, data: bytes | None = None) -> GeoJSONText:
    """Parse GeoJSON text and find the offset of every feature of a FeatureCollection. `data`, when given, is
    the text's UTF-8 bytes (the file as read, without a BOM): it spares encoding the text again for orjson.

    The fast path finds features by the `{"type": "Feature",` that every common writer (GDAL, QGIS, geopandas)
    puts first; when the count does not match the parsed features, an exact element-by-element scan is used.
    """
    index = LineIndex(text)
    with no_gc():
        document = _orjson_document(text, data)
        # orjson refuses a lone surrogate escape: only json.loads' reading can hold one
        fast = document is not _NOT_SURE
        if not fast:
            document = _json_document(text, index)
        if not fast and _SURROGATE_ESCAPE.search(text):
            offset = _lone_surrogate(text, document)
            if offset is not None:
                raise GeoJSONSyntaxError("the text holds a lone surrogate escape (\\ud800 to \\udfff alone), which is not a character",
                                         index.line(offset), index.column(offset))
        parsed = GeoJSONText(text, document, index=index)
        if isinstance(document, dict) and isinstance(document.get("features"), list):
            features = document["features"]
            offsets = [m.start() for m in _FEATURE_START.finditer(text)]
            if len(offsets) != len(features):
                try:
                    offsets = _scan_feature_offsets(text)
                except (ValueError, IndexError, RecursionError):  # the offsets only place messages: line 1 will do
                    offsets = []
            parsed.feature_offsets = offsets if len(offsets) == len(features) else [0] * len(features)
    return parsed


def _json_document(text: str, index: LineIndex) -> Any:
    """json.loads, with every failure a located GeoJSONSyntaxError."""
    try:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise
        except ValueError:  # an integer of more than 4,300 digits: read such numbers as floats (infinite, refused later)
            return json.loads(text, parse_int=_parse_long_int)
    except json.JSONDecodeError as exc:
        raise GeoJSONSyntaxError(f"JSON syntax error: {exc.msg}", exc.lineno, exc.colno) from None
    except RecursionError:
        limit = current_limits().max_depth or 64
        offset = _too_deep(text, limit)
        raise GeoJSONSyntaxError(f"JSON nested too deeply to read (more than {limit} levels here); "
                                 f"{current_limits().describe('max_depth')}", index.line(offset), index.column(offset)) from None


# ---- orjson: json.loads' document in half the time, where it is sure to be the same -------------------

_NOT_SURE = object()
_ORJSON_MAX_DEPTH = 1024  # orjson refuses a document nested deeper (checked once: _orjson_depth_checked)
_DIGITS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))  # digits -> "0", the rest -> " "
_LONG_DIGIT_RUN = b"0" * 19  # an integer orjson may read as a float (past 64 bits) has at least 19 digits


@functools.lru_cache(maxsize=1)
def _orjson() -> Any:
    """The orjson module when it refuses exactly what nests deeper than _ORJSON_MAX_DEPTH (else None)."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - a dependency; without it json.loads reads everything
        return None
    limit = _ORJSON_MAX_DEPTH
    try:
        orjson.loads("[" * limit + "]" * limit)
        orjson.loads('{"a":' * limit + "1" + "}" * limit)
    except orjson.JSONDecodeError:  # pragma: no cover - another version of orjson
        return None
    for deeper in ("[" * (limit + 1) + "]" * (limit + 1), '{"a":' * (limit + 1) + "1" + "}" * (limit + 1)):
        try:
            orjson.loads(deeper)
            return None  # pragma: no cover - a version that reads deeper: the padding below would not bound the depth
        except orjson.JSONDecodeError:
            pass
    return orjson


def _stack_depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


def _orjson_document(text: str, data: bytes | None = None) -> Any:
    """What json.loads(text) returns, read by orjson (C, twice as fast); _NOT_SURE unless it is certainly the
    same document, so that json.loads reads the text (and `_json_document` says where it is wrong) whenever:

    - orjson refuses the text: every syntax error; NaN and Infinity, and numbers too large for a float, which
      json.loads reads (as nan/inf, refused later by the loader with its own message); a lone surrogate escape;
    - an integer may be past 64 bits (a run of 19 digits or more anywhere): orjson would read it as a float;
    - it nests deeper than json.loads is sure to read here (the Python recursion limit, less this stack and a
      margin): orjson would read up to 1024 levels where json.loads gives up (a located "nested too deeply").
      The text is wrapped in as many `[`/`]` as make orjson refuse exactly that, and unwrapped after.

    The rest is the same: the same values (floats correctly rounded by both; -0 an int 0, -0.0 a float), a
    duplicate key keeps its first place and its last value in both, the same four white-space characters.
    """
    orjson = _orjson()
    if orjson is None:
        return _NOT_SURE
    if data is None:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate in the text itself: json.loads reads it
            return _NOT_SURE
    if _LONG_DIGIT_RUN in data.translate(_DIGITS):
        return _NOT_SURE
    depth = min(sys.getrecursionlimit() - _stack_depth() - 100, _ORJSON_MAX_DEPTH)
    if depth < 1:
        return _NOT_SURE
    pad = _ORJSON_MAX_DEPTH - depth
    try:
        document = orjson.loads(b"[" * pad + data + b"]" * pad if pad else data)
    except orjson.JSONDecodeError:
        return _NOT_SURE
    for _ in range(pad):  # only one value inside the padding: a text of none, or of two, is no JSON document
        if document.__class__ is not list or len(document) != 1:
            return _NOT_SURE
        document = document[0]
    return document


def parse_json(text: str) -> Any:
    """Any JSON text (a report, say) with every failure a located GeoJSONSyntaxError: syntax, nesting past the
    limit max_depth (where Python's reader gives up), integers of more than 4,300 digits (read as floats)."""
    return _json_document(text, LineIndex(text))


def _parse_long_int(digits: str) -> int | float:
    return int(digits) if len(digits) <= 4000 else float(digits)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _too_deep(text: str, depth_limit: int) -> int:
    """The offset of the first bracket nested deeper than `depth_limit` (strings skipped)."""
    depth = 0
    for match in _BRACKETS.finditer(text):
        char = match.group()
        if char in "[{":
            depth += 1
            if depth > depth_limit:
                return match.start()
        elif char in "]}":
            depth -= 1
    return 0


def _lone_surrogate(text: str, document: Any) -> int | None:
    """The offset of a lone surrogate escape when the parsed document holds one in a string (else None)."""
    stack, found = [document], False
    while stack and not found:
        value = stack.pop()
        if isinstance(value, str):
            found = bool(_SURROGATE.search(value))
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    if not found:
        return None
    for match in _SURROGATE_ESCAPE.finditer(text):
        code = int(match.group()[2:], 16)
        following = text[match.end() : match.end() + 6]
        preceding = text[max(0, match.start() - 6) : match.start()]
        if code < 0xDC00 and not re.fullmatch(r"\\u[dD][c-fC-F][0-9a-fA-F]{2}", following):
            return match.start()
        if code >= 0xDC00 and not re.fullmatch(r"\\u[dD][89abAB][0-9a-fA-F]{2}", preceding):
            return match.start()
    return 0


def _scan_feature_offsets(text: str) -> list[int]:
    """The exact offsets of the elements of the top-level "features" array (slower; any key order)."""
    decoder = json.JSONDecoder(parse_int=_parse_long_int)  # as the document was read (5,000-digit integers)
    scan, scanstring = decoder.scan_once, json.decoder.scanstring
    i = _WS.match(text, 0).end()
    if text[i : i + 1] != "{":
        return []
    i = _WS.match(text, i + 1).end()
    while i < len(text) and text[i] == '"':
        key, i = scanstring(text, i + 1)
        i = _WS.match(text, i).end() + 1  # the colon
        i = _WS.match(text, i).end()
        if key == "features" and text[i] == "[":
            offsets = []
            i = _WS.match(text, i + 1).end()
            while text[i] != "]":
                offsets.append(i)
                _, i = scan(text, i)
                i = _WS.match(text, i).end()
                if text[i] == ",":
                    i = _WS.match(text, i + 1).end()
            return offsets
        _, i = scan(text, i)
        i = _WS.match(text, i).end()
        if text[i] == ",":
            i = _WS.match(text, i + 1).end()
    return []


# ---- reading files within limits -------------------------------------------------------------------


class SourceError(Exception):
    """A file that cannot be read as text: the message, and where (1-based line/column) when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None, hint: str | None = None):
        super().__init__(message)
        self.message, self.line, self.column, self.hint = message, line, column, hint


def read_limited(path: Any, limit: str = "max_file_mb") -> bytes:
    """The bytes of a regular file no larger than the size limit `limit` (MiB); SourceError otherwise."""
    import os
    import stat

    limits = current_limits()
    cap = int(getattr(limits, limit) * 1024 * 1024)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise SourceError(f"cannot read the file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise SourceError("not a regular file (a folder, a device or a pipe)")
    if cap and info.st_size > cap:
        raise SourceError(f"the file is {info.st_size / 2**20:.1f} MiB, over the {limits.describe(limit)} (MiB)")
    try:
        with open(path, "rb") as stream:
            # every file read here is text (YAML, JSON, a rule pack), where a NUL byte never belongs: a file of
            # NULs (or a binary renamed) is refused from its first 64 KiB, not after decoding and parsing it all
            _refuse_nul(stream.read(_PEEK), 0)
            stream.seek(0)
            data = stream.read(cap + 1) if cap else stream.read()
    except OSError as exc:
        raise SourceError(f"cannot read the file: {exc.strerror or exc}") from None
    if cap and len(data) > cap:
        raise SourceError(f"the file is over the {limits.describe(limit)} (MiB)")
    _refuse_nul(data, _PEEK)
    return data


_PEEK = 64 * 1024


def _refuse_nul(data: bytes, start: int) -> None:
    """SourceError at the first NUL byte of `data` (from offset `start`), located by line and column."""
    found = data.find(b"\x00", start)
    if found < 0:
        return
    line_start = data.rfind(b"\n", 0, found) + 1
    line = data.count(b"\n", 0, found) + 1
    column = len(data[line_start:found].decode("utf-8", errors="replace")) + 1
    raise SourceError(f"not a text file: a NUL byte (0x00) at byte {found}", line, column,
                      hint="manifests, GeoJSON layers, rule packs and waiver files are UTF-8 text")


def decode_utf8(data: bytes, what: str = "") -> str:
    """UTF-8 text (a BOM dropped); SourceError with the line and column of the first bad byte."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[line_start : exc.start].decode("utf-8", errors="replace")) + 1
        suffix = f"; {what}" if what else ""
        raise SourceError(f"not UTF-8 text (byte {exc.start}: 0x{data[exc.start]:02x}){suffix}", line, column,
                          hint="save the file as UTF-8 (GB2312/GBK text must be converted)") from None


def read_text_limited(path: Any, limit: str = "max_file_mb", what: str = "") -> str:
    return decode_utf8(read_limited(path, limit), what)
