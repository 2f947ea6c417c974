"""The rule tests written beside the rules, run through the engine: load a fixture, patch it by ids, run the
rules, compare with what is expected."""

from __future__ import annotations

import copy
import functools
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rulecheck.diagnostics import InputError
from rulecheck.dsl import ast
from rulecheck.dsl.patches import MissingRecord, PatchError, apply_patch
from rulecheck.dsl.catalog import RuleSet
from rulecheck.dsl.packs import default_rule_paths, load_rules


@dataclass
class TestResult:
    rule: str
    name: str
    path: str
    line: int
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a pass rests on, when it checked nothing

    @property
    def passed(self) -> bool:
        return not self.failures

    def render(self) -> str:
        head = f"{'PASS' if self.passed else 'FAIL'} {self.rule} {self.name}  ({self.path}:{self.line})"
        return "\n".join([head] + [f"    {f}" for f in self.failures] + [f"    note: {n}" for n in self.notes])


@functools.lru_cache(maxsize=32)
def _load_cached(manifest: str, mtime: float):
    from rulecheck.model.submission import load_submission

    return load_submission(manifest)


# the fixtures shipped with rulecheck (beside the rule packs in a checkout): a test may load them from any pack
# beside the shipped packs: <checkout>/fixtures next to rules/, or rulecheck/fixtures next to rulecheck/packs in a wheel
PACKAGED_FIXTURES = default_rule_paths()[0].resolve().parent / "fixtures"


def given_roots(rule_file: Path) -> list[Path]:
    """The folders a test's `given` may read from: its pack's folder and the packaged fixtures."""
    return [rule_file.parent.resolve(), PACKAGED_FIXTURES]


def _manifest_for(test: ast.RuleTest, rule_file: Path) -> Path:
    target = (rule_file.parent / test.given).resolve()
    if test.given_kind in ("fixture", "county") and not target.exists() and (PACKAGED_FIXTURES / test.given).exists():
        # a fixture shipped with rulecheck, by its name (`given fixture "minimal"`, `given county
        # "../fixtures/county/county.yaml"`), from a pack anywhere (a fork of the shipped packs among them)
        target = (PACKAGED_FIXTURES / test.given).resolve()
    if test.given_kind == "fixture":
        return target / "submission.yaml" if target.is_dir() else target
    return target


def _outside(manifest: Path, rule_file: Path) -> bool:
    return not any(manifest.is_relative_to(root) for root in given_roots(rule_file))


def run_test(test: ast.RuleTest, display: str, rule_file: Path, rule_set: RuleSet) -> TestResult:
    result = TestResult(test.rule, test.name, display, test.span.line)
    if test.given_kind == "inline":
        return _run_inline(test, display, rule_file, rule_set, result)
    manifest = _manifest_for(test, rule_file)
    if _outside(manifest, rule_file):
        result.failures.append(f"given {test.given_kind} '{test.given}' lies outside the pack's folder and the packaged "
                               "fixtures; a rule test reads nothing else")
        return result
    if not manifest.exists():
        result.failures.append(f"given {test.given_kind} '{test.given}': no such file {manifest}")
        return result
    if test.given_kind == "county":
        return _run_county(test, manifest, rule_set, result)
    try:
        submission = copy.deepcopy(_load_cached(str(manifest), manifest.stat().st_mtime))
    except InputError as err:
        result.failures.append(f"given {test.given_kind} '{test.given}' does not load:")
        result.failures.extend(d.render() for d in err.diagnostics[:5])
        return result
    return _patch_and_check(test, submission, rule_set, result)


def _run_county(test, manifest: Path, rule_set, result) -> TestResult:
    """A county manifest: its units loaded in this process, and the rules run on the county (rulecheck/county.py)."""
    from rulecheck.county import county_for_rules

    if test.patches:
        result.failures.append(f"given county '{test.given}': a county test takes no with/without (change the fixture)")
        return result
    try:
        submission = county_for_rules(manifest)
    except InputError as err:
        result.failures.append(f"given county '{test.given}' does not load:")
        result.failures.extend(d.render() for d in err.diagnostics[:5])
        return result
    return _patch_and_check(test, submission, rule_set, result)


def _run_inline(test, display, rule_file, rule_set, result) -> TestResult:
    """A manifest written in the test: loaded from a scratch folder (inline WKT, or paths from the rule's folder)."""
    from rulecheck.model.submission import load_submission

    with tempfile.TemporaryDirectory(prefix="rulecheck-test-") as scratch:
        manifest = Path(scratch) / rule_file.name
        manifest.write_text(test.given, encoding="utf-8")
        try:
            fields = {cls: set(names) for cls, names in (rule_set.declared_fields or {}).items()}
            # a scheme above the scratch folder is not read
            submission = load_submission(manifest, scheme_root=scratch, declared_fields=fields)
        except InputError as err:
            result.failures.append("the inline submission does not load:")
            result.failures.extend(d.render().replace(str(manifest), display) for d in err.diagnostics[:5])
            return result
    return _patch_and_check(test, submission, rule_set, result)


def _patch_and_check(test, submission, rule_set, result) -> TestResult:
    from rulecheck.engine import check

    for patch in test.patches:
        try:
            apply_patch(submission, patch, rule_set.declared_fields)
        except MissingRecord as err:  # the record's id, where it was looked for, and the ids there are: once
            result.failures.append(f"line {patch.span.line}: {err}")
        except PatchError as err:
            result.failures.append(f"line {patch.span.line}: {patch.text()}: {err}")
    if result.failures:
        return result
    wanted = sorted({test.rule} | {e.rule for e in test.expectations})
    try:
        record = check(submission, rule_set, select=wanted, lang="en")
    except InputError as err:  # (an as_of before any law, say): this test fails, saying why; the others run
        result.failures.append("the sample cannot be checked:")
        result.failures.extend(d.render() for d in err.diagnostics[:5])
        return result
    conflicts = record["conflicts"]
    indeterminate = record["indeterminate"]
    status = {o["rule"]: o["status"] for o in record.get("outcomes", [])}
    for expectation in test.expectations:
        problem = _unmet(expectation, conflicts, indeterminate, status)
        if problem:
            result.failures.append(f"line {expectation.span.line}: {problem}")
        elif expectation.kind == "none" and status.get(expectation.rule) == "not_applicable":
            # a pass that checked nothing is said so: `expect {rule} passes` pins that something was checked
            result.notes.append(f"line {expectation.span.line}: no {expectation.rule} because it was not applicable "
                                "(nothing to check)")
    return result


_STATUS_WORDS = {"pass": "passed", "fail": "had conflicts", "not_applicable": "was not applicable",
                 "indeterminate": "was indeterminate"}
_EXPECTED_WORDS = {"pass": "to pass", "not_applicable": "to be not applicable"}


def _shown(conflicts: list[dict], limit: int = 3) -> str:
    return "; ".join(f"{', '.join(s['id'] for s in c['subjects'])}: {c['message']}" for c in conflicts[:limit])


def _details_met(conflict: dict, details) -> bool:
    for what, piece in details:
        if what == "severity":  # the whole word
            if conflict.get("severity") != piece:
                return False
            continue
        if what == "message":
            texts = list((conflict.get("messages") or {}).values()) + [conflict.get("message", "")]
        else:
            texts = [str(conflict.get(what) or "")]
        if not any(piece in text for text in texts):
            return False
    return True


def _details_text(details) -> str:
    words = {"actual": "with actual", "expected": "with expected", "message": "message contains"}
    return "".join(f" severity {piece}" if what == "severity" else f' {words[what]} "{piece}"' for what, piece in details)


def _got(conflicts: list[dict], details, limit: int = 3) -> str:
    """The conflicts an expectation was compared with (their severity too when it asked for one)."""
    severity = any(what == "severity" for what, _ in details)
    return "; ".join(f"{', '.join(s['id'] for s in c['subjects'])}{' (' + str(c.get('severity')) + ')' if severity else ''}: actual \"{c.get('actual') or ''}\", "
                     f"expected \"{c.get('expected') or ''}\", message \"{c.get('message', '')}\"" for c in conflicts[:limit])


def _unmet(expectation: ast.Expectation, conflicts, indeterminate, status) -> str | None:
    """Why the run does not meet the expectation (the difference, for the FAIL line), or None when it does."""
    rule = expectation.rule
    run = _Run(rule, [c for c in conflicts if c["rule"] == rule], [i for i in indeterminate if i["rule"] == rule],
               status.get(rule), _STATUS_WORDS.get(status.get(rule, ""), "did not run"))
    return _UNMET.get(expectation.kind, _unmet_outcome)(expectation, run)


@dataclass(frozen=True)
class _Run:
    """What the run did with one rule: its conflicts, its indeterminate bindings, its status and that in words."""

    rule: str
    mine: list
    stuck: list
    status: str | None
    outcome: str  # e.g. "had conflicts", "was not applicable"


def _subject_lists(conflicts: list[dict]) -> str:
    return "; ".join(", ".join(s["id"] for s in c["subjects"]) for c in conflicts)


def _unmet_conflict(expectation: ast.Expectation, run: _Run) -> str | None:
    rule, mine = run.rule, run.mine
    wanted_ids = set(expectation.subjects)
    on = [c for c in mine if wanted_ids <= {s["id"] for s in c["subjects"]}]
    if any(_details_met(c, expectation.details) for c in on):
        return None
    target = f" on {', '.join(expectation.subjects)}" if expectation.subjects else ""
    want = f"expected {rule}{target}{_details_text(expectation.details)}"
    if not mine:
        return f"{want}; got no conflict ({rule} {run.outcome})"
    if not on:
        return f"{want}; got " + _subject_lists(mine)
    return f"{want}; got {_got(on, expectation.details)}"


def _unmet_exact(expectation: ast.Expectation, run: _Run) -> str | None:
    rule, mine = run.rule, run.mine
    wanted_ids = set(expectation.subjects)
    named = {s["id"] for c in mine for s in c["subjects"]}
    want = f"expected {rule} only on {', '.join(expectation.subjects)}{_details_text(expectation.details)}"
    if not mine:
        return f"{want}; got no conflict ({rule} {run.outcome})"
    if named != wanted_ids:
        extra, lacking = sorted(named - wanted_ids), sorted(wanted_ids - named)
        said = ([f"also on {', '.join(extra)}"] if extra else []) + ([f"none on {', '.join(lacking)}"] if lacking else [])
        return f"{want}; got {'; '.join(said)} ({len(mine)} conflict(s): " + _subject_lists(mine) + ")"
    unmet = [c for c in mine if not _details_met(c, expectation.details)]
    return f"{want}; got {_got(unmet, expectation.details)}" if unmet else None


def _unmet_none(expectation: ast.Expectation, run: _Run) -> str | None:
    if run.mine:
        return f"expected no {run.rule}; got {len(run.mine)}: {_shown(run.mine)}"
    if run.stuck:
        return f"expected no {run.rule}, but it is indeterminate: {run.stuck[0]['missing']}"
    return None


def _unmet_indeterminate(expectation: ast.Expectation, run: _Run) -> str | None:
    return None if run.stuck else f"expected {run.rule} to be indeterminate ({run.rule} {run.outcome})"


def _unmet_count(expectation: ast.Expectation, run: _Run) -> str | None:
    mine = run.mine
    if len(mine) == expectation.count:
        return None
    got = f"{len(mine)}: {_shown(mine)}" if mine else f"none ({run.rule} {run.outcome})"
    return f"expected {expectation.count} {run.rule} conflict(s); got {got}"


def _unmet_outcome(expectation: ast.Expectation, run: _Run) -> str | None:
    """pass | not_applicable: the rule's outcome."""
    if run.status == expectation.kind:
        return None
    detail = ""
    if run.mine:
        detail = f": {len(run.mine)} conflict(s): {_shown(run.mine)}"
    elif run.stuck:
        detail = f": {run.stuck[0]['missing']}"
    return f"expected {run.rule} {_EXPECTED_WORDS[expectation.kind]}; it {run.outcome}{detail}"


_UNMET = {"conflict": _unmet_conflict, "exact": _unmet_exact, "none": _unmet_none,
          "indeterminate": _unmet_indeterminate, "count": _unmet_count}


def run_rule_tests(paths=None, params=None, add=None) -> list[TestResult]:
    """Run every test of the given packs (default: the built-in ones); `add`: packs added to the built-in
    rules, whose tests alone are run."""
    rule_set = load_rules(paths, params, add=add)
    return [run_test(test, display, file, rule_set) for test, display, file in rule_set.tests]
