"""`rulecheck rules test`: tests written beside a rule pass or fail, and a failure names its file, line and difference."""

from __future__ import annotations

import shutil

import pytest

from rulecheck.ruletests import run_rule_tests
from test_dsl_support import FIXTURES, cli, invoke, rule_text, write_pack

FAR_RULE = rule_text("IND-901", """
    for each p in detailed_plan.parcels where present(p.far_max)
    require p.far_max <= 1.5
""", message='message zh "地块 {p} 容积率 {p.far_max}" en "FAR of {p} is {p.far_max}"')

TESTS = """
test IND-901 "the clean minimal fixture passes"
  given submission "sub.yaml"
  expect no IND-901

test IND-901 "a raised FAR is caught"
  given submission "sub.yaml"
  with detailed_plan.parcels[P2].far_max = 1.8
  expect IND-901 on P2

test IND-901 "wrongly expects the conflict on P1"
  given submission "sub.yaml"
  with detailed_plan.parcels[P2].far_max = 1.8
  expect IND-901 on P1

test IND-901 "wrongly expects nothing"
  given submission "sub.yaml"
  with detailed_plan.parcels[P2].far_max = 2.0
  expect no IND-901

test IND-901 "an absent FAR does not apply"
  given submission "sub.yaml"
  without detailed_plan.parcels[P2].far_max
  expect no IND-901

test IND-901 "a patch naming a missing record"
  given submission "sub.yaml"
  with detailed_plan.parcels[P7].far_max = 2.0
  expect no IND-901
"""


@pytest.fixture
def pack(tmp_path):
    shutil.copy(FIXTURES / "minimal" / "submission.yaml", tmp_path / "sub.yaml")
    shutil.copy(FIXTURES / "minimal" / "scheme.yaml", tmp_path / "scheme.yaml")  # the county scheme it names
    return write_pack(tmp_path, FAR_RULE + TESTS, "ind.rule")


def _line_of(path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_rules_test_reports_each_case(pack, tmp_path):
    proc = cli("rules", "test", "ind.rule", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.strip().splitlines()[-1] == "3 passed, 3 failed"
    for name in ("the clean minimal fixture passes", "a raised FAR is caught", "an absent FAR does not apply"):
        line = _line_of(pack, f'"{name}"')
        assert f"PASS IND-901 {name}  (ind.rule:{line})" in proc.stdout
    failing = {
        "wrongly expects the conflict on P1":
            f"line {_line_of(pack, 'expect IND-901 on P1')}: expected IND-901 on P1; got P2",
        "wrongly expects nothing":
            f"line {_line_of(pack, 'far_max = 2.0') + 1}: expected no IND-901; got 1: P2: FAR of P2 is 2",
        "a patch naming a missing record":
            f"line {_line_of(pack, 'parcels[P7]')}: no record 'P7' in detailed_plan.parcels (its ids: P1, P2)",
    }
    for name, difference in failing.items():
        line = _line_of(pack, f'"{name}"')
        head = f"FAIL IND-901 {name}  (ind.rule:{line})"
        assert head in proc.stdout, proc.stdout  # a FAIL with its details on stdout (issue 24)
        after = proc.stdout.split(head, 1)[1].splitlines()[1]
        assert after.strip().startswith(difference), (after, difference)
    assert "Traceback" not in proc.stderr and proc.stderr == ""


def test_all_passing_cases_exit_0(tmp_path):
    shutil.copy(FIXTURES / "minimal" / "submission.yaml", tmp_path / "sub.yaml")
    shutil.copy(FIXTURES / "minimal" / "scheme.yaml", tmp_path / "scheme.yaml")  # the county scheme it names
    write_pack(tmp_path, FAR_RULE + TESTS.split('test IND-901 "wrongly')[0], "ind.rule")
    proc = invoke("rules", "test", "ind.rule", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "2 passed, 0 failed"


def test_expect_indeterminate_and_api(tmp_path):
    shutil.copy(FIXTURES / "minimal" / "submission.yaml", tmp_path / "sub.yaml")
    shutil.copy(FIXTURES / "minimal" / "scheme.yaml", tmp_path / "scheme.yaml")  # the county scheme it names
    path = write_pack(tmp_path, rule_text("IND-902", """
        for each p in detailed_plan.parcels
        require p.far_max <= 1.5
    """) + """
test IND-902 "a parcel without FAR is indeterminate"
  given submission "sub.yaml"
  expect IND-902 indeterminate

test IND-902 "wrongly expects it decided"
  given submission "sub.yaml"
  expect no IND-902
""", "ind.rule")
    results = run_rule_tests([path])
    assert [(r.name, r.passed) for r in results] == [("a parcel without FAR is indeterminate", True),
                                                     ("wrongly expects it decided", False)]
    (failure,) = results[1].failures
    assert "expected no IND-902, but it is indeterminate: far_max of P1" in failure


def test_a_test_of_an_unknown_rule_is_a_load_error(tmp_path):
    write_pack(tmp_path, FAR_RULE + '\ntest IND-990 "nothing"\n  given fixture "x"\n  expect no IND-990\n', "ind.rule")
    proc = invoke("rules", "test", "ind.rule", cwd=tmp_path)
    assert proc.returncode == 2
    assert "names rule IND-990, which no pack declares" in proc.stderr
