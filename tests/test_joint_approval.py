"""Joint approval as a record (issue 22), through the command line: each edit a reviewer tried on the clean
fixture ("What was seen") is a located conflict; the stage of the gate comes from the manifest or `--stage` and
the report names it; a submission without the new fields still loads and what its stage lacks is a conflict."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from rulecheck.cli import cli

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"


def eco(tmp_path: Path, edit=None) -> Path:
    """A copy of the clean eco-recreation fixture, its manifest changed by `edit(manifest)`."""
    folder = tmp_path / "eco"
    shutil.copytree(FIXTURES / "eco-recreation", folder)
    path = folder / "submission.yaml"
    if edit is not None:
        manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
        edit(manifest)
        path.write_text(yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def check(manifest: Path, *args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["check", str(manifest), "--format", "json", "--lang", "en", *args])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def conflicts_of(record: dict, rule: str) -> list[dict]:
    return [c for c in record["conflicts"] if c["rule"] == rule]


def assert_located(record: dict, rule: str, subject: str) -> dict:
    """`rule` raised a conflict naming `subject`, with the file and line it came from."""
    found = [c for c in conflicts_of(record, rule) if any(s["id"] == subject for s in c["subjects"])]
    assert found, (rule, subject, [(c["rule"], [s["id"] for s in c["subjects"]]) for c in record["conflicts"]])
    conflict = found[0]
    located = [s for s in conflict["subjects"] if s["id"] == subject][0]
    assert located["source"]["path"] and located["source"]["line"] > 0, located
    assert conflict["severity"] == "error" or rule in WARNINGS
    return conflict


WARNINGS = {"DOC-074"}


def package(manifest: dict, pid: str) -> dict:
    return next(p for p in manifest["unit_plan"]["packages"] if p["id"] == pid)


@pytest.mark.parametrize("stage", ["joint_review", "supply"])
def test_the_clean_fixtures_pass_at_both_stages(stage):
    for name in ("eco-recreation", "mine-land", "land-sea", "minimal"):
        code, record = check(FIXTURES / name / "submission.yaml", "--stage", stage)
        assert code == 0 and record["summary"]["verdict"] == "passed", (name, record["conflicts"][:3])
        assert record["submission"]["stage"] == stage


@pytest.mark.parametrize("part,rule", [("survey", "DOC-007"), ("design", "DOC-008"), ("assembly", "DOC-009")])
def test_a_hollow_program_part_counts_as_missing(tmp_path, part, rule):
    def edit(m):
        package(m, "PKG-A")["program"][part] = {}

    code, record = check(eco(tmp_path, edit))
    assert code == 1
    assert_located(record, rule, "PKG-A")


@pytest.mark.parametrize("part,rule", [("supply", "DOC-011"), ("finance", "DOC-012")])
def test_a_hollow_supply_or_finance_counts_as_missing(tmp_path, part, rule):
    def edit(m):
        package(m, "PKG-B")[part] = {}

    code, record = check(eco(tmp_path, edit))
    assert code == 1
    assert_located(record, rule, "PKG-B")


def test_the_assembly_holder_removed(tmp_path):
    code, record = check(eco(tmp_path, lambda m: package(m, "PKG-A")["program"]["assembly"].pop("holder")))
    assert code == 1
    assert "holder (missing)" in assert_located(record, "DOC-052", "PKG-A")["message"]


def test_an_approval_without_authority(tmp_path):
    code, record = check(eco(tmp_path, lambda m: package(m, "PKG-A")["program"]["approvals"][0].pop("authority")))
    assert code == 1
    assert_located(record, "DOC-053", "PKG-A/0301")


def test_a_forest_right_without_its_approval_entry(tmp_path):
    def edit(m):
        program = package(m, "PKG-A")["program"]
        program["approvals"] = [a for a in program["approvals"] if a["resource"] != "0301"]

    code, record = check(eco(tmp_path, edit))
    assert code == 1
    assert_located(record, "DOC-054", "R01")
    assert_located(record, "DOC-054", "R02")


def test_survey_and_design_dated_after_the_supply_start(tmp_path):
    def edit(m):
        program = package(m, "PKG-C")["program"]
        program["survey"]["date"] = dt.date(2026, 6, 20)
        program["design"]["date"] = dt.date(2026, 6, 25)

    code, record = check(eco(tmp_path, edit))
    assert code == 1
    conflict = assert_located(record, "DOC-064", "PKG-C")
    assert "2026-06-20" in conflict["message"] and "2026-06-01" in conflict["message"]  # both dates named
    assert_located(record, "DOC-061", "PKG-C")  # ② after the assembly deadline too


def test_each_step_out_of_order_names_both_dates(tmp_path):
    def edit(m):
        program = package(m, "PKG-B")["program"]
        program["survey"]["date"] = dt.date(2026, 1, 5)  # after ② (2025-12-15)
        program["approvals"][0]["date"] = dt.date(2026, 7, 1)  # before ③ deadline (2026-07-31)
        package(m, "PKG-B")["supply"]["start"] = dt.date(2026, 9, 10)  # after contract C-B starts (2026-09-01)

    code, record = check(eco(tmp_path, edit))
    assert code == 1
    assert {"2026-01-05", "2025-12-15"} <= set(assert_located(record, "DOC-060", "PKG-B")["message"].split()) | {
        w.strip(",.") for w in assert_located(record, "DOC-060", "PKG-B")["message"].split()}
    assert "2026-07-31" in assert_located(record, "DOC-062", "PKG-B/0901")["message"]
    conflict = assert_located(record, "DOC-063", "PKG-B")
    assert "2026-09-10" in conflict["message"] and "2026-09-01" in conflict["message"]


def test_survey_not_registered(tmp_path):
    code, record = check(eco(tmp_path, lambda m: package(m, "PKG-A")["program"]["survey"].update(registered=False)))
    assert code == 1
    assert "registered false" in assert_located(record, "DOC-050", "PKG-A")["message"]


def test_approvals_after_the_supply_start_without_a_contract(tmp_path):
    def edit(m):
        m["contracts"] = [c for c in m["contracts"] if c["package"] != "PKG-C"]
        package(m, "PKG-C")["program"]["approvals"][0]["date"] = dt.date(2026, 6, 15)  # supply starts 2026-06-01

    for stage in ("joint_review", "supply"):
        code, record = check(eco(tmp_path / stage, edit), "--stage", stage)
        assert code == 1
        conflict = assert_located(record, "DOC-048", "PKG-C/1001")
        assert "2026-06-15" in conflict["message"] and "2026-06-01" in conflict["message"]


def test_a_pending_approval_passes_before_joint_approval_but_not_before_supply(tmp_path):
    manifest = eco(tmp_path, lambda m: package(m, "PKG-A")["program"]["approvals"][0].update(status="pending"))
    code, record = check(manifest)
    assert not conflicts_of(record, "DOC-048")
    code, record = check(manifest, "--stage", "supply")
    assert code == 1
    assert_located(record, "DOC-048", "PKG-A/0301")


def test_the_government_share_removed(tmp_path):
    code, record = check(eco(tmp_path, lambda m: package(m, "PKG-A")["finance"].pop("government_share")))
    assert code == 1
    assert_located(record, "DOC-056", "PKG-A")


def test_all_revenue_to_one_owner_representative(tmp_path):
    def edit(m):
        package(m, "PKG-A")["revenue_sharing"] = [{"party": "清新区人民政府", "share": 100, "role": "owner_representative"}]

    code, record = check(eco(tmp_path, edit))
    assert code == 1
    assert_located(record, "DOC-057", "PKG-A")
    assert not conflicts_of(record, "DOC-025")  # v1's owner_representative still loads, as the legal one


def test_every_market_demand_removed(tmp_path):
    def edit(m):
        inventories = m["unit_plan"]["inventories"]
        inventories["demands"] = [d for d in inventories["demands"] if d["party"] != "market"]

    code, record = check(eco(tmp_path, edit), "--fail-on", "warning")
    assert code == 1
    assert_located(record, "DOC-074", "U03")


def test_a_conditions_limit_the_packages_exceed(tmp_path):
    def edit(m):
        for condition in m["unit_plan"]["inventories"]["conditions"]:
            if condition["id"] == "CN-02":
                condition["limit"] = 0

    code, record = check(eco(tmp_path, edit))
    assert code == 1
    assert assert_located(record, "DOC-072", "CN-02")["actual"] == "2500"  # 1,800 + 700 visitors a day


def test_a_resource_quantity_far_beyond_the_unit(tmp_path, monkeypatch):
    # the resources layer is a GeoJSON file: rewrite one quantity there
    path = eco(tmp_path)
    layer = path.parent / "layers" / "resources.geojson"
    data = json.loads(layer.read_text(encoding="utf-8"))
    for feature in data["features"]:
        if feature["properties"]["id"] == "RS-06":
            feature["properties"]["quantity"] = 99999
    layer.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    code, record = check(path)
    assert code == 1
    assert_located(record, "DOC-073", "RS-06")


def test_a_package_term_longer_than_its_rights(tmp_path):
    code, record = check(eco(tmp_path, lambda m: package(m, "PKG-C")["supply"].update(term_years=70)))
    assert code == 1
    assert_located(record, "DOC-055", "PKG-C")


def test_a_package_awarded_by_agreement(tmp_path):
    def edit(m):
        package(m, "PKG-A")["supply"]["award"] = "agreement"
        next(c for c in m["contracts"] if c["id"] == "C-A")["award"] = "agreement"

    code, record = check(eco(tmp_path, edit))
    assert code == 1
    conflict = assert_located(record, "DOC-070", "PKG-A")
    assert "§4.2" in conflict["basis"]
    assert_located(record, "DOC-071", "C-A")


def test_a_draft_detailed_plan_at_the_supply_stage(tmp_path):
    def edit(m):
        m["detailed_plan"]["status"] = "draft"
        m["detailed_plan"]["approval"]["status"] = "draft"

    manifest = eco(tmp_path, edit)
    code, record = check(manifest)  # before the joint approval a draft is what is reviewed
    assert code == 0 and record["submission"]["stage"] == "joint_review"
    code, record = check(manifest, "--stage", "supply")
    assert code == 1 and record["submission"]["stage"] == "supply"
    assert_located(record, "DOC-044", "DP-441803-07")


def test_the_stage_in_the_manifest_and_the_command_line_overrides_it(tmp_path):
    def edit(m):
        m["submission"]["stage"] = "supply"
        m["detailed_plan"]["status"] = "draft"

    manifest = eco(tmp_path, edit)
    code, record = check(manifest)
    assert code == 1 and record["submission"]["stage"] == "supply" and conflicts_of(record, "DOC-044")
    code, record = check(manifest, "--stage", "joint_review")
    assert code == 0 and record["submission"]["stage"] == "joint_review"
    text = CliRunner().invoke(cli, ["check", str(manifest), "--lang", "en", "--no-color"])
    assert "Stage checked: before supply (supply)" in text.output


def test_a_misspelt_stage_is_an_input_error(tmp_path):
    manifest = eco(tmp_path, lambda m: m["submission"].update(stage="suply"))
    result = CliRunner().invoke(cli, ["check", str(manifest)])
    assert result.exit_code == 2 and "stage" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["check", str(FIXTURES / "minimal" / "submission.yaml"), "--stage", "suply"])
    assert result.exit_code == 2


def test_a_submission_without_the_new_fields_loads_and_its_stage_names_what_it_lacks(tmp_path):
    def edit(m):
        del m["unit_plan"]["approval"], m["unit_plan"]["goals"]
        m["detailed_plan"] = {k: v for k, v in m["detailed_plan"].items() if k not in ("approval", "joint_review")}
        m["detailed_plan"]["status"] = "draft"
        for p in m["unit_plan"]["packages"]:
            del p["program"]["approval"], p["loads"]
            for key in ("boundary_surveyed", "facts"):
                del p["program"]["survey"][key]
            del p["program"]["design"]["controls_applied"]

    manifest = eco(tmp_path, edit)
    code, record = check(manifest)
    assert code == 1
    assert_located(record, "DOC-040", "U03")
    assert_located(record, "DOC-041", "DP-441803-07")
    assert_located(record, "DOC-042", "DP-441803-07")
    assert_located(record, "DOC-047", "PKG-A")
    assert not conflicts_of(record, "DOC-044")  # a draft is fine before the joint approval
    code, record = check(manifest, "--stage", "supply")
    assert code == 1
    for rule, subject in (("DOC-043", "U03"), ("DOC-044", "DP-441803-07"), ("DOC-046", "PKG-B"), ("DOC-047", "PKG-C")):
        assert_located(record, rule, subject)
    assert record["summary"]["indeterminate"] == 0  # what is lacking is a conflict, not an undecided check


def test_rulecheck_init_writes_a_submission_that_passes_at_both_stages(tmp_path):
    target = tmp_path / "new"
    result = CliRunner().invoke(cli, ["init", str(target)])
    assert result.exit_code == 0, result.output
    for stage in ("joint_review", "supply"):
        code, record = check(target / "submission.yaml", "--stage", stage)
        assert code == 0 and not record["conflicts"], (stage, [(c["rule"], c["message"]) for c in record["conflicts"]])


def test_the_library_takes_the_stage_for_one_run_and_leaves_the_submission_as_loaded(tmp_path):
    import rulecheck

    manifest = eco(tmp_path, lambda m: m["detailed_plan"].update(status="draft"))
    submission = rulecheck.load_submission(manifest)
    record = rulecheck.check(submission, select=["DOC-044"], stage="supply")
    assert record["submission"]["stage"] == "supply" and [c["rule"] for c in record["conflicts"]] == ["DOC-044"]
    assert submission.submission.stage == "joint_review"
    record = rulecheck.check(submission, select=["DOC-044"])
    assert record["submission"]["stage"] == "joint_review" and record["conflicts"] == []


def test_batch_takes_the_stage_for_every_submission(tmp_path):
    def edit(m):
        m["detailed_plan"]["status"] = "draft"

    manifest = eco(tmp_path / "draft", edit)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["batch", str(manifest.parent.parent), "--output-dir", str(out), "--jobs", "1",
                                      "--lang", "en", "--stage", "supply", "--quiet"])
    assert result.exit_code == 1, result.output
    (report,) = [p for p in out.glob("*.json") if p.name != "summary.json"]
    record = json.loads(report.read_text(encoding="utf-8"))
    assert record["submission"]["stage"] == "supply" and conflicts_of(record, "DOC-044")
    _, alone = check(manifest, "--stage", "supply")
    assert [c["rule"] for c in record["conflicts"]] == [c["rule"] for c in alone["conflicts"]]
    result = CliRunner().invoke(cli, ["batch", str(manifest.parent.parent), "--output-dir", str(tmp_path / "out2"),
                                      "--jobs", "1", "--lang", "en", "--quiet"])
    assert result.exit_code == 0, result.output
