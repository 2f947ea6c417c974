"""Review rounds: compare a report with the report of an earlier round and mark each conflict new, persisting
or resolved. Conflicts are matched by rule and subjects (collection and id), never by message text or line,
so moved lines and reworded messages do not make a conflict new."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from .diagnostics import Diagnostic, InputError


def conflict_key(conflict: dict) -> tuple:
    """What identifies a conflict across rounds: its rule and the set of records it names."""
    subjects = sorted((str(s.get("collection") or ""), str(s.get("id"))) for s in conflict.get("subjects") or [])
    return (str(conflict.get("rule") or ""), tuple(subjects))


def load_report(path: str | Path, role: str = "baseline") -> dict:
    """A JSON report written by `rulecheck check --format json`; InputError (exit 2) when it is not one."""
    from rulecheck.model.sources import GeoJSONSyntaxError, SourceError, parse_json, read_text_limited

    name = str(path)
    if not Path(path).exists():
        raise InputError([Diagnostic(name, f"{role} report not found")])
    try:
        text = read_text_limited(path, "max_file_mb")  # within the size limit, UTF-8 errors located
    except SourceError as error:
        raise InputError([Diagnostic(name, f"{role} report cannot be read: {error.message}", line=error.line,
                                     column=error.column, hint=error.hint)]) from None
    try:
        record = parse_json(text)  # syntax, nesting and 5,000-digit integers: located, never an internal error
    except GeoJSONSyntaxError as error:
        message = str(error).removeprefix("JSON syntax error: ")
        raise InputError([Diagnostic(name, f"not valid JSON: {message}", line=error.line, column=error.column,
                                     hint="give the report written by `rulecheck check --format json`")]) from None
    problems = []
    if not isinstance(record, dict) or not isinstance(record.get("conflicts"), list):
        problems.append("expected a rulecheck JSON report (an object with a 'conflicts' list)")
    else:
        for index, conflict in enumerate(record["conflicts"]):
            if not (isinstance(conflict, dict) and isinstance(conflict.get("rule"), str)
                    and isinstance(conflict.get("subjects"), list)
                    and all(isinstance(s, dict) and "id" in s for s in conflict["subjects"])):
                problems.append(f"conflicts[{index}]: expected 'rule' and 'subjects' [{{collection, id}}]")
                if len(problems) >= 5:
                    break
    if problems:
        raise InputError([Diagnostic(name, problem, field="conflicts" if "conflicts[" in problem else None,
                                     hint="give the report written by `rulecheck check --format json`")
                          for problem in problems])
    return record


def _resolved_entry(conflict: dict) -> dict:
    return {key: conflict.get(key) for key in ("rule", "family", "severity", "title", "message", "messages",
                                                "subjects", "expected", "actual") if key in conflict}


def compare(baseline: dict, record: dict, baseline_path: str | None = None) -> dict:
    """`record` with each conflict's ``status`` (``new`` or ``persisting``), the baseline's conflicts that are
    gone listed under ``resolved``, and ``baseline`` (where it came from and the three counts).

    Matching is a multiset match on `conflict_key`: two conflicts of one rule naming the same records pair
    off one to one, in report order. An earlier conflict of a rule that `record` did not run (another
    --select) is not resolved, only not checked again: it is listed under ``baseline.not_rechecked``."""
    remaining: dict[tuple, list[int]] = defaultdict(list)
    earlier_conflicts = baseline.get("conflicts") or []
    for index, conflict in enumerate(earlier_conflicts):
        remaining[conflict_key(conflict)].append(index)
    conflicts = []
    counts = {"new": 0, "persisting": 0, "resolved": 0}
    for conflict in record.get("conflicts") or []:
        conflict = dict(conflict)
        earlier = remaining.get(conflict_key(conflict))
        conflict["status"] = "persisting" if earlier else "new"
        if earlier:
            earlier.pop(0)
        counts[conflict["status"]] += 1
        conflicts.append(conflict)
    catalog = (record.get("rules") or {}).get("catalog")
    ran = {entry.get("id") for entry in catalog} if isinstance(catalog, list) else None
    resolved, not_rechecked = [], []
    for index in sorted(i for left in remaining.values() for i in left):
        conflict = earlier_conflicts[index]
        rechecked = ran is None or conflict.get("rule") in ran
        (resolved if rechecked else not_rechecked).append(_resolved_entry(conflict))
    counts["resolved"] = len(resolved)
    submission = baseline.get("submission") or {}
    result = dict(record)
    result["conflicts"] = conflicts
    result["baseline"] = {"report": baseline_path, "submission": submission.get("id"),
                          "as_of": submission.get("as_of"), **counts, "not_rechecked": not_rechecked}
    result["resolved"] = resolved
    summary = dict(result.get("summary") or {})
    summary.update(counts)
    result["summary"] = summary
    return result
