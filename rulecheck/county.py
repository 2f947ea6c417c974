"""A county submission (`county.yaml`): the scheme, every unit checked against it as `rulecheck batch` checks a
submission (in processes or on a Dask cluster), the units checked against each other (the CTY rules tagged
`county`), and one report record whose every conflict names its unit, with a verdict per unit and the county's
account (算大账)."""

from __future__ import annotations

import datetime as dt
import functools
import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from typing import TYPE_CHECKING

from .diagnostics import Diagnostic, InputError

if TYPE_CHECKING:  # the batch machinery is imported when a county is checked, not when a unit is
    from .checking import CheckOptions

COUNTY_TAG = "county"
_COUNTY_KEY = re.compile(r"^county\s*:", re.MULTILINE)


def is_county_manifest(path: str | Path) -> bool:
    """Whether a manifest is a county submission (a top-level `county:`), from its first 64 kB."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(65536).decode("utf-8", "replace")
    except OSError:
        return False
    return bool(_COUNTY_KEY.search(head)) and not re.search(r"^(unit_plan|submission)\s*:", head, re.MULTILINE)


# ---- the county manifest ---------------------------------------------------------------------------------------


def read_county(path: str | Path, *, allow_outside: bool = False) -> tuple[Path, list[Path]]:
    """(the scheme file, the unit manifests in order) of a county manifest, or an InputError saying where it is wrong."""
    from .model.sources import LocDict, SourceError, load_yaml, read_text_limited

    manifest = Path(path)
    name = manifest.name
    try:
        text = read_text_limited(manifest, "max_file_mb")
    except SourceError as exc:
        raise InputError([Diagnostic(name, exc.message, line=exc.line, column=exc.column, hint=exc.hint)]) from None
    except OSError as exc:
        raise InputError([Diagnostic(str(manifest), f"cannot read the county manifest: {exc.strerror or exc}")]) from None
    data, problems = load_yaml(text, name)
    if problems:
        raise InputError(problems)
    if not isinstance(data, LocDict):
        raise InputError([Diagnostic(name, "expected a mapping with format and county at the top level", line=1)])
    reader = _CountyReader(name, data, manifest.parent, allow_outside)
    county = reader.top_level()
    scheme_path = reader.scheme(county.get("scheme"))
    manifests = reader.manifests(reader.unit_patterns(county.get("units")))
    if reader.problems:
        raise InputError(reader.problems)
    return scheme_path, manifests  # type: ignore[return-value]


class _CountyReader:
    """A county manifest read field by field, every problem a diagnostic at its line."""

    def __init__(self, name: str, data, base: Path, allow_outside: bool):
        self.name, self.data, self.base, self.allow_outside = name, data, base, allow_outside
        self.problems: list[Diagnostic] = []

    def error(self, loc: tuple, message: str, hint: str | None = None) -> None:
        from .model.loader import raw_line_of

        self.problems.append(Diagnostic(self.name, message, line=raw_line_of(self.data, loc),
                                        field=".".join(str(p) for p in loc) or None, hint=hint))

    def inside(self, full: Path) -> bool:
        try:
            return self.allow_outside or full.resolve().is_relative_to(self.base.resolve())
        except (OSError, RuntimeError):
            return False

    def top_level(self):
        """The `county` mapping (an InputError when there is none), format and unknown fields checked."""
        from .model.loader import closest_name, shown_value
        from .model.sources import LocDict

        data = self.data
        if "format" in data and data["format"] != "rulecheck/v1":
            self.error(("format",), f"unsupported format {shown_value(data['format'])}; expected 'rulecheck/v1'")
        for key in data:
            if key not in ("format", "county"):
                suggestion = closest_name(str(key), ["format", "county"])
                self.error((key,), f"unknown field '{key}'", f"did you mean '{suggestion}'?" if suggestion else "a county manifest has format and county")
        county = data.get("county")
        if not isinstance(county, LocDict):
            self.error(("county",), "expected a mapping with scheme and units")
            raise InputError(self.problems)
        for key in county:
            if key not in ("scheme", "units"):
                suggestion = closest_name(str(key), ["scheme", "units"])
                self.error(("county", key), f"unknown field '{key}'", f"did you mean '{suggestion}'?" if suggestion else "county has scheme and units")
        return county

    def scheme(self, scheme) -> Path | None:
        from .model.loader import shown_value

        base = self.base
        if not isinstance(scheme, str):
            self.error(("county", "scheme"), "missing required field 'scheme'" if scheme is None else f"expected a path to the scheme file; got {shown_value(scheme)}",
                       "the county scheme file, e.g. scheme.yaml")
            return None
        full = base / scheme
        if not self.inside(full):
            self.error(("county", "scheme"), f"{shown_value(scheme)} lies outside the county's folder", "pass --allow-outside if you trust it")
        elif not full.is_file():
            self.error(("county", "scheme"), f"scheme file {scheme!r} not found (relative to {base.as_posix() or '.'})")
        else:
            return full
        return None

    def unit_patterns(self, units) -> list[tuple[tuple, str]]:
        """(where, pattern) of each unit manifest written: a glob, or a list of paths."""
        from .model.loader import shown_value
        from .model.sources import LocList

        if isinstance(units, str):
            return [(("county", "units"), units)]
        if isinstance(units, LocList) and units and all(isinstance(u, str) for u in units):
            return [(("county", "units", i), u) for i, u in enumerate(units)]
        self.error(("county", "units"), f"expected a list of unit manifests or a glob; got {shown_value(units)}",
                   "units: [U01/submission.yaml, U02/submission.yaml] or units: \"*/submission.yaml\"")
        return []

    def matches(self, loc: tuple, pattern: str) -> list[Path]:
        from .model.loader import shown_value

        base = self.base
        if any(ch in pattern for ch in "*?["):
            found = sorted(Path(p) for p in glob.glob(str(base / pattern)) if Path(p).is_file())
            if not found:
                self.error(loc, f"{shown_value(pattern)} matches no unit manifest (relative to {base.as_posix() or '.'})")
            return found
        if not (base / pattern).is_file():
            self.error(loc, f"unit manifest {pattern!r} not found (relative to {base.as_posix() or '.'})")
            return []
        return [base / pattern]

    def manifests(self, written: list[tuple[tuple, str]]) -> list[Path]:
        """The unit manifests in order, each inside the county's folder (unless allowed) and listed once."""
        from .model.loader import shown_value

        manifests: list[Path] = []
        seen: dict[str, tuple] = {}
        for loc, pattern in written:
            for full in self.matches(loc, pattern):
                if not self.inside(full):
                    self.error(loc, f"{shown_value(pattern)} lies outside the county's folder", "pass --allow-outside if you trust it")
                    continue
                key = str(full.resolve())
                if key in seen:
                    self.error(loc, f"unit manifest {os.path.relpath(full, self.base)!r} is listed twice")
                    continue
                seen[key] = loc
                manifests.append(full)
        return manifests


# ---- one unit, as a batch worker checks it ------------------------------------------------------------------


def check_unit(manifest: str, options: "CheckOptions", scheme_path: str = "", county_root: str = "",
               allow_outside: bool = False) -> dict:
    """`checking.check_one` for a unit of a county: the unit checked against its scheme (the county's when it names
    the county's by id, or none), with what the checks across units need of it (`digest`)."""
    from .checking import diagnostic_records, load_and_check

    try:
        submission, record = load_and_check(lambda: load_unit(manifest, scheme_path, county_root, allow_outside),
                                            options)
    except InputError as error:
        return {"manifest": manifest, "diagnostics": diagnostic_records(error)}
    return {"manifest": manifest, "record": record, "digest": digest(submission, record)}


def load_unit(manifest: str, scheme_path: str = "", county_root: str = "", allow_outside: bool = False):
    """A unit of a county, loaded with the scheme it is checked against: the one it names by path, else the county's
    when it names the county's by id."""
    import rulecheck

    from .model.documents import SchemeRef
    from .model.scheme import attach_scheme, load_scheme

    submission = rulecheck.load_submission(manifest, allow_outside=allow_outside, scheme_root=county_root or None)
    reference = submission.unit_plan.county_scheme
    if isinstance(reference, str) and scheme_path:
        county_scheme = load_scheme(scheme_path, allow_outside=allow_outside,
                                    shown_as=os.path.relpath(Path(scheme_path).parent, Path(manifest).parent))
        if reference is not None and (str(reference).split() or [""])[0] == county_scheme.id:
            # the county supplies the scheme a unit names by its id (one naming none is DOC-020's conflict)
            attach_scheme(submission, Path(manifest), scheme=county_scheme)
    return submission


def county_for_rules(path: str | Path):
    """The submission the rules across units run on, for a county manifest, loaded in this process (rule tests:
    `given county "FILE"`). Raises InputError."""
    from .model.scheme import load_scheme

    manifest = Path(path)
    base = manifest.parent
    scheme_path, manifests = read_county(manifest)
    scheme = load_scheme(scheme_path, shown_as=os.path.relpath(scheme_path.parent, base))
    digests = []
    for unit in manifests:
        submission = load_unit(str(unit), str(scheme_path), str(base))
        digests.append(digest(submission, {"summary": {"verdict": None}}))
    return county_submission(scheme, assemble(scheme, digests, [str(m) for m in manifests], base))


def digest(submission, record: dict) -> dict:
    """What the checks across units need of a unit: its boundary (WKB hex, in its CRS), the ids it holds, when it
    first supplies, its balance, the scheme it names."""
    import shapely

    from .model.documents import SchemeRef

    unit = submission.unit_plan
    scheme = submission.__pydantic_private__.get("_scheme")
    reference = unit.county_scheme
    if not isinstance(scheme, str) and scheme is not None:
        scheme_id = scheme.id
    elif reference is None or isinstance(reference, SchemeRef):
        scheme_id = None
    else:
        scheme_id = str(reference).split()[0] if str(reference).strip() else None
    starts = [p.supply.start for p in unit.packages if p.supply is not None and p.supply.start is not None]
    revenues = sum(sum(p.finance.revenues.values()) for p in unit.packages if p.finance is not None)
    costs = sum(sum(p.finance.costs.values()) for p in unit.packages if p.finance is not None)
    if unit.finance is not None:
        revenues += sum(unit.finance.revenues.values())
        costs += sum(unit.finance.costs.values())
    boundary = unit.boundary
    inventories = unit.inventories
    return {
        "id": unit.id, "submission": submission.submission.id, "scheme": scheme_id,
        "crs": submission._crs_used or submission.submission.crs,
        "boundary": shapely.to_wkb(boundary, hex=True) if isinstance(boundary, shapely.Geometry) else None,
        "first_supply": min(starts).isoformat() if starts else None,
        "revenues_wan_yuan": revenues, "costs_wan_yuan": costs,
        "rights": [r.id for r in unit.rights], "parcels": [p.id for p in submission.detailed_plan.parcels],
        "packages": [p.id for p in unit.packages],
        "assets": [a.id for a in (inventories.assets or [])] if inventories is not None else [],
        "source": {"path": unit.source.path, "line": unit.source.line} if unit.source else None,
        "verdict": record["summary"]["verdict"],
    }


# ---- the county ------------------------------------------------------------------------------------------------


def county_rules(ruleset) -> list[str]:
    """The rules across units: those tagged `county`."""
    return [r.id for r in ruleset.rules if COUNTY_TAG in (r.rule.tags or ())]


def assemble(scheme, digests: list[dict], manifests: list[str], base: Path):
    """The County of the units' digests, every boundary in the scheme's CRS."""
    import shapely

    from .model import crs as crs_mod
    from .model.documents import SourceLoc
    from .model.scheme import County, CountyAsset, CountyPackage, CountyParcel, CountyRight, CountyUnit, phases_of

    target = scheme._crs_used
    units, members = [], {"rights": [], "parcels": [], "packages": [], "assets": []}
    kinds = {"rights": CountyRight, "parcels": CountyParcel, "packages": CountyPackage, "assets": CountyAsset}
    for item, manifest in zip(digests, manifests):
        shown = os.path.relpath(manifest, base)
        folder = os.path.dirname(shown)
        geometry = shapely.from_wkb(item["boundary"]) if item["boundary"] else None
        if geometry is not None and item["crs"] and target and item["crs"] != target:
            source, wanted = crs_mod.parse_crs(item["crs"]), crs_mod.parse_crs(target)
            if not crs_mod.same_crs(source, wanted):
                import numpy as np

                geometry = crs_mod.reproject(np.array([geometry], dtype=object), source, wanted)[0]
        unit = CountyUnit(id=item["id"], submission=item["submission"], manifest=shown, scheme=item["scheme"],
                          first_supply=dt.date.fromisoformat(item["first_supply"]) if item["first_supply"] else None,
                          revenues_wan_yuan=item["revenues_wan_yuan"], costs_wan_yuan=item["costs_wan_yuan"],
                          verdict=item["verdict"])
        unit.__dict__["geometry"] = geometry
        src = item.get("source")
        unit.__pydantic_private__["_source"] = SourceLoc(os.path.normpath(os.path.join(folder, src["path"])), src["line"]) if src else SourceLoc(shown, 1)
        units.append(unit)
        for name, cls in kinds.items():
            for ident in item[name]:
                member = cls(id=ident, unit=item["id"])
                member.__pydantic_private__["_source"] = unit.source
                members[name].append(member)
    return County(id=scheme.id, units=units, phases=phases_of(units, scheme), **members)


def county_submission(scheme, county):
    """A submission that holds only the county and its scheme: what the rules across units run on."""
    from .model.documents import DetailedPlan, PlanStatus, Submission, SubmissionInfo, UnitPlan

    info = SubmissionInfo(id=scheme.id, title=None, jurisdiction=scheme.jurisdiction, crs=scheme._crs_used or scheme.crs)
    unit_plan = UnitPlan.model_construct(id=scheme.id, direction=None)
    plan = DetailedPlan(id=scheme.id, status=PlanStatus.draft)
    submission = Submission.model_construct(format="rulecheck/v1", submission=info, unit_plan=unit_plan,
                                            detailed_plan=plan, contracts=[])
    submission._scheme = scheme
    submission._county = county
    submission._crs_used = scheme._crs_used or scheme.crs
    return submission


def check_county(path: str | Path, options: "CheckOptions", *, jobs: int = 1, scheduler: str | None = None,
                 allow_outside: bool = False, progress: Callable | None = None) -> dict:
    """Check a county submission: the report record (the unit report's, every conflict naming its `unit`, plus
    `county`: the scheme, a verdict per unit, the county's account). Raises InputError when the county manifest,
    the scheme or a unit cannot be read (every unit's problems, located)."""
    import rulecheck

    from .batch import run_batch
    from .checking import ruleset_for
    from .model.scheme import load_scheme
    from .gate import recount

    manifest = Path(path)
    base = manifest.parent
    scheme_path, manifests = read_county(manifest, allow_outside=allow_outside)
    try:
        scheme = load_scheme(scheme_path, allow_outside=allow_outside, shown_as=os.path.relpath(scheme_path.parent, base))
    except InputError as error:
        raise InputError(error.diagnostics) from None
    worker = functools.partial(check_unit, scheme_path=str(scheme_path), county_root=str(base), allow_outside=allow_outside)
    results = run_batch(manifests, options, jobs=jobs, scheduler=scheduler, progress=progress, worker=worker)
    problems = []
    for result in results:
        for d in result.get("diagnostics") or []:
            shown = d["path"] if os.path.isabs(d["path"]) else os.path.normpath(
                os.path.join(os.path.relpath(Path(result["manifest"]).parent, base), d["path"]))
            problems.append(Diagnostic(shown, d["message"], line=d["line"], column=d["column"], field=d["field"],
                                       severity=d["severity"], hint=d["hint"]))
    if problems:
        raise InputError(problems)
    ruleset = ruleset_for(options.rules, options.params)
    digests = [r["digest"] for r in results]
    county = assemble(scheme, digests, [r["manifest"] for r in results], base)
    as_of = options.as_of or max((r["record"]["submission"]["as_of"] for r in results), default=None)
    across = county_rules(ruleset)
    chosen = [rule for rule in across if _selected(rule, options, ruleset)]
    county_record = rulecheck.check(county_submission(scheme, county), ruleset, as_of=as_of, select=chosen or None,
                                    fail_on=options.fail_on, lang=options.lang) if chosen else None
    record = merge(manifest, scheme, county, results, county_record, base, set(across))
    return recount(record, options.fail_on)


def _selected(rule_id: str, options: "CheckOptions", ruleset) -> bool:
    selected = set().union(*(ruleset.matching(p) for p in options.select)) if options.select else None
    ignored = set().union(*(ruleset.matching(p) for p in options.ignore)) if options.ignore else set()
    return (selected is None or rule_id in selected) and rule_id not in ignored


def _moved(source: dict | None, folder: str) -> dict | None:
    if not source or not source.get("path") or os.path.isabs(source["path"]):
        return source
    return {**source, "path": os.path.normpath(os.path.join(folder, source["path"]))}


def _common_stage(results: list[dict]) -> str | None:
    """The stage every unit was checked at (`--stage`, or the units' manifests agreeing), else None (mixed)."""
    stages = {(r.get("record") or {}).get("submission", {}).get("stage") for r in results}
    return stages.pop() if len(stages) == 1 else None


def merge(manifest: Path, scheme, county, results: list[dict], county_record: dict | None, base: Path,
          across: set[str]) -> dict:
    """One record: every unit's conflicts and results (each naming its unit, paths from the county's folder), the
    results across units, the rules run with each rule's outcome over all units, and the county summary."""
    from .engine import conflict_sort_key
    from .version import __version__

    merged = _Merged()
    order = {u.id: n for n, u in enumerate(county.units)}
    for result, unit in zip(results, county.units):
        merged.add_unit(result["record"], unit, across)
    if county_record is not None:
        merged.add_county(county_record)
    merged.county_verdicts(across)
    conflicts, outcomes, catalog, params, inputs = (merged.conflicts, merged.outcomes, merged.catalog, merged.params,
                                                    merged.inputs)
    conflicts.sort(key=lambda c: (order.get(c.get("unit"), len(order)), *conflict_sort_key(c)))
    first = results[0]["record"] if results else {}
    for name in scheme._inputs:
        inputs.setdefault(os.path.normpath(name), {"path": os.path.normpath(name), "sha256": _sha(base / name)})
    inputs.setdefault(manifest.name, {"path": manifest.name, "sha256": _sha(manifest)})
    return {
        "format": "rulecheck/report/v1",
        "tool": {"name": "rulecheck", "version": __version__},
        "submission": {"id": scheme.id, "kind": "county", "title": f"county {scheme.id}", "jurisdiction": scheme.jurisdiction,
                       "as_of": (county_record or first).get("submission", {}).get("as_of"),
                       "stage": _common_stage(results),
                       "crs": scheme._crs_used or scheme.crs, "manifest": str(manifest),
                       "inputs": [inputs[k] for k in sorted(inputs)], "notes": list(scheme._notes)},
        "rules": {"packs": first.get("rules", {}).get("packs", []), "overrides": first.get("rules", {}).get("overrides", []),
                  "sha256": first.get("rules", {}).get("sha256"),
                  "catalog": [catalog[k] for k in sorted(catalog, key=_rule_order)],
                  "params": [params[k] for k in sorted(params)]},
        "lang": first.get("lang", "zh"),
        "summary": {"fail_on": first.get("summary", {}).get("fail_on", "error"), "rules_run": len(outcomes)},
        "conflicts": conflicts,
        "outcomes": [outcomes[k] for k in sorted(outcomes, key=_rule_order)],
        "indeterminate": merged.indeterminate,
        "waivers": _merged_waivers(results),
        "diagnostics": merged.diagnostics,
        "county": {
            "scheme": {"id": scheme.id, "path": scheme._path, "based_on": scheme.based_on},
            "units": merged.rows,
            "account": _account(scheme, county),
        },
        **({"layers": _county_layers(county, results)} if any("layers" in r["record"] for r in results) else {}),
    }


@dataclass
class _Merged:
    """The units' records and the county's own, gathered into the parts of one county record."""

    conflicts: list = field(default_factory=list)
    indeterminate: list = field(default_factory=list)
    outcomes: dict = field(default_factory=dict)
    catalog: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    diagnostics: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    inputs: dict = field(default_factory=dict)

    def add_rules(self, record: dict) -> None:
        for entry in record["rules"]["catalog"]:
            self.catalog.setdefault(entry["id"], entry)
        for param in record["rules"]["params"]:
            self.params.setdefault((param["name"], str(param.get("key"))), param)

    def add_unit(self, record: dict, unit, across: set[str]) -> None:
        """A unit's record, but for the rules across units (the county's record has those)."""
        folder = os.path.dirname(unit.manifest)
        for conflict in record["conflicts"]:
            if conflict["rule"] in across:
                continue
            self.conflicts.append({**conflict, "unit": unit.id, "units": [unit.id],
                                   "subjects": [{**s, "source": _moved(s.get("source"), folder)} for s in conflict["subjects"]]})
        for item in record["indeterminate"]:
            if item["rule"] in across:
                continue
            self.indeterminate.append({**item, "unit": unit.id, "units": [unit.id],
                                       "subjects": [{**s, "source": _moved(s.get("source"), folder)} for s in item["subjects"]]})
        for outcome in record["outcomes"]:
            if outcome["rule"] not in across:
                _add_outcome(self.outcomes, outcome)
        for warning in record.get("diagnostics") or []:  # what the unit's load found wrong but not fatal
            self.diagnostics.append({**warning, "unit": unit.id, "path": _moved({"path": warning.get("path")}, folder)["path"]})
        self.add_rules(record)
        for item in record["submission"]["inputs"]:
            path = os.path.normpath(os.path.join(folder, item["path"]))
            self.inputs.setdefault(path, {**item, "path": path})
        summary = record["summary"]
        self.rows.append({"unit": unit.id, "submission": unit.submission, "manifest": unit.manifest,
                          "stage": record["submission"].get("stage"), "verdict": summary["verdict"], **{k: summary.get(k, 0) for k in ("error", "warning", "info", "indeterminate", "waived")}})

    def add_county(self, county_record: dict) -> None:
        """The county's own record: its conflicts name the units they are about."""
        for conflict in county_record["conflicts"]:
            named = [s["id"] for s in conflict["subjects"] if s["collection"] == "units"]
            self.conflicts.append({**conflict, "unit": named[0] if named else None, "units": named})
        for item in county_record["indeterminate"]:
            named = [s["id"] for s in item["subjects"] if s["collection"] == "units"]
            self.indeterminate.append({**item, "unit": named[0] if named else None, "units": named})
        for outcome in county_record["outcomes"]:
            _add_outcome(self.outcomes, outcome)
        self.add_rules(county_record)

    def county_verdicts(self, across: set[str]) -> None:
        """The county's own verdict per unit: its conflicts and those across units that name it."""
        for row in self.rows:
            mine = [c for c in self.conflicts if c.get("rule") in across and row["unit"] in (c.get("units") or [])]
            for severity in ("error", "warning", "info"):
                row[severity] += sum(1 for c in mine if c.get("severity") == severity and not c.get("waiver"))
            if row["error"] and row["verdict"] in ("passed", "incomplete", "undecided"):
                row["verdict"] = "failed"


def _account(scheme, county) -> dict:
    """The county's money: the units' revenues and costs, the scheme's own, and the balance (万元)."""
    revenues = sum(u.revenues_wan_yuan for u in county.units)
    costs = sum(u.costs_wan_yuan for u in county.units)
    scheme_revenues = sum(scheme.finance.revenues.values()) if scheme.finance else 0.0
    scheme_costs = sum(scheme.finance.costs.values()) if scheme.finance else 0.0
    return {"unit_revenues_wan_yuan": round(revenues, 4), "unit_costs_wan_yuan": round(costs, 4),
            "scheme_revenues_wan_yuan": round(scheme_revenues, 4), "scheme_costs_wan_yuan": round(scheme_costs, 4),
            "balance_wan_yuan": round(revenues + scheme_revenues - costs - scheme_costs, 4)}


def _county_layers(county, results: list[dict]) -> dict:
    """The map of a county report: every unit's boundary with its verdict (the units' parcels stay in their own reports)."""
    import json

    import shapely

    units = [{"id": u.id, "verdict": u.verdict,
              "geometry": json.loads(shapely.to_geojson(u.geometry)) if u.geometry is not None else None}
             for u in county.units]
    return {"unit": None, "parcels": [], "rights": [], "control_lines": [], "units": units}


def _merged_waivers(results: list[dict]) -> dict:
    merged = {"applied": [], "unmatched": [], "expired": [], "refused": []}
    for result in results:
        for key in merged:
            merged[key].extend(result["record"].get("waivers", {}).get(key, []))
    return merged


def _add_outcome(outcomes: dict, outcome: dict) -> None:
    """A rule's outcome over every unit: failed anywhere, else undecided anywhere, else passed anywhere."""
    rule = outcome["rule"]
    if rule not in outcomes:
        outcomes[rule] = dict(outcome)
        return
    merged = outcomes[rule]
    rank = {"fail": 3, "indeterminate": 2, "pass": 1, "not_applicable": 0}
    if rank.get(outcome["status"], 0) > rank.get(merged["status"], 0):
        merged["status"] = outcome["status"]
    for key in ("checked", "failed", "indeterminate"):
        merged[key] = merged.get(key, 0) + outcome.get(key, 0)


def _rule_order(rule_id: str) -> tuple:
    from .dsl.catalog import rule_sort_key

    return rule_sort_key(rule_id)


def _sha(path: Path) -> str | None:
    from .engine import file_sha256

    return file_sha256(path)
