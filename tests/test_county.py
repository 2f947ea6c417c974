"""The county system (issue 21): the scheme as an input document, the CTY rules from the command line on the county
fixtures (fixtures/make_county.py), a unit alone against its scheme path as in the county check, county reports,
and the checks across units doing linear work."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import shapely

import rulecheck

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
CLEAN = FIXTURES / "county" / "county.yaml"
DEFECTS = FIXTURES / "county-defects" / "county.yaml"
RULECHECK = Path(sys.executable).parent / "rulecheck"

sys.path.insert(0, str(FIXTURES))
from make_county import DEFECTS as PLANTED  # noqa: E402

UNIT_RULES = {f"CTY-{n:03d}" for n in range(1, 13)}


def run(*args, cwd=ROOT):
    return subprocess.run([str(RULECHECK), *map(str, args)], capture_output=True, text=True, cwd=cwd)


def report(*args):
    result = run("check", *args, "--format", "json", "--lang", "en", "-j", "1")
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.fixture(scope="module")
def defects():
    return report(DEFECTS)


@pytest.fixture(scope="module")
def clean():
    return report(CLEAN)


def _cty(record):
    return [c for c in record["conflicts"] if c["rule"].startswith("CTY-")]


# ---- each CTY rule fires on its planted fixture, naming the right units; nothing in the clean county -----------


@pytest.mark.parametrize("rule, units, what", PLANTED, ids=[rule for rule, _, _ in PLANTED])
def test_each_rule_fires_on_its_planted_defect_naming_its_units(defects, rule, units, what):
    code, record = defects
    assert code == 1 and record["summary"]["verdict"] == "failed"
    fired = [c for c in record["conflicts"] if c["rule"] == rule]
    assert fired, f"{rule} did not fire on: {what}"
    if units == "scheme":  # a defect of the scheme itself is found for every unit checked against it
        assert {c["unit"] for c in fired} == {"U01", "U02", "U04"}
        return
    wanted = {u.strip() for u in units.split(",")}
    named = set().union(*(set(c["units"]) for c in fired))
    assert named == wanted, (rule, named, wanted)


def test_every_cty_rule_has_a_planted_defect():
    rules = {r.id for r in rulecheck.load_rules().rules if r.family == "CTY"}
    assert rules == {rule for rule, _, _ in PLANTED}


def test_nothing_fires_in_the_clean_county_but_the_unit_drawn_wrong(clean):
    code, record = clean
    assert code == 1
    conflicts = record["conflicts"]
    assert [(c["rule"], c["unit"]) for c in conflicts] == [("CTY-006", "U03")]
    assert record["indeterminate"] == []
    rows = {row["unit"]: row["verdict"] for row in record["county"]["units"]}
    assert rows == {"U01": "passed", "U02": "passed", "U03": "failed"}
    outcomes = {o["rule"]: o["status"] for o in record["outcomes"]}
    # the checks that can decide something on the clean county did, and passed
    for rule in ("CTY-001", "CTY-002", "CTY-003", "CTY-004", "CTY-005", "CTY-007", "CTY-008", "CTY-009", "CTY-010",
                 "CTY-012", "CTY-013", "CTY-019", "CTY-020"):
        assert outcomes[rule] == "pass", (rule, outcomes[rule])
    assert outcomes["CTY-006"] == "fail"
    account = record["county"]["account"]
    assert account["balance_wan_yuan"] == pytest.approx(account["unit_revenues_wan_yuan"] - account["unit_costs_wan_yuan"]
                                                        - account["scheme_costs_wan_yuan"])


def test_every_conflict_of_a_county_report_names_its_unit(defects):
    _, record = defects
    assert record["conflicts"] and all(c.get("unit") and c.get("units") and c["unit"] == c["units"][0]
                                       for c in record["conflicts"])
    assert {c["unit"] for c in record["conflicts"]} == {"U01", "U02", "U03", "U04"}
    # a unit's conflicts point at its own files, from the county's folder
    paths = {s["source"]["path"] for c in record["conflicts"] for s in c["subjects"] if s.get("source")}
    assert any(p.startswith("U02/") for p in paths) and not any(p.startswith("..") for p in paths)


# ---- a unit alone against its scheme path gives the same CTY verdicts as in the county check ------------------


@pytest.mark.parametrize("unit", ["U01", "U02", "U04"])
def test_a_unit_alone_gives_the_county_check_s_verdicts(defects, unit):
    _, county = defects
    code, alone = report(FIXTURES / "county-defects" / unit / "submission.yaml", "--select", "CTY")

    def found(conflicts):
        return sorted((c["rule"], tuple(sorted(s["id"] for s in c["subjects"])), c["message"]) for c in conflicts
                      if c["rule"] in UNIT_RULES)

    mine = [c for c in county["conflicts"] if c.get("unit") == unit]
    assert found(alone["conflicts"]) == found(mine) != []
    assert code == 1


def test_a_plain_scheme_id_makes_every_scheme_check_indeterminate_never_passed(tmp_path):
    folder = tmp_path / "unit"
    shutil.copytree(FIXTURES / "county" / "U01", folder)
    manifest = folder / "submission.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("county_scheme:\n    path: ../scheme.yaml", "county_scheme: QX-ZTFA-2025"), encoding="utf-8")
    assert "county_scheme: QX-ZTFA-2025" in manifest.read_text(encoding="utf-8")
    code, record = report(manifest, "--select", "CTY")
    outcomes = {o["rule"]: o["status"] for o in record["outcomes"]}
    scheme_rules = {"CTY-001", "CTY-002", "CTY-003", "CTY-004", "CTY-005", "CTY-006", "CTY-007", "CTY-008", "CTY-009", "CTY-012"}
    assert {rule: outcomes[rule] for rule in scheme_rules} == {rule: "indeterminate" for rule in scheme_rules}
    assert outcomes["CTY-010"] == "pass"  # the zone against the boundary needs no scheme
    assert record["summary"]["verdict"] == "incomplete" and code == 0
    assert all("by its id only" in item["missing"] for item in record["indeterminate"])


# ---- the scheme as an input document: located errors, formats, CRS -------------------------------------------


def _county_copy(tmp_path) -> Path:
    folder = tmp_path / "county"
    shutil.copytree(FIXTURES / "county", folder)
    return folder


def test_a_bad_scheme_is_a_located_input_error(tmp_path):
    folder = _county_copy(tmp_path)
    layer = folder / "layers" / "units.geojson"
    layer.write_text(layer.read_text(encoding="utf-8").replace('"direction": "eco_recreation"', '"direction": "eco_recreaton"', 1),
                     encoding="utf-8")
    scheme = folder / "scheme.yaml"
    scheme.write_text(scheme.read_text(encoding="utf-8").replace("  organiser:", "  organizer:"), encoding="utf-8")
    # run as a plan author does, from the unit's own folder; a file outside the working folder is named in full
    # (diagnostics.working_path), so that an editor opens it
    result = run("check", "submission.yaml", "--lang", "en", cwd=folder / "U01")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    units, scheme_file = (folder / "layers" / "units.geojson").resolve(), (folder / "scheme.yaml").resolve()
    assert f"{units.as_posix()}:5: error: features[0].properties.direction" in result.stderr
    assert "eco_recreaton" in result.stderr and "did you mean 'eco_recreation'?" in result.stderr
    assert f"{scheme_file.as_posix()}:9: error: scheme.organizer: unknown field 'organizer'" in result.stderr
    assert "lies outside" not in result.stderr  # the county's folder is the one above the unit's, even when named '.'
    county = run("check", folder / "county.yaml", "--lang", "en", "-j", "1")
    assert county.returncode == 2 and "layers/units.geojson:5" in county.stderr and "Traceback" not in county.stderr


def test_a_scheme_path_is_confined_like_a_layer(tmp_path):
    folder = _county_copy(tmp_path)
    manifest = folder / "U01" / "submission.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("path: ../scheme.yaml", "path: ../../scheme.yaml"), encoding="utf-8")
    (tmp_path / "scheme.yaml").write_text("format: rulecheck/v1\n", encoding="utf-8")
    result = run("check", manifest)
    assert result.returncode == 2 and "unit_plan.county_scheme.path" in result.stderr and "outside" in result.stderr
    manifest.write_text(text.replace("path: ../scheme.yaml", "path: ../missing.yaml"), encoding="utf-8")
    result = run("check", manifest)
    assert result.returncode == 2 and "not found" in result.stderr and "submission.yaml:" in result.stderr


def test_a_scheme_in_a_geopackage_and_another_crs_checks_the_same(tmp_path):
    """The scheme's layers in any contract format (here GeoPackage) and in a geographic CRS: reprojected, same verdicts."""
    import numpy as np
    import pyproj
    from pyogrio.raw import write

    folder = _county_copy(tmp_path)
    features = json.loads((folder / "layers" / "units.geojson").read_text(encoding="utf-8"))["features"]
    to_4490 = pyproj.Transformer.from_crs("EPSG:4526", "EPSG:4490", always_xy=True)
    geometries = [shapely.transform(shapely.geometry.shape(f["geometry"]), lambda xy: np.column_stack(to_4490.transform(xy[:, 0], xy[:, 1])))
                  for f in features]
    names = ["id", "direction", "key_area", "holder", "gathering", "supply_model", "phase", "start_year", "end_year"]
    columns = []
    for name in names:
        values = [f["properties"].get(name) for f in features]
        if name == "gathering":  # a list in a GIS table is text
            values = [",".join(v) for v in values]
        columns.append(np.array(values, dtype="int64") if name in ("phase", "start_year", "end_year") else np.array(values, dtype=object))
    write(str(folder / "layers" / "scheme.gpkg"), np.array([shapely.to_wkb(g) for g in geometries], dtype=object), columns, names,
          layer="units", driver="GPKG", geometry_type="Polygon", crs="EPSG:4490")
    scheme = folder / "scheme.yaml"
    scheme.write_text(scheme.read_text(encoding="utf-8").replace("units: layers/units.geojson", "units: layers/scheme.gpkg#units"),
                      encoding="utf-8")
    code, record = report(folder / "U03" / "submission.yaml", "--select", "CTY")
    assert [(c["rule"], c["subjects"][0]["id"]) for c in record["conflicts"]] == [("CTY-006", "U03")]
    assert any("reprojected" in note for note in record["submission"]["notes"])
    assert "layers/scheme.gpkg#units" in json.dumps(record["conflicts"][0]["subjects"])


# ---- county reports ----------------------------------------------------------------------------------------


def test_county_reports_show_a_verdict_per_unit_in_every_format(tmp_path):
    out = tmp_path / "out"
    result = run("check", CLEAN, "--lang", "en", "-j", "1", "--output-dir", out, "--format", "text", "--format", "json",
                 "--format", "sarif", "--format", "html")
    assert result.returncode == 1, result.stderr
    text = (out / "report.txt").read_text(encoding="utf-8")
    assert "County summary (scheme QX-ZTFA-2025)" in text and "U03 (U03/submission.yaml): FAILED" in text
    assert "unit: U03" in text and "County account:" in text
    sarif = json.loads((out / "report.sarif").read_text(encoding="utf-8"))["runs"][0]
    assert [row["verdict"] for row in sarif["properties"]["county"]["units"]] == ["passed", "passed", "failed"]
    assert sarif["results"][0]["properties"]["units"] == ["U03"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count('class="county-unit passed"') == 2 and html.count('class="county-unit failed"') == 1
    assert "county-units" in html


def test_processes_give_the_same_bytes(tmp_path):
    one = run("check", DEFECTS, "--format", "json", "-j", "1")
    two = run("check", DEFECTS, "--format", "json", "-j", "2")
    assert one.returncode == two.returncode == 1
    assert one.stdout == two.stdout


def test_a_bad_county_manifest_is_located(tmp_path):
    folder = _county_copy(tmp_path)
    (folder / "county.yaml").write_text("format: rulecheck/v1\ncounty:\n  scheme: scheme.yaml\n  unit: [U01/submission.yaml]\n",
                                        encoding="utf-8")
    result = run("check", folder / "county.yaml")
    assert result.returncode == 2 and "county.yaml:4" in result.stderr and "did you mean 'units'?" in result.stderr
    (folder / "county.yaml").write_text("format: rulecheck/v1\ncounty:\n  scheme: scheme.yaml\n  units: [U09/submission.yaml]\n",
                                        encoding="utf-8")
    result = run("check", folder / "county.yaml")
    assert result.returncode == 2 and "U09/submission.yaml" in result.stderr and "not found" in result.stderr


# ---- the checks across units do linear work ---------------------------------------------------------------------


def _synthetic_county(n: int):
    """A county of n square units in a row (each touching the next), each holding rights, parcels, assets and a
    package of its own, three phases; with the scheme that draws them."""
    import datetime as dt

    from rulecheck.county import county_submission
    from rulecheck.model.scheme import (County, CountyAsset, CountyPackage, CountyParcel, CountyRight, CountyUnit,
                                        Scheme, SchemeUnit, phases_of)

    units, entries, members = [], [], {"rights": [], "parcels": [], "assets": [], "packages": []}
    kinds = {"rights": CountyRight, "parcels": CountyParcel, "assets": CountyAsset, "packages": CountyPackage}
    for i in range(n):
        uid = f"U{i:04d}"
        box = shapely.box(38400000 + 1000 * i, 2600000, 38400000 + 1000 * (i + 1), 2601000)
        phase = 1 + i * 3 // n
        unit = CountyUnit(id=uid, submission=f"S-{uid}", manifest=f"{uid}/submission.yaml", scheme="S",
                          first_supply=dt.date(2025 + phase, 1, 1), revenues_wan_yuan=100, costs_wan_yuan=90)
        unit.__dict__["geometry"] = box
        units.append(unit)
        entry = SchemeUnit(id=uid, phase=phase, start_year=2025 + phase, end_year=2026 + phase)
        entry.__dict__["geometry"] = box
        entries.append(entry)
        for name, cls in kinds.items():
            members[name].extend(cls(id=f"{uid}-{name}-{k}", unit=uid) for k in range(5))
    scheme = Scheme(id="S", crs="EPSG:4526", units=entries)
    scheme._crs_used = "EPSG:4526"
    return county_submission(scheme, County(id="S", units=units, phases=phases_of(units, scheme), **members))


def test_the_checks_across_units_do_linear_work():
    rules = rulecheck.load_rules()
    across = [r.id for r in rules.rules if "county" in r.rule.tags]
    assert len(across) == 8

    def visits(n):
        record = rulecheck.check(_synthetic_county(n), rules, select=across, timings=True, as_of="2026-03-01")
        assert record["conflicts"] == [], record["conflicts"][:2]
        return {t["rule"]: t["visited"] for t in record["timings"]["rules"]}

    small, big = visits(60), visits(120)
    steep = {rule: (small[rule], big[rule]) for rule in small if big[rule] > 2.2 * max(small[rule], 1)}
    assert not steep, f"rules across units doing more than linear work (visits at n, at 2n): {steep}"
    assert sum(small.values()) > 60 * 4  # the measure is alive


def test_a_pair_of_units_sharing_a_right_is_found_among_many():
    from rulecheck.model.scheme import CountyRight

    submission = _synthetic_county(50)
    county = submission._county
    county.rights.append(CountyRight(id="U0001-rights-0", unit="U0040"))
    rules = rulecheck.load_rules()
    record = rulecheck.check(submission, rules, select=["CTY-015"], as_of="2026-03-01")
    assert [sorted(s["id"] for s in c["subjects"]) for c in record["conflicts"]] == [["U0001", "U0001-rights-0", "U0040"]]


def test_init_county_writes_a_county_that_checks_clean(tmp_path):
    target = tmp_path / "county"
    result = run("init", "--county", target)
    assert result.returncode == 0, result.stderr
    assert (target / "county.yaml").is_file() and (target / "scheme.yaml").is_file()
    assert sorted(p.name for p in target.iterdir() if p.is_dir()) == ["U01", "U02"]
    code, record = report(target / "county.yaml", "--fail-on", "info")
    assert code == 0 and record["conflicts"] == [] and record["indeterminate"] == []
    assert [row["verdict"] for row in record["county"]["units"]] == ["passed", "passed"]
    outcomes = {o["rule"]: o["status"] for o in record["outcomes"]}
    assert outcomes["CTY-001"] == outcomes["CTY-006"] == outcomes["CTY-013"] == "pass"
    again = run("init", "--county", target)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_a_county_is_checked_at_the_stage_asked_for_every_unit(tmp_path):
    folder = _county_copy(tmp_path)
    manifest = folder / "U02" / "submission.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert "detailed_plan:\n  id: DP-441803-07\n  status: approved" in text
    manifest.write_text(text.replace("detailed_plan:\n  id: DP-441803-07\n  status: approved",
                                     "detailed_plan:\n  id: DP-441803-07\n  status: draft"), encoding="utf-8")
    code, record = report(folder / "county.yaml")
    assert record["submission"]["stage"] == "joint_review" and not [c for c in record["conflicts"] if c["rule"] == "DOC-044"]
    code, record = report(folder / "county.yaml", "--stage", "supply")
    assert record["submission"]["stage"] == "supply"
    assert {row["unit"]: row["stage"] for row in record["county"]["units"]} == {"U01": "supply", "U02": "supply", "U03": "supply"}
    assert [c["unit"] for c in record["conflicts"] if c["rule"] == "DOC-044"] == ["U02"]
    refused = run("check", folder / "county.yaml", "--add", ROOT / "rules" / "doc.rule")
    assert refused.returncode == 2 and "--add" in refused.stderr and "Traceback" not in refused.stderr
