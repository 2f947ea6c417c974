"""A language server for `.rule` files (`rulecheck rules lsp`, over stdio): diagnostics as you type from the same
checker as `rules validate`, hover on a field, parameter or function, completion, go-to-definition of parameters.

Built on pygls (optional: `pip install 'rulecheck-nrap[lsp]'`)."""

from __future__ import annotations

import re
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
        from rulecheck.dsl.rules import default_rule_paths, validated

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
        self.extra_fields = {}
        for rule in rule_set.rules:
            self.extra_fields = getattr(rule.names, "extra_fields", {}) or {}
            break
        self.builtin_dir = default_rule_paths()[0]

    def hover(self, line: int, character: int) -> str | None:
        word, after_dot = _word_at(self.text, line, character)
        if not word:
            return None
        if after_dot:
            docs = field_docs(self.extra_fields).get(word)
            return "\n".join(docs) if docs else None
        if word in self.params:
            p = self.params[word]
            lines = [f"parameter {word}: {p.type}" + (" (a table)" if p.is_table else ""), f"{p.title_zh} / {p.title_en}"]
            from rulecheck.dsl.values import format_value

            for e in p.editions:
                value = (", ".join(f"{k}: {format_value(v, 'en', full=True)}" for k, v in e.table.items())
                         if p.is_table else format_value(e.value, "en", full=True))
                lines.append(f"from {e.valid_from.isoformat()}: {value} — {e.source}")
            lines.append(f"declared in {p.path}:{p.line}")
            return "\n".join(lines)
        if word in BUILTINS:
            b = BUILTINS[word]
            return f"{word}({', '.join(b.params)}) → {b.result if not callable(b.result) else 'by its arguments'}: {b.doc}"
        if word in _SPECIAL_DOCS:
            return _SPECIAL_DOCS[word]
        if word in ROOTS:
            return f"collection {word}: {ROOTS[word]}"
        return None

    def completions(self, line: int, character: int) -> list[tuple[str, str, str]]:
        """(label, kind, detail): after a dot the fields; elsewhere collections, parameters and functions."""
        row = self.text.splitlines()[line] if line < len(self.text.splitlines()) else ""
        before = row[:character]
        prefix = re.search(r"[A-Za-z_][A-Za-z0-9_]*$", before)
        start = before[: prefix.start()] if prefix else before
        if start.endswith("."):
            return [(name, "field", docs[0]) for name, docs in sorted(field_docs(self.extra_fields).items())]
        out = [(name, "collection", str(t)) for name, t in ROOTS.items()]
        out += [(name, "parameter", f"{p.type} — {p.title_en}") for name, p in sorted(self.params.items())]
        out += [(name, "function", BUILTINS[name].doc) for name in sorted(BUILTINS)]
        out += [(name, "function", _SPECIAL_DOCS.get(name, "")) for name in sorted(SPECIAL)]
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


def serve() -> None:  # pragma: no cover - exercised through a subprocess in tests/test_authors_lsp.py
    from lsprotocol import types
    from pygls.lsp.server import LanguageServer

    from rulecheck import __version__

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
             "function": types.CompletionItemKind.Function, "collection": types.CompletionItemKind.Module}

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

    server.start_io()
