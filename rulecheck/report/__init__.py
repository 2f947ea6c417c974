"""The report emitters: every output format built from the one report record the engine produces."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping

from ..vocabulary import FORMAT_TABLE
from .common import summary_line

Renderer = Callable[..., str]

# format name -> the module whose render(record, *, lang) -> str writes it (rulecheck.vocabulary.FORMAT_TABLE); a
# module is imported when its format is first asked for, so a run that writes a text report does not import jinja2
# (html), xml (junit) and the rest
_MODULES: dict[str, str] = {name: fmt.module for name, fmt in FORMAT_TABLE.items()}


class _Renderers(Mapping[str, Renderer]):
    """format name -> render(record, *, lang) -> str, each emitter imported on first use."""

    def __getitem__(self, fmt: str) -> Renderer:
        return importlib.import_module(f"{__name__}.{_MODULES[fmt]}").render

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


FORMATS: Mapping[str, Renderer] = _Renderers()

# file extension of each format, for `--output-dir` (report.<ext>)
EXTENSIONS: dict[str, str] = {name: fmt.extension for name, fmt in FORMAT_TABLE.items()}


def render(record: dict, fmt: str, lang: str = "zh", color: bool = False) -> str:
    """The record in format `fmt` (a key of FORMATS); `color` only affects the text format."""
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown report format {fmt!r}; known: {', '.join(FORMATS)}") from None
    if fmt == "text":
        return renderer(record, lang=lang, color=color)
    return renderer(record, lang=lang)


def render_pieces(record: dict, fmt: str, lang: str = "zh") -> Iterator[str]:
    """The same text as render(record, fmt, lang), in pieces, for writing to a file as they are made: a format
    whose module has `pieces(record, *, lang)` (json) is never whole in memory; the others come in one piece."""
    if fmt in _MODULES:
        pieces = getattr(importlib.import_module(f"{__name__}.{_MODULES[fmt]}"), "pieces", None)
        if pieces is not None:
            return pieces(record, lang=lang)
    return iter([render(record, fmt, lang=lang)])


def encoded_pieces(record: dict, fmt: str, lang: str = "zh") -> Iterator[bytes]:
    """The bytes of a report file in format `fmt`: render_pieces encoded as UTF-8 (a lone surrogate written as a
    backslash escape), or the format's own `encoded_pieces` (json), which makes them without a text between."""
    if fmt in _MODULES:
        encoded = getattr(importlib.import_module(f"{__name__}.{_MODULES[fmt]}"), "encoded_pieces", None)
        if encoded is not None:
            return encoded(record, lang=lang)
    return (piece.encode("utf-8", "backslashreplace") for piece in render_pieces(record, fmt, lang=lang))


def render_summary_line(record: dict, lang: str = "zh") -> str:
    """The one-line verdict (what the CLI prints when every report went to a file)."""
    from .escape import for_terminal

    return summary_line(for_terminal(record), lang)


__all__ = ["EXTENSIONS", "FORMATS", "encoded_pieces", "render", "render_pieces", "render_summary_line"]
