"""Where reviewers and plan authors work: GitHub annotations, GitLab Code Quality, SARIF base ids, colour, settings
files, `python -m rulecheck` and the pre-commit hooks."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urljoin

import jsonschema
import pytest
import yaml

from conftest import sample_record
from rulecheck.report import EXTENSIONS, FORMATS, render
from rulecheck.report.common import summary_line

ROOT = Path(__file__).resolve().parents[1]
DEFECTS = "fixtures/eco-recreation-defects/submission.yaml"
EXE = Path(sys.executable).with_name("rulecheck")
SCHEMAS = Path("/work/shared/schemas")
if not SCHEMAS.exists():
    SCHEMAS = ROOT.parent / "shared" / "schemas"


def run(*args, cwd=ROOT, env=None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")} | (env or {})
    return subprocess.run([str(EXE), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=full_env)


def invoke(*args, cwd=ROOT, env=None) -> subprocess.CompletedProcess:
    """The command in this process (click's runner: standard output is not a terminal), in `cwd`, with `env`."""
    from click.testing import CliRunner

    from rulecheck.cli import cli

    here = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, [str(a) for a in args], env={"NO_COLOR": None, "FORCE_COLOR": None} | (env or {}))
    finally:
        os.chdir(here)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


@pytest.fixture(scope="module")
def defects_reports(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ci")
    result = run("check", DEFECTS, "--lang", "en", "--format", "github", "--format", "gitlab", "--format", "sarif",
                 "--format", "json", "--output-dir", out)
    assert result.returncode == 1, result.stderr
    return out


# ---- GitHub workflow commands ---------------------------------------------------------------------------

COMMAND = re.compile(r"^::(error|warning|notice)(?: ([^:]*))?::(.*)$")


def unescape(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


def parse_annotations(text: str) -> list[dict]:
    """Each `::command k=v,k=v::message` line, as the Actions runner reads it (the rest is plain log)."""
    found = []
    for line in text.splitlines():
        match = COMMAND.match(line)
        if not match:
            continue
        props = {}
        for pair in filter(None, (match.group(2) or "").split(",")):
            key, _, value = pair.partition("=")
            assert key in ("file", "line", "endLine", "col", "endColumn", "title"), line
            props[key] = unescape(value)
        found.append({"command": match.group(1), **props, "message": unescape(match.group(3))})
    return found


def test_github_annotations_follow_the_workflow_command_shape():
    record = sample_record()
    text = render(record, "github", lang="en")
    lines = text.splitlines()
    assert all(COMMAND.match(line) for line in lines[:-1]) and not lines[-1].startswith("::")
    assert lines[-1] == summary_line(record, "en") and lines[-1].endswith("- FAILED")
    notes = parse_annotations(text)
    assert [(n["command"], n["title"].split()[0]) for n in notes] == [
        ("error", "LAY-004"), ("error", "IND-002"), ("warning", "IND-005"), ("notice", "[waived]")]
    ind = notes[1]
    # subject paths are relative to the manifest: from the working folder they sit under its folder
    assert ind["file"] == "fixtures/eco-recreation/submission.yaml" and ind["line"] == "88"
    assert ind["message"].splitlines() == [
        "Contract item C01/R07 allows FAR 1.6, above 1.2 of parcel P-0412",
        "subjects: contracts:C01/R07, parcels:P-0412",
        "expected: far_max <= 1.2; actual: far_max = 1.6",
        "basis: 《城乡规划法》第三十八条：规划条件应作为国有土地使用权出让合同的组成部分"]


def test_github_escapes_data_and_properties_as_the_toolkit_does():
    record = sample_record()
    conflict = record["conflicts"][2]
    conflict["messages"]["en"] = "50% over, line one\r\nline two :: not a command"
    conflict["titles"] = {"en": "Green: ratio, industrial", "zh": "绿地率"}
    conflict["subjects"][0]["source"]["path"] = "layers/a,b:c.geojson"
    line = render(record, "github", lang="en").splitlines()[2]
    assert "\n" not in line and "\r" not in line
    assert "50%25 over, line one%0D%0Aline two :: not a command" in line  # data: %, CR, LF
    assert "title=IND-005 Green%3A ratio%2C industrial" in line  # properties: also : and ,
    assert "file=fixtures/eco-recreation/layers/a%2Cb%3Ac.geojson" in line
    note = parse_annotations(line)[0]
    assert note["message"].startswith("50% over, line one\r\nline two :: not a command")
    assert note["file"] == "fixtures/eco-recreation/layers/a,b:c.geojson"


def test_github_annotations_of_a_real_run_point_at_real_lines(defects_reports):
    notes = parse_annotations((defects_reports / f"report.{EXTENSIONS['github']}").read_text(encoding="utf-8"))
    record = json.loads((defects_reports / "report.json").read_text(encoding="utf-8"))
    assert len(notes) == len(record["conflicts"]) + len(record["indeterminate"])
    located = [n for n in notes if "file" in n]
    assert located
    for note in located:
        path = ROOT / note["file"]
        assert path.is_file(), note
        if "line" in note:
            assert 1 <= int(note["line"]) <= len(path.read_text(encoding="utf-8").splitlines())
    # a GeoPackage's records have feature ids, not lines: no line is claimed for them
    mine = parse_annotations(invoke("check", "fixtures/mine-land/submission.yaml", "--format", "github",
                                 "--select", "GEO,LAY,IND,SUP").stdout)
    assert all("line" not in n for n in mine if n.get("file", "").endswith(".gpkg"))


# ---- GitLab Code Quality ------------------------------------------------------------------------------

GITLAB_SEVERITIES = {"info", "minor", "major", "critical", "blocker"}


def check_code_quality_shape(issues) -> None:
    """GitLab's documented Code Quality report: an array of issues with these members."""
    assert isinstance(issues, list)
    for issue in issues:
        assert isinstance(issue["description"], str) and issue["description"]
        assert isinstance(issue["check_name"], str) and issue["check_name"]
        assert isinstance(issue["fingerprint"], str) and issue["fingerprint"]
        assert issue["severity"] in GITLAB_SEVERITIES
        assert isinstance(issue["location"]["path"], str) and not issue["location"]["path"].startswith("/")
        assert isinstance(issue["location"]["lines"]["begin"], int) and issue["location"]["lines"]["begin"] >= 1
    fingerprints = [i["fingerprint"] for i in issues]
    assert len(set(fingerprints)) == len(fingerprints), "GitLab keys issues by fingerprint"


def test_gitlab_code_quality_shape_and_severities():
    issues = json.loads(render(sample_record(), "gitlab", lang="en"))
    check_code_quality_shape(issues)
    assert [(i["check_name"], i["severity"]) for i in issues] == [
        ("LAY-004", "critical"), ("IND-002", "critical"), ("IND-005", "minor"), ("FIN-002", "info")]
    assert issues[3]["description"].startswith("[waived] FIN-002")
    assert issues[1]["location"] == {"path": "fixtures/eco-recreation/submission.yaml", "lines": {"begin": 88}}
    assert issues[2]["location"] == {"path": "fixtures/eco-recreation/layers/parcels.geojson", "lines": {"begin": 1300}}


def test_gitlab_fingerprints_follow_rule_and_subjects_not_message_or_line():
    record = sample_record()
    before = json.loads(render(record, "gitlab", lang="en"))
    moved = copy.deepcopy(record)
    moved["conflicts"][1]["messages"]["en"] = "reworded"
    moved["conflicts"][1]["subjects"][1]["source"]["line"] = 9999
    moved["submission"]["manifest"] = "elsewhere/submission.yaml"
    after = json.loads(render(moved, "gitlab", lang="en"))
    assert [i["fingerprint"] for i in after] == [i["fingerprint"] for i in before]
    assert json.loads(render(record, "gitlab", lang="zh"))[1]["fingerprint"] == before[1]["fingerprint"]
    other = copy.deepcopy(record)
    other["conflicts"][1]["subjects"][1]["id"] = "P-0413"
    assert json.loads(render(other, "gitlab", lang="en"))[1]["fingerprint"] != before[1]["fingerprint"]
    twice = copy.deepcopy(record)
    twice["conflicts"].append(copy.deepcopy(twice["conflicts"][1]))
    check_code_quality_shape(json.loads(render(twice, "gitlab", lang="en")))


def test_gitlab_report_of_a_real_run(defects_reports):
    issues = json.loads((defects_reports / f"report.{EXTENSIONS['gitlab']}").read_text(encoding="utf-8"))
    check_code_quality_shape(issues)
    assert issues and all((ROOT / i["location"]["path"]).is_file() for i in issues)


# ---- SARIF base ids ---------------------------------------------------------------------------------------


def resolve(run_: dict, location: dict, srcroot: str) -> str:
    """An artifactLocation to an absolute URI, following uriBaseId chains (SARIF 2.1.0 §3.4.4, §3.14.14)."""
    uri, base = location["uri"], location.get("uriBaseId")
    while base is not None:
        if base == "%SRCROOT%" and "uri" not in run_["originalUriBaseIds"][base]:
            return urljoin(srcroot, uri)
        entry = run_["originalUriBaseIds"][base]
        uri, base = urljoin(entry["uri"], uri), entry.get("uriBaseId")
    assert re.match(r"^[a-z]+:", uri), f"{uri} does not resolve to an absolute URI"
    return uri


def test_sarif_base_ids_resolve_to_the_files(defects_reports):
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    sarif = json.loads((defects_reports / "report.sarif").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(sarif)
    run_ = sarif["runs"][0]
    bases = run_["originalUriBaseIds"]
    assert bases["SUBMISSION_ROOT"] == {"uri": "fixtures/eco-recreation-defects/", "uriBaseId": "%SRCROOT%",
                                        "description": {"text": "folder of the submission manifest "
                                                                "(fixtures/eco-recreation-defects)"}}
    srcroot = ROOT.as_uri() + "/"
    locations = [loc["physicalLocation"]["artifactLocation"] for result in run_["results"]
                 for loc in result["locations"] if "physicalLocation" in loc]
    assert locations
    for location in locations:
        assert location["uriBaseId"] in bases
        target = resolve(run_, location, srcroot)
        assert Path(unquote(target.removeprefix("file://"))).is_file(), target
    assert str(ROOT) not in json.dumps(sarif, ensure_ascii=False), "no machine path in the SARIF"


def test_sarif_with_an_absolute_manifest_or_one_in_the_working_folder_still_validates(tmp_path):
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    for manifest in ("/data/units/u03/submission.yaml", "submission.yaml"):
        record = sample_record()
        record["submission"]["manifest"] = manifest
        sarif = json.loads(render(record, "sarif", lang="en"))
        jsonschema.Draft7Validator(schema).validate(sarif)
        run_ = sarif["runs"][0]
        location = run_["results"][1]["locations"][1]["physicalLocation"]["artifactLocation"]
        assert resolve(run_, location, "file:///work/repo/") == (
            "file:///data/units/u03/layers/parcels.geojson" if manifest.startswith("/")
            else "file:///work/repo/layers/parcels.geojson")
        waiver = run_["results"][3]["suppressions"][0]["location"]["physicalLocation"]["artifactLocation"]
        assert resolve(run_, waiver, "file:///work/repo/") == "file:///work/repo/waivers.yaml"


# ---- colour -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, env, coloured", [
    ((), {}, False),                                      # auto, piped
    ((), {"FORCE_COLOR": "1"}, True),
    ((), {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
    (("--color",), {}, True),                             # alone: always
    (("--color", "always"), {"NO_COLOR": "1"}, True),     # the command line wins over the environment
    (("--color", "never"), {"FORCE_COLOR": "1"}, False),
    (("--no-color",), {"FORCE_COLOR": "1"}, False),
])
def test_color_choice_and_environment(args, env, coloured):
    result = invoke("check", DEFECTS, "--lang", "en", *args, env=env)
    assert result.returncode == 1, result.stderr
    assert ("\x1b[" in result.stdout) is coloured
    if args == ("--color",):  # colour is for the text report only
        assert "\x1b[" not in invoke("check", DEFECTS, "--format", "json", *args, env=env).stdout


def test_python_dash_m_is_the_command():
    result = subprocess.run([sys.executable, "-m", "rulecheck", "check", DEFECTS, "--lang", "en", "--quiet"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and result.stdout == "" and result.stderr == ""
    helped = subprocess.run([sys.executable, "-m", "rulecheck", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert helped.returncode == 0 and "schema" in helped.stdout and "check" in helped.stdout


# ---- settings file ----------------------------------------------------------------------------------------


@pytest.fixture
def unit(tmp_path) -> Path:
    """The defects fixture in a repository-like folder: repo/units/u03/submission.yaml."""
    target = tmp_path / "repo" / "units" / "u03"
    shutil.copytree(ROOT / "fixtures" / "eco-recreation-defects", target)
    return target


def as_json(result) -> dict:
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_pyproject_settings_apply_and_the_command_line_wins(unit):
    repo = unit.parents[1]
    (repo / "pyproject.toml").write_text('[project]\nname = "plans"\n\n[tool.rulecheck]\nselect = ["IND", "LAY"]\n'
                                         'fail-on = "never"\nlang = "en"\n', encoding="utf-8")
    record = as_json(invoke("check", "units/u03/submission.yaml", "--format", "json", cwd=repo))
    assert {c["family"] for c in record["conflicts"]} == {"IND", "LAY"}
    assert record["summary"]["fail_on"] == "never" and record["lang"] == "en"
    assert record["config"] == {"path": "pyproject.toml", "applied": ["fail-on", "lang", "select"]}
    assert invoke("check", "units/u03/submission.yaml", cwd=repo).returncode == 0  # fail-on never from the file

    # the command line wins, key by key
    record = as_json(invoke("check", "units/u03/submission.yaml", "--format", "json", "--select", "IND", "--lang", "zh",
                         cwd=repo))
    assert {c["family"] for c in record["conflicts"]} == {"IND"} and record["lang"] == "zh"
    assert record["summary"]["fail_on"] == "never" and record["config"]["applied"] == ["fail-on"]
    assert invoke("check", "units/u03/submission.yaml", "--fail-on", "error", cwd=repo).returncode == 1
    assert invoke("check", "units/u03/submission.yaml", "--no-config", cwd=repo).returncode == 1


def test_settings_come_from_the_working_folder_never_from_the_submission_and_paths_are_their_own(unit, tmp_path):
    repo = unit.parents[1]
    (repo / "pyproject.toml").write_text('[tool.rulecheck]\nfail-on = "never"\n', encoding="utf-8")
    (unit / "rulecheck.toml").write_text('select = "SUP"\nformats = ["json"]\n', encoding="utf-8")
    result = invoke("check", "units/u03/submission.yaml", cwd=repo)
    assert result.returncode == 0, "the working folder's settings apply"
    assert "Settings file: pyproject.toml (applied: fail-on)" in result.stdout or \
        "设置文件：pyproject.toml（采用：fail-on）" in result.stdout, result.stdout
    record = as_json(invoke("check", "units/u03/submission.yaml", "--format", "json", cwd=repo))
    assert len({c["family"] for c in record["conflicts"]}) > 1, "the submission's own rulecheck.toml is not read"
    assert record["config"] == {"path": "pyproject.toml", "applied": ["fail-on"]}

    # a pyproject.toml without [tool.rulecheck] is another project's; the parents of the working folder are not read
    (repo / "pyproject.toml").write_text('[project]\nname = "u03"\n', encoding="utf-8")
    record = as_json(invoke("check", "units/u03/submission.yaml", "--format", "json", cwd=repo))
    assert record["config"] == {"path": None, "applied": []}
    (repo / "units" / "rulecheck.toml").write_text('fail-on = "never"\n', encoding="utf-8")
    assert invoke("check", "u03/submission.yaml", cwd=repo / "units").returncode == 0
    assert invoke("check", "submission.yaml", cwd=unit).returncode == 1, "a run from inside the bundle reads none"
    (repo / "units" / "rulecheck.toml").unlink()

    # relative paths in the file are relative to the file
    (repo / "policy").mkdir()
    waivers = yaml.safe_dump({"waivers": []})
    (repo / "policy" / "waivers.yaml").write_text(waivers, encoding="utf-8")
    (repo / "pyproject.toml").write_text('[tool.rulecheck]\nwaivers = "policy/missing.yaml"\n', encoding="utf-8")
    failed = invoke("check", "submission.yaml", "--config", repo / "pyproject.toml", cwd=unit)
    assert failed.returncode == 2 and "../../policy/missing.yaml" in failed.stderr, failed.stderr

    # --config names the file
    other = tmp_path / "strict.toml"
    other.write_text('fail-on = "info"\nselect = ["FIN"]\n', encoding="utf-8")
    record = as_json(invoke("check", "units/u03/submission.yaml", "--config", other, "--format", "json", cwd=repo))
    assert record["summary"]["fail_on"] == "info" and {c["family"] for c in record["conflicts"]} <= {"FIN"}


def test_an_unknown_key_or_a_bad_value_is_a_located_error_never_a_silent_pass(unit):
    repo = unit.parents[1]
    (repo / "pyproject.toml").write_text('[tool.poetry]\nname = "x"\n\n[tool.rulecheck]\nselect = ["IND"]\n'
                                         'fail_on = "never"\n', encoding="utf-8")
    result = invoke("check", "units/u03/submission.yaml", cwd=repo)
    assert result.returncode == 2 and result.stdout == ""
    assert "pyproject.toml:6: error: tool.rulecheck.fail_on: unknown key 'fail_on'" in result.stderr
    assert "did you mean 'fail-on'?" in result.stderr

    (repo / "pyproject.toml").write_text('[tool.rulecheck]\nfail-on = "warn"\nformat = ["text", "pdf"]\n',
                                         encoding="utf-8")
    result = invoke("check", "units/u03/submission.yaml", cwd=repo)
    assert result.returncode == 2
    assert "pyproject.toml:2: error: tool.rulecheck.fail-on: 'fail-on' must be one of" in result.stderr
    assert "pyproject.toml:3: error: tool.rulecheck.format:" in result.stderr

    (unit / "rulecheck.toml").write_text('fail-on = "never\n', encoding="utf-8")
    result = invoke("check", "units/u03/submission.yaml", "--config", unit / "rulecheck.toml", cwd=repo)
    assert result.returncode == 2 and "units/u03/rulecheck.toml:1:" in result.stderr and "not valid TOML" in result.stderr
    assert "Traceback" not in result.stderr


# ---- pre-commit --------------------------------------------------------------------------------------------


def test_pre_commit_hooks_name_commands_that_exist():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [h["id"] for h in hooks] == ["rulecheck", "rulecheck-rules"]
    for hook in hooks:
        assert {"id", "name", "entry", "language"} <= set(hook) and hook["language"] == "python"
        re.compile(hook["files"])
    submission, rules = hooks
    assert re.search(submission["files"], "units/u03/layers/parcels.geojson")
    assert re.search(rules["files"], "rules/ind.rule") and not re.search(rules["files"], "rules/README.md")
    # pre-commit runs entry + args + the changed files (pass_filenames; `try-repo` gives no args): run them as it
    # would; the manifest checked is the one the changed files belong to (issue 24)
    entry = submission["entry"].split()
    assert entry[0] == "rulecheck" and submission["pass_filenames"] is True and "args" not in submission
    assert run(*entry[1:], "fixtures/eco-recreation/submission.yaml").returncode == 0
    assert invoke(*entry[1:], DEFECTS).returncode == 1
    assert invoke(*entry[1:], "fixtures/eco-recreation-defects/layers/parcels.geojson").returncode == 1
    assert rules["pass_filenames"] is False and rules["args"] == ["rules/"]
    assert invoke(*rules["entry"].split()[1:], *rules["args"]).returncode == 0
    # the changed files alone would not do: a pack's tests name rules of other packs (IND-001's names REF-004)
    assert invoke(*rules["entry"].split()[1:], "rules/ind.rule").returncode == 2


def test_every_format_is_on_the_command_line():
    from rulecheck import cli, report

    assert set(cli.REPORT_FORMATS) == set(report.FORMATS)  # the command line's list is the emitters' list
    help_text = invoke("check", "--help").stdout
    for fmt in FORMATS:
        assert fmt in help_text


def test_review_rounds_show_in_the_ci_formats():
    record = sample_record()
    record["conflicts"][0]["status"] = "new"
    record["conflicts"][1]["status"] = "persisting"
    record["baseline"] = {"report": "round1.json", "new": 1, "persisting": 1, "resolved": 2}
    notes = parse_annotations(render(record, "github", lang="en"))
    assert notes[0]["title"].startswith("[new] LAY-004") and notes[1]["title"].startswith("[persisting] IND-002")
    assert notes[-1]["command"] == "notice" and "round1.json" in notes[-1]["message"]
    issues = json.loads(render(record, "gitlab", lang="en"))
    assert issues[0]["description"].startswith("[new] LAY-004")
    plain = json.loads(render(sample_record(), "gitlab", lang="en"))
    assert [i["fingerprint"] for i in issues] == [i["fingerprint"] for i in plain], "the status is not the identity"


def test_an_absolute_manifest_inside_the_ci_checkout_is_annotated_from_the_checkout(monkeypatch):
    record = sample_record()
    record["submission"]["manifest"] = "/home/runner/work/plans/plans/units/u03/submission.yaml"
    monkeypatch.setenv("GITHUB_WORKSPACE", "/home/runner/work/plans/plans")
    assert parse_annotations(render(record, "github", lang="en"))[1]["file"] == "units/u03/submission.yaml"
    monkeypatch.delenv("GITHUB_WORKSPACE")
    monkeypatch.setenv("CI_PROJECT_DIR", "/builds/plans")
    assert json.loads(render(record, "gitlab", lang="en"))[1]["location"]["path"] == \
        "/home/runner/work/plans/plans/units/u03/submission.yaml", "outside the checkout: left as it is"
