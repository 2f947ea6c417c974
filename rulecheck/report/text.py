"""The terminal report: conflicts grouped by family and document, one summary line at the end."""

from __future__ import annotations

import click

from .escape import for_terminal
from .common import (
    baseline_line,
    county_lines,
    document_of,
    from_working_folder,
    family_name,
    group_by_family,
    is_waived,
    localized,
    reprojection_line,
    status_marker,
    subject_label,
    subject_location,
    settings_line,
    summary_line,
    t,
    verdict_of,
    waiver_line,
)

_SEVERITY_COLOURS = {"error": "red", "warning": "yellow", "info": "cyan"}


def render(record: dict, *, lang: str, color: bool = False) -> str:
    """The whole report as text; a single line when nothing was found."""

    def style(text: str, **kwargs) -> str:
        return click.style(text, **kwargs) if color else text

    record = from_working_folder(record)  # locations an editor opens from where rulecheck ran
    record = for_terminal(record)  # ids, titles and messages from the inputs cannot recolour or hide a line

    conflicts = record.get("conflicts") or []
    line = summary_line(record, lang)
    verdict_colour = {"passed": "green", "incomplete": "yellow", "undecided": "yellow"}.get(verdict_of(record), "red")
    county = county_lines(record, lang)  # a county submission: a verdict per unit and the county's account
    settings = settings_line(record, lang)
    # a check in another CRS than the one declared is said beside the verdict, clean run or not
    moved = reprojection_line(record, lang)
    # rules not applicable because their law was not yet in force: the notes say which, clean run or not
    not_in_force = any(o.get("not_in_force") for o in record.get("outcomes") or [])
    if not conflicts and not record.get("indeterminate") and not record.get("baseline") and not not_in_force:
        return ((settings + "\n" if settings else "") + (f"{style(moved, fg='yellow')}\n" if moved else "")
                + "".join(f"{text}\n" for text in county)
                + style(line, fg=verdict_colour) + "\n")

    out: list[str] = []
    for family, numbered in group_by_family(conflicts):
        out.append(style(f"{family} {family_name(family, lang, record)}", bold=True))
        documents: dict[str, list[tuple[int, dict]]] = {}
        for number, conflict in numbered:
            documents.setdefault(document_of(conflict), []).append((number, conflict))
        for document, items in documents.items():
            out.append("  " + style(document or t("no_location", lang), underline=True))
            for number, conflict in items:
                out.extend(_conflict_lines(number, conflict, lang, style))
        out.append("")

    indeterminate = record.get("indeterminate") or []
    if indeterminate:
        out.append(style(f"{t('indeterminate', lang)} ({len(indeterminate)})", bold=True))
        for entry in indeterminate:
            subjects = ", ".join(subject_label(s) for s in entry.get("subjects") or [])
            text = f"  {entry.get('rule', '')}"
            if subjects:
                text += f" {subjects}"
            if entry.get("missing"):
                text += f": {t('missing', lang)} {entry['missing']}"
            out.append(text)
        out.append("")

    resolved = record.get("resolved") or []
    if resolved:
        out.append(style(f"{t('resolved', lang)} ({len(resolved)})", bold=True))
        for entry in resolved:
            subjects = ", ".join(subject_label(s) for s in entry.get("subjects") or [])
            out.append(f"  {entry.get('rule', '')} {subjects}: {localized(entry, 'message', lang)}".rstrip(": "))
        out.append("")

    waivers = record.get("waivers") or {}
    for key, label in (("expired", "waiver_expired"), ("refused", "waiver_refused"), ("unmatched", "waiver_unmatched")):
        for waiver in waivers.get(key) or []:
            where = f"{waiver.get('file', '')}:{waiver.get('line', '')}"
            subjects = ", ".join(str(s) for s in waiver.get("subjects") or [])
            out.append(style(f"{where}: {t('note', lang)}: ", fg="yellow")
                       + f"{t(label, lang)}: {waiver.get('rule', '')} {subjects}".rstrip())
    for note in (record.get("submission") or {}).get("notes") or []:
        out.append(f"{t('note', lang)}: {note}")
    stage = (record.get("submission") or {}).get("stage")
    if stage == "supply":  # the default gate (before the joint approval) is what every report without a line checks
        out.append(f"{t('stage', lang)}: {t(f'stage_{stage}', lang)}")
    if out and out[-1] != "":
        out.append("")

    if county:
        out.extend([style(county[0], bold=True), *county[1:], ""])
    against = baseline_line(record, lang)
    if against:
        out.append(against)
    if settings:
        out.append(settings)
    if moved:
        out.append(style(moved, fg="yellow"))
    out.append(style(line, fg=verdict_colour, bold=True))
    return "\n".join(out) + "\n"


def _conflict_lines(number: int, conflict: dict, lang: str, style) -> list[str]:
    severity = conflict.get("severity", "error")
    waived = is_waived(conflict)
    head = style(t(severity, lang) if severity in ("error", "warning", "info") else severity,
                 fg=None if waived else _SEVERITY_COLOURS.get(severity), bold=not waived)
    marker = status_marker(conflict, lang) + (f"[{t('waived', lang)}] " if waived else "")
    lines = [f"    {number}. {marker}{head} {style(conflict.get('rule', ''), bold=True)} "
             f"{localized(conflict, 'message', lang) or localized(conflict, 'title', lang)}"]
    indent = "       "
    subjects = conflict.get("subjects") or []
    if subjects:
        parts = []
        for subject in subjects:
            where = subject_location(subject)
            parts.append(f"{subject_label(subject)} ({where})" if where else subject_label(subject))
        lines.append(f"{indent}{t('subjects', lang)}: {', '.join(parts)}")
    if conflict.get("units"):  # a county report: the unit (or units) the conflict belongs to
        lines.append(f"{indent}{t('units', lang)}: {', '.join(str(u) for u in conflict['units'])}")
    values = []
    if conflict.get("expected") not in (None, ""):
        values.append(f"{t('expected', lang)}: {conflict['expected']}")
    if conflict.get("actual") not in (None, ""):
        values.append(f"{t('actual', lang)}: {conflict['actual']}")
    if values:
        lines.append(indent + "; ".join(values))
    if conflict.get("basis"):
        lines.append(f"{indent}{t('basis', lang)}: {conflict['basis']}")
    if conflict.get("explanation"):
        lines.append(f"{indent}{t('explanation', lang)}:")
    for step in conflict.get("explanation") or []:
        lines.append(f"{indent}  {step.get('expr', '')} = {step.get('value', '')}")
    if waived:
        lines.append(indent + style(waiver_line(conflict["waiver"], lang), fg="blue"))
    return lines
