"""The Markdown report, for pasting into an approval memo: a summary table, then conflict tables by family."""

from __future__ import annotations

import re

from rulecheck.diagnostics import printable

from .common import (
    from_working_folder,
    baseline_line,
    cap,
    family_name,
    group_by_family,
    is_waived,
    localized,
    reprojection_line,
    status_marker,
    rule_counts,
    subject_label,
    subject_location,
    settings_line,
    summary_line,
    t,
    verdict_of,
    waiver_line,
)


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


def render(record: dict, *, lang: str) -> str:
    record = from_working_folder(record)  # locations from where rulecheck ran
    submission = record.get("submission") or {}
    summary = record.get("summary") or {}
    rules = record.get("rules") or {}
    title = submission.get("title") or submission.get("id") or ""
    out = [f"# {t('report_title', lang)}: {cell(title)}", ""]
    out += [f"| {t('summary', lang)} | |", "|---|---|"]
    rows = [
        (t("submission", lang), submission.get("id", "")),
        (t("as_of", lang), submission.get("as_of", "")),
        (t("stage", lang), t(f"stage_{submission['stage']}", lang) if submission.get("stage") in ("joint_review", "supply") else ""),
        (t("crs", lang), submission.get("crs", "")),
        (t("rule_packs", lang), ", ".join(rules.get("packs") or [])),
        (t("rules_run", lang), summary.get("rules_run", "")),
        (t("fail_on", lang), summary.get("fail_on", "")),
        (t("error", lang), summary.get("error", 0)),
        (t("warning", lang), summary.get("warning", 0)),
        (t("info", lang), summary.get("info", 0)),
        (t("waived", lang), summary.get("waived", 0)),
        (t("indeterminate_results", lang), summary.get("indeterminate", 0)),
    ]
    counts = rule_counts(record)
    if counts is not None:
        rows += [(t(key, lang), counts[key]) for key in counts]
    rows.append((t("result", lang), t(verdict_of(record), lang)))
    out += [f"| {cell(cap(name))} | {cell(value)} |" for name, value in rows]
    out += ["", f"**{cell(summary_line(record, lang))}**", ""]
    if settings_line(record, lang):
        out += [cell(settings_line(record, lang)), ""]
    moved = reprojection_line(record, lang)
    if moved:
        out += [cell(moved), ""]

    header = [cap(t(key, lang)) for key in ("no", "severity", "rule", "message", "subjects", "expected", "actual", "basis")]
    for family, numbered in group_by_family(record.get("conflicts") or []):
        out += [f"## {family} {family_name(family, lang, record)}", ""]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        for number, conflict in numbered:
            severity = conflict.get("severity", "")
            severity_text = t(severity, lang) if severity in ("error", "warning", "info") else severity
            severity_text = status_marker(conflict, lang) + severity_text
            message = localized(conflict, "message", lang)
            if is_waived(conflict):
                severity_text = f"~~{severity_text}~~ {t('waived', lang)}"
                message += "<br>" + waiver_line(conflict["waiver"], lang)
            subjects = "<br>".join(
                subject_label(s) + (f" ({subject_location(s)})" if subject_location(s) else "")
                for s in conflict.get("subjects") or [])
            row = [number, severity_text, conflict.get("rule", ""), message, subjects,
                   conflict.get("expected"), conflict.get("actual"), conflict.get("basis")]
            out.append("| " + " | ".join(cell(v) if i not in (1, 3, 4) else _keep_breaks(v)
                                         for i, v in enumerate(row)) + " |")
        out.append("")

    indeterminate = record.get("indeterminate") or []
    if indeterminate:
        out += [f"## {t('indeterminate', lang)}", "", f"| {t('rule', lang)} | {t('subjects', lang)} | {t('missing', lang)} |",
                "|---|---|---|"]
        for entry in indeterminate:
            subjects = ", ".join(subject_label(s) for s in entry.get("subjects") or [])
            out.append(f"| {cell(entry.get('rule'))} | {cell(subjects)} | {cell(entry.get('missing'))} |")
        out.append("")

    against = baseline_line(record, lang)
    if against:
        out += [f"## {t('resolved', lang)}", "", cell(against), ""]
        resolved = record.get("resolved") or []
        if resolved:
            out += [f"| {cap(t('rule', lang))} | {cap(t('subjects', lang))} | {cap(t('message', lang))} |", "|---|---|---|"]
        for entry in resolved:
            subjects = ", ".join(subject_label(s) for s in entry.get("subjects") or [])
            out.append(f"| {cell(entry.get('rule'))} | {cell(subjects)} | {cell(localized(entry, 'message', lang))} |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _keep_breaks(value) -> str:
    """Like `cell`, but the <br> this module put in on purpose stays a line break."""
    parts = str(value or "").split("<br>")
    return "<br>".join(cell(p) for p in parts)
