"""A language server for `.rule` files (`rulecheck rules lsp`, over stdio): diagnostics as you type from the same
checker as `rules validate`, hover on a field, parameter or function, completion, go-to-definition of parameters.

Built on pygls (optional: `pip install 'rulecheck-nrap[lsp]'`)."""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from rulecheck.dsl.builtins import BUILTINS, SPECIAL
from rulecheck.dsl.schema import COLLECTION_OF, ROOTS, VIRTUAL_FIELDS, fields_of

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPECIAL_DOCS = {
    "present": "present(x): true when x has a value (never indeterminate)",
    "default": "default(x, y): x, or y where x is absent",
    "count": "count(…): how many elements (of a list, or a comprehension)",
    "sum": "sum(…): the total of quantities",
    "min": "min(…): the smallest", "max": "max(…): the largest",
}


def _record_classes() -> list[type]:
    seen: list[type] = []
    for cls in list(COLLECTION_OF) + list(VIRTUAL_FIELDS):
        if cls not in seen:
            seen.append(cls)
    return seen


def field_docs(extra: dict | None = None) -> dict[str, list[str]]:
    """Every field name a rule can read, with the record kinds that have it and its type (and declared ones)."""
    out: dict[str, list[str]] = {}
    for cls in _record_classes():
        for name, t in fields_of(cls).items():
            out.setdefault(name, []).append(f"{cls.__name__}.{name}: {t}")
    for cls, declared in (extra or {}).items():
        for name, (t, unit, decl, where) in declared.items():
            out.setdefault(name, []).append(f"{cls.__name__}.{name}: {t} — declared field \"{decl.title_zh}\" ({where})")
    return out


def _path_of(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


def _word_at(text: str, line: int, character: int) -> tuple[str, bool]:
    """The name under the cursor, and whether it follows a dot (a field)."""
    lines = text.splitlines()
    if line >= len(lines):
        return "", False
    row = lines[line]
    for m in WORD.finditer(row):
        if m.start() <= character <= m.end():
            return m.group(), m.start() > 0 and row[m.start() - 1] == "."
    return "", False


class RuleAnalysis:
    """The checker's view of one open document: its diagnostics and the names it can use."""

    def __init__(self, uri: str, text: str):
        from rulecheck.dsl.packs import default_rule_paths, validated

        self.uri, self.text = uri, text
        real = _path_of(uri)
        with tempfile.TemporaryDirectory(prefix="rulecheck-lsp-") as scratch:
            copy = Path(scratch) / (real.name if real.suffix == ".rule" else "document.rule")
            copy.write_text(text, encoding="utf-8")
            from rulecheck.dsl.cache import not_storing

            with not_storing():  # each keystroke's text would be an entry of its own, never read again
                rule_set, diagnostics = validated([copy], stand_in=real if real.exists() else None)
            self.copy = str(copy)
            self.diagnostics = [d for d in diagnostics if not d.path.startswith("rulecheck:")
                                and Path(d.path).name == copy.name]
        self.params = rule_set.params
        # the plans of this document's rules, by the line each rule starts on (0-based, as the editor counts)
        self.plans = {rule.rule.span.line - 1: (rule.id, rule.plans) for rule in rule_set.rules
                      if Path(rule.path).name == copy.name and not rule.path.startswith("rulecheck:")}
        self.extra_fields = getattr(rule_set, "declared_fields", None) or {}
        for rule in rule_set.rules:
            self.extra_fields = self.extra_fields or getattr(rule.names, "extra_fields", {}) or {}
            break
        self.builtin_dir = default_rule_paths()[0]
        self.real_path = str(real)

    def _where(self, path: str, line: int) -> str:
        """A declaration's place as the user knows it: this document's own path, not the checker's copy of it."""
        if Path(path).name == Path(self.copy).name and not path.startswith("rulecheck:"):
            path = self.real_path
        return f"{path}:{line}"

    # ---- what a name is, at a place in the document ----

    def bound(self, line: int) -> dict:
        """The names the rule around `line` binds before it (`for each X in PATH`, `let X = …`), with the type of
        each element of a collection path where it can be told (None where not)."""
        lines = self.text.splitlines()
        start = self._rule_start(line)
        scope: dict = {}
        for row in lines[start:line + 1]:
            for m in re.finditer(r"\bfor each ([A-Za-z_]\w*) in ([A-Za-z_][\w.]*)", row):
                scope[m.group(1)] = self.type_of(m.group(2), scope, element=True)
            for m in re.finditer(r"\blet ([A-Za-z_]\w*)\s*=", row):
                scope.setdefault(m.group(1), None)
        return scope

    def type_of(self, path: str, scope: dict, element: bool = False):
        """The type of a dotted path (`package.supply`, `detailed_plan.parcels`) from a root or a bound name."""
        head, *rest = path.split(".")
        t = ROOTS.get(head) if head in ROOTS else scope.get(head)
        for name in rest:
            while t is not None and t.kind == "list":
                t = t.arg
            if t is None or t.kind != "record":
                return None
            declared = self.extra_fields.get(t.arg, {})
            t = fields_of(t.arg).get(name) or (declared[name][0] if name in declared else None)
        while element and t is not None and t.kind == "list":
            t = t.arg
        return t

    def _groups(self) -> dict:
        from rulecheck.model.landuse import load_classification

        return dict(load_classification().groups)

    @staticmethod
    def _enum_values() -> dict[str, str]:
        from rulecheck.dsl.schema import ENUMS

        out: dict[str, str] = {}
        for cls in ENUMS:  # a value of several enumerations (transfer) names them all
            for member in cls:
                out[str(member.value)] = f"{out[str(member.value)]}, {cls.__name__}" if str(member.value) in out else cls.__name__
        return out

    def _rule_start(self, line: int) -> int:
        """The line of the `rule` that `line` is in (0 when none is above it)."""
        lines = self.text.splitlines()
        for i in range(min(line, len(lines) - 1), -1, -1):
            if re.match(r"(override\s+)?rule\b", lines[i]):
                return i
        return 0

    def plan(self, line: int) -> str | None:
        """How the loops of the rule around `line` are enumerated (`rules validate --plan`), None when it has
        none or does not compile."""
        from rulecheck.dsl.plan import describe_plans

        found = self.plans.get(self._rule_start(line))
        if found is None:
            return None
        rule_id, plans = found
        return "\n".join([f"plan of {rule_id}:"] + (describe_plans(plans) or ["  (no loop over a collection)"]))

    def hover(self, line: int, character: int) -> str | None:
        word, after_dot = _word_at(self.text, line, character)
        if not word:
            return None
        if word in ("rule", "for", "each") and not after_dot:
            return self.plan(line)
        if after_dot:
            docs = field_docs(self.extra_fields).get(word)
            return "\n".join(docs) if docs else None
        scope = self.bound(line)
        if word in scope:
            t = scope[word]
            return f"{word}: {t}" if t is not None else f"{word}: bound by the rule (let)"
        if word in self.params:
            p = self.params[word]
            lines = [f"parameter {word}: {p.type}" + (" (a table)" if p.is_table else ""), f"{p.title_zh} / {p.title_en}"]
            from rulecheck.dsl.values import format_value

            for e in p.editions:
                value = (", ".join(f"{k}: {format_value(v, 'en', full=True)}" for k, v in e.table.items())
                         if p.is_table else format_value(e.value, "en", full=True))
                lines.append(f"from {e.valid_from.isoformat()}: {value} — {e.source}")
            lines.append(f"declared in {self._where(p.path, p.line)}")
            return "\n".join(lines)
        if word in BUILTINS:
            b = BUILTINS[word]
            return f"{word}({', '.join(b.params)}) → {b.result if not callable(b.result) else 'by its arguments'}: {b.doc}"
        if word in _SPECIAL_DOCS:
            return _SPECIAL_DOCS[word]
        if word in ROOTS:
            return f"collection {word}: {ROOTS[word]}"
        groups = self._groups()
        if word in groups:
            g = groups[word]
            return "\n".join([f"land-use group {word}: {g.zh} / {g.en}", f"codes: {', '.join(g.codes)}",
                              f"source: {g.source}"] + ([f"defined in {g.defined_in}"] if g.defined_in else []))
        enums = self._enum_values()
        if word in enums:
            return f"{word}: a value of {enums[word]}"
        return None

    def completions(self, line: int, character: int) -> list[tuple[str, str, str]]:
        """(label, kind, detail): after a dot the fields; elsewhere collections, parameters and functions."""
        row = self.text.splitlines()[line] if line < len(self.text.splitlines()) else ""
        before = row[:character]
        prefix = re.search(r"[A-Za-z_][A-Za-z0-9_]*$", before)
        start = before[: prefix.start()] if prefix else before
        scope = self.bound(line)
        if start.endswith("."):
            owner = re.search(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\.$", start)
            t = self.type_of(owner.group(1), scope) if owner else None
            while t is not None and t.kind == "list":
                t = t.arg
            if t is not None and t.kind == "record":  # the fields of what precedes the dot, and its declared ones
                fields = [(name, "field", f"{t.arg.__name__}.{name}: {ft}") for name, ft in sorted(fields_of(t.arg).items())]
                fields += [(name, "field", f"{t.arg.__name__}.{name}: {d[0]} — declared field \"{d[2].title_zh}\"")
                           for name, d in sorted(self.extra_fields.get(t.arg, {}).items())]
                return fields
            return [(name, "field", docs[0]) for name, docs in sorted(field_docs(self.extra_fields).items())]
        out = [(name, "variable", str(t) if t is not None else "bound by the rule") for name, t in scope.items()]
        out += [(name, "collection", str(t)) for name, t in ROOTS.items()]
        out += [(name, "parameter", f"{p.type} — {p.title_en}") for name, p in sorted(self.params.items())]
        out += [(name, "function", BUILTINS[name].doc) for name in sorted(BUILTINS)]
        out += [(name, "function", _SPECIAL_DOCS.get(name, "")) for name in sorted(SPECIAL)]
        out += [(name, "group", f"{g.zh} / {g.en}") for name, g in sorted(self._groups().items())]
        out += [(value, "enum", f"a value of {cls}") for value, cls in sorted(self._enum_values().items())]
        return out

    def definition(self, line: int, character: int) -> tuple[Path, int] | None:
        word, after_dot = _word_at(self.text, line, character)
        if after_dot or word not in self.params:
            return None
        p = self.params[word]
        path = p.path
        if path.startswith("rulecheck:"):
            target = self.builtin_dir / path[len("rulecheck:"):]
        elif Path(path).name == Path(self.copy).name:  # declared in this document
            target = _path_of(self.uri)
        else:
            target = Path(path).resolve()
        return target, p.line


MAX_MESSAGE_BYTES = 64 * 2**20  # a message longer than this is refused (skipped) before its body is read
MAX_HEADER_BYTES = 8192
_LENGTH_HEADER = b"content-length:"


class Framer:
    """The client's byte stream as pygls reads it (`readline`, `read`), made only of well-framed messages.

    pygls trusts the framing: a header block without a Content-Length, a negative or huge length, or a body
    that is not JSON leaves it reading the next message's header as part of a body (every later request then
    goes unanswered, or it waits for a terabyte). Here each message is parsed first: its headers (at most
    MAX_HEADER_BYTES), a Content-Length of 0 < n <= MAX_MESSAGE_BYTES and a body of n bytes that is JSON; a
    message that is not is skipped (said on standard error), and reading goes on at the next
    `Content-Length:` header in the stream. pygls then sees `Content-Length: n CR LF CR LF body` frames only."""

    def __init__(self, raw, log=None):
        self.raw = raw
        self.buffer = bytearray()  # bytes read from the client, not parsed yet
        self.pending = bytearray()  # well-framed bytes for pygls
        self.eof = False
        self.log = log or (lambda message: sys.stderr.write(f"rulecheck lsp: {message}\n"))

    # -- what pygls calls

    def readline(self) -> bytes:
        while b"\n" not in self.pending:
            if not self._frame():
                break
        end = self.pending.find(b"\n")
        end = len(self.pending) if end < 0 else end + 1
        line = bytes(self.pending[:end])
        del self.pending[:end]
        return line

    def read(self, n: int = -1) -> bytes:
        while (n < 0 or len(self.pending) < n) and self._frame():
            pass
        n = len(self.pending) if n < 0 else min(n, len(self.pending))
        out = bytes(self.pending[:n])
        del self.pending[:n]
        return out

    # -- parsing

    def _fill(self) -> bool:
        """More bytes from the client into the buffer; False at the end of the stream."""
        if self.eof:
            return False
        reader = getattr(self.raw, "read1", None)
        chunk = reader(65536) if reader is not None else self.raw.read(1)
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def _line(self) -> bytes | None:
        """One header line (without its line end), or None at the end of the stream; an overlong one is cut."""
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0 or len(self.buffer) > MAX_HEADER_BYTES:
                end = end if end >= 0 else MAX_HEADER_BYTES
                line = bytes(self.buffer[:end]).rstrip(b"\r")
                del self.buffer[:end + 1]
                return line
            if not self._fill():
                return None

    def _resync(self) -> None:
        """Drop bytes up to the next `Content-Length:` header (the next message, where a client sends one)."""
        while True:
            found = bytes(self.buffer).lower().find(_LENGTH_HEADER)
            if found >= 0:
                del self.buffer[:found]
                return
            keep = len(_LENGTH_HEADER) - 1  # a header split between two reads
            if len(self.buffer) > keep:
                del self.buffer[:len(self.buffer) - keep]
            if not self._fill():
                self.buffer.clear()
                return

    def _frame(self) -> bool:
        """Parse one message into `pending`; False at the end of the stream."""
        import json

        while True:
            length, problem, size = None, None, 0
            while True:
                line = self._line()
                if line is None:
                    return False
                size += len(line)
                if not line.strip():
                    if length is None and problem is None and size == 0:
                        continue  # blank lines between messages
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    text = value.strip()
                    if not text.isdigit() or not 0 < int(text) <= MAX_MESSAGE_BYTES:
                        problem = f"a Content-Length of {text[:40].decode('ascii', 'backslashreplace')!s}"
                    else:
                        length = int(text)
                if size > MAX_HEADER_BYTES:
                    problem = "a header block over 8 KiB"
                    break
            if problem is None and length is None:
                problem = "a header block without a Content-Length"
            if problem is not None:
                self.log(f"skipped a message with {problem}; reading on at the next Content-Length header")
                self._resync()
                continue
            while len(self.buffer) < length:
                if not self._fill():
                    return False
            body = bytes(self.buffer[:length])
            try:
                json.loads(body)
            except ValueError:
                self.log("skipped a message whose body is not JSON (a wrong Content-Length?); reading on at the "
                         "next Content-Length header")
                del self.buffer[:1]
                self._resync()
                continue
            del self.buffer[:length]
            self.pending += b"Content-Length: %d\r\n\r\n" % length + body
            return True


def serve() -> None:  # pragma: no cover - exercised through a subprocess in tests/test_authors_lsp.py
    from lsprotocol import types
    from pygls.lsp.server import LanguageServer

    from rulecheck.version import __version__

    server = LanguageServer("rulecheck", __version__)
    analyses: dict[str, RuleAnalysis] = {}

    def analyse(uri: str, text: str) -> None:
        analysis = RuleAnalysis(uri, text)
        analyses[uri] = analysis
        diagnostics = []
        for d in analysis.diagnostics:
            line = max((d.line or 1) - 1, 0)
            column = max((d.column or 1) - 1, 0)
            message = d.message + (f"\n{d.hint}" if d.hint else "")
            diagnostics.append(types.Diagnostic(
                range=types.Range(start=types.Position(line=line, character=column),
                                  end=types.Position(line=line, character=column + 1)),
                message=message, source="rulecheck",
                severity=types.DiagnosticSeverity.Error if d.severity == "error" else types.DiagnosticSeverity.Warning))
        server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics))

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls, params: types.DidOpenTextDocumentParams):
        analyse(params.text_document.uri, params.text_document.text)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls, params: types.DidChangeTextDocumentParams):
        document = ls.workspace.get_text_document(params.text_document.uri)
        analyse(params.text_document.uri, document.source)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls, params: types.DidSaveTextDocumentParams):
        document = ls.workspace.get_text_document(params.text_document.uri)
        analyse(params.text_document.uri, document.source)

    def current(uri: str) -> RuleAnalysis | None:
        document = server.workspace.get_text_document(uri)
        analysis = analyses.get(uri)
        if analysis is None or analysis.text != document.source:
            analyse(uri, document.source)
            analysis = analyses.get(uri)
        return analysis

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls, params: types.HoverParams):
        analysis = current(params.text_document.uri)
        text = analysis.hover(params.position.line, params.position.character) if analysis else None
        if not text:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.PlainText, value=text))

    kinds = {"field": types.CompletionItemKind.Field, "parameter": types.CompletionItemKind.Constant,
             "function": types.CompletionItemKind.Function, "collection": types.CompletionItemKind.Module,
             "variable": types.CompletionItemKind.Variable, "group": types.CompletionItemKind.Enum,
             "enum": types.CompletionItemKind.EnumMember}

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["."]))
    def completion(ls, params: types.CompletionParams):
        analysis = current(params.text_document.uri)
        items = analysis.completions(params.position.line, params.position.character) if analysis else []
        return types.CompletionList(is_incomplete=False, items=[
            types.CompletionItem(label=label, kind=kinds[kind], detail=detail) for label, kind, detail in items])

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def definition(ls, params: types.DefinitionParams):
        analysis = current(params.text_document.uri)
        found = analysis.definition(params.position.line, params.position.character) if analysis else None
        if found is None:
            return None
        path, line = found
        position = types.Position(line=max(line - 1, 0), character=0)
        return types.Location(uri=path.resolve().as_uri(), range=types.Range(start=position, end=position))

    server.start_io(stdin=Framer(sys.stdin.buffer))  # pygls trusts the framing: the Framer does not
