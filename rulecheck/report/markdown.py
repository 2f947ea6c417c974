"""The Markdown report, for pasting into an approval memo: a summary table, then conflict tables by family."""

from __future__ import annotations

import re

from rulecheck.diagnostics import printable

from ..vocabulary import SEVERITIES, STAGES
from .common import (
    baseline_line,
    cap,
    family_name,
    from_working_folder,
    group_by_family,
    reprojection_line,
    settings_line,
    status_marker,
    summary_line,
    t,
    waiver_line,
)
from .record import Conflict, Report


# what makes a link or an image: `](url)`, `][ref]`, `]: url` (a definition) and `![`; escaped, they are text
_MARKUP = re.compile(r"\](?=[(\[:])|!(?=\[)")


def cell(value) -> str:
    """Text safe inside a Markdown table cell (pipes and angle brackets escaped, line breaks as <br>)."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n")
    text = printable(text)  # control characters (ANSI, CR) shown escaped
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>")
    # no image or link made from user text: a report never loads a remote resource
    return _MARKUP.sub(lambda m: "\\" + m.group(), text)


def render(record: dict | Report, *, lang: str) -> str:
    if isinstance(record, Report):
        record = dict(record.raw)
    report = Report.of(from_working_folder(record))  # locations from where rulecheck ran
    title = report.submission.title or report.submission.id or ""
    out = [f"# {t('report_title', lang)}: {cell(title)}", ""]
    out += _summary_table(report, lang)
    out += ["", f"**{cell(summary_line(report, lang))}**", ""]
    out += [part for line in (settings_line(report, lang), reprojection_line(report, lang)) if line
            for part in (cell(line), "")]
    out += _conflict_tables(report, lang) + _indeterminate_table(report, lang) + _resolved_table(report, lang)
    return "\n".join(out).rstrip("\n") + "\n"


def _summary_table(report: Report, lang: str) -> list[str]:
    submission, summary = report.submission, report.summary
    stage = t(f"stage_{submission.stage}", lang) if submission.stage in STAGES else ""
    rows = [
        (t("submission", lang), submission.id),
        (t("as_of", lang), submission.as_of),
        (t("stage", lang), stage),
        (t("crs", lang), submission.crs),
        (t("rule_packs", lang), ", ".join(report.rules.packs)),
        (t("rules_run", lang), summary.rules_run),
        (t("fail_on", lang), summary.fail_on),
        (t("error", lang), summary.error),
        (t("warning", lang), summary.warning),
        (t("info", lang), summary.info),
        (t("waived", lang), summary.waived),
        (t("indeterminate_results", lang), summary.indeterminate),
    ]
    counts = report.rule_counts()
    if counts is not None:
        rows += [(t(key, lang), counts[key]) for key in counts]
    rows.append((t("result", lang), t(report.verdict, lang)))
    return [f"| {t('summary', lang)} | |", "|---|---|"] + [f"| {cell(cap(name))} | {cell(value)} |" for name, value in rows]


_CONFLICT_COLUMNS = ("no", "severity", "rule", "message", "subjects", "expected", "actual", "basis")
_BROKEN_COLUMNS = (1, 3, 4)  # severity, message, subjects: the <br> this module puts in stays a line break


def _conflict_tables(report: Report, lang: str) -> list[str]:
    header = [cap(t(key, lang)) for key in _CONFLICT_COLUMNS]
    out: list[str] = []
    for family, numbered in group_by_family(report.conflicts):
        out += [f"## {family} {family_name(family, lang, report)}", ""]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        for number, conflict in numbered:
            row = _conflict_row(number, conflict, lang)
            out.append("| " + " | ".join(_keep_breaks(v) if i in _BROKEN_COLUMNS else cell(v)
                                         for i, v in enumerate(row)) + " |")
        out.append("")
    return out


def _conflict_row(number: int, conflict: Conflict, lang: str) -> list:
    severity = conflict.severity
    severity_text = status_marker(conflict, lang) + (t(severity, lang) if severity in SEVERITIES else severity)
    message = conflict.localized("message", lang)
    if conflict.waiver is not None:
        severity_text = f"~~{severity_text}~~ {t('waived', lang)}"
        message += "<br>" + waiver_line(conflict.waiver, lang)
    subjects = "<br>".join(s.label + (f" ({s.location})" if s.location else "") for s in conflict.subjects)
    return [number, severity_text, conflict.rule, message, subjects, conflict.expected, conflict.actual, conflict.basis]


def _indeterminate_table(report: Report, lang: str) -> list[str]:
    if not report.indeterminate:
        return []
    out = [f"## {t('indeterminate', lang)}", "", f"| {t('rule', lang)} | {t('subjects', lang)} | {t('missing', lang)} |",
           "|---|---|---|"]
    for entry in report.indeterminate:
        subjects = ", ".join(s.label for s in entry.subjects)
        out.append(f"| {cell(entry.rule)} | {cell(subjects)} | {cell(entry.missing)} |")
    return out + [""]


def _resolved_table(report: Report, lang: str) -> list[str]:
    against = baseline_line(report, lang)
    if not against:
        return []
    out = [f"## {t('resolved', lang)}", "", cell(against), ""]
    if report.resolved:
        out += [f"| {cap(t('rule', lang))} | {cap(t('subjects', lang))} | {cap(t('message', lang))} |", "|---|---|---|"]
    for entry in report.resolved:
        out.append(f"| {cell(entry.rule)} | {cell(entry.subjects_line)} | {cell(entry.localized('message', lang))} |")
    return out + [""]


def _keep_breaks(value) -> str:
    """Like `cell`, but the <br> this module put in on purpose stays a line break."""
    parts = str(value or "").split("<br>")
    return "<br>".join(cell(p) for p in parts)
