"""GitHub Actions workflow commands: one ``::error file=…,line=…,title=…::message`` annotation per conflict.

Escaping follows the Actions toolkit (``@actions/core`` command.ts): in the message ``%``, CR and LF are
percent-encoded; in a property value ``:`` and ``,`` are as well. Lines that are not commands (the summary)
are printed in the log as they are."""

from __future__ import annotations

from .common import baseline_line, norm_lang, reprojection_line, settings_line, status_marker, summary_line, t
from .escape import for_log
from .record import Conflict, Report
from .workspace import first_location, workspace_path

_COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(command: str, message: str, **properties) -> str:
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items() if value is not None)
    return f"::{command}{' ' + props if props else ''}::{escape_data(message)}"


def render(record: dict | Report, *, lang: str) -> str:
    if isinstance(record, Report):
        record = dict(record.raw)
    # no ESC, OSC 8 link, C1 control or bidi override from the inputs reaches the log
    report = Report.of(for_log(record))
    lang = norm_lang(lang)
    lines = [_conflict_annotation(report, conflict, lang) for conflict in report.conflicts]
    for entry in report.indeterminate:
        subjects = ", ".join(s.label for s in entry.subjects)
        text = f"{t('indeterminate', lang)}: {entry.rule} {subjects}".rstrip()
        if entry.missing:
            text += f": {t('missing', lang)} {entry.missing}"
        lines.append(annotation("warning", text, title=f"{entry.rule} {t('indeterminate', lang)}"))
    against = baseline_line(report, lang)
    if against:  # a review round: what changed since the earlier report
        lines.append(annotation("notice", against, title=t("resolved", lang)))
    moved = reprojection_line(report, lang)
    if moved:  # the check ran in another CRS than the one declared
        lines.append(annotation("notice", moved, title="rulecheck CRS"))
    for warning in report.diagnostics:  # what the load found wrong but not fatal, where it is
        text = f"{warning.field}: {warning.message}" if warning.field else str(warning.message)
        path = str(warning.path)  # a GDAL layer's `file#layer` has feature ids, not lines
        lines.append(annotation("warning", text, file=workspace_path(report, path),
                                line=None if "#" in path else warning.line, title="rulecheck data"))
    if report.verdict == "undecided":  # no annotation at all would read as a clean run
        lines.append(annotation("error", summary_line(report, lang), title=f"rulecheck {t('undecided', lang)}"))
    settings = settings_line(report, lang)
    if settings:
        lines.append(annotation("notice", settings, title="rulecheck settings"))
    if moved:
        lines.append(moved)
    lines.append(summary_line(report, lang))
    return "\n".join(lines) + "\n"


def _conflict_annotation(report: Report, conflict: Conflict, lang: str) -> str:
    path, line = first_location(report, conflict)
    command = "notice" if conflict.waived else _COMMANDS.get(conflict.severity, "error")
    title = f"{status_marker(conflict, lang)}{conflict.rule} {conflict.localized('title', lang)}".strip()
    if conflict.waived:
        title = f"[{t('waived', lang)}] {title}"
    return annotation(command, _message(conflict, lang), file=path, line=line, title=title)


def _message(conflict: Conflict, lang: str) -> str:
    parts = [conflict.localized("message", lang) or conflict.localized("title", lang)]
    if conflict.subjects:
        parts.append(f"{t('subjects', lang)}: {conflict.subjects_line}")
    values = [f"{t(key, lang)}: {value}" for key, value in (("expected", conflict.expected), ("actual", conflict.actual))
              if value not in (None, "")]
    if values:
        parts.append("; ".join(values))
    if conflict.basis:
        parts.append(f"{t('basis', lang)}: {conflict.basis}")
    return "\n".join(parts)
