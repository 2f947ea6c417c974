"""The terminal report: conflicts grouped by family and document, one summary line at the end."""

from __future__ import annotations

from collections.abc import Callable

import click

from ..vocabulary import SEVERITIES
from .common import (
    baseline_line,
    county_lines,
    from_working_folder,
    family_name,
    group_by_family,
    reprojection_line,
    status_marker,
    settings_line,
    summary_line,
    t,
    waiver_line,
)
from .escape import for_terminal
from .record import Conflict, Report

_SEVERITY_COLOURS = {"error": "red", "warning": "yellow", "info": "cyan"}
_VERDICT_COLOURS = {"passed": "green", "incomplete": "yellow", "undecided": "yellow"}  # else red
# the waivers that waived nothing, in the order the report notes them
_WAIVER_NOTES = (("expired", "waiver_expired"), ("refused", "waiver_refused"), ("unmatched", "waiver_unmatched"))
_INDENT = "       "

Style = Callable[..., str]


def render(record: dict | Report, *, lang: str, color: bool = False) -> str:
    """The whole report as text; a single line when nothing was found."""

    def style(text: str, **kwargs) -> str:
        return click.style(text, **kwargs) if color else text

    if isinstance(record, Report):
        record = dict(record.raw)
    record = from_working_folder(record)  # locations an editor opens from where rulecheck ran
    # ids, titles and messages from the inputs cannot recolour or hide a line
    report = Report.of(for_terminal(record))
    line = style(summary_line(report, lang), fg=_VERDICT_COLOURS.get(report.verdict, "red"))
    county = county_lines(report, lang)  # a county submission: a verdict per unit and the county's account
    settings = settings_line(report, lang)
    # a check in another CRS than the one declared is said beside the verdict, clean run or not
    moved = reprojection_line(report, lang)
    if _nothing_to_list(report):
        return ((settings + "\n" if settings else "") + (f"{style(moved, fg='yellow')}\n" if moved else "")
                + "".join(f"{text}\n" for text in county) + line + "\n")

    out = _conflict_section(report, lang, style) + _indeterminate_section(report, lang, style)
    out += _resolved_section(report, lang, style) + _notes(report, lang, style)
    if out and out[-1] != "":
        out.append("")
    if county:
        out.extend([style(county[0], bold=True), *county[1:], ""])
    out += [text for text in (baseline_line(report, lang), settings) if text]
    if moved:
        out.append(style(moved, fg="yellow"))
    out.append(style(summary_line(report, lang), fg=_VERDICT_COLOURS.get(report.verdict, "red"), bold=True))
    return "\n".join(out) + "\n"


def _nothing_to_list(report: Report) -> bool:
    """No conflict, no indeterminate result, no baseline and no rule out of force: the report is its summary."""
    # rules not applicable because their law was not yet in force: the notes say which, clean run or not
    not_in_force = any(o.not_in_force for o in report.outcomes or ())
    return not report.conflicts and not report.indeterminate and not report.baseline and not not_in_force


def _conflict_section(report: Report, lang: str, style: Style) -> list[str]:
    out: list[str] = []
    for family, numbered in group_by_family(report.conflicts):
        out.append(style(f"{family} {family_name(family, lang, report)}", bold=True))
        documents: dict[str, list[tuple[int, Conflict]]] = {}
        for number, conflict in numbered:
            documents.setdefault(conflict.document, []).append((number, conflict))
        for document, items in documents.items():
            out.append("  " + style(document or t("no_location", lang), underline=True))
            for number, conflict in items:
                out.extend(_conflict_lines(number, conflict, lang, style))
        out.append("")
    return out


def _indeterminate_section(report: Report, lang: str, style: Style) -> list[str]:
    if not report.indeterminate:
        return []
    out = [style(f"{t('indeterminate', lang)} ({len(report.indeterminate)})", bold=True)]
    for entry in report.indeterminate:
        subjects = ", ".join(s.label for s in entry.subjects)
        text = f"  {entry.rule}" + (f" {subjects}" if subjects else "")
        if entry.missing:
            text += f": {t('missing', lang)} {entry.missing}"
        out.append(text)
    return out + [""]


def _resolved_section(report: Report, lang: str, style: Style) -> list[str]:
    if not report.resolved:
        return []
    out = [style(f"{t('resolved', lang)} ({len(report.resolved)})", bold=True)]
    for entry in report.resolved:
        out.append(f"  {entry.rule} {entry.subjects_line}: {entry.localized('message', lang)}".rstrip(": "))
    return out + [""]


def _notes(report: Report, lang: str, style: Style) -> list[str]:
    """The waivers that waived nothing, the submission's notes, and the stage when it is not the default."""
    out = []
    for key, label in _WAIVER_NOTES:
        for waiver in report.waiver_notes.get(key, ()):
            subjects = ", ".join(str(s) for s in waiver.subjects)
            out.append(style(f"{waiver.file}:{waiver.line}: {t('note', lang)}: ", fg="yellow")
                       + f"{t(label, lang)}: {waiver.rule} {subjects}".rstrip())
    out += [f"{t('note', lang)}: {note}" for note in report.submission.notes]
    stage = report.submission.stage
    if stage == "supply":  # the default gate (before the joint approval) is what every report without a line checks
        out.append(f"{t('stage', lang)}: {t(f'stage_{stage}', lang)}")
    return out


def _conflict_lines(number: int, conflict: Conflict, lang: str, style: Style) -> list[str]:
    severity, waived = conflict.severity, conflict.waived
    head = style(t(severity, lang) if severity in SEVERITIES else severity,
                 fg=None if waived else _SEVERITY_COLOURS.get(severity), bold=not waived)
    marker = status_marker(conflict, lang) + (f"[{t('waived', lang)}] " if waived else "")
    lines = [f"    {number}. {marker}{head} {style(conflict.rule, bold=True)} "
             f"{conflict.localized('message', lang) or conflict.localized('title', lang)}"]
    if conflict.subjects:
        parts = [f"{s.label} ({s.location})" if s.location else s.label for s in conflict.subjects]
        lines.append(f"{_INDENT}{t('subjects', lang)}: {', '.join(parts)}")
    if conflict.units:  # a county report: the unit (or units) the conflict belongs to
        lines.append(f"{_INDENT}{t('units', lang)}: {', '.join(str(u) for u in conflict.units)}")
    values = [f"{t(key, lang)}: {value}" for key, value in (("expected", conflict.expected), ("actual", conflict.actual))
              if value not in (None, "")]
    if values:
        lines.append(_INDENT + "; ".join(values))
    if conflict.basis:
        lines.append(f"{_INDENT}{t('basis', lang)}: {conflict.basis}")
    if conflict.explanation:
        lines.append(f"{_INDENT}{t('explanation', lang)}:")
        lines += [f"{_INDENT}  {step.expr} = {step.value}" for step in conflict.explanation]
    if conflict.waiver is not None:
        lines.append(_INDENT + style(waiver_line(conflict.waiver, lang), fg="blue"))
    return lines
