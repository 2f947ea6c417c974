"""Review rounds: `check --baseline OLD.json` and `diff OLD.json NEW.json` mark each conflict new, persisting or
resolved, matched by rule and subjects (not by message or line); `--fail-on-new` gates on new conflicts only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
from click.testing import CliRunner

from rulecheck.baseline import compare, conflict_key
from rulecheck.cli import cli

ROOT = Path(__file__).resolve().parents[1]
DEFECTS = ROOT / "fixtures" / "eco-recreation-defects"
SCHEMAS = ROOT.parent / "shared" / "schemas"
if not SCHEMAS.exists():
    SCHEMAS = Path("/work/shared/schemas")

FIXED = ("IND-010", (("contracts", "C-A/R06"), ("parcels", "P07")))  # the round-2 revision lowers this FAR
ADDED = ("SUP-010", (("rights", "R07"),))  # and lengthens this commercial right's term past 40 years


def run(*args) -> SimpleNamespace:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def revise(folder: Path, *, fix: bool = True, add: bool = True) -> Path:
    """A second-round copy of the defects fixture: lines moved, one conflict fixed, one added."""
    shutil.copytree(DEFECTS, folder)
    manifest = folder / "submission.yaml"
    text = manifest.read_text(encoding="utf-8")
    if fix:
        assert text.count("    far_max: 1.6\n") == 1
        text = text.replace("    far_max: 1.6\n", "    far_max: 1.2\n")
    manifest.write_text("# 第二轮：按审查意见修改\n# (every line below moves down)\n" + text, encoding="utf-8")
    if add:
        rights = folder / "layers" / "rights.geojson"
        data = json.loads(rights.read_text(encoding="utf-8"))
        for feature in data["features"]:
            if feature["properties"]["id"] == "R07":
                assert feature["properties"]["land_use"] == "0903" and feature["properties"]["term_years"] == 40
                feature["properties"]["term_years"] = 45
        rights.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest


@pytest.fixture(scope="module")
def rounds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rounds")
    old = folder / "round1.json"
    first = run("check", DEFECTS / "submission.yaml", "--format", "json", "--output", old)
    assert first.returncode == 1, first.stderr
    return SimpleNamespace(folder=folder, old=old, manifest=revise(folder / "round2"),
                           record=json.loads(old.read_text(encoding="utf-8")))


def keys(conflicts) -> list[tuple]:
    return [conflict_key(c) for c in conflicts]


def test_baseline_marks_new_persisting_and_resolved(rounds):
    result = run("check", rounds.manifest, "--baseline", rounds.old, "--format", "json")
    assert result.returncode == 1, result.stderr
    record = json.loads(result.stdout)
    old_keys = keys(rounds.record["conflicts"])
    assert FIXED in old_keys and ADDED not in old_keys
    new = [c for c in record["conflicts"] if c["status"] == "new"]
    persisting = [c for c in record["conflicts"] if c["status"] == "persisting"]
    assert keys(new) == [ADDED]
    assert keys(record["resolved"]) == [FIXED]
    assert sorted(keys(persisting)) == sorted(k for k in old_keys if k != FIXED)
    # the lines moved (two lines added at the top), so matching did not use them
    moved = {(c["rule"], s["id"]): s["source"]["line"] for c in persisting for s in c["subjects"]
             if s["source"] and s["source"]["path"] == "submission.yaml"}
    before = {(c["rule"], s["id"]): s["source"]["line"] for c in rounds.record["conflicts"] for s in c["subjects"]
              if s["source"] and s["source"]["path"] == "submission.yaml"}
    assert moved and all(moved[k] == before[k] + 2 for k in moved)
    counts = {"new": 1, "persisting": len(persisting), "resolved": 1}
    assert {k: record["summary"][k] for k in counts} == counts
    assert record["baseline"] == {"report": str(rounds.old), "submission": rounds.record["submission"]["id"],
                                  "as_of": rounds.record["submission"]["as_of"], **counts, "not_rechecked": []}


def test_conflicts_of_rules_not_run_again_are_not_resolved(rounds):
    result = run("check", rounds.manifest, "--baseline", rounds.old, "--select", "IND", "--format", "json")
    record = json.loads(result.stdout)
    assert keys(record["resolved"]) == [FIXED]
    not_ind = [k for k in keys(rounds.record["conflicts"]) if not k[0].startswith("IND-")]
    assert not_ind and keys(record["baseline"]["not_rechecked"]) == not_ind
    assert all(c["status"] == "persisting" for c in record["conflicts"])
    text = run("check", rounds.manifest, "--baseline", rounds.old, "--select", "IND", "--lang", "en").stdout
    assert f"; {len(not_ind)} conflicts of the baseline not checked again (their rules were not run)" in text


def test_text_marks_each_conflict_and_lists_the_resolved(rounds):
    text = run("check", rounds.manifest, "--baseline", rounds.old, "--lang", "en").stdout
    assert "[new] error SUP-010 Right R07" in text
    assert text.count("[persisting] ") == len(rounds.record["conflicts"]) - 1
    resolved = text[text.index("Resolved since the baseline (1)"):].splitlines()
    assert resolved[1].startswith("  IND-010 contracts:C-A/R06, parcels:P07: Contract item C-A/R06 allows FAR 1.6")
    assert text.splitlines()[-2] == (f"Against the baseline {rounds.old}: 1 new, "
                                     f"{len(rounds.record['conflicts']) - 1} persisting, 1 resolved")
    zh = run("check", rounds.manifest, "--baseline", rounds.old).stdout
    assert "[新增] 错误 SUP-010" in zh and "相对基线已解决 (1)" in zh


def test_sarif_carries_the_baseline_state(rounds, tmp_path):
    out = tmp_path / "r.sarif"
    run("check", rounds.manifest, "--baseline", rounds.old, "--format", "sarif", "--output", out)
    sarif = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(sarif, json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")))
    states = {(r["ruleId"], r["baselineState"]) for r in sarif["runs"][0]["results"]}
    assert ("SUP-010", "new") in states and ("IND-010", "new") not in states
    assert {state for _, state in states} == {"new", "unchanged"}


def test_every_format_shows_the_status(rounds, tmp_path):
    out = tmp_path / "out"
    run("check", rounds.manifest, "--baseline", rounds.old, "--lang", "en", "--output-dir", out,
        *[f"--format={fmt}" for fmt in ("markdown", "html", "junit", "geojson")])
    persisting = len(rounds.record["conflicts"]) - 1
    markdown = (out / "report.md").read_text(encoding="utf-8")
    # only what makes a link or an image is escaped in a cell (`](`, `![`...): the status label stays [new]
    assert "| [new] error | SUP-010 |" in markdown and markdown.count("| [persisting] ") == persisting
    assert "| IND-010 | contracts:C-A/R06, parcels:P07 | Contract item C-A/R06 allows FAR 1.6" in markdown
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count('<em class="status">[new]</em>') == 1 and "<h2>Resolved since the baseline</h2>" in html
    junit = (out / "report.xml").read_text(encoding="utf-8")
    assert "[new] SUP-010 [error]" in junit
    features = json.loads((out / "report.geojson").read_text(encoding="utf-8"))["features"]
    assert features and {f["properties"]["status"] for f in features} <= {"new", "persisting"}


def test_fail_on_new_gates_on_new_conflicts_only(rounds, tmp_path):
    # only the fix: every remaining conflict persists, so the gate on new conflicts passes
    fixed_only = revise(tmp_path / "fixed", add=False)
    result = run("check", fixed_only, "--baseline", rounds.old, "--fail-on-new", "--format", "json")
    record = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert record["summary"]["new"] == 0 and record["summary"]["error"] > 0 and record["summary"]["passed"] is True
    # the same without --fail-on-new fails on the persisting errors
    assert run("check", fixed_only, "--baseline", rounds.old, "--quiet").returncode == 1
    # one new error fails the gate on new conflicts
    assert run("check", rounds.manifest, "--baseline", rounds.old, "--fail-on-new", "--quiet").returncode == 1


def test_fail_on_new_needs_a_baseline():
    result = run("check", DEFECTS / "submission.yaml", "--fail-on-new")
    assert result.returncode == 2 and "--fail-on-new needs --baseline" in result.stderr


def test_diff_of_two_reports_matches_check_with_a_baseline(rounds, tmp_path):
    new = tmp_path / "round2.json"
    run("check", rounds.manifest, "--format", "json", "--output", new)
    result = run("diff", rounds.old, new, "--format", "json")
    assert result.returncode == 1
    diffed = json.loads(result.stdout)
    checked = json.loads(run("check", rounds.manifest, "--baseline", rounds.old, "--format", "json").stdout)
    assert [c["status"] for c in diffed["conflicts"]] == [c["status"] for c in checked["conflicts"]]
    assert diffed["resolved"] == checked["resolved"] and diffed["baseline"] == checked["baseline"]
    assert run("diff", rounds.old, new, "--fail-on-new", "--quiet").returncode == 1
    assert run("diff", new, new, "--fail-on-new", "--quiet").returncode == 0  # nothing is new against itself


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"conflicts": [{"rule": "IND-002"}]}', "conflicts[0]: expected 'rule' and 'subjects'"),
    ("[1, 2]", "expected a rulecheck JSON report"),
])
def test_a_baseline_that_is_not_a_report_exits_2(tmp_path, content, message):
    bad = tmp_path / "old.json"
    bad.write_text(content, encoding="utf-8")
    result = run("check", DEFECTS / "submission.yaml", "--baseline", bad)
    assert result.returncode == 2 and message in result.stderr and str(bad) in result.stderr
    assert "Traceback" not in result.stderr
    assert run("check", DEFECTS / "submission.yaml", "--baseline", tmp_path / "none.json").returncode == 2


def test_two_conflicts_with_the_same_key_pair_off_one_to_one():
    def conflict(message):
        return {"rule": "LAY-004", "subjects": [{"collection": "rights", "id": "R1"}], "message": message}

    old = {"conflicts": [conflict("a"), conflict("b")]}
    new = {"conflicts": [conflict("reworded"), conflict("c"), conflict("d")], "summary": {}}
    result = compare(old, new)
    assert [c["status"] for c in result["conflicts"]] == ["persisting", "persisting", "new"]
    assert result["resolved"] == []
    result = compare({"conflicts": [conflict("a"), conflict("b")]}, {"conflicts": [conflict("x")], "summary": {}})
    assert [c["message"] for c in result["resolved"]] == ["b"]
