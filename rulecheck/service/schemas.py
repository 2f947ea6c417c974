"""JSON Schemas the OpenAPI document declares: the report record (docs/reports.md), problem details (RFC 9457),
a job, a page of submissions and a page of rounds. tests/test_service_api.py validates real answers against them."""

from __future__ import annotations

_STR = {"type": "string"}
_INT = {"type": "integer", "minimum": 0}
_NULLABLE_STR = {"type": ["string", "null"]}
_SUBJECT = {"type": "object", "required": ["id"], "properties": {
    "collection": _NULLABLE_STR, "id": {}, "source": {"type": ["object", "null"]}}}
_VERDICT = {"type": "string", "enum": ["passed", "incomplete", "undecided", "failed"]}

REPORT = {
    "title": "Report",
    "description": "The report record, format rulecheck/report/v1 (docs/reports.md)",
    "type": "object",
    "required": ["format", "tool", "submission", "rules", "lang", "summary", "conflicts"],
    "properties": {
        "format": {"const": "rulecheck/report/v1"},
        "tool": {"type": "object", "required": ["name", "version"],
                 "properties": {"name": _STR, "version": _STR}},
        "submission": {"type": "object", "required": ["id", "manifest", "inputs"], "properties": {
            "id": {}, "title": {}, "as_of": {}, "crs": {}, "manifest": _STR, "notes": {"type": "array"},
            "inputs": {"type": "array", "items": {"type": "object", "required": ["path", "sha256"],
                                                  "properties": {"path": _STR, "sha256": _STR}}}}},
        "rules": {"type": "object", "required": ["sha256", "catalog", "params"], "properties": {
            "packs": {"type": "array"}, "overrides": {"type": "array"}, "sha256": _STR,
            "catalog": {"type": "array", "items": {"type": "object", "required": ["id"]}},
            "params": {"type": "array", "items": {"type": "object"}}}},
        "lang": {"type": "string", "enum": ["zh", "en"]},
        "summary": {"type": "object", "required": ["error", "warning", "info", "passed", "verdict", "fail_on",
                                                   "waived", "indeterminate", "rules_run"], "properties": {
            "error": _INT, "warning": _INT, "info": _INT, "passed": {"type": "boolean"}, "verdict": _VERDICT,
            "fail_on": _STR, "waived": _INT, "indeterminate": _INT, "rules_run": _INT}},
        "conflicts": {"type": "array", "items": {"type": "object", "required": ["rule", "severity", "subjects"],
                                                 "properties": {
            "rule": _STR, "family": _STR, "severity": {"type": "string", "enum": ["error", "warning", "info"]},
            "title": {}, "message": {}, "subjects": {"type": "array", "items": _SUBJECT},
            "waiver": {"type": ["object", "null"]}}}},
        "outcomes": {"type": "array"},
        "indeterminate": {"type": "array"},
        "waivers": {"type": "object"},
    },
}

PROBLEM = {
    "title": "Problem",
    "description": "Problem details (RFC 9457); `diagnostics` are the located problems of the input",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": _STR, "title": _STR, "status": {"type": "integer", "minimum": 400, "maximum": 599}, "detail": _STR,
        "instance": _STR, "hint": _STR, "check": _STR, "state": _STR, "known": {"type": "array", "items": _STR},
        "diagnostics": {"type": "array", "items": {"type": "object", "properties": {
            "path": _NULLABLE_STR, "line": {"type": ["integer", "null"]}, "column": {"type": ["integer", "null"]},
            "field": _NULLABLE_STR, "message": _STR, "hint": _NULLABLE_STR, "severity": _NULLABLE_STR}}},
    },
}

JOB = {
    "title": "Job",
    "description": "A check that is queued or running",
    "type": "object",
    "required": ["id", "status", "href", "created"],
    "properties": {"id": _STR, "status": {"type": "string", "enum": ["queued", "running"]}, "href": _STR,
                   "created": _STR, "started": _NULLABLE_STR},
}

SUBMISSIONS = {
    "title": "SubmissionsPage",
    "type": "object",
    "required": ["items", "next"],
    "properties": {
        "items": {"type": "array", "items": {"type": "object", "required": ["submission", "checks", "latest"],
                                             "properties": {"submission": _STR, "checks": _INT,
                                                            "latest": {"type": "object"}}}},
        "next": _NULLABLE_STR},
}

ROUNDS = {
    "title": "RoundsPage",
    "type": "object",
    "required": ["submission", "rounds", "next"],
    "properties": {
        "submission": _STR, "next": _NULLABLE_STR,
        "rounds": {"type": "array", "items": {"type": "object", "required": [
            "round", "check", "created", "verdict", "rules_run", "new", "persisting", "resolved", "not_rechecked",
            "conflicts"], "properties": {
            "round": _INT, "check": _STR, "created": _STR, "verdict": _STR,
            "rules_run": {"type": "array", "items": _STR}, "new": _INT, "persisting": _INT, "resolved": _INT,
            "not_rechecked": _INT, "conflicts": {"type": "array"}, "resolved_conflicts": {"type": "array"},
            "not_rechecked_conflicts": {"type": "array"}}}}},
}

HEALTH = {"title": "Health", "type": "object", "required": ["status"], "properties": {
    "status": _STR, "version": _STR, "rules_sha256": _STR, "rules": _INT, "database": _STR, "workers": _INT}}

ALL = {"Report": REPORT, "Problem": PROBLEM, "Job": JOB, "SubmissionsPage": SUBMISSIONS, "RoundsPage": ROUNDS,
       "Health": HEALTH}
