"""Language growth (issue 11, deliverable 5): `buffer`, a severity chosen by a condition, `subjects` keeping a
`let` out of a conflict's subjects. Through the CLI on the shipped samples."""

from __future__ import annotations

import json

import pytest

from test_dsl_support import FIXTURES, invoke

MINIMAL = FIXTURES / "minimal" / "submission.yaml"

SEVERITY = """
rule FIN-960
  title zh "资金上限" en "Fund cap"
  severity error when fund.amount_wan_yuan > 40 wan_yuan else warning
  basis "测试依据" "测试条文"
  for each fund in unit_plan.inventories.funds
  let parcels = detailed_plan.parcels
  require fund.amount_wan_yuan <= 30 wan_yuan and len(parcels) >= 0
  SUBJECTS
  message zh "资金 {fund} 金额 {fund.amount_wan_yuan}" en "Fund {fund} amounts to {fund.amount_wan_yuan}"

test FIN-960 "50 is an error"
  given fixture "minimal"
  expect FIN-960 on F1

test FIN-960 "35 is a warning"
  given fixture "minimal"
  with unit_plan.inventories.funds[F1].amount_wan_yuan = 35 wan_yuan
  expect 1 FIN-960
"""


def _conflicts(tmp_path, text, manifest=MINIMAL, *extra):
    (tmp_path / "p.rule").write_text(text, encoding="utf-8")
    result = invoke("check", str(manifest), "--rules", "p.rule", "--format", "json", "--lang", "en", "--fail-on",
                    "never", *extra, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("amount, severity", [(50, "error"), (35, "warning")])
def test_severity_chosen_by_a_condition(tmp_path, amount, severity):
    manifest = tmp_path / "sub.yaml"
    manifest.write_text(MINIMAL.read_text(encoding="utf-8").replace("amount_wan_yuan: 50", f"amount_wan_yuan: {amount}"),
                        encoding="utf-8")
    (tmp_path / "scheme.yaml").write_text((MINIMAL.parent / "scheme.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    record = _conflicts(tmp_path, SEVERITY.replace("SUBJECTS", "subjects fund"), manifest)
    (conflict,) = record["conflicts"]
    assert conflict["severity"] == severity
    assert record["summary"][severity] == 1
    (entry,) = record["rules"]["catalog"]
    assert (entry["severity"], entry["severity_otherwise"]) == ("error", "warning")
    result = invoke("rules", "test", "p.rule", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.splitlines()[-1] == "2 passed, 0 failed", result.stdout


def test_subjects_keeps_a_let_out_of_the_conflict(tmp_path):
    with_lets = _conflicts(tmp_path, SEVERITY.replace("SUBJECTS", ""))
    assert [s["id"] for s in with_lets["conflicts"][0]["subjects"]] == ["F1", "P1", "P2"]
    chosen = _conflicts(tmp_path, SEVERITY.replace("SUBJECTS", "subjects fund"))
    assert [s["id"] for s in chosen["conflicts"][0]["subjects"]] == ["F1"]


@pytest.mark.parametrize("change, message", [
    ("subjects fnd", "'subjects' names 'fnd', which the rule does not bind"),
    ("subjects fund, 3", "unexpected '3'"),
    ("severity error when fund.amount_wan_yuan else warning", "'severity … when' needs a condition (true or false)"),
    ("severity error when true else error", "chooses between the same severity"),
    ("severity error when fund.amount_wan_yuan > 40 wan_yuan else fatal", "unexpected 'fatal'"),
])
def test_mistakes_are_located(tmp_path, change, message):
    text = SEVERITY.replace("SUBJECTS", "subjects fund")
    if change.startswith("severity"):
        text = text.replace("severity error when fund.amount_wan_yuan > 40 wan_yuan else warning", change)
    else:
        text = text.replace("subjects fund", change)
    (tmp_path / "p.rule").write_text(text, encoding="utf-8")
    result = invoke("rules", "validate", "p.rule", cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("p.rule:")


BUFFER = """
rule LAY-960
  title zh "权益 50 米范围内的控制线" en "A control line within 50 m of a right"
  severity warning
  basis "测试依据" "测试条文"
  for each right in unit_plan.rights
  for each line in detailed_plan.control_lines where intersects(buffer(right, 50 m), line)
  require not intersects(right, line)
  at intersection(buffer(right, 50 m), line)
  message zh "权益 {right} 与控制线 {line} 相交" en "Right {right} crosses control line {line}"
"""


def test_buffer_draws_the_place_and_goes_through_the_index(tmp_path):
    record = _conflicts(tmp_path, BUFFER, FIXTURES / "eco-recreation-defects" / "submission.yaml")
    assert record["conflicts"], "the planted right crossing a control line is found"
    for conflict in record["conflicts"]:
        assert conflict["geometry"]["type"] in ("Polygon", "MultiPolygon")
    plan = invoke("rules", "validate", "p.rule", "--plan", cwd=tmp_path)
    assert "spatial index (STRtree): intersects(buffer(right, 50 m), line)" in plan.stdout
    (tmp_path / "p.rule").write_text(BUFFER.replace("buffer(right, 50 m), line)\n  require", "buffer(right, 5 m2), line)\n  require"),
                                     encoding="utf-8")
    refused = invoke("rules", "validate", "p.rule", cwd=tmp_path)
    assert refused.returncode == 2 and "buffer(...) expects a length (m, km) here, not an area" in refused.stderr
