"""The gate: whether a run's conflicts fail it at a `--fail-on` level, and the summary and verdict of a record."""

from __future__ import annotations

from .vocabulary import FAIL_ON, FAIL_ON_THRESHOLD, OUTCOME_STATUSES, PASSING_VERDICTS, SEVERITIES, SEVERITY_RANK


def gate_fails(conflicts: list[dict], fail_on: str, indeterminate: int = 0) -> bool:
    """True when an unwaived conflict is at or above `fail_on` (error, warning, info; never: nothing fails),
    or, with `fail_on` indeterminate, when there is any conflict or any of `indeterminate` results."""
    if fail_on == "never":
        return False
    if fail_on == "indeterminate" and indeterminate:
        return True
    threshold = FAIL_ON_THRESHOLD[fail_on]
    return any(not c.get("waiver") and SEVERITY_RANK.get(c.get("severity", "error"), 3) >= threshold
               for c in conflicts)


def _conflict_counts(conflicts: list[dict]) -> dict[str, int]:
    """Unwaived conflicts by severity, the waived ones, and the unwaived ones resting on a figure of provenance
    `unverified` (at most warnings; counted apart)."""
    unwaived = [c for c in conflicts if not c.get("waiver")]
    counts = {severity: sum(1 for c in unwaived if c.get("severity") == severity) for severity in SEVERITIES}
    counts["waived"] = len(conflicts) - len(unwaived)
    counts["unverified"] = sum(1 for c in unwaived if c.get("unverified"))
    return counts


def _outcome_counts(outcomes: list[dict]) -> dict[str, int]:
    """The rules run by outcome: ``{rules_passed: n, rules_failed: n, rules_not_applicable: n, rules_indeterminate: n}``."""
    statuses = [o.get("status") for o in outcomes]
    return {key: statuses.count(status) for status, key in OUTCOME_STATUSES.items()}


def verdict(conflicts: list[dict], fail_on: str, indeterminate: int, decided: bool, fail_on_new: bool) -> str:
    """``failed`` when the gate at `fail_on` fails (with `fail_on_new`, on the conflicts new since the baseline
    report only); else ``undecided`` when nothing was `decided`; else ``incomplete`` when some result could not
    be decided; else ``passed``."""
    gated = [c for c in conflicts if c.get("status") == "new"] if fail_on_new else conflicts
    # `--fail-on never` asks for a report, not a gate (exit 0): its verdict is still judged at the default
    # threshold, so a report with errors never reads PASSED
    if gate_fails(gated, "error" if fail_on == "never" else fail_on, indeterminate):
        return "failed"
    if not decided:
        return "undecided"
    return "incomplete" if indeterminate else "passed"


def recount(record: dict, fail_on: str | None = None) -> dict:
    """Set ``summary`` from the record: conflict counts (waived ones apart), indeterminate results, the rules
    by outcome (``rules_passed``, ``rules_failed``, ``rules_not_applicable``, ``rules_indeterminate``), and
    the verdict: ``failed`` when the gate at `fail_on` fails; else ``undecided`` when no rule passed or
    failed (every rule run was not applicable or indeterminate: nothing was decided); else ``incomplete``
    when some result could not be decided; else ``passed``. ``passed`` (the gate passes: exit status 0)
    is true for ``passed`` and ``incomplete``, never for a run that decided nothing."""
    conflicts = record.get("conflicts") or []
    summary = dict(record.get("summary") or {})
    fail_on = fail_on or summary.get("fail_on") or "error"
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}, not {fail_on!r}")
    summary.update(_conflict_counts(conflicts))
    if "indeterminate" in record:
        summary["indeterminate"] = len(record.get("indeterminate") or [])
    summary["fail_on"] = fail_on
    decided = True
    if "outcomes" in record:  # a record made without outcomes (by hand, or an old one) is judged by its conflicts
        summary.update(_outcome_counts(record.get("outcomes") or []))
        decided = bool(conflicts) or summary["rules_passed"] + summary["rules_failed"] > 0
    judged = verdict(conflicts, fail_on, int(summary.get("indeterminate") or 0), decided, bool(summary.get("fail_on_new")))
    summary["passed"] = judged in PASSING_VERDICTS
    summary["verdict"] = judged  # after `passed`: the summary's keys keep the order the JSON report writes them in
    record["summary"] = summary
    return record
