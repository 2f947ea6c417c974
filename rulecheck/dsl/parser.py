"""Parse rule packs: one cached Lark parser, lark errors turned into located diagnostics, trees into AST."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import re
from pathlib import Path

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from rulecheck.diagnostics import Diagnostic, InputError
from rulecheck.dsl import ast
from rulecheck.limits import current as current_limits

GRAMMAR = Path(__file__).with_name("grammar.lark")

# How a terminal is named to a rule author in "expected ..." messages.
TERMINAL_WORDS = {
    "RULE_ID": "a rule id like IND-002",
    "DATE": "a date like 2020-05-01",
    "NUMBER": "a number",
    "UNIT": "a unit (m2, ha, mu, km2, m, km, %, years, wan_yuan)",
    "SEVERITY": "error, warning or info",
    "COMP_OP": "a comparison (<=, >=, ==, !=, <, >)",
    "NAME": "a name",
    "STRING": 'a quoted text "..."',
    "SUBJECT_ID": "a record id",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "DOT": "'.'",
    "COLON": "':'",
    "EQUAL": "'='",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "$END": "the end of the file",
}

DECL_START = re.compile(r"^(override|rule|param|test|field|predicate|family)\b", re.MULTILINE)


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(
        GRAMMAR.read_text(encoding="utf-8"),
        parser="lalr",
        start=["start", "expr"],
        propagate_positions=True,
        maybe_placeholders=True,
        # no cache=True: lark would unpickle its tables from the shared temp folder (issue 14). Parsed packs are
        # cached instead, per user and checked (dsl/cache.py), so a run whose packs are unchanged builds no parser.
    )


def _span(path: str, meta_or_token, delta: int = 0) -> ast.Span:
    """`delta`: what to add to lark's offsets to make them offsets in the whole file."""
    if isinstance(meta_or_token, Token):
        t = meta_or_token
        return ast.Span(path, t.line, t.column, t.start_pos + delta, t.end_pos + delta)
    meta = meta_or_token
    if getattr(meta, "empty", True):
        return ast.Span(path, 0, 0, 0, 0)
    return ast.Span(path, meta.line, meta.column, meta.start_pos + delta, meta.end_pos + delta)


def _unquote(token: Token) -> str:
    body = str(token)[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


@v_args(meta=True)
class _ToAst(Transformer):
    """Lark tree -> frozen AST nodes. Only this class knows the shape of lark trees."""

    def __init__(self, path: str, text: str, delta: int = 0):
        super().__init__()
        self.path = path
        self.text = text
        self.delta = delta

    def _s(self, meta) -> ast.Span:
        return _span(self.path, meta, self.delta)

    # ---- expressions ----
    def number(self, meta, children):
        value, unit = children
        number = float(value)
        if not math.isfinite(number) or abs(number) > MAX_NUMBER:
            raise _NumberError(value)
        return ast.Number(self._s(meta), number, str(unit) if unit is not None else None)

    def string(self, meta, children):
        return ast.String(self._s(meta), _unquote(children[0]))

    def date(self, meta, children):
        return ast.DateLit(self._s(meta), _parse_date(children[0], self.path))

    def true(self, meta, children):
        return ast.Bool(self._s(meta), True)

    def false(self, meta, children):
        return ast.Bool(self._s(meta), False)

    def name(self, meta, children):
        return ast.Name(self._s(meta), str(children[0]))

    def list_(self, meta, children):
        return ast.ListLit(self._s(meta), tuple(c for c in children if c is not None))

    def field(self, meta, children):
        obj, name = children
        return ast.Field(self._s(meta), obj, str(name), self._s(name))

    def lookup(self, meta, children):
        return ast.Lookup(self._s(meta), children[0], children[1])

    def args(self, meta, children):
        return tuple(children)

    def call(self, meta, children):
        name, args = children
        return ast.Call(self._s(meta), str(name), args or ())

    def comprehension(self, meta, children):
        func, element, var, source, cond = children
        return ast.Comprehension(self._s(meta), str(func), element, str(var), source, cond)

    def every(self, meta, children):
        var, source, cond, body = children
        return ast.Quantifier(self._s(meta), "every", str(var), source, cond, body)

    def any_(self, meta, children):
        var, source, cond = children[-3:]  # `any x in ...` keeps its keyword token, `exists x in ...` does not
        return ast.Quantifier(self._s(meta), "any", str(var), source, cond, None)

    def none_(self, meta, children):
        var, source, cond = children
        return ast.Quantifier(self._s(meta), "none", str(var), source, cond, None)

    def compare(self, meta, children):
        left, op, right, tol = (children + [None])[:4]
        op = {"≤": "<=", "≥": ">=", "≠": "!="}.get(str(op), str(op))
        return ast.Compare(self._s(meta), op, left, right, tol)

    def member(self, meta, children):
        return ast.Member(self._s(meta), "in", children[0], children[1])

    def not_member(self, meta, children):
        return ast.Member(self._s(meta), "not in", children[0], children[1])

    def under(self, meta, children):
        return ast.Member(self._s(meta), "under", children[0], children[1])

    def convert(self, meta, children):
        return ast.Convert(self._s(meta), children[0], str(children[1]))

    def add(self, meta, children):
        return ast.BinOp(self._s(meta), "+", children[0], children[1])

    def sub(self, meta, children):
        return ast.BinOp(self._s(meta), "-", children[0], children[1])

    def mul(self, meta, children):
        return ast.BinOp(self._s(meta), "*", children[0], children[1])

    def div(self, meta, children):
        return ast.BinOp(self._s(meta), "/", children[0], children[1])

    def neg(self, meta, children):
        return ast.Neg(self._s(meta), children[0])

    def or_(self, meta, children):
        return ast.Logic(self._s(meta), "or", children[0], children[1])

    def and_(self, meta, children):
        return ast.Logic(self._s(meta), "and", children[0], children[1])

    def not_(self, meta, children):
        return ast.Not(self._s(meta), children[0])

    # ---- rules ----
    def title_clause(self, meta, children):
        return ("title", self._s(meta), (_unquote(children[0]), _unquote(children[1])))

    def severity_clause(self, meta, children):
        severity, cond, other = children
        return ("severity", self._s(meta), (str(severity), cond, str(other) if other is not None else None))

    def subjects_clause(self, meta, children):
        return ("subjects", self._s(meta), tuple(str(c) for c in children))

    def basis_clause(self, meta, children):
        law, words = children
        text, paraphrase = words if words is not None else ("", False)
        return ("basis", self._s(meta), (_unquote(law), text, paraphrase, None))

    def basis_param(self, meta, children):
        return ("basis", self._s(meta), ("", "", False, str(children[0])))

    def words_quote(self, meta, children):
        return (_unquote(children[0]), False)

    def words_paraphrase(self, meta, children):
        return (_unquote(children[0]), True)

    def provenance(self, meta, children):
        kind, note = children
        return (str(kind), _unquote(note) if note is not None else "")

    def tags_clause(self, meta, children):
        return ("tags", self._s(meta), tuple(str(c) for c in children))

    def applies_clause(self, meta, children):
        start, until = children
        return (
            "applies",
            self._s(meta),
            (_parse_date(start, self.path) if start else None, _parse_date(until, self.path) if until else None),
        )

    def waivable_clause(self, meta, children):
        return ("waivable", self._s(meta), False)

    def for_step(self, meta, children):
        var, source, cond = children
        return ast.ForStep(str(var), source, cond, self._s(meta))

    def let_step(self, meta, children):
        return ast.LetStep(str(children[0]), children[1], self._s(meta))

    def where_step(self, meta, children):
        return ast.WhereStep(children[0], self._s(meta))

    def require_clause(self, meta, children):
        return ("require", self._s(meta), children[0])

    def at_clause(self, meta, children):
        return ("at", self._s(meta), children[0])

    def message_clause(self, meta, children):
        zh, en = children
        return ("message", self._s(meta), (self._template(zh), self._template(en)))

    def expected_clause(self, meta, children):
        return ("expected", self._s(meta), tuple(self._template(c) for c in children))

    def actual_clause(self, meta, children):
        return ("actual", self._s(meta), tuple(self._template(c) for c in children))

    def _template(self, token: Token) -> ast.Template:
        return parse_template(_unquote(token), self.path, token, self.delta)

    def rule_decl(self, meta, children):
        rule_id, *rest = children
        fields: dict = {"steps": []}
        clauses = []
        for item in rest:
            if isinstance(item, (ast.ForStep, ast.LetStep, ast.WhereStep)):
                fields["steps"].append(item)
                continue
            kind, span, value = item
            clauses.append((kind, span))
            if kind == "title":
                fields["title_zh"], fields["title_en"] = value
            elif kind == "basis":
                fields["basis"], fields["basis_text"], fields["basis_paraphrase"], fields["basis_param"] = value
            elif kind == "applies":
                fields["applies_from"], fields["applies_until"] = value
            elif kind == "message":
                fields["message_zh"], fields["message_en"] = value
            elif kind == "severity":
                fields["severity"], fields["severity_when"], fields["severity_else"] = value
            elif kind == "subjects":
                fields["subjects"], fields["subjects_span"] = value, span
            else:
                fields[kind] = value
        fields["steps"] = tuple(fields["steps"])
        return ast.Rule(id=str(rule_id), span=self._s(rule_id), clauses=tuple(clauses), **fields)

    def predicate_decl(self, meta, children):
        name, *rest = children
        body = rest[-1]
        params = tuple(str(p) for p in rest[:-1] if p is not None)
        return ast.PredicateDecl(str(name), params, body, self._s(meta), _span(self.path, name, self.delta))

    def family_decl(self, meta, children):
        code, zh, en = children
        return ast.FamilyDecl(str(code), _unquote(zh), _unquote(en) if en is not None else None, self._s(meta))

    def field_decl(self, meta, children):
        names = [c for c in children if isinstance(c, Token) and c.type == "NAME"]
        *path, name, type_name = names
        unit = next((str(c) for c in children if isinstance(c, Token) and c.type == "UNIT"), None)
        titles = [_unquote(c) for c in children if isinstance(c, Token) and c.type == "STRING"]
        zh, en = titles[0], titles[1] if len(titles) > 1 else titles[0]
        return ast.FieldDecl(tuple(str(p) for p in path), str(name), str(type_name), unit, zh, en, self._s(names[0]),
                             self._s(type_name))

    def override_decl(self, meta, children):
        return dataclasses.replace(children[0], override=True)

    # ---- params ----
    def param_decl(self, meta, children):
        name, zh, en, *editions = children
        return ast.Param(str(name), _unquote(zh), _unquote(en), tuple(editions), self._s(name))

    def edition(self, meta, children):
        date, source, words, provenance, body = children
        text, paraphrase = words if words is not None else ("", False)
        prov, note = provenance if provenance is not None else ("", "")
        extra = dict(text=text, paraphrase=paraphrase, provenance=prov, provenance_note=note)
        kind, value = body
        if kind == "value":
            return ast.Edition(_parse_date(date, self.path), _unquote(source), value, None, (), self._s(meta), **extra)
        table_key, entries = value
        return ast.Edition(_parse_date(date, self.path), _unquote(source), None, table_key, entries, self._s(meta), **extra)

    def param_value(self, meta, children):
        return ("value", children[0])

    def param_table(self, meta, children):
        key, *entries = children
        return ("table", (str(key), tuple(entries)))

    def table_entry(self, meta, children):
        (key, is_code), value = children
        return ast.TableEntry(key, is_code, value, self._s(meta))

    def key_string(self, meta, children):
        return (_unquote(children[0]), True)

    def key_name(self, meta, children):
        return (str(children[0]), False)

    def key_otherwise(self, meta, children):
        return (None, False)

    # ---- tests ----
    def test_decl(self, meta, children):
        rule_id, name, given, *rest = children
        patches = tuple(r for r in rest if isinstance(r, ast.Patch))
        expectations = tuple(r for r in rest if isinstance(r, ast.Expectation))
        kind, target = given
        return ast.RuleTest(str(rule_id), _unquote(name), kind, target, patches, expectations, self._s(meta))

    def given_fixture(self, meta, children):
        return ("fixture", _unquote(children[0]))

    def given_file(self, meta, children):
        return ("submission", _unquote(children[0]))

    def given_county(self, meta, children):
        return ("county", _unquote(children[0]))

    def given_inline(self, meta, children):
        import textwrap

        token = children[0]
        # keep the manifest's lines where they are in the rule file: pad with the lines before it
        return ("inline", "\n" * (token.line - 1) + textwrap.dedent(str(token)[3:-3]))

    def patch_set(self, meta, children):
        (root, path), value = children
        return ast.Patch("set", root, path, value, self._s(meta))

    def patch_remove(self, meta, children):
        root, path = children[0]
        return ast.Patch("remove", root, path, None, self._s(meta))

    def patch_path(self, meta, children):
        root, *steps = children
        return (str(root), tuple(steps))

    def step_field(self, meta, children):
        return ast.PathStep("field", str(children[0]), _span(self.path, children[0], self.delta))  # at the name

    def step_id(self, meta, children):
        token = children[0]
        return ast.PathStep("id", _unquote(token) if token.type == "STRING" else str(token), self._s(meta))

    def subject_id(self, meta, children):
        token = children[0]
        return _unquote(token) if token.type == "STRING" else str(token)

    def expect_conflict(self, meta, children):
        rule_id, *rest = children
        subjects = tuple(r for r in rest if isinstance(r, str))
        details = tuple(r for r in rest if isinstance(r, tuple))
        return ast.Expectation("conflict", str(rule_id), subjects, self._s(meta), details=details)

    def expect_exact(self, meta, children):
        rule_id, *rest = children
        subjects = tuple(r for r in rest if isinstance(r, str))
        details = tuple(r for r in rest if isinstance(r, tuple))
        return ast.Expectation("exact", str(rule_id), subjects, self._s(meta), details=details)

    def expect_conflict_any(self, meta, children):
        rule_id, *details = children
        return ast.Expectation("conflict", str(rule_id), (), self._s(meta), details=tuple(details))

    def expect_pass(self, meta, children):
        return ast.Expectation("pass", str(children[0]), (), self._s(meta))

    def expect_not_applicable(self, meta, children):
        return ast.Expectation("not_applicable", str(children[0]), (), self._s(meta))

    def expect_count(self, meta, children):
        number, rule_id = children
        if "." in str(number) or "e" in str(number).lower():
            raise _TokenError(number, f"'{number}' is not a count: a count of conflicts is a whole number")
        return ast.Expectation("count", str(rule_id), (), self._s(meta), count=int(str(number)))

    def detail_actual(self, meta, children):
        return ("actual", _unquote(children[0]))

    def detail_expected(self, meta, children):
        return ("expected", _unquote(children[0]))

    def detail_severity(self, meta, children):
        word = children[-1]
        severity = _unquote(word) if word.type == "STRING" else str(word)
        if severity not in ("error", "warning", "info"):
            raise _TokenError(word, f"'{severity}' is not a severity: error, warning or info")
        return ("severity", severity)

    def detail_message(self, meta, children):
        return ("message", _unquote(children[0]))

    def expect_none(self, meta, children):
        return ast.Expectation("none", str(children[0]), (), self._s(meta))

    def expect_indeterminate(self, meta, children):
        return ast.Expectation("indeterminate", str(children[0]), (), self._s(meta))

    def start(self, meta, children):
        return children


# the largest number a rule or parameter may write: far beyond any figure of law, far below a float's overflow
MAX_NUMBER = 1e15


class _NumberError(Exception):
    def __init__(self, token: Token):
        super().__init__(str(token))
        self.token = token


class _TokenError(Exception):
    """A token that parses but cannot be what it stands for (a count that is not whole)."""

    def __init__(self, token: Token, message: str):
        super().__init__(message)
        self.token, self.message = token, message


class _DateError(Exception):
    def __init__(self, token: Token):
        super().__init__(str(token))
        self.token = token


def _parse_date(token: Token, path: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(token))
    except ValueError:
        raise _DateError(token) from None


# ---- error reporting ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _lines(text: str) -> list[str]:
    # one split per text, however many diagnostics it has (str caches its hash: a lookup is O(1))
    return text.splitlines()


def line_text(text: str, line: int) -> str:
    lines = _lines(text)
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _shift_lines(tree, lines: int) -> None:
    """Move every line number of a parsed declaration (tokens and tree positions) down by `lines`."""
    if not lines:
        return
    seen: set[int] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, Tree):
            meta = node.meta
            if not getattr(meta, "empty", True):
                meta.line += lines
                meta.end_line += lines
            stack.extend(node.children)
        elif isinstance(node, Token) and node.line is not None:
            node.line += lines
            if node.end_line is not None:
                node.end_line += lines


def _tree_depth(tree) -> tuple[int, object]:
    """The nesting depth of a lark tree and its deepest subtree (iterative: any depth is measured safely)."""
    deepest, where = 0, tree
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest, where = depth, node
        stack.extend((child, depth + 1) for child in getattr(node, "children", ()) if isinstance(child, Tree))
    return deepest, where


def _too_deep(tree, path: str, text: str) -> Diagnostic | None:
    """A located diagnostic when an expression nests past the limit max_expr_depth (`not not ...`, `- - ...`,
    a long `and` chain), before the recursive stages (transform, check, compile, evaluation) see it."""
    limits = current_limits()
    depth, node = _tree_depth(tree)
    # a declaration's own structure takes about a dozen levels above its expressions
    if not limits.max_expr_depth or depth <= limits.max_expr_depth + 16:
        return None
    meta = getattr(node, "meta", None)
    line = getattr(meta, "line", None) if meta is not None and not getattr(meta, "empty", True) else None
    column = getattr(meta, "column", None) if line else None
    return Diagnostic(path, f"the expression nests more than {limits.max_expr_depth} levels deep; split it, or "
                      f"{limits.describe('max_expr_depth')}", line=line, column=column,
                      excerpt=line_text(text, line) if line else None)


def _syntax_diagnostic(err: UnexpectedInput, path: str, text: str, line_offset: int = 0, col_offset: int = 0) -> Diagnostic:
    line = (err.line if err.line and err.line > 0 else 1) + line_offset
    column = (err.column if err.column and err.column > 0 else 1) + (col_offset if err.line == 1 else 0)
    if isinstance(err, UnexpectedToken):
        got = "the end of the file" if err.token.type == "$END" else f"'{err.token}'"
        expected = sorted({TERMINAL_WORDS.get(t, _keyword(t)) for t in err.expected})
        message = f"unexpected {got}; expected {_or_list(expected)}"
    elif isinstance(err, UnexpectedCharacters):
        message = f"unexpected character '{err.char}'"
        allowed = sorted({TERMINAL_WORDS.get(t, _keyword(t)) for t in (err.allowed or ())})
        if allowed:
            message += f"; expected {_or_list(allowed)}"
    elif isinstance(err, UnexpectedEOF):
        message = "unexpected end of the file"
    else:  # pragma: no cover - lark has no other kinds
        message = str(err)
    return Diagnostic(path, message, line=line, column=column, excerpt=line_text(text, line))


def _keyword(terminal: str) -> str:
    """Lark names anonymous keyword terminals like RULE, FOR; show them as the word itself (and the ones it
    numbers, __ANON_0, by what they match: never a parser-internal name)."""
    if terminal.startswith("__"):
        pattern = _anonymous_terminals().get(terminal)
        return f"'{pattern}'" if pattern else "something else"
    return f"'{terminal.lower()}'"


@functools.lru_cache(maxsize=1)
def _anonymous_terminals() -> dict[str, str]:
    out = {}
    for terminal in _lark().terminals:
        if terminal.name.startswith("__"):
            value = terminal.pattern.value
            out[terminal.name] = value if terminal.pattern.type == "str" else re.sub(r"\\(.)", r"\1", value)
    return out


_CLOSERS = {"(": ")", "[": "]"}
_CLOSER_TERMINALS = {")": "RPAR", "]": "RSQB"}


def _unclosed_bracket(chunk: str, upto: int, expected) -> tuple[int, str] | None:
    """The offset and character of the innermost bracket opened before `upto` and not closed, when the parser
    expected its closer there: the mistake is where the bracket opened, not where the parser gave up."""
    stack: list[tuple[int, str]] = []
    i = 0
    while i < len(chunk):  # the whole declaration: a bracket closed after where the parser stopped is closed
        ch = chunk[i]
        if ch == '"':  # a text: skip it (a triple-quoted one too)
            if chunk.startswith('"""', i):
                end = chunk.find('"""', i + 3)
                i = len(chunk) if end < 0 else end + 3
                continue
            j = i + 1
            while j < len(chunk) and chunk[j] not in '"\n':
                j += 2 if chunk[j] == "\\" else 1
            i = j + 1
            continue
        if ch == "#":
            end = chunk.find("\n", i)
            i = len(chunk) if end < 0 else end
            continue
        if ch in _CLOSERS:
            stack.append((i, ch))
        elif ch in (")", "]") and stack and _CLOSERS[stack[-1][1]] == ch:
            stack.pop()
        i += 1
    stack = [(offset, ch) for offset, ch in stack if offset < upto]
    if stack and _CLOSER_TERMINALS[_CLOSERS[stack[-1][1]]] in set(expected or ()):
        return stack[-1]
    return None


def _or_list(words: list[str]) -> str:
    if not words:
        return "something else"
    if len(words) > 8:
        words = words[:8] + ["..."]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def parse_template(raw: str, path: str, token: Token, delta: int = 0) -> ast.Template:
    """Split a message into text and `{expr}` holes; `{{` and `}}` stand for braces."""
    parts: list[str | ast.Expr] = []
    i = 0
    buf = ""
    base_line, base_col = token.line, token.column + 1  # +1: the opening quote
    while i < len(raw):
        ch = raw[i]
        if ch == "{" and raw[i + 1 : i + 2] == "{":
            buf += "{"
            i += 2
        elif ch == "}" and raw[i + 1 : i + 2] == "}":
            buf += "}"
            i += 2
        elif ch == "{":
            end = raw.find("}", i)
            if end < 0:
                raise _TemplateSyntax(path, base_line, base_col + i, "a '{' in the message is not closed by '}'")
            if buf:
                parts.append(buf)
                buf = ""
            source = raw[i + 1 : end]
            # pad so that positions in the hole count from the start of the file line
            padded = " " * (base_col + i) + source
            try:
                tree = _lark().parse(padded, start="expr")
                deep = _too_deep(tree, path, padded)
                if deep is not None:
                    raise _TemplateSyntax(path, base_line, base_col + i, f"in the message hole: {deep.message}")
                expr = _ToAst(path, padded).transform(tree)
            except UnexpectedInput as err:
                raise _TemplateSyntax(path, base_line, (err.column or 1), f"in the message hole {{{source}}}: " + _syntax_diagnostic(err, path, padded).message) from None
            except VisitError as err:
                raise _TemplateSyntax(path, base_line, base_col + i, f"in the message hole {{{source}}}: {err.orig_exc}") from None
            expr = _relocate(expr, base_line)
            parts.append(expr)
            i = end + 1
        else:
            buf += ch
            i += 1
    if buf:
        parts.append(buf)
    return ast.Template(tuple(parts), _span(path, token, delta))


class _TemplateSyntax(Exception):
    def __init__(self, path: str, line: int, column: int, message: str):
        super().__init__(message)
        self.diagnostic = Diagnostic(path, message, line=line, column=column)


def _relocate(expr, line: int):
    """Template holes are parsed on their own: move their spans to the line of the message."""
    import dataclasses

    if not dataclasses.is_dataclass(expr):
        return expr
    changes = {}
    for f in dataclasses.fields(expr):
        value = getattr(expr, f.name)
        if isinstance(value, ast.Span):
            changes[f.name] = dataclasses.replace(value, line=line)
        elif isinstance(value, ast.Expr):
            changes[f.name] = _relocate(value, line)
        elif isinstance(value, tuple):
            changes[f.name] = tuple(_relocate(v, line) if isinstance(v, ast.Expr) else v for v in value)
    return dataclasses.replace(expr, **changes)


# ---- entry points -----------------------------------------------------------------------------------


def parse_text(text: str, path: str) -> tuple[ast.Pack, list[Diagnostic]]:
    """Parse one pack. Each declaration is parsed on its own so that one syntax error per
    declaration is reported and the rest of the pack is still read."""
    diagnostics: list[Diagnostic] = []
    broken: list[str] = []  # ids of rules that did not parse
    # the declarations by kind, in the order the pack is built from
    kinds = (ast.Rule, ast.Param, ast.RuleTest, ast.FieldDecl, ast.PredicateDecl, ast.FamilyDecl)
    declared: dict[type, list] = {kind: [] for kind in kinds}
    starts = [m.start() for m in DECL_START.finditer(text)]
    if not starts or text[: starts[0]].strip(" \t\r\n") and not _only_comments(text[: starts[0]]):
        starts = [0] + starts
    bounds = list(zip(starts, starts[1:] + [len(text)]))
    lines_before, counted_to = 0, 0
    for begin, end in bounds:
        chunk = text[begin:end]
        if not chunk.strip() or _only_comments(chunk):
            continue
        # a declaration starts a line and is parsed alone: its lines are moved to the file's after parsing, and
        # `delta` moves lark's offsets to the file's (padding each with the newlines before it was quadratic:
        # a 5 MB pack took minutes)
        lines_before += text.count("\n", counted_to, begin)
        counted_to = begin
        try:
            tree = _lark().parse(chunk, start="start")
            _shift_lines(tree, lines_before)
            deep = _too_deep(tree, path, text)
            if deep is not None:
                diagnostics.append(deep)
                continue
            decls = _ToAst(path, text, begin).transform(tree)
        except UnexpectedInput as err:
            diagnostics.append(_unexpected_input(err, path, text, chunk, lines_before))
            # the tests of a rule that could not be read would each say it does not exist: one mistake, one error
            head = re.match(r"\s*(?:override\s+)?rule\s+([A-Z]{2,5}-\d{3})\b", chunk)
            if head:
                broken.append(head.group(1))
            continue
        except VisitError as err:
            diagnostic = _visit_error(err, path, text, begin)
            if diagnostic is None:
                raise
            diagnostics.append(diagnostic)
            continue
        for decl in decls:
            kind = next((k for k in kinds if isinstance(decl, k)), None)
            if kind is not None:
                declared[kind].append(decl)
    rules, params, tests, fields, predicates, families = (tuple(declared[kind]) for kind in kinds)
    return ast.Pack(path, text, rules, params, tests, tuple(broken), fields, predicates, families), diagnostics


def _unexpected_input(err: UnexpectedInput, path: str, text: str, chunk: str, lines_before: int) -> Diagnostic:
    """The diagnostic of a syntax error in a declaration (`chunk`, after `lines_before` lines of the file): an
    unclosed bracket named where it was opened, else where the parser stopped."""
    diagnostic = _syntax_diagnostic(err, path, text, line_offset=lines_before)
    where = getattr(getattr(err, "token", None), "start_pos", None)
    if where is None:
        where = getattr(err, "pos_in_stream", None)
    opened = _unclosed_bracket(chunk, len(chunk) if where is None else where,
                               getattr(err, "expected", None) or getattr(err, "allowed", None))
    if opened is None:
        return diagnostic
    offset, bracket = opened
    line = lines_before + chunk.count("\n", 0, offset) + 1
    column = offset - (chunk.rfind("\n", 0, offset) + 1) + 1
    return Diagnostic(path, f"'{bracket}' is not closed: '{_CLOSERS[bracket]}' expected",
                      line=line, column=column, excerpt=line_text(text, line),
                      hint=f"the parser stopped at line {diagnostic.line}: {diagnostic.message}")


def _visit_error(err: VisitError, path: str, text: str, begin: int) -> Diagnostic | None:
    """The diagnostic of a mistake found while building the syntax tree of a declaration starting at `begin`;
    None for an error that is not the pack's (raised again)."""
    orig = err.orig_exc
    if isinstance(orig, _TemplateSyntax):
        return _with_excerpt(orig.diagnostic, text)
    if isinstance(orig, _NumberError):
        return Diagnostic(path, f"the number {_clip(str(orig.token))} is out of range (at most {MAX_NUMBER:g} in size)",
                          line=orig.token.line, column=orig.token.column, excerpt=line_text(text, orig.token.line))
    if isinstance(orig, RecursionError):
        return Diagnostic(path, "the declaration nests too deeply to read", line=text.count("\n", 0, begin) + 1)
    if isinstance(orig, _TokenError):
        return Diagnostic(path, orig.message, line=orig.token.line, column=orig.token.column,
                          excerpt=line_text(text, orig.token.line))
    if isinstance(orig, _DateError):
        return Diagnostic(path, f"'{orig.token}' is not a valid date", line=orig.token.line,
                          column=orig.token.column, excerpt=line_text(text, orig.token.line))
    return None


def _clip(text: str, size: int = 40) -> str:
    return text if len(text) <= size else text[: size - 3] + "..."


def _only_comments(chunk: str) -> bool:
    return all(not line.strip() or line.strip().startswith("#") for line in chunk.splitlines())


def _with_excerpt(diag: Diagnostic, text: str) -> Diagnostic:
    import dataclasses

    return dataclasses.replace(diag, excerpt=line_text(text, diag.line or 0))


def parse_file(path: str | Path, display: str | None = None) -> tuple[ast.Pack, list[Diagnostic]]:
    from rulecheck.model.sources import SourceError, read_text_limited

    display = display or str(path)
    if not Path(path).exists():
        return ast.Pack(display, "", (), (), ()), [Diagnostic(display, "rule file not found")]
    try:
        text = read_text_limited(path, "max_rule_file_mb")
    except SourceError as err:
        return ast.Pack(display, "", (), (), ()), [Diagnostic(display, err.message, line=err.line, column=err.column, hint=err.hint)]
    return parse_text(text, display)


def parse_expr(text: str, path: str = "<expr>") -> ast.Expr:
    """Parse a single expression (used by tests and the REPL-like `rules show`)."""
    try:
        tree = _lark().parse(text, start="expr")
    except UnexpectedInput as err:
        raise InputError([_syntax_diagnostic(err, path, text)]) from None
    deep = _too_deep(tree, path, text)
    if deep is not None:
        raise InputError([deep])
    try:
        return _ToAst(path, text).transform(tree)
    except VisitError as err:
        if isinstance(err.orig_exc, _NumberError):
            raise InputError([Diagnostic(path, f"the number {_clip(str(err.orig_exc.token))} is out of range")]) from None
        if isinstance(err.orig_exc, _DateError):
            token = err.orig_exc.token
            raise InputError([Diagnostic(path, f"'{token}' is not a valid date", line=token.line, column=token.column)]) from None
        raise
