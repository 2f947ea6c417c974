"""GitLab Code Quality report (a JSON array of Code Climate issues), for the merge request widget.

Each conflict is one issue: ``description``, ``check_name`` (the rule), ``fingerprint`` (a hash of the rule and
its subjects, so the same conflict keeps its fingerprint when lines move or messages are reworded),
``severity`` in GitLab's words and ``location.path`` + ``location.lines.begin`` from the repository root."""

from __future__ import annotations


from .common import norm_lang, status_marker, summary_line, t
from .escape import for_log
from .json_report import dumps_indented
from .record import Conflict, Report, Subject
from .workspace import first_location, fingerprint, workspace_path

# rulecheck severity -> GitLab's (info, minor, major, critical, blocker); an error fails the approval gate
_GITLAB_SEVERITIES = {"error": "critical", "warning": "minor", "info": "info"}


def render(record: dict | Report, *, lang: str) -> str:
    if isinstance(record, Report):
        record = dict(record.raw)
    # no ESC, OSC 8 link, C1 control or bidi override from the inputs reaches the log
    report = Report.of(for_log(record))
    lang = norm_lang(lang)
    manifest_path = workspace_path(report, (report.submission.manifest or "submission.yaml").rsplit("/", 1)[-1])
    issues, seen = [], {}
    for conflict in report.conflicts:
        key = fingerprint(conflict.rule, conflict.subjects)
        # two conflicts of one rule on the same subjects (rare) still need distinct fingerprints
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = fingerprint(f"{conflict.rule}#{seen[key]}", conflict.subjects)
        issues.append(_issue(report, conflict, key, manifest_path, lang))
    if report.verdict == "undecided":  # an empty report would read as clean in the merge request
        submission = Subject(id=str(report.submission.id or ""), collection="submission")
        issues.append({
            "type": "issue",
            "description": summary_line(report, lang),
            "check_name": "UNDECIDED",
            "fingerprint": fingerprint("UNDECIDED", [submission]),
            "severity": "critical",
            "categories": ["Bug Risk"],
            "location": {"path": manifest_path, "lines": {"begin": 1}},
        })
    return dumps_indented(issues) + "\n"


def _issue(report: Report, conflict: Conflict, key: str, manifest_path: str, lang: str) -> dict:
    path, line = first_location(report, conflict)
    description = conflict.localized("message", lang) or conflict.localized("title", lang)
    return {
        "type": "issue",
        "description": (f"[{t('waived', lang)}] " if conflict.waived else "") + status_marker(conflict, lang)
                       + f"{conflict.rule} {description}",
        "check_name": conflict.rule,
        "fingerprint": key,
        "severity": "info" if conflict.waived else _GITLAB_SEVERITIES.get(conflict.severity, "major"),
        "categories": ["Bug Risk"],
        "location": {"path": path or manifest_path, "lines": {"begin": line or 1}},
        "content": {"body": _body(conflict, lang)},
    }


def _body(conflict: Conflict, lang: str) -> str:
    lines = []
    if conflict.subjects:
        lines.append(f"{t('subjects', lang)}: {conflict.subjects_line}")
    for key, value in (("expected", conflict.expected), ("actual", conflict.actual)):
        if value not in (None, ""):
            lines.append(f"{t(key, lang)}: {value}")
    if conflict.basis:
        lines.append(f"{t('basis', lang)}: {conflict.basis}")
    return "\n\n".join(lines)
