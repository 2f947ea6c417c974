"""A gate must not pass by accident: unknown rules in --select/--ignore/waivers are input errors, a run that
decided nothing never says PASSED, --fail-on indeterminate, the summary counts rules by outcome, and an overlay
right without a land use loads and checks clean (bundle-format.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
import shapely
import xmlschema
from click.testing import CliRunner

import rulecheck
from rulecheck.cli import cli
from rulecheck.diagnostics import InputError

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
CLEAN = FIXTURES / "eco-recreation" / "submission.yaml"
DEFECTS = FIXTURES / "eco-recreation-defects" / "submission.yaml"
SCHEMAS = ROOT.parent / "shared" / "schemas"
if not SCHEMAS.exists():
    SCHEMAS = Path("/work/shared/schemas")
EXE = Path(sys.executable).with_name("rulecheck")


def run(*args) -> SimpleNamespace:
    """`rulecheck ARGS` in-process (as the console script runs it), run from the project folder."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def test_the_console_script_exits_2_on_an_unknown_select():
    result = subprocess.run([str(EXE), "check", str(CLEAN), "--select", "XYZ"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2 and "hint: " in result.stderr and result.stdout == ""


@pytest.fixture(scope="module")
def rules():
    return rulecheck.load_rules()


@pytest.fixture(scope="module")
def clean():
    return rulecheck.load_submission(CLEAN)


# ---- unknown rules are input errors ---------------------------------------------------------------


@pytest.mark.parametrize("option, value, hint", [
    ("--select", "XYZ", "a family: GEO, REF, LAY, IND, DUT, SUP, FIN"),
    ("--select", "IND-999", "did you mean IND-"),
    ("--select", "SUP-17", "did you mean SUP-017"),
    ("--ignore", "LAYY", "did you mean LAY"),
])
def test_unknown_rule_or_family_exits_2_with_a_suggestion(option, value, hint):
    result = run("check", CLEAN, option, value, "--lang", "en")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""  # nothing was checked, nothing passed
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"<command line>: error: {option}: ") and value in first
    assert hint in result.stderr
    assert "Traceback" not in result.stderr


def test_a_contract_family_with_no_rule_loaded_exits_2():
    # DOC is a family of the contract; with only the GEO pack loaded, selecting it would check nothing
    result = run("check", CLEAN, "--rules", ROOT / "rules" / "geo.rule", "--select", "DOC", "--lang", "en")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == "" and "the loaded packs have the families GEO" in result.stderr


def test_every_unknown_pattern_is_reported_at_once():
    result = run("check", CLEAN, "--select", "IND,XYZ", "--ignore", "IND-999")
    assert result.returncode == 2
    assert "--select: no rule or family 'XYZ'" in result.stderr
    assert "--ignore: no rule or family 'IND-999'" in result.stderr


def test_ind_hint_names_ids_of_the_family(rules):
    with pytest.raises(InputError) as caught:
        rules.select(["IND-999"])
    hint = caught.value.diagnostics[0].hint
    ind = sorted(r.id for r in rules.rules if r.family == "IND")
    assert f"family IND has {len(ind)} rules, {ind[0]} to {ind[-1]}" in hint


def test_select_is_case_insensitive_and_a_family_may_end_with_a_dash(rules):
    ind = [r.id for r in rules.rules if r.family == "IND"]
    assert ind
    assert [r.id for r in rules.select(["ind"])] == ind
    assert [r.id for r in rules.select(["IND-"])] == ind
    assert [r.id for r in rules.select(["ind"], ["ind-002"])] == [i for i in ind if i != "IND-002"]
    # a partial id is not a prefix: IND-00 names no rule
    with pytest.raises(InputError):
        rules.select(["IND-00"])


def test_select_ind_on_the_command_line_runs_the_ind_family():
    result = run("check", CLEAN, "--select", "ind", "--format", "json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    ran = {entry["id"] for entry in record["rules"]["catalog"]}
    assert ran and all(rule_id.startswith("IND-") for rule_id in ran)
    assert record["summary"]["rules_run"] == len(ran)


def test_api_raises_the_input_error_for_unknown_select(rules, clean):
    with pytest.raises(InputError) as caught:
        rulecheck.check(clean, rules, select=["XYZ"])
    diagnostic = caught.value.diagnostics[0]
    assert diagnostic.field == "select" and "XYZ" in diagnostic.message
    with pytest.raises(InputError) as caught:
        rulecheck.check(clean, rules, ignore=["FIN-999"])
    assert caught.value.diagnostics[0].field == "ignore"
    # a single pattern given as a string is one pattern, not its letters
    record = rulecheck.check(clean, rules, select="SUP-005")
    assert [entry["id"] for entry in record["rules"]["catalog"]] == ["SUP-005"]


WAIVERS = """
    - rule: IND-002
      subjects: [C-A/R06]
      reason: 已审议
      approver: 李四
      basis: 清规委〔2026〕3号
      expires: 2099-12-31
    - rule: {rule}
      subjects: [P07]
      reason: 已审议
      approver: 李四
      basis: 清规委〔2026〕3号
      expires: 2099-12-31
"""


@pytest.mark.parametrize("rule, hint", [("IND-999", "did you mean IND-"), ("ind-002", "did you mean IND-002?")])
def test_waiver_for_an_unknown_rule_exits_2_located(tmp_path, rule, hint):
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(textwrap.dedent(WAIVERS.format(rule=rule)).lstrip(), encoding="utf-8")
    result = run("check", DEFECTS, "--waivers", waivers)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert f"{waivers}:7:9: error: [1].rule: no rule '{rule}' in the loaded rule packs" in result.stderr
    assert hint in result.stderr


# ---- a run that decided nothing does not pass -----------------------------------------------------

# a pack whose one rule reads a field no right of the clean fixture has: every binding undecided, on any date
# (a date before any law in force, which made runs decide nothing before, is now refused: test_as_of_bounds.py)
UNDECIDED_PACK = """rule LAY-950
  title zh "海域用途示例" en "Sea use example"
  severity error
  basis "示例：审查惯例（非正式文件）"
  for each right in unit_plan.rights
  require right.sea_use == tourism
  message zh "权益 {right}" en "Right {right}"
"""


@pytest.fixture(scope="module")
def undecided(tmp_path_factory) -> Path:
    pack = tmp_path_factory.mktemp("undecided") / "undecided.rule"
    pack.write_text(UNDECIDED_PACK, encoding="utf-8")
    return pack


def test_a_run_deciding_nothing_is_undecided_in_every_format(tmp_path, undecided):
    result = run("check", CLEAN, "--rules", undecided, "--lang", "en",
                 "--output-dir", tmp_path, *[f"--format={fmt}" for fmt in
                                             ("text", "json", "sarif", "junit", "markdown", "html")])
    assert result.returncode == 1, result.stdout + result.stderr
    assert "PASSED" not in result.stdout and result.stdout.rstrip().endswith("- UNDECIDED")
    record = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    summary = record["summary"]
    assert summary["passed"] is False and summary["verdict"] == "undecided"
    assert summary["rules_passed"] == summary["rules_failed"] == 0
    assert summary["rules_not_applicable"] + summary["rules_indeterminate"] == summary["rules_run"] > 0
    assert summary["indeterminate"] == len(record["indeterminate"]) > 0

    text = (tmp_path / "report.txt").read_text(encoding="utf-8")
    assert "PASSED" not in text and text.splitlines()[-1].endswith("- UNDECIDED")

    sarif = json.loads((tmp_path / "report.sarif").read_text(encoding="utf-8"))
    jsonschema.validate(sarif, json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")))
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["properties"]["verdict"] == "undecided"
    assert invocation["toolExecutionNotifications"][0]["level"] == "error"

    junit = (tmp_path / "report.xml").read_text(encoding="utf-8")
    xmlschema.XMLSchema(str(SCHEMAS / "junit.xsd")).validate(junit)
    suites = ET.fromstring(junit)
    assert sum(int(s.get("failures")) for s in suites) == 1  # every rule skipped would read as green
    assert suites.find(".//failure").get("type") == "undecided"

    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| Result | UNDECIDED |" in markdown and "PASSED" not in markdown
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'class="verdict undecided"' in html and "PASSED" not in html


def test_an_undecided_run_is_an_error_in_ci_formats(tmp_path, undecided):
    result = run("check", CLEAN, "--rules", undecided, "--lang", "en", "--output-dir", tmp_path,
                 "--format", "github", "--format", "gitlab")
    assert result.returncode == 1
    github = (tmp_path / "report.github.txt").read_text(encoding="utf-8").splitlines()
    errors = [line for line in github if line.startswith("::error ")]
    assert len(errors) == 1 and "title=rulecheck UNDECIDED::Nothing decided" in errors[0]
    gitlab = json.loads((tmp_path / "report.gitlab.json").read_text(encoding="utf-8"))
    assert [issue["check_name"] for issue in gitlab] == ["UNDECIDED"]
    assert gitlab[0]["severity"] == "critical" and gitlab[0]["description"].endswith("- UNDECIDED")


def test_as_of_1900_does_not_say_passed_and_fails_on_indeterminate(undecided):
    # no law of the register was in force in 1900: an input error, never a verdict
    result = run("check", CLEAN, "--as-of", "1900-01-01", "--lang", "en")
    assert result.returncode == 2 and result.stdout == "", result.stdout
    assert "as_of 1900-01-01 is before" in result.stderr and "PASSED" not in result.stderr
    strict = run("check", CLEAN, "--rules", undecided, "--fail-on", "indeterminate", "--format", "json")
    assert strict.returncode == 1, strict.stderr
    summary = json.loads(strict.stdout)["summary"]
    assert summary["passed"] is False and summary["verdict"] == "failed" and summary["fail_on"] == "indeterminate"
    assert summary["indeterminate"] > 0 and summary["error"] == 0


def test_fail_on_indeterminate_passes_a_clean_fixture_and_fails_on_any_conflict():
    result = run("check", CLEAN, "--fail-on", "indeterminate", "--lang", "en")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("- PASSED")
    assert run("check", DEFECTS, "--fail-on", "indeterminate", "--quiet").returncode == 1


def test_fail_on_never_reports_undecided_but_exits_0(undecided):
    result = run("check", CLEAN, "--rules", undecided, "--fail-on", "never", "--lang", "en")
    assert result.returncode == 0
    assert result.stdout.rstrip().endswith("- UNDECIDED")


def test_ignoring_every_rule_runs_nothing_and_is_undecided(rules):
    families = sorted({r.family for r in rules.rules})
    result = run("check", CLEAN, "--ignore", ",".join(families), "--format", "json")
    assert result.returncode == 1
    summary = json.loads(result.stdout)["summary"]
    assert summary["rules_run"] == 0 and summary["verdict"] == "undecided" and summary["passed"] is False


# ---- the summary counts rules by outcome ----------------------------------------------------------


@pytest.mark.parametrize("submission", [CLEAN, DEFECTS])
def test_json_summary_counts_rules_by_outcome(submission):
    result = run("check", submission, "--format", "json")
    record = json.loads(result.stdout)
    summary = record["summary"]
    statuses = [outcome["status"] for outcome in record["outcomes"]]
    for status, key in (("pass", "rules_passed"), ("fail", "rules_failed"),
                        ("not_applicable", "rules_not_applicable"), ("indeterminate", "rules_indeterminate")):
        assert summary[key] == statuses.count(status)
    assert sum(summary[k] for k in ("rules_passed", "rules_failed", "rules_not_applicable", "rules_indeterminate")) \
        == summary["rules_run"] == len(record["rules"]["catalog"])
    assert summary["rules_failed"] == len({c["rule"] for c in record["conflicts"]})
    # the contract's keys are still there, with their types
    assert {"error", "warning", "info", "passed"} <= set(summary) and isinstance(summary["passed"], bool)
    assert summary["verdict"] == ("passed" if submission == CLEAN else "failed")
    assert (result.returncode == 0) == summary["passed"]


def test_text_line_says_how_many_rules_passed_failed_were_not_applicable_and_indeterminate():
    record = json.loads(run("check", DEFECTS, "--format", "json").stdout)
    s = record["summary"]
    text = run("check", DEFECTS, "--lang", "en").stdout.splitlines()[-1]
    assert (f"({s['rules_run']} rules run: {s['rules_passed']} passed, {s['rules_failed']} failed, "
            f"{s['rules_not_applicable']} not applicable, {s['rules_indeterminate']} indeterminate) - FAILED") in text
    zh = run("check", DEFECTS).stdout.splitlines()[-1]
    assert f"已运行 {s['rules_run']} 条规则：通过 {s['rules_passed']}，有冲突 {s['rules_failed']}" in zh


# ---- overlays may omit land_use -------------------------------------------------------------------


def _copy_with_rights(tmp_path: Path, change) -> Path:
    folder = tmp_path / "bundle"
    shutil.copytree(FIXTURES / "eco-recreation", folder)
    path = folder / "layers" / "rights.geojson"
    data = json.loads(path.read_text(encoding="utf-8"))
    for feature in data["features"]:
        change(feature["properties"])
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return folder / "submission.yaml"


def test_overlay_without_land_use_loads_and_checks_clean(tmp_path):
    def drop_overlay_land_use(props):
        if props.get("overlay"):
            assert props["kind"] == "concession"
            del props["land_use"]

    manifest = _copy_with_rights(tmp_path, drop_overlay_land_use)
    submission = rulecheck.load_submission(manifest)
    overlays = [r for r in submission.unit_plan.rights if r.overlay]
    assert overlays and all(r.land_use is None for r in overlays)
    result = run("check", manifest, "--format", "json")
    record = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert record["conflicts"] == [] and record["indeterminate"] == []
    assert record["summary"]["verdict"] == "passed"


def test_right_that_is_not_an_overlay_still_needs_a_land_use(tmp_path):
    def drop_r06_land_use(props):
        if props["id"] == "R06":
            del props["land_use"]

    manifest = _copy_with_rights(tmp_path, drop_r06_land_use)
    result = run("check", manifest)
    assert result.returncode == 2
    line = next(line for line in result.stderr.splitlines() if "land_use" in line)
    assert "layers/rights.geojson:" in line and "missing required field 'land_use'" in line and "R06" in line


# ---- an undecided filter condition does not outlive the filter's other conditions --------------------


def test_an_item_undecided_on_its_own_is_not_undecided_where_the_filter_excludes_it(tmp_path, clean):
    pack = tmp_path / "probe.rule"
    pack.write_text(textwrap.dedent("""
        rule IND-901
          title zh "探针规则" en "Probe rule"
          severity error
          basis "《城乡规划法》第三十八条" "规划条件"
          tags test
          for each right in unit_plan.rights where right.kind == construction_land_use
          for each parcel in detailed_plan.parcels where intersects(right, parcel) and parcel.far_max > 0
          require parcel.far_max <= 5
          message zh "地块 {parcel}" en "Parcel {parcel}"
        """).lstrip(), encoding="utf-8")
    record = rulecheck.check(clean, rulecheck.load_rules([pack]))
    parcels = {p.id: p.geometry for p in clean.detailed_plan.parcels}
    rights = {r.id: r.geometry for r in clean.unit_plan.rights}
    # a parcel without far_max leaves the rule undecided only for the rights it touches
    without_far = {pid for pid, p in ((p.id, p) for p in clean.detailed_plan.parcels) if p.far_max is None}
    expected = sorted((rid, pid) for rid, r in ((r.id, r) for r in clean.unit_plan.rights)
                      if r.kind.value == "construction_land_use"
                      for pid in without_far if shapely.intersects(rights[rid], parcels[pid]))
    found = sorted((entry["subjects"][0]["id"], entry["missing"].rsplit(" ", 1)[-1]) for entry in record["indeterminate"])
    assert found == expected
    assert len(found) < len(without_far) * 3  # not every parcel without far_max for every right



# ---- the verdict, from the record alone ------------------------------------------------------------


def _record(statuses, conflicts=(), indeterminate=0, fail_on="error"):
    return {"conflicts": [{"rule": "IND-002", "severity": severity, "waiver": None} for severity in conflicts],
            "outcomes": [{"rule": f"R-{i}", "status": status} for i, status in enumerate(statuses)],
            "indeterminate": [{"rule": "R-0", "subjects": [], "missing": "x"}] * indeterminate,
            "summary": {"fail_on": fail_on}}


@pytest.mark.parametrize("statuses, conflicts, indeterminate, fail_on, verdict, passed", [
    (["pass", "not_applicable"], (), 0, "error", "passed", True),
    (["pass", "indeterminate"], (), 2, "error", "incomplete", True),
    (["pass", "indeterminate"], (), 2, "indeterminate", "failed", False),
    (["not_applicable", "indeterminate"], (), 2, "error", "undecided", False),
    (["not_applicable"], (), 0, "never", "undecided", False),
    ([], (), 0, "error", "undecided", False),
    (["fail"], ("warning",), 0, "error", "passed", True),
    (["fail"], ("warning",), 0, "warning", "failed", False),
    (["fail"], ("info",), 0, "indeterminate", "failed", False),
])
def test_verdict(statuses, conflicts, indeterminate, fail_on, verdict, passed):
    from rulecheck.report import render
    from rulecheck.waivers import recount

    record = recount(_record(statuses, conflicts, indeterminate, fail_on))
    summary = record["summary"]
    assert (summary["verdict"], summary["passed"]) == (verdict, passed)
    assert summary["rules_passed"] == statuses.count("pass") and summary["rules_failed"] == statuses.count("fail")
    line = render(record, "text", lang="en").splitlines()[-1]
    assert line.endswith(" - " + verdict.upper())
    assert ("PASSED" in line) == (verdict == "passed")


def test_fail_on_never_exits_0_but_a_report_with_errors_does_not_say_passed():
    result = run("check", DEFECTS, "--fail-on", "never", "--lang", "en")
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("- FAILED") and "PASSED" not in result.stdout.splitlines()[-1]
