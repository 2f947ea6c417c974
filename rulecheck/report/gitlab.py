"""GitLab Code Quality report (a JSON array of Code Climate issues), for the merge request widget.

Each conflict is one issue: ``description``, ``check_name`` (the rule), ``fingerprint`` (a hash of the rule and
its subjects, so the same conflict keeps its fingerprint when lines move or messages are reworded),
``severity`` in GitLab's words and ``location.path`` + ``location.lines.begin`` from the repository root."""

from __future__ import annotations


from .escape import for_log
from .common import is_waived, localized, norm_lang, status_marker, subject_label, summary_line, t, verdict_of
from .workspace import first_location, fingerprint, workspace_path
from .json_report import dumps_indented

# rulecheck severity -> GitLab's (info, minor, major, critical, blocker); an error fails the approval gate
SEVERITIES = {"error": "critical", "warning": "minor", "info": "info"}


def render(record: dict, *, lang: str) -> str:
    record = for_log(record)  # no ESC, OSC 8 link, C1 control or bidi override from the inputs reaches the log
    lang = norm_lang(lang)
    manifest = (record.get("submission") or {}).get("manifest") or "submission.yaml"
    issues, seen = [], {}
    for conflict in record.get("conflicts") or []:
        path, line = first_location(record, conflict)
        key = fingerprint(conflict)
        # two conflicts of one rule on the same subjects (rare) still need distinct fingerprints
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = fingerprint({"rule": f"{conflict.get('rule', '')}#{seen[key]}", "subjects": conflict.get("subjects")})
        waived = is_waived(conflict)
        description = localized(conflict, "message", lang) or localized(conflict, "title", lang)
        subjects = ", ".join(subject_label(s) for s in conflict.get("subjects") or [])
        issue = {
            "type": "issue",
            "description": (f"[{t('waived', lang)}] " if waived else "") + status_marker(conflict, lang)
                           + f"{conflict.get('rule', '')} {description}",
            "check_name": conflict.get("rule", ""),
            "fingerprint": key,
            "severity": "info" if waived else SEVERITIES.get(conflict.get("severity", "error"), "major"),
            "categories": ["Bug Risk"],
            "location": {"path": path or workspace_path(record, manifest.rsplit("/", 1)[-1]),
                         "lines": {"begin": line or 1}},
            "content": {"body": _body(conflict, subjects, lang)},
        }
        issues.append(issue)
    if verdict_of(record) == "undecided":  # an empty report would read as clean in the merge request
        submission_id = str((record.get("submission") or {}).get("id") or "")
        issues.append({
            "type": "issue",
            "description": summary_line(record, lang),
            "check_name": "UNDECIDED",
            "fingerprint": fingerprint({"rule": "UNDECIDED", "subjects": [{"collection": "submission",
                                                                           "id": submission_id}]}),
            "severity": "critical",
            "categories": ["Bug Risk"],
            "location": {"path": workspace_path(record, manifest.rsplit("/", 1)[-1]), "lines": {"begin": 1}},
        })
    return dumps_indented(issues) + "\n"


def _body(conflict: dict, subjects: str, lang: str) -> str:
    lines = []
    if subjects:
        lines.append(f"{t('subjects', lang)}: {subjects}")
    for key in ("expected", "actual"):
        if conflict.get(key) not in (None, ""):
            lines.append(f"{t(key, lang)}: {conflict[key]}")
    if conflict.get("basis"):
        lines.append(f"{t('basis', lang)}: {conflict['basis']}")
    return "\n\n".join(lines)
