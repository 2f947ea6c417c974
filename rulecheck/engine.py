"""Run a compiled rule set over a loaded submission and build the one report record every format is made from."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import shapely

from rulecheck.dsl.builtins import forget_pairs, pair_cache, prepared_scope
from rulecheck.dsl.catalog import RuleSet
from rulecheck.dsl.compiler import Context, ParamValues
from rulecheck.dsl.joins import BULK_KEYS
from rulecheck.dsl.packs import load_rules
from rulecheck.model.documents import Submission
from rulecheck.model.sources import no_gc
from rulecheck.version import __version__
from rulecheck.vocabulary import FAIL_ON, FAMILY_ORDER


def file_sha256(path: Path) -> str | None:
    """Of a file's bytes; of a FileGDB folder, of its files' names and bytes in name order."""
    try:
        if path.is_dir():
            digest = hashlib.sha256()
            for part in sorted(p for p in path.iterdir() if p.is_file()):
                digest.update(part.name.encode() + b"\0" + part.read_bytes() + b"\0")
            return digest.hexdigest()
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def conflict_sort_key(conflict: dict) -> tuple:
    family = conflict["family"]
    return (
        FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER),
        conflict["rule"],
        tuple((s["collection"], s["id"]) for s in conflict["subjects"]),
        conflict["message"],
    )


def _inputs(submission: Submission) -> list[dict]:
    manifest = Path(submission._manifest) if submission._manifest else None
    base = manifest.parent if manifest else Path.cwd()
    out = []
    names = list(submission._inputs) or ([manifest.name] if manifest else [])
    for name in sorted(set(names)):
        path = Path(name)
        full = path if path.is_absolute() else base / path
        file_part = Path(str(full).split("#", 1)[0])
        out.append({"path": name, "sha256": file_sha256(file_part)})
    return out


def _layers(submission: Submission, classification) -> dict:
    def geojson(g):
        return json.loads(shapely.to_geojson(g)) if isinstance(g, shapely.Geometry) and not g.is_empty else None

    up, dp = submission.unit_plan, submission.detailed_plan
    return {
        "unit": geojson(up.boundary),
        "parcels": [{"id": p.id, "land_use": p.land_use, "geometry": geojson(p.geometry)} for p in dp.parcels],
        "rights": [{"id": r.id, "kind": r.kind.value, "land_use": r.land_use, "overlay": r.overlay,
                    "geometry": geojson(r.geometry)} for r in up.rights],
        "control_lines": [{"id": c.id, "kind": c.kind.value, "geometry": geojson(c.geometry)} for c in dp.control_lines],
    }


def _run_within_budget(rule, ctx: Context, explain: bool, started: float):
    """Run one rule within the time limits (rule_seconds, and what is left of run_seconds); past them, a
    located input error naming the rule and the limit, never a hang (docs/security.md)."""
    from rulecheck.diagnostics import Diagnostic, InputError
    from rulecheck.limits import BudgetExceeded, current, time_budget

    limits = current()
    budgets = []
    if limits.rule_seconds > 0:
        budgets.append((limits.rule_seconds, "rule_seconds"))
    if limits.run_seconds > 0:
        budgets.append((max(limits.run_seconds - (time.monotonic() - started), 0.001), "run_seconds"))
    seconds, name = min(budgets) if budgets else (0, "")
    try:
        with time_budget(seconds):
            return rule.run(ctx, explain=explain)
    except BudgetExceeded:
        what = "the rule" if name == "rule_seconds" else "the whole check"
        raise InputError([Diagnostic(rule.path, f"rule {rule.rule.id} did not finish: {what} ran past its time budget "
                                     f"of {getattr(limits, name):g} s; {limits.describe(name)}",
                                     line=rule.rule.span.line or None)]) from None


def _check_as_of_within_the_law(as_of: dt.date, from_option: bool, submission, rules, classification) -> None:
    """An `as_of` before the earliest day any text of the register (or edition of a dated parameter or group)
    took effect has no law to check against: an input error naming that day, located at the option or at the
    manifest's `as_of`."""
    from rulecheck.citations import earliest_commencement
    from rulecheck.diagnostics import Diagnostic, InputError

    earliest = earliest_commencement(rules.params.values(),
                                     [g for g in classification.groups.values() if getattr(g, "editions", None)])
    if earliest is None or as_of >= earliest[0]:
        return
    day, what = earliest
    message = (f"as_of {as_of.isoformat()} is before {day.isoformat()}, the earliest day a text the rules rest on "
               f"took effect ({what}, in the register of texts rulecheck/data/sources.yaml and the dated parameters "
               f"and groups): no law to check against")
    hint = f"give a date on or after {day.isoformat()} (the date whose law applies)"
    if from_option:
        raise InputError([Diagnostic("<arguments>", message, field="--as-of", hint=hint)])
    source = submission.submission.source
    manifest = submission._manifest or (source.path if source else "submission.yaml")
    raise InputError([Diagnostic(manifest, message, line=source.line if source else None, field="submission.as_of",
                                 hint=hint)])


def check(
    submission: Submission,
    rules: RuleSet | None = None,
    *,
    as_of: dt.date | str | None = None,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    fail_on: str = "error",
    lang: str = "zh",
    explain: bool = False,
    waivers: str | Path | None = None,
    with_layers: bool = False,
    classification=None,
    baseline: str | Path | dict | None = None,
    fail_on_new: bool = False,
    timings: bool = False,
    progress=None,
    stage: str | None = None,
) -> dict:
    """Check a loaded submission and return the report record (the JSON report of bundle-format.md, extended).

    `as_of` (the date whose law applies) defaults to the submission's own `as_of`, else today. `baseline`, the
    JSON report of an earlier round (a path or the record), marks each conflict new or persisting and lists
    the resolved ones; with `fail_on_new` the gate counts new conflicts only. With `timings`, the record
    carries "timings": each rule's time and the records it visited. `progress(done, total, rule_id)` is
    called before each rule. `stage` (joint_review or supply) overrides the submission's own `stage` for this run."""
    # evaluation makes millions of short-lived objects and no cycles worth collecting: a collection would walk
    # every object made so far (at county scale, seconds each time), so none runs until the record is made
    previous = submission.submission.stage
    if stage is not None:
        from rulecheck.model.documents import Stage

        submission.submission.stage = Stage(stage)
    try:
        with no_gc():
            return _check(submission, rules, as_of=as_of, select=select, ignore=ignore, fail_on=fail_on, lang=lang,
                          explain=explain, waivers=waivers, with_layers=with_layers, classification=classification,
                          baseline=baseline, fail_on_new=fail_on_new, timings=timings, progress=progress)
    finally:
        submission.submission.stage = previous


def _check(submission: Submission, rules: RuleSet | None, *, as_of, select, ignore, fail_on, lang, explain, waivers,
           with_layers, classification, baseline, fail_on_new, timings, progress) -> dict:
    from rulecheck.baseline import compare, load_report
    from rulecheck.model.landuse import load_classification
    from rulecheck.gate import recount
    from rulecheck.waivers import apply_waivers, load_waivers, waivable_from_catalog

    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}")
    if fail_on_new and baseline is None:
        raise ValueError("fail_on_new needs a baseline: new conflicts are new against an earlier report")
    rules = rules or load_rules()
    # the load's warnings, now that the packs' own fields are known (a misspelt one is an InputError here)
    from rulecheck.model.loader import settle_attributes

    declared = next((getattr(rule.names, "extra_fields", None) or {} for rule in rules.rules), {})
    load_warnings = settle_attributes(submission, declared)
    if isinstance(as_of, str):
        as_of = dt.date.fromisoformat(as_of)
    given = as_of
    as_of = as_of or submission.submission.as_of or dt.date.today()
    classification = classification or load_classification(submission.submission.jurisdiction)
    _check_as_of_within_the_law(as_of, given is not None, submission, rules, classification)
    params = ParamValues(rules.params, as_of)
    ctx = Context(submission, as_of, classification, params, lang=lang)
    # an unknown rule id or family in select/ignore or in a waiver is an InputError before anything runs
    chosen = rules.select([select] if isinstance(select, str) else select,
                          [ignore] if isinstance(ignore, str) else ignore)
    waiver_list = load_waivers(waivers, [rule.id for rule in rules.rules]) if waivers else None
    baseline_path = None if baseline is None or isinstance(baseline, dict) else str(baseline)
    if baseline_path is not None:
        baseline = load_report(baseline_path)
    ran = _run_rules(chosen, ctx, explain, progress)
    record = _report(submission, rules, chosen, ran, as_of=as_of, params=params, lang=lang, fail_on=fail_on,
                     load_warnings=load_warnings)
    if baseline is not None:
        record = compare(baseline, record, baseline_path)
        record["summary"]["fail_on_new"] = fail_on_new
    if waiver_list is not None:
        record = apply_waivers(record, waiver_list, as_of, waivable_from_catalog(rules.catalog()))
    else:
        record = recount(record, fail_on)
    if with_layers:
        record["layers"] = _layers(submission, classification)
    if timings:
        record["timings"] = {"rules": ran.spent, "visited": ctx.visits,
                             "seconds": round(sum(t["seconds"] for t in ran.spent), 4)}
    return record


@dataclass
class _Ran:
    """What the chosen rules found: conflicts (sorted), outcomes and indeterminate bindings in rule order, and
    each rule's time and visits."""

    conflicts: list = field(default_factory=list)
    outcomes: list = field(default_factory=list)
    indeterminate: list = field(default_factory=list)
    spent: list = field(default_factory=list)


def _run_rules(chosen: list, ctx: Context, explain: bool, progress) -> _Ran:
    ran = _Ran()
    run_started = time.monotonic()
    with pair_cache():
        for n, rule in enumerate(chosen):
            if n and rule.family != chosen[n - 1].family:
                # the pairs a family joined (their intersections, the bulk queries) are not kept for the next one:
                # rules sharing a join are of one family (LAY-004/006), and memory stays that of the largest join
                forget_pairs()
                for key in ctx.memo.pop(BULK_KEYS, ()):
                    ctx.memo.pop(key, None)
            if progress is not None:
                progress(n, len(chosen), rule.id)
            started, visits = time.perf_counter(), ctx.visits
            with prepared_scope():  # prepared geometries do not outlive the rule that needed them
                result = _run_within_budget(rule, ctx, explain, run_started)
            ran.spent.append({"rule": rule.id, "seconds": round(time.perf_counter() - started, 4),
                              "visited": ctx.visits - visits, "checked": result.checked})
            ran.conflicts.extend(result.conflicts)
            ran.indeterminate.extend(result.indeterminate)
            ran.outcomes.append(result.outcome())
        if progress is not None:
            progress(len(chosen), len(chosen), None)
    ran.conflicts.sort(key=conflict_sort_key)
    return ran


def _not_in_force_note(outcomes: list[dict], as_of: dt.date) -> str | None:
    """The note on the rules whose law had not yet taken effect on as_of (not applicable), or None."""
    late = [o for o in outcomes if o.get("not_in_force")]
    if not late:
        return None
    by_text: dict[tuple, list[str]] = {}
    for o in late:
        by_text.setdefault((o["not_in_force"]["text"], o["not_in_force"]["commenced"]), []).append(o["rule"])
    shown = "; ".join(f"{text} in force from {day}: {', '.join(ids[:6])}"
                      + (f" and {len(ids) - 6} more" if len(ids) > 6 else "")
                      for (text, day), ids in sorted(by_text.items(), key=lambda item: (item[0][1] or "", item[0][0])))
    return (f"{len(late)} rule{'s' if len(late) != 1 else ''} not applicable on {as_of.isoformat()}, the law "
            f"they rest on not yet in force: {shown}")


def _report(submission: Submission, rules: RuleSet, chosen: list, ran: _Ran, *, as_of: dt.date, params, lang: str,
            fail_on: str, load_warnings: list) -> dict:
    """The report record before the baseline, the waivers and the count (recount) are applied."""
    from rulecheck.model.loader import diagnostic_record

    info = submission.submission
    notes = list(submission._load_notes)
    late = _not_in_force_note(ran.outcomes, as_of)
    if late is not None:
        notes.append(late)
    record = {
        "format": "rulecheck/report/v1",
        "tool": {"name": "rulecheck", "version": __version__},
        "submission": {
            "id": info.id,
            "title": info.title,
            "jurisdiction": info.jurisdiction,
            "as_of": as_of.isoformat(),
            "stage": info.stage.value,  # the moment of the gate checked (同编同审前 / 供应前)
            "crs": submission._crs_used or info.crs,
            "manifest": submission._manifest,
            "inputs": _inputs(submission),
            "notes": notes,
        },
        "rules": {
            "packs": rules.packs,
            "overrides": list(getattr(rules, "overrides", [])),
            # the families packs declare (`family ZJ "浙江省补充规则"`), by code: {zh, en}; empty when none
            "families": {code: {"zh": zh, "en": en or zh} for code, (zh, en) in getattr(rules, "families", {}).items()},
            "sha256": rules.sha256,
            "catalog": [r.catalog(as_of) for r in chosen],
            "params": sorted(params.used.values(), key=lambda p: (p["name"], str(p["key"]))),
        },
        "lang": lang,
        # the counts, `passed` and `verdict` are set by recount below, from the conflicts and outcomes
        "summary": {"error": 0, "warning": 0, "info": 0, "passed": False, "verdict": "undecided", "fail_on": fail_on,
                    "waived": 0, "indeterminate": len(ran.indeterminate), "rules_run": len(chosen),
                    "rules_passed": 0, "rules_failed": 0, "rules_not_applicable": 0, "rules_indeterminate": 0},
        "conflicts": ran.conflicts,
        "outcomes": ran.outcomes,
        "indeterminate": ran.indeterminate,
        "waivers": {"applied": [], "unmatched": [], "expired": [], "refused": []},
        # what the load found wrong but not fatal (an attribute the contract lacks), each with its place
        "diagnostics": [diagnostic_record(d) for d in load_warnings],
    }
    if submission._reprojections:  # every format's summary says the check ran in another CRS than declared
        record["summary"]["reprojected"] = [dict(move) for move in submission._reprojections]
    return record
