"""Aggregates never drop a record (issue 19, item 4): an absent value in list, distinct, sum, min, max or a
counted value makes the binding indeterminate, naming the record and the field, unless the rule filters it
out with `where present(...)`. Checked through the CLI on a real fixture with a province field some parcels
lack, with the planner's indexes on and off."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from rulecheck.cli import cli
from rulecheck.dsl.plan import PlanOptions, planning

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "eco-recreation"

# P03 (forest, 0301) has neither field; every other parcel has both
PACK = '''
field detailed_plan.parcels.village_code: text "村代码" "Village code"
field detailed_plan.parcels.appraised_value: number wan_yuan "评估价" "Appraised value"

rule LAY-981
  title zh "三宗林地同属一村" en "Three forest parcels lie in one village"
  severity error
  basis "示例：审查惯例（非正式文件）"
  require count(distinct(p.village_code for p in detailed_plan.parcels where p.id in ["P01", "P02", "P03"])) <= 1
  message zh "多个村" en "several villages"

rule LAY-982
  title zh "列表" en "list"
  severity error
  basis "示例：审查惯例（非正式文件）"
  require len(list(p.village_code for p in detailed_plan.parcels where p.id in ["P01", "P02", "P03"])) <= 2
  message zh "列表" en "list"

rule LAY-983
  title zh "计数" en "count"
  severity error
  basis "示例：审查惯例（非正式文件）"
  require count(p.village_code for p in detailed_plan.parcels where p.id in ["P01", "P02", "P03"]) <= 2
  message zh "计数" en "count"

rule LAY-984
  title zh "合计" en "sum"
  severity error
  basis "示例：审查惯例（非正式文件）"
  require sum(p.appraised_value for p in detailed_plan.parcels where p.id in ["P01", "P02", "P03"]) <= 250 wan_yuan
  message zh "合计" en "sum"

rule LAY-985
  title zh "最小" en "min"
  severity error
  basis "示例：审查惯例（非正式文件）"
  require min(p.appraised_value for p in detailed_plan.parcels where p.id in ["P01", "P02", "P03"]) >= 100 wan_yuan
  message zh "最小" en "min"

rule LAY-986
  title zh "最大" en "max"
  severity error
  basis "示例：审查惯例（非正式文件）"
  require max(p.appraised_value for p in detailed_plan.parcels where p.id in ["P01", "P02", "P03"]) <= 100 wan_yuan
  message zh "最大" en "max"

# joined by land use through the hash index (one value per group of parcels, memoised per group)
rule LAY-987
  title zh "同一用途的地块同属一村" en "Parcels of one land use lie in one village"
  severity error
  basis "示例：审查惯例（非正式文件）"
  for each parcel in detailed_plan.parcels
  require count(distinct(p.village_code for p in detailed_plan.parcels where p.land_use == parcel.land_use)) <= 1
  message zh "多个村" en "several villages"

# the same, saying that a parcel without a code is not counted: decided
rule LAY-988
  title zh "有村代码的林地同属一村" en "Forest parcels with a village code lie in one village"
  severity error
  basis "示例：审查惯例（非正式文件）"
  require count(distinct(p.village_code for p in detailed_plan.parcels
                         where p.id in ["P01", "P02", "P03"] and present(p.village_code))) <= 1
      and sum(p.appraised_value for p in detailed_plan.parcels
              where p.id in ["P01", "P02", "P03"] and present(p.appraised_value)) <= 250 wan_yuan
      and len(list(p.village_code for p in detailed_plan.parcels
                   where p.id in ["P01", "P02", "P03"] and present(p.village_code))) == 2
  message zh "多个村" en "several villages"
'''


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("agg") / "bundle"
    shutil.copytree(FIXTURE, folder)
    layer = folder / "layers" / "parcels.geojson"
    data = json.loads(layer.read_text(encoding="utf-8"))
    for feature in data["features"]:
        if feature["properties"]["id"] != "P03":
            feature["properties"]["village_code"] = "V1"
            feature["properties"]["appraised_value"] = 100
    layer.write_text(json.dumps(data), encoding="utf-8")
    (folder.parent / "agg.rule").write_text(PACK, encoding="utf-8")
    return folder


def _run(bundle: Path, monkeypatch, *, indexes: bool) -> tuple[int, dict]:
    out = bundle.parent / f"report-{indexes}.json"
    with planning(PlanOptions(hash_joins=indexes, pair_conditions=indexes, local_keys=indexes)):
        result = CliRunner().invoke(cli, ["check", str(bundle / "submission.yaml"), "--rules", str(bundle.parent / "agg.rule"),
                                          "--format", "json", "--output", str(out), "--lang", "en"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.parametrize("indexes", [True, False], ids=["planned", "every-pair"])
def test_an_absent_value_makes_each_aggregate_indeterminate_naming_the_record(bundle, monkeypatch, indexes):
    code, report = _run(bundle, monkeypatch, indexes=indexes)
    status = {o["rule"]: o["status"] for o in report["outcomes"]}
    missing = {}
    for item in report["indeterminate"]:
        missing.setdefault(item["rule"], set()).add(item["missing"])
    # distinct gave two equal values and passed; list and count dropped or counted P03; now each is undecided
    for rule, field in (("LAY-981", "village_code"), ("LAY-982", "village_code"), ("LAY-983", "village_code"),
                        ("LAY-984", "appraised_value"), ("LAY-985", "appraised_value"), ("LAY-986", "appraised_value")):
        assert status[rule] == "indeterminate", (rule, status[rule])
        assert missing[rule] == {f"{field} of P03"}, (rule, missing.get(rule))
    # the filter present(...) says the absent one does not count: decided, and it holds
    assert status["LAY-988"] == "pass"
    assert report["summary"]["verdict"] == "incomplete"  # never "passed" with undecided results


@pytest.mark.parametrize("indexes", [True, False], ids=["planned", "every-pair"])
def test_a_join_through_the_index_is_undecided_for_the_group_with_the_absent_value_only(bundle, monkeypatch, indexes):
    _, report = _run(bundle, monkeypatch, indexes=indexes)
    undecided = sorted(s["id"] for i in report["indeterminate"] if i["rule"] == "LAY-987" for s in i["subjects"])
    forest = ["P01", "P02", "P03", "P05", "P17", "P20"]  # the parcels of 0301, P03 among them
    assert undecided == forest
    assert {i["missing"] for i in report["indeterminate"] if i["rule"] == "LAY-987"} == {"village_code of P03"}
    outcome = next(o for o in report["outcomes"] if o["rule"] == "LAY-987")
    assert outcome["failed"] == 0 and outcome["checked"] == 21 and outcome["indeterminate"] == len(forest)


def test_the_planned_and_unplanned_reports_agree(bundle, monkeypatch):
    _, planned = _run(bundle, monkeypatch, indexes=True)
    _, scanned = _run(bundle, monkeypatch, indexes=False)
    for key in ("conflicts", "indeterminate", "outcomes"):
        assert planned[key] == scanned[key]


def test_the_text_report_names_the_record_and_field(bundle):
    result = CliRunner().invoke(cli, ["check", str(bundle / "submission.yaml"), "--rules", str(bundle.parent / "agg.rule"),
                                      "--select", "LAY-981", "--lang", "en", "--no-color"])
    assert result.exit_code == 1, result.output
    assert "LAY-981: missing village_code of P03" in result.output
    assert "PASSED" not in result.output
