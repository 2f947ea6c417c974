"""The report emitters: every output format built from the one report record the engine produces."""

from __future__ import annotations

from collections.abc import Callable

from .common import summary_line
from . import geojson, github, gitlab, html_report, json_report, junit, markdown, sarif, text

Renderer = Callable[..., str]

# format name -> render(record, *, lang) -> str
FORMATS: dict[str, Renderer] = {
    "text": text.render,
    "json": json_report.render,
    "sarif": sarif.render,
    "junit": junit.render,
    "geojson": geojson.render,
    "markdown": markdown.render,
    "html": html_report.render,
    "github": github.render,
    "gitlab": gitlab.render,
}

# file extension of each format, for `--output-dir` (report.<ext>)
EXTENSIONS: dict[str, str] = {
    "text": "txt",
    "json": "json",
    "sarif": "sarif",
    "junit": "xml",
    "geojson": "geojson",
    "markdown": "md",
    "html": "html",
    "github": "github.txt",
    "gitlab": "gitlab.json",
}


def render(record: dict, fmt: str, lang: str = "zh", color: bool = False) -> str:
    """The record in format `fmt` (a key of FORMATS); `color` only affects the text format."""
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown report format {fmt!r}; known: {', '.join(FORMATS)}") from None
    if fmt == "text":
        return renderer(record, lang=lang, color=color)
    return renderer(record, lang=lang)




def render_summary_line(record: dict, lang: str = "zh") -> str:
    """The one-line verdict (what the CLI prints when every report went to a file)."""
    from .escape import for_terminal

    return summary_line(for_terminal(record), lang)


__all__ = ["EXTENSIONS", "FORMATS", "render", "render_summary_line"]
