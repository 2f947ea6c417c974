"""GitHub Actions workflow commands: one ``::error file=…,line=…,title=…::message`` annotation per conflict.

Escaping follows the Actions toolkit (``@actions/core`` command.ts): in the message ``%``, CR and LF are
percent-encoded; in a property value ``:`` and ``,`` are as well. Lines that are not commands (the summary)
are printed in the log as they are."""

from __future__ import annotations

from .escape import for_log
from .common import (
    baseline_line, is_waived, localized, norm_lang, reprojection_line, settings_line, status_marker, subject_label,
    summary_line, t, verdict_of,
)
from .workspace import first_location, workspace_path

_COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(command: str, message: str, **properties) -> str:
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items() if value is not None)
    return f"::{command}{' ' + props if props else ''}::{escape_data(message)}"


def render(record: dict, *, lang: str) -> str:
    record = for_log(record)  # no ESC, OSC 8 link, C1 control or bidi override from the inputs reaches the log
    lang = norm_lang(lang)
    lines = []
    for conflict in record.get("conflicts") or []:
        path, line = first_location(record, conflict)
        waived = is_waived(conflict)
        command = "notice" if waived else _COMMANDS.get(conflict.get("severity", "error"), "error")
        rule = conflict.get("rule", "")
        title = f"{status_marker(conflict, lang)}{rule} {localized(conflict, 'title', lang)}".strip()
        if waived:
            title = f"[{t('waived', lang)}] {title}"
        lines.append(annotation(command, _message(conflict, lang), file=path, line=line, title=title))
    for entry in record.get("indeterminate") or []:
        subjects = ", ".join(subject_label(s) for s in entry.get("subjects") or [])
        text = f"{t('indeterminate', lang)}: {entry.get('rule', '')} {subjects}".rstrip()
        if entry.get("missing"):
            text += f": {t('missing', lang)} {entry['missing']}"
        lines.append(annotation("warning", text, title=f"{entry.get('rule', '')} {t('indeterminate', lang)}"))
    against = baseline_line(record, lang)
    if against:  # a review round: what changed since the earlier report
        lines.append(annotation("notice", against, title=t("resolved", lang)))
    moved = reprojection_line(record, lang)
    if moved:  # the check ran in another CRS than the one declared
        lines.append(annotation("notice", moved, title="rulecheck CRS"))
    for d in record.get("diagnostics") or []:  # what the load found wrong but not fatal, where it is
        text = f"{d['field']}: {d.get('message', '')}" if d.get("field") else str(d.get("message", ""))
        path = str(d.get("path") or "")  # a GDAL layer's `file#layer` has feature ids, not lines
        lines.append(annotation("warning", text, file=workspace_path(record, path), line=None if "#" in path else d.get("line"),
                                title="rulecheck data"))
    if verdict_of(record) == "undecided":  # no annotation at all would read as a clean run
        lines.append(annotation("error", summary_line(record, lang), title=f"rulecheck {t('undecided', lang)}"))
    settings = settings_line(record, lang)
    if settings:
        lines.append(annotation("notice", settings, title="rulecheck settings"))
    if moved:
        lines.append(moved)
    lines.append(summary_line(record, lang))
    return "\n".join(lines) + "\n"


def _message(conflict: dict, lang: str) -> str:
    parts = [localized(conflict, "message", lang) or localized(conflict, "title", lang)]
    subjects = conflict.get("subjects") or []
    if subjects:
        parts.append(f"{t('subjects', lang)}: {', '.join(subject_label(s) for s in subjects)}")
    values = [f"{t(key, lang)}: {conflict[key]}" for key in ("expected", "actual") if conflict.get(key) not in (None, "")]
    if values:
        parts.append("; ".join(values))
    if conflict.get("basis"):
        parts.append(f"{t('basis', lang)}: {conflict['basis']}")
    return "\n".join(parts)
