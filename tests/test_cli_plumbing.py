"""CLI plumbing: argument errors exit 2, --format/--output pairing, exit statuses, located errors, init."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from click.testing import CliRunner

import rulecheck
from conftest import clean_record, sample_record
from rulecheck.cli import cli
from rulecheck.diagnostics import Diagnostic, InputError
from rulecheck.model import submission as loader  # load_submission: the manifest, its layers and its scheme


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def engine(monkeypatch):
    """Stand-ins for the engine's public API, recording what the CLI asked of them."""
    calls: dict = {"record": sample_record()}

    def load_submission(path):
        if "broken" in str(path):
            raise InputError([Diagnostic(str(path), "expected a mapping", line=3, column=1, field="unit_plan")])
        calls["submission"] = path
        return SimpleNamespace(path=path)

    def load_rules(paths=None, params=None):
        calls["rules"] = (paths, params)
        return SimpleNamespace(rules=[], catalog=lambda: copy.deepcopy(calls["record"]["rules"]["catalog"]),
                               select=lambda select, ignore, **where: [])

    def check(submission, rules=None, **options):
        calls["options"] = options
        record = copy.deepcopy(calls["record"])
        if not options["with_layers"]:
            record.pop("layers", None)
        return record

    monkeypatch.setattr(rulecheck, "load_submission", load_submission, raising=False)
    monkeypatch.setattr(rulecheck, "load_rules", load_rules, raising=False)
    monkeypatch.setattr(rulecheck, "check", check, raising=False)
    return calls


def test_default_is_the_text_report_on_stdout_and_exit_1_on_errors(runner, engine):
    result = runner.invoke(cli, ["check", "sub.yaml"])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "2 个错误，1 个警告，1 个已豁免（已运行 5 条规则：通过 1，有冲突 4，不适用 0，无法判定 0） - 未通过"
    assert engine["options"]["fail_on"] == "error" and engine["options"]["with_layers"] is False
    assert "\x1b[" not in result.output  # no colour when not a terminal


def test_options_reach_the_engine(runner, engine, tmp_path):
    result = runner.invoke(cli, ["check", "sub.yaml", "--rules", "a.rule", "--rules", "b", "--params", "p.rule",
                                 "--as-of", "2025-12-31", "--select", "IND,LAY-004", "--select", "SUP",
                                 "--ignore", "IND-005", "--fail-on", "warning", "--lang", "en", "--explain",
                                 "--waivers", "w.yaml", "--format", "html", "--output", str(tmp_path / "r.html")])
    assert result.exit_code == 1, result.output
    assert engine["rules"] == (["a.rule", "b"], ["p.rule"])
    options = engine["options"]
    assert str(options["as_of"]) == "2025-12-31"
    assert options["select"] == ["IND", "LAY-004", "SUP"] and options["ignore"] == ["IND-005"]
    assert (options["fail_on"], options["lang"], options["explain"], options["waivers"]) == ("warning", "en", True, "w.yaml")
    assert options["with_layers"] is True
    assert result.output == "2 errors, 1 warning, 1 waived (5 rules run: 1 passed, 4 failed, 0 not applicable, 0 indeterminate) - FAILED\n"  # the verdict, since no report went to stdout


def test_nth_format_goes_to_nth_output(runner, engine, tmp_path):
    out_json, out_sarif = tmp_path / "r.json", tmp_path / "sub" / "r.sarif"
    result = runner.invoke(cli, ["check", "sub.yaml", "--format", "json", "--format", "sarif", "--format", "text",
                                 "--output", str(out_json), "--output", str(out_sarif), "--output", "-"])
    assert result.exit_code == 1, result.output
    assert json.loads(out_json.read_text(encoding="utf-8"))["submission"]["id"] == "QY-U03-2026"
    assert json.loads(out_sarif.read_text(encoding="utf-8"))["version"] == "2.1.0"
    assert "IND-002" in result.output and result.output.endswith("未通过\n")


def test_output_dir_writes_report_ext_per_format(runner, engine, tmp_path):
    result = runner.invoke(cli, ["check", "sub.yaml", "--output-dir", str(tmp_path / "out"), "--format", "junit",
                                 "--format", "markdown", "--format", "geojson", "--quiet"])
    assert result.exit_code == 1 and result.output == ""
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.geojson", "report.md", "report.xml"]


@pytest.mark.parametrize("args, message", [
    (["--format", "json", "--format", "text"], "several --format need an --output each"),
    (["--format", "json", "--output", "a", "--output", "b"], "1 --format but 2 --output"),
    (["--format", "json", "--output", "a", "--output-dir", "d"], "either --output"),
    (["--format", "json", "--format", "text", "--output", "-", "--output", "-"], "only one format"),
    (["--format", "pdf"], "Invalid value for '--format'"),
    (["--fail-on", "fatal"], "Invalid value for '--fail-on'"),
    (["--as-of", "2026-02-30"], "Invalid value for '--as-of'"),
    (["--lang", "fr"], "Invalid value for '--lang'"),
])
def test_argument_errors_exit_2_before_loading_anything(runner, engine, args, message):
    result = runner.invoke(cli, ["check", "sub.yaml", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "submission" not in engine  # nothing was read


def test_missing_argument_exits_2(runner):
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 2 and "Missing argument 'SUBMISSION'" in result.output


def test_unreadable_input_prints_located_diagnostics_and_exits_2(runner, engine):
    result = runner.invoke(cli, ["check", "broken.yaml"])
    assert result.exit_code == 2
    assert result.output == "broken.yaml:3:1: error: unit_plan: expected a mapping\n"
    assert "Traceback" not in result.output


def test_fail_on_and_clean_runs_exit_0(runner, engine):
    engine["record"] = clean_record()
    result = runner.invoke(cli, ["check", "sub.yaml", "--lang", "en"])
    assert result.exit_code == 0 and result.output == "No conflicts (5 rules run: 5 passed, 0 failed, 0 not applicable, 0 indeterminate) - PASSED\n"
    engine["record"] = sample_record()
    engine["record"]["summary"]["passed"] = True  # as the engine reports with --fail-on never
    assert runner.invoke(cli, ["check", "sub.yaml", "--fail-on", "never"]).exit_code == 0


def test_colour_only_when_asked(runner, engine):
    result = runner.invoke(cli, ["check", "sub.yaml", "--color"], color=True)
    assert "\x1b[31m" in result.output  # errors in red
    result = runner.invoke(cli, ["check", "sub.yaml", "--no-color"], color=True)
    assert "\x1b[" not in result.output


def test_a_bug_is_one_line_and_exit_3(runner, monkeypatch, engine):
    def broken_check(*args, **kwargs):
        raise KeyError("far_max")

    monkeypatch.setattr(rulecheck, "check", broken_check)
    result = runner.invoke(cli, ["check", "sub.yaml"])
    assert result.exit_code == 3
    assert "rulecheck: internal error: KeyError: 'far_max'" in result.output
    assert "RULECHECK_DEBUG=1" in result.output and "Traceback" not in result.output
    monkeypatch.setenv("RULECHECK_DEBUG", "1")
    result = runner.invoke(cli, ["check", "sub.yaml"])
    assert isinstance(result.exception, KeyError)


def test_unwritable_output_exits_2(runner, engine, tmp_path):
    (tmp_path / "file").write_text("x")
    result = runner.invoke(cli, ["check", "sub.yaml", "--format", "json", "--output", str(tmp_path / "file" / "r.json")])
    assert result.exit_code == 2 and "cannot write the report" in result.output


def test_rules_list_and_show(runner, engine):
    result = runner.invoke(cli, ["rules", "list", "--lang", "en"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "LAY Land-use layout"
    assert lines.index("IND Control indicators") < lines.index("SUP Supply contracts") < lines.index("FIN Fiscal balance")
    assert "  IND-002  error    Contract floor-area ratio must not exceed the detailed plan" in lines
    listed = json.loads(runner.invoke(cli, ["rules", "list", "--format", "json"]).output)
    assert [entry["id"] for entry in listed] == ["LAY-004", "IND-002", "IND-005", "SUP-001", "FIN-002"]
    markdown = runner.invoke(cli, ["rules", "list", "--format", "markdown"]).output
    assert "| IND-002 | 错误 | 供应合同容积率上限不得高于详细规划 | 《城乡规划法》第三十八条：" in markdown
    shown = runner.invoke(cli, ["rules", "show", "LAY-004"])
    assert shown.exit_code == 0 and "waivable: no" in shown.output and "source: rules/lay.rule:10" in shown.output
    missing = runner.invoke(cli, ["rules", "show", "IND-02"])
    assert missing.exit_code == 2 and "no rule 'IND-02'" in missing.output and "did you mean IND-002" in missing.output


def test_rules_validate_and_test_report_through_exit_status(runner, monkeypatch):
    import rulecheck.dsl as dsl
    import rulecheck.ruletests as ruletests

    monkeypatch.setattr(dsl, "validate", lambda paths, params=None: [Diagnostic(paths[0], "unknown name 'parcle'", line=4, column=9)],
                        raising=False)
    result = runner.invoke(cli, ["rules", "validate", "rules/ind.rule"])
    assert result.exit_code == 2 and "rules/ind.rule:4:9: error: unknown name 'parcle'" in result.output
    monkeypatch.setattr(dsl, "validate", lambda paths, params=None: [], raising=False)
    result = runner.invoke(cli, ["rules", "validate", "rules/ind.rule"])
    assert result.exit_code == 0 and "1 rule pack(s) OK" in result.output

    outcomes = [SimpleNamespace(passed=True, render=lambda: "ok IND-002 FAR above the plan is caught"),
                SimpleNamespace(passed=False, render=lambda: "FAIL LAY-004 expected LAY-004 on R03")]
    monkeypatch.setattr(ruletests, "run_rule_tests", lambda paths: outcomes, raising=False)
    result = runner.invoke(cli, ["rules", "test"])
    assert result.exit_code == 1 and "1 passed, 1 failed" in result.output
    monkeypatch.setattr(ruletests, "run_rule_tests", lambda paths: outcomes[:1], raising=False)
    assert runner.invoke(cli, ["rules", "test", "rules/ind.rule"]).exit_code == 0


def test_init_writes_a_skeleton_that_reads_and_refuses_to_overwrite(runner, tmp_path):
    target = tmp_path / "new-unit"
    result = runner.invoke(cli, ["init", str(target)])
    assert result.exit_code == 0, result.output
    names = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert names == ["layers/lines.geojson", "layers/parcels.geojson", "layers/rights.geojson",
                     "layers/unit.geojson", "scheme.yaml", "submission.schema.json", "submission.yaml"]
    manifest_text = (target / "submission.yaml").read_text(encoding="utf-8")
    assert "# rulecheck submission manifest / 提交材料清单" in manifest_text
    manifest = yaml.safe_load(manifest_text)
    assert manifest["format"] == "rulecheck/v1" and manifest["submission"]["crs"] == "EPSG:4526"
    for key in ("boundary", "rights"):
        assert (target / manifest["unit_plan"][key]).exists()

    # the layers are real GIS files in the declared CRS, and their records fit the bundle's models
    import pyogrio
    from rulecheck.model.documents import ControlLine, Parcel, Right

    for layer, model, count in (("rights", Right, 3), ("parcels", Parcel, 2), ("lines", ControlLine, 1)):
        path = target / "layers" / f"{layer}.geojson"
        info = pyogrio.read_info(path)
        assert info["crs"] == "EPSG:4526" and info["features"] == count
        for feature in json.loads(path.read_text(encoding="utf-8"))["features"]:
            model(**feature["properties"])

    again = runner.invoke(cli, ["init", str(target)])
    assert again.exit_code == 2
    assert f"{target / 'submission.yaml'}: error: already exists; rulecheck init never overwrites a file" in again.output
    assert (target / "submission.yaml").read_text(encoding="utf-8") == manifest_text


def test_init_skeleton_loads_through_the_loader(runner, tmp_path):
    runner.invoke(cli, ["init", str(tmp_path / "u")])
    submission = loader.load_submission(tmp_path / "u" / "submission.yaml")
    assert [r.id for r in submission.unit_plan.rights] == ["R1", "R2", "R3"]  # R3: a concession laid over R1
    assert [p.id for p in submission.detailed_plan.parcels] == ["P1", "P2"]


def test_init_skeleton_has_every_part_of_a_complete_submission_and_checks_clean(runner, tmp_path):
    runner.invoke(cli, ["init", str(tmp_path / "u")])
    manifest = tmp_path / "u" / "submission.yaml"
    submission = loader.load_submission(manifest)
    unit = submission.unit_plan
    assert unit.zone is not None and unit.county_scheme and unit.finance is not None
    for name in ("resources", "assets", "funds", "conditions", "demands", "policies"):
        assert getattr(unit.inventories, name), f"the skeleton's {name} inventory is empty"
    (package,) = unit.packages
    program = package.program
    assert program.survey and program.design and program.assembly and program.approvals
    assert package.supply and package.finance and package.revenue_sharing and submission.contracts
    result = runner.invoke(cli, ["check", str(manifest), "--format", "json", "--fail-on", "info"])
    assert result.exit_code == 0, result.output[:3000]
    record = json.loads(result.output)
    assert record["conflicts"] == [] and record["indeterminate"] == []
    assert any(o["rule"].startswith("DOC-") and o["status"] == "pass" for o in record["outcomes"])


def test_version_and_help(runner):
    assert runner.invoke(cli, ["--version"]).output.strip() == f"rulecheck, version {rulecheck.__version__}"
    help_text = runner.invoke(cli, ["check", "--help"]).output
    assert "--fail-on [error|warning|info|indeterminate|never]" in help_text


def test_console_script_runs(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([str(Path(sys.executable).parent / "rulecheck"), "check", "--format", "pdf", "x.yaml"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Invalid value for '--format'" in result.stderr
