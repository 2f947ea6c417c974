"""Located diagnostics: what the user gave that cannot be read, and where (file, line, column, field)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


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
        head = f"{self.location()}: {self.severity}: "
        if self.field:
            head += f"{self.field}: "
        text = head + self.message
        if self.excerpt is not None:
            text += "\n    " + self.excerpt.rstrip("\n")
            if self.column is not None:
                text += "\n    " + " " * (self.column - 1) + "^"
        if self.hint:
            text += f"\n    hint: {self.hint}"
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
