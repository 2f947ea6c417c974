"""The join planner (rulecheck/dsl/planner.py): which conjuncts an index answers, and that answering them
through an index changes nothing in the report: the same conflicts, the same indeterminate bindings (a
candidate whose key is absent stays undecided, never dropped), in the same order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import rulecheck
from rulecheck.cli import cli
from rulecheck.dsl import planner
from rulecheck.dsl.plan import PlanOptions, planning

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"

JOINS = '''
rule TST-010
  title zh "测试" en "Every right names a package that lists it (a join on an optional key)"
  severity warning
  basis "测试" "test"
  for each package in unit_plan.packages
  for each right in unit_plan.rights where right.package == package.id
  require right.id in package.rights
  message zh "{right}" en "{right}"

rule TST-011
  title zh "测试" en "The other way round: the outer key is the optional one"
  severity warning
  basis "测试" "test"
  for each right in unit_plan.rights
  for each package in unit_plan.packages where package.id == right.package
  require right.id in package.rights
  message zh "{right}" en "{right}"

rule TST-012
  title zh "测试" en "Membership both ways, and an or of lookups, with a local filter"
  severity warning
  basis "测试" "test"
  for each item in contracts.items
  for each parcel in detailed_plan.parcels where parcel.id in item.parcel_ids and present(parcel.far_max)
  for each right in unit_plan.rights where right.id == item.right or right.land_use == parcel.land_use
  require count(p for p in detailed_plan.parcels where p.land_use == parcel.land_use) >= 1
  message zh "{item}" en "{item}"

rule TST-014
  title zh "测试" en "A local condition left undecided, joined by id: undecided only where the join holds"
  severity warning
  basis "测试" "test"
  for each package in unit_plan.packages
  for each right in unit_plan.rights where right.scale != large and right.id in package.rights
  require right.overlay == false
  message zh "{right}" en "{right}"

rule TST-015
  title zh "测试" en "Codes under codes both ways, and under a group's name (tested as written)"
  severity warning
  basis "测试" "test"
  for each r in unit_plan.rights
  require count(p for p in detailed_plan.parcels where r.land_use under p.land_use) >= 1
      and count(p for p in detailed_plan.parcels where p.land_use under r.land_use) >= 2
  message zh "{r}" en "{r}"

rule TST-016
  title zh "测试" en "A parcel under a duty's resource, which may name a group"
  severity warning
  basis "测试" "test"
  for each package in unit_plan.packages
  for each duty in package.duties
  require count(p for p in detailed_plan.parcels where p.land_use under duty.resource) >= 3
  message zh "{duty}" en "{duty}"

rule TST-013
  title zh "测试" en "A join the planner cannot index (a number), tested per pair"
  severity info
  basis "测试" "test"
  for each parcel in detailed_plan.parcels
  require count(p for p in detailed_plan.parcels where p.area_m2 == parcel.area_m2) == 1
  message zh "{parcel}" en "{parcel}"
'''


def _plans(rules, rule_id):
    return next(r for r in rules.rules if r.id == rule_id).plans


def test_builtin_joins_are_planned_as_indexes():
    rules = rulecheck.load_rules()
    ref012 = _plans(rules, "REF-012")
    inner = next(p for p in ref012 if p["var"] == "p")
    assert inner["hash"] == "p.id == parcel.id" and inner["per_pair"] == [] and inner["nested"]
    ref003 = next(p for p in _plans(rules, "REF-003") if p["var"] == "right")
    assert ref003["hash"] == 'right.id in package.rights or default(right.package, "") == package.id'
    ind010 = next(p for p in _plans(rules, "IND-010") if p["var"] == "parcel")
    assert ind010["hash"] == "parcel.id in item.parcel_ids" and ind010["filter"] == ["present(parcel.far_max)"]
    lay004 = next(p for p in _plans(rules, "LAY-004") if p["var"] == "parcel")
    assert lay004["spatial"] == "intersects(right, parcel)" and lay004["hash"] is None
    # LAY-009's per-land-use sum over the parcels looks up the parcels whose code is a prefix of the land use
    lay009 = next(p for p in _plans(rules, "LAY-009") if p["var"] == "p")
    assert lay009["hash"] == "use under p.land_use"
    # no built-in rule visits a whole fixed collection, unindexed, for every binding
    unindexed = {r.id for r in rules.rules for p in r.plans
                 if p["nested"] and p["source_fixed"] and not (p["spatial"] or p["hash"])}
    assert unindexed == set()


def test_validate_plan_prints_indexes_and_marks_pair_scans(tmp_path):
    pack = tmp_path / "joins.rule"
    pack.write_text(JOINS, encoding="utf-8")
    result = CliRunner().invoke(cli, ["rules", "validate", str(pack), "--plan"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "TST-010" in out and "hash index: right.package == package.id" in out
    assert "hash index: right.id == item.right or right.land_use == parcel.land_use" in out
    assert "filter once per list: present(parcel.far_max)" in out
    tst013 = out[out.index("TST-013"):]
    assert "p in detailed_plan.parcels: ! per binding, every record (all pairs)" in tst013
    assert "! per pair: p.area_m2 == parcel.area_m2" in tst013
    builtin = CliRunner().invoke(cli, ["rules", "validate", str(ROOT / "rules"), "--plan"])
    assert builtin.exit_code == 0 and "hash index: p.id == parcel.id" in builtin.output


def _report(manifest, rule_paths=None, *, hash_joins: bool, monkeypatch) -> dict:
    with planning(PlanOptions(hash_joins=hash_joins)):
        rules = rulecheck.load_rules(rule_paths)
        return rulecheck.check(rulecheck.load_submission(manifest), rules)


@pytest.mark.parametrize("fixture", ["eco-recreation", "eco-recreation-defects", "mine-land", "land-sea"])
def test_hash_joins_change_nothing_in_the_report(fixture, monkeypatch):
    manifest = FIXTURES / fixture / "submission.yaml"
    planned = _report(manifest, hash_joins=True, monkeypatch=monkeypatch)
    scanned = _report(manifest, hash_joins=False, monkeypatch=monkeypatch)
    assert json.dumps(planned, sort_keys=True) == json.dumps(scanned, sort_keys=True)


def test_absent_keys_stay_undecided_in_the_same_order(tmp_path, monkeypatch):
    pack = tmp_path / "joins.rule"
    pack.write_text(JOINS, encoding="utf-8")
    manifest = FIXTURES / "eco-recreation" / "submission.yaml"
    planned = _report(manifest, [pack], hash_joins=True, monkeypatch=monkeypatch)
    scanned = _report(manifest, [pack], hash_joins=False, monkeypatch=monkeypatch)
    assert planned["conflicts"] == scanned["conflicts"]
    assert planned["indeterminate"] == scanned["indeterminate"]
    assert planned["outcomes"] == scanned["outcomes"]
    # rights without a package are undecided for every package (TST-010) and undecided on their own (TST-011)
    missing = {(i["rule"], i["missing"]) for i in planned["indeterminate"]}
    assert {rule for rule, _ in missing} >= {"TST-010", "TST-011"}
    # a right without a scale is undecided for the package that lists it, not for the others
    submission = rulecheck.load_submission(manifest)
    no_scale = [r.id for r in submission.unit_plan.rights if r.scale is None]
    listed = [(p.id, r) for p in submission.unit_plan.packages for r in p.rights if r in no_scale]
    tst014 = [i for i in planned["indeterminate"] if i["rule"] == "TST-014"]
    assert len(listed) > 0 and len(tst014) == len(listed) < len(no_scale) * len(submission.unit_plan.packages)
    assert [[s["id"] for s in i["subjects"]] for i in tst014] == [[p] for p, _ in listed]  # in the order listed
    checked = {o["rule"]: o["checked"] for o in planned["outcomes"]}
    assert checked["TST-012"] > 0 and checked["TST-013"] > 0 and checked["TST-015"] > 0 and checked["TST-016"] > 0
    assert {c["rule"] for c in planned["conflicts"]} >= {"TST-015", "TST-016"}
    rules = rulecheck.load_rules([pack])
    assert [p["hash"] for p in _plans(rules, "TST-015")[1:]] == ["r.land_use under p.land_use", "p.land_use under r.land_use"]


def test_timings_on_stderr_and_in_the_json_report(tmp_path):
    out = tmp_path / "report.json"
    result = CliRunner().invoke(cli, ["check", str(FIXTURES / "eco-recreation" / "submission.yaml"), "--timings",
                                      "--format", "json", "--output", str(out)])
    assert result.exit_code == 0, result.output
    timings = json.loads(out.read_text(encoding="utf-8"))["timings"]
    assert [row["rule"] for row in timings["rules"]] == [r.id for r in rulecheck.load_rules().rules]
    assert timings["visited"] == sum(row["visited"] for row in timings["rules"]) > 0
    assert all(row["seconds"] >= 0 and row["visited"] >= 0 for row in timings["rules"])
    lines = result.stderr.splitlines() if hasattr(result, "stderr") else result.output.splitlines()
    assert any(line.startswith("REF-012") for line in lines) and any(line.startswith("total") for line in lines)
    plain = tmp_path / "plain.json"
    CliRunner().invoke(cli, ["check", str(FIXTURES / "eco-recreation" / "submission.yaml"), "--format", "json",
                             "--output", str(plain)])
    assert "timings" not in json.loads(plain.read_text(encoding="utf-8"))


def test_progress_line_only_after_a_second_and_cleared_at_the_end(capsys):
    from rulecheck.cli import _Progress

    now = [100.0]
    progress = _Progress()
    progress.clock = lambda: now[0]
    progress.start = now[0] + 1.0
    progress(0, 3, "GEO-001")  # the first second: nothing
    assert capsys.readouterr().err == ""
    now[0] += 1.5
    progress(1, 3, "REF-012")
    assert capsys.readouterr().err == "\r\033[K[2/3] REF-012"
    progress(3, 3, None)
    assert capsys.readouterr().err == "\r\033[K"
    quiet = _Progress()
    quiet(3, 3, None)  # a short run leaves no trace
    assert capsys.readouterr().err == ""


PAIRS = '''
rule TST-020
  title zh "测试" en "Rights of the same package overlapping, in id order (pair conditions with absent keys)"
  severity warning
  basis "测试" "test"
  for each a in unit_plan.rights
  for each b in unit_plan.rights where intersects(a, b) and a.id < b.id and b.package == a.package
  require overlap_area(a, b) <= 1 m2
  message zh "{a} {b}" en "{a} {b}"

rule TST-021
  title zh "测试" en "A parcel's land use under a right's, the outer record on the left"
  severity info
  basis "测试" "test"
  for each r in unit_plan.rights
  for each p in detailed_plan.parcels where intersects(p, r) and r.land_use under p.land_use and p.id != r.id
      and overlaps(p, r, 200 m2)
  require overlap_area(p, r) >= 0 m2
  message zh "{r} {p}" en "{r} {p}"
'''


PAIRS += '''
rule TST-022
  title zh "测试" en "Parcels of a duty's resource in its package, and not named as the duty (conditions on the outer scope)"
  severity info
  basis "测试" "test"
  for each package in unit_plan.packages where present(package.boundary)
  for each duty in package.duties
  for each p in detailed_plan.parcels where intersects(p, package.boundary) and p.land_use under duty.resource
      and p.id != duty.id
  require overlap_area(p, package.boundary) >= 0 m2
  message zh "{duty} {p}" en "{duty} {p}"
'''


def _pairs_report(manifest, rule_paths, *, pair_conds: bool, monkeypatch) -> dict:
    with planning(PlanOptions(pair_conditions=pair_conds)):
        rules = rulecheck.load_rules(rule_paths)
        return rulecheck.check(rulecheck.load_submission(manifest), rules)


@pytest.mark.parametrize("fixture", ["eco-recreation-defects", "mine-land", "land-sea-defects"])
def test_pair_conditions_decided_at_once_change_nothing(fixture, tmp_path, monkeypatch):
    pack = tmp_path / "pairs.rule"
    pack.write_text(PAIRS, encoding="utf-8")
    manifest = FIXTURES / fixture / "submission.yaml"
    for packs in (None, [ROOT / "rules", pack]):
        at_once = _pairs_report(manifest, packs, pair_conds=True, monkeypatch=monkeypatch)
        one_by_one = _pairs_report(manifest, packs, pair_conds=False, monkeypatch=monkeypatch)
        assert json.dumps(at_once, sort_keys=True) == json.dumps(one_by_one, sort_keys=True)
    checked = {o["rule"]: o for o in at_once["outcomes"]}
    assert checked["TST-021"]["checked"] > 0
    assert checked["TST-022"]["checked"] > 0 or fixture != "eco-recreation-defects"
    if fixture == "eco-recreation-defects":  # rights of one package that touch, and rights without a package
        assert checked["TST-020"]["checked"] > 0 and checked["TST-020"]["indeterminate"] > 0
    rules = rulecheck.load_rules([pack])
    assert _plans(rules, "TST-020")[1]["pair_conditions"] == ["a.id < b.id", "b.package == a.package"]
    assert _plans(rules, "TST-021")[1]["pair_conditions"] == ["r.land_use under p.land_use", "p.id != r.id",
                                                                "overlaps(p, r, 200 m2)"]
    assert _plans(rules, "TST-022")[2]["column_conditions"] == ["p.land_use under duty.resource", "p.id != duty.id"]
    builtin = rulecheck.load_rules()
    assert _plans(builtin, "LAY-004")[1]["pair_conditions"] == ["overlaps(right, parcel, overlap_max)"]
    assert _plans(builtin, "GEO-012")[1]["pair_conditions"] == ["a.id < b.id"]


def test_bulk_geometry_work_on_threads_gives_the_same_report(monkeypatch):
    """The defects fixture with every bulk GEOS call cut into chunks of one geometry on two threads, against
    one thread: the same bytes."""
    from rulecheck import limits
    from rulecheck.dsl import parallel

    manifest = FIXTURES / "eco-recreation-defects" / "submission.yaml"

    def every_call_split(n, min_chunk=None):  # however small the array, as many chunks as threads
        k = min(parallel.workers(), n)
        bounds = [round(i * n / k) for i in range(k + 1)] if k > 1 else []
        return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]

    monkeypatch.setattr(parallel, "_slices", every_call_split)
    reports = []
    for threads in (1, 2, 3):
        with limits.override(threads=threads):
            reports.append(json.dumps(rulecheck.check(rulecheck.load_submission(manifest), rulecheck.load_rules()),
                                      sort_keys=True))
    assert reports[0] == reports[1] == reports[2]
    assert json.loads(reports[0])["conflicts"]


def test_geos_map_and_query_pairs_match_one_call(monkeypatch):
    import numpy as np
    import shapely

    from rulecheck import limits
    from rulecheck.dsl import parallel

    monkeypatch.setattr(parallel, "MIN_CHUNK", 10)
    cells = shapely.box(*np.array([[x, y, x + 1.5, y + 1.5] for x in range(40) for y in range(30)], dtype=float).T)
    tree = shapely.STRtree(cells)
    with limits.override(threads=4):
        assert parallel.workers() == 4 and len(parallel._slices(len(cells))) == 4
        split = parallel.query_pairs(tree, cells, "intersects")
        areas = parallel.geos_map(lambda a, b: shapely.area(shapely.intersection(a, b)), cells[split[0]], cells[split[1]])
    whole = tree.query(cells, predicate="intersects")
    assert np.array_equal(split[0], whole[0]) and np.array_equal(split[1], whole[1])
    assert np.array_equal(areas, shapely.area(shapely.intersection(cells[whole[0]], cells[whole[1]])))
    with limits.override(threads=1):
        assert parallel._slices(len(cells)) == []


def _duties_on_a_group_and_a_class():
    """The eco-recreation fixture with its first duty's resource a land-use group ("forest"), its second a class."""
    submission = rulecheck.load_submission(FIXTURES / "eco-recreation" / "submission.yaml")
    duties = [d for p in submission.unit_plan.packages for d in p.duties]
    duties[0].resource, duties[1].resource = "forest", "03"
    return submission, duties


def test_under_a_group_name_is_tested_as_written(tmp_path, monkeypatch):
    """A duty's resource may name a land-use group ("forest"): the hash index of `under` cannot answer it, so
    every parcel is tested, and the counts are those of testing every pair."""
    pack = tmp_path / "joins.rule"
    pack.write_text(JOINS, encoding="utf-8")
    counts = []
    for hash_joins in (True, False):
        submission, duties = _duties_on_a_group_and_a_class()
        with planning(PlanOptions(hash_joins=hash_joins)):
            record = rulecheck.check(submission, rulecheck.load_rules([pack]), select=["TST-016"])
        counts.append((record["outcomes"], record["conflicts"]))
    assert counts[0] == counts[1]
    flagged = {c["subjects"][0]["id"] for c in counts[0][1]}
    assert duties[0].id not in flagged and duties[1].id not in flagged  # forest parcels and 03 parcels exist


def test_conditions_on_a_group_name_in_a_spatial_join_are_tested_as_written(tmp_path, monkeypatch):
    """DUT-006 and TST-022 with duties whose resource names a group or a class: the candidates of each duty
    dropped at once give the same report as testing each parcel."""
    pack = tmp_path / "pairs.rule"
    pack.write_text(PAIRS, encoding="utf-8")
    records = []
    for pair_conds in (True, False):
        submission, _ = _duties_on_a_group_and_a_class()
        with planning(PlanOptions(pair_conditions=pair_conds)):
            record = rulecheck.check(submission, rulecheck.load_rules([ROOT / "rules", pack]), select=["TST-022", "DUT-006"])
        records.append(json.dumps(record, sort_keys=True))
    assert records[0] == records[1]
    outcomes = {o["rule"]: o for o in json.loads(records[0])["outcomes"]}
    assert outcomes["TST-022"]["checked"] > 0 and outcomes["DUT-006"]["checked"] > 0


def test_the_threads_limit_from_the_command_line_changes_no_byte(tmp_path, monkeypatch):
    """`--limit threads=1` keeps a run on one core; with every bulk call split (however small), the JSON report
    is the same bytes as with the default."""
    from rulecheck.dsl import parallel

    monkeypatch.setattr(parallel, "MIN_CHUNK", 1)
    manifest = FIXTURES / "eco-recreation-defects" / "submission.yaml"
    outputs = []
    for extra in ([], ["--limit", "threads=1"], ["--limit", "threads=2"]):
        out = tmp_path / f"report{len(outputs)}.json"
        result = CliRunner().invoke(cli, ["check", str(manifest), "--format", "json", "--output", str(out), *extra])
        assert result.exit_code == 1, result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    bad = CliRunner().invoke(cli, ["check", str(manifest), "--limit", "threads=-1"])
    assert bad.exit_code == 2 and "threads" in bad.output


LOCALS = '''
rule TST-040
  title zh "测试" en "Local conditions through a parent, an enum list, and one left undecided (scale may be absent)"
  severity info
  basis "测试" "test"
  for each item in contracts.items where item.contract.method in [transfer, lease] and present(item.term_years)
  for each right in unit_plan.rights where right.scale != large and right.id == item.right
  require right.overlay == false
  message zh "{item} {right}" en "{item} {right}"

rule TST-041
  title zh "测试" en "Local conditions read only for presence, for a length, and on the record itself"
  severity info
  basis "测试" "test"
  for each p in detailed_plan.parcels where (present(p.far_max) or present(p.green_min)) and len(p.facilities) >= 0
      and area(p) > 1 m2
  require p.area_m2 > 0 m2
  message zh "{p}" en "{p}"

rule TST-042
  title zh "测试" en "A count over a filtered collection whose filter reads two fields of the record"
  severity info
  basis "测试" "test"
  for each package in unit_plan.packages
  require count(r for r in unit_plan.rights where r.kind == construction_land_use and r.land_use under "07") >= 0
  message zh "{package}" en "{package}"
'''


@pytest.mark.parametrize("fixture", ["eco-recreation-defects", "mine-land", "land-sea-defects"])
def test_local_conditions_decided_once_per_value_change_nothing(fixture, tmp_path, monkeypatch):
    """A condition on the loop variable alone is tested once per distinct value it reads (planner.local_keyer):
    the report is the one of testing every record, undecided records named one by one, in the same order."""
    pack = tmp_path / "locals.rule"
    pack.write_text(LOCALS, encoding="utf-8")
    manifest = FIXTURES / fixture / "submission.yaml"
    reports = []
    for keyed in (True, False):
        with planning(PlanOptions(local_keys=keyed)):
            rules = rulecheck.load_rules([ROOT / "rules", pack])
            reports.append(rulecheck.check(rulecheck.load_submission(manifest), rules))
    assert json.dumps(reports[0], sort_keys=True) == json.dumps(reports[1], sort_keys=True)
    outcomes = {o["rule"]: o for o in reports[0]["outcomes"]}
    assert outcomes["TST-041"]["checked"] > 0 and outcomes["TST-042"]["checked"] > 0
    if fixture == "eco-recreation-defects":  # rights without a scale: undecided, each named
        assert outcomes["TST-040"]["indeterminate"] > 0


def test_local_keyer_reads_fields_only():
    from rulecheck.dsl.parser import parse_expr
    from rulecheck.dsl.schema import record
    from rulecheck.model import documents as d

    parcel_t = record(d.Parcel)

    def keyer(text):
        return planner.local_keyer(parse_expr(text), "p", parcel_t)

    assert keyer("area(p) > 1 m2") is None  # the record itself
    assert keyer("present(p.far_max) and p.land_use in building") is not None
    present = keyer("present(p.far_max)")
    value = keyer("p.far_max > 1")
    a, b, c, z, nz = (d.Parcel.model_construct(id=i, land_use="0701", far_max=f, facilities=[])
                      for i, f in (("a", 2.0), ("b", 3.0), ("c", None), ("z", 0.0), ("nz", -0.0)))
    assert present(a, {}) == present(b, {}) != present(c, {})  # read for presence only: its value does not matter
    assert value(a, {}) != value(b, {}) and value(z, {}) != value(nz, {})  # the sign of a zero is kept
    length = keyer("len(p.facilities) > 0")
    assert length(a, {}) == length(b, {})


@pytest.mark.parametrize("fixture", ["eco-recreation-defects", "mine-land", "land-sea"])
def test_sums_of_shared_areas_read_from_the_prefill_change_nothing(fixture, monkeypatch):
    """`sum(overlap_area(p, package.boundary) for p in …)` (LAY-009, DUT-006): the shared areas computed together
    and read from the run's cache give the report of computing each element as written."""
    from rulecheck.dsl import builtins, compiler

    manifest = FIXTURES / fixture / "submission.yaml"
    read = []
    real = builtins.cached_overlap_areas

    def counted(a, others):
        out = real(a, others)
        read.append(sum(v is not None for v in out))
        return out

    monkeypatch.setattr(compiler, "cached_overlap_areas", counted)
    reports = []
    for prefill_min, at_once in ((1, True), (10**9, False)):  # every sum through the prefill and the cache, then none
        monkeypatch.setattr(compiler, "PREFILL_MIN", prefill_min)
        with planning(PlanOptions(pair_conditions=at_once)):
            reports.append(rulecheck.check(rulecheck.load_submission(manifest), rulecheck.load_rules()))
    assert json.dumps(reports[0], sort_keys=True) == json.dumps(reports[1], sort_keys=True)
    assert sum(read) > 0  # the shared areas were read from the cache


def test_a_requirement_on_the_pair_is_decided_in_bulk(tmp_path, monkeypatch):
    """`require overlap_area(a, b) <= limit` or `require right.land_use under parcel.land_use` (GEO-012, LAY-004)
    over a spatial join with nothing else to test per pair: the pairs that pass are counted without being bound,
    those that fail make the conflicts as written; the report is the one of evaluating every pair."""
    pack = tmp_path / "verdict.rule"
    pack.write_text('''
rule TST-030
  title zh "测试" en "Rights touching each other share little (both ways round)"
  severity warning
  basis "测试" "test"
  for each a in unit_plan.rights
  for each b in unit_plan.rights where intersects(a, b)
  require overlap_area(b, a) < 50 m2
  message zh "{a} {b}" en "{a} {b}"

rule TST-033
  title zh "测试" en "A right fits the parcels it overlaps (a text requirement, a group's name undecided here)"
  severity warning
  basis "测试" "test"
  for each right in unit_plan.rights
  for each parcel in detailed_plan.parcels where intersects(right, parcel) and overlaps(right, parcel, 1 m2)
  require right.land_use under parcel.land_use
  message zh "{right} {parcel}" en "{right} {parcel}"

rule TST-034
  title zh "测试" en "The other way round, with ids"
  severity warning
  basis "测试" "test"
  for each a in unit_plan.rights
  for each b in unit_plan.rights where intersects(a, b)
  require b.id >= a.id
  message zh "{a} {b}" en "{a} {b}"
''', encoding="utf-8")
    for fixture in ("eco-recreation-defects", "mine-land", "land-sea-defects"):
        manifest = FIXTURES / fixture / "submission.yaml"
        at_once = _pairs_report(manifest, [pack], pair_conds=True, monkeypatch=monkeypatch)
        one_by_one = _pairs_report(manifest, [pack], pair_conds=False, monkeypatch=monkeypatch)
        assert json.dumps(at_once, sort_keys=True) == json.dumps(one_by_one, sort_keys=True)
        outcomes = {o["rule"]: o for o in at_once["outcomes"]}
        # some pairs pass, some fail (TST-030: a right with itself; TST-034: touching rights, one way round)
        for rule in ("TST-030", "TST-034"):
            assert outcomes[rule]["checked"] > len([c for c in at_once["conflicts"] if c["rule"] == rule]) > 0
    verdicts = {rule.id: rule.steps[-1][2].plan.verdict for rule in rulecheck.load_rules([pack]).rules}
    assert verdicts["TST-030"].limit_fn is not None and verdicts["TST-030"].text_cond is None
    assert verdicts["TST-033"].text_cond is not None and verdicts["TST-034"].text_cond is not None
    assert _plans(rulecheck.load_rules(), "LAY-004")[1]["pair_conditions"] == ["overlaps(right, parcel, overlap_max)"]
    assert _plans(rulecheck.load_rules(), "LAY-004")[1]["requirement"] == "right.land_use under parcel.land_use"
    shown = CliRunner().invoke(cli, ["rules", "validate", str(ROOT / "rules"), "--plan"]).output
    assert "the requirement, every candidate pair at once: right.land_use under parcel.land_use" in shown
