"""Located diagnostics: what the user gave that cannot be read, and where (file, line, column, field)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# C0 and C1 controls but tab and newline, DEL, and the bidirectional overrides: shown escaped, never sent to a terminal
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
MAX_EXCERPT = 160


def printable(text: str, *, keep_newlines: bool = True) -> str:
    """Text safe for a terminal or a log: control characters (ANSI escapes, carriage returns) and lone
    surrogates shown as ``\\x1b``-style escapes, so input cannot recolour, hide or overwrite what rulecheck prints."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)
    return text if keep_newlines else text.replace("\n", "\\n")


def _excerpt(line: str, column: int | None) -> tuple[str, int | None]:
    """A long source line cut to a window around `column` (a one-line file must not print megabytes)."""
    if len(line) <= MAX_EXCERPT:
        return line, column
    start = max(0, min((column or 1) - 1 - MAX_EXCERPT // 2, len(line) - MAX_EXCERPT))
    window = line[start : start + MAX_EXCERPT]
    prefix = "..." if start else ""
    suffix = "..." if start + MAX_EXCERPT < len(line) else ""
    return prefix + window + suffix, (column - start + len(prefix)) if column is not None else None

Severity = Literal["error", "warning"]


def working_path(manifest: str | None, path: str) -> str:
    """A path written relative to the manifest's folder (as records and the loader name files), shown from the
    working folder so that an editor or a terminal opens it: `e3/layers/parcels.geojson`; absolute when it lies
    outside the working folder (`../e3/...` becomes `/home/.../e3/...`). A GDAL layer's `#layer` stays on."""
    import os

    text = str(path)
    if not manifest or not text or text.startswith("<"):
        return text
    base, mark, rest = text.partition("#")
    folder = os.path.dirname(str(manifest))
    full = os.path.normpath(os.path.join(folder, base))  # an absolute `base` stays as it is
    if os.path.isabs(full):
        try:
            relative = os.path.relpath(full)
        except ValueError:  # another drive
            relative = full
        shown = full if relative == os.pardir or relative.startswith(os.pardir + os.sep) else relative
    elif full == os.pardir or full.startswith(os.pardir + os.sep):
        shown = os.path.abspath(full)
    else:
        shown = full
    return shown.replace(os.sep, "/") + mark + rest


@dataclass(frozen=True)
class Diagnostic:
    """One problem in an input file or a rule pack.

    `path` is the file as the user named it; `line`/`column` are 1-based (None when unknown);
    `field` is a dotted path into the document (e.g. ``unit_plan.packages[0].duties[1].due``);
    `excerpt` is the offending source line, shown with a caret under `column`.
    """

    path: str
    message: str
    line: int | None = None
    column: int | None = None
    field: str | None = None
    severity: Severity = "error"
    excerpt: str | None = None
    hint: str | None = None

    def location(self) -> str:
        loc = self.path
        if self.line is not None:
            loc += f":{self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        return loc

    def render(self) -> str:
        """The diagnostic as a compiler would print it: ``path:line:col: error: field: message``."""
        head = f"{printable(self.location(), keep_newlines=False)}: {self.severity}: "
        if self.field:
            head += f"{printable(self.field, keep_newlines=False)}: "
        text = head + printable(self.message)
        if self.excerpt is not None:
            excerpt, column = _excerpt(self.excerpt.rstrip("\n").split("\n")[0], self.column)
            shown = printable(excerpt, keep_newlines=False)
            text += "\n    " + shown
            if column is not None and 0 < column <= len(excerpt) + 1:
                # the caret sits under the same character once escapes have widened what precedes it
                text += "\n    " + " " * len(printable(excerpt[: column - 1], keep_newlines=False)) + "^"
        if self.hint:
            text += f"\n    hint: {printable(self.hint)}"
        return text


class InputError(Exception):
    """Raised when inputs (a submission, a rule pack, a parameter or waiver file) cannot be read.

    Carries every diagnostic found, not just the first. The CLI prints them and exits with status 2.
    """

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(d.render() for d in self.diagnostics))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]
