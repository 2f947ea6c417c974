"""Rule tests that pin outcomes (issue 11, deliverable 3): every form of `expect` passes where it holds and fails
with the difference where it does not; `with` lines are checked at validate; no test input is an internal error."""

from __future__ import annotations

import pytest

from test_dsl_support import invoke

PACK = """
rule FIN-950
  title zh "资金上限" en "Fund cap"
  severity warning
  basis "测试依据" "测试条文"
  for each f in unit_plan.inventories.funds
  require f.amount_wan_yuan <= 30 wan_yuan
  message zh "资金 {f} 金额 {f.amount_wan_yuan}" en "Fund {f} amounts to {f.amount_wan_yuan}"

rule IND-951
  title zh "示例" en "example"
  severity error
  basis "测试依据" "测试条文"
  for each p in detailed_plan.parcels where present(p.far_max) and p.far_max > 5
  require p.far_max <= 6
  message zh "地块 {p}" en "Parcel {p}"

rule IND-952
  title zh "示例" en "example"
  severity error
  basis "测试依据" "测试条文"
  for each p in detailed_plan.parcels
  require p.far_max <= 6
  message zh "地块 {p}" en "Parcel {p}"
"""

HOLDS = """
test FIN-950 "every form holds"
  given fixture "minimal"
  expect FIN-950 on F1 with actual "50 wan yuan" with expected "30 wan yuan" message contains "50 万元"
  expect FIN-950 message contains "amounts to 50"
  expect 1 FIN-950
  expect 0 IND-951
  expect IND-951 not applicable
  expect no IND-951
  expect IND-952 indeterminate
  expect FIN-950 on F1

test FIN-950 "a pass that checked something"
  given fixture "minimal"
  with unit_plan.inventories.funds[F1].amount_wan_yuan = 20 wan_yuan
  expect FIN-950 passes
  expect no FIN-950
"""

FAILS = {
    "expect FIN-950 on F1 with actual \"60 wan yuan\"":
        'expected FIN-950 on F1 with actual "60 wan yuan"; got F1: actual "f.amount_wan_yuan = 50 wan yuan"',
    "expect FIN-950 message contains \"118 万元\"":
        'expected FIN-950 message contains "118 万元"; got F1: actual',
    "expect 2 FIN-950": "expected 2 FIN-950 conflict(s); got 1: F1: Fund F1 amounts to 50 wan yuan",
    "expect FIN-950 passes": "expected FIN-950 to pass; it had conflicts: 1 conflict(s): F1: Fund F1 amounts to 50 wan yuan",
    "expect FIN-950 not applicable": "expected FIN-950 to be not applicable; it had conflicts",
    "expect IND-951 passes": "expected IND-951 to pass; it was not applicable",
    "expect IND-951 indeterminate": "expected IND-951 to be indeterminate (IND-951 was not applicable)",
    "expect IND-951 on P2": "expected IND-951 on P2; got no conflict (IND-951 was not applicable)",
    "expect IND-952 passes": "expected IND-952 to pass; it was indeterminate: ",
    "expect no IND-952": "expected no IND-952, but it is indeterminate: ",
    "expect FIN-950 on F9": "expected FIN-950 on F9; got F1",
}


def test_every_form_of_expect_holds_and_a_not_applicable_pass_is_said(tmp_path):
    (tmp_path / "p.rule").write_text(PACK + HOLDS, encoding="utf-8")
    assert invoke("rules", "validate", "p.rule", cwd=tmp_path).returncode == 0
    result = invoke("rules", "test", "p.rule", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "2 passed, 0 failed"
    line = PACK.count("\n") + HOLDS.split("expect no IND-951")[0].count("\n") + 1
    assert f"    note: line {line}: no IND-951 because it was not applicable (nothing to check)" in result.stdout
    assert result.stdout.count("note:") == 1  # `expect no FIN-950` after a real pass carries no note


@pytest.mark.parametrize("expectation, difference", FAILS.items(), ids=list(FAILS))
def test_each_form_fails_with_the_difference(tmp_path, expectation, difference):
    (tmp_path / "p.rule").write_text(PACK + f'\ntest FIN-950 "wrong"\n  given fixture "minimal"\n  {expectation}\n',
                                     encoding="utf-8")
    result = invoke("rules", "test", "p.rule", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    line = PACK.count("\n") + 4
    assert f"    line {line}: {difference}" in result.stdout, result.stdout  # on stdout, with the FAIL line (issue 24)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


@pytest.mark.parametrize("text, message, column", [
    # at the misspelt step itself (issue 24), not at `with`
    ("  with unit_plan.rights[R1].term_yeers = 5 years", "Right has no field 'term_yeers'; did you mean 'term_years'?", 29),
    ("  expect 1.5 FIN-950", "'1.5' is not a count: a count of conflicts is a whole number", 10),
    ("  expect FIN-950 passes on F1", "unexpected 'on'", 25),
])
def test_test_mistakes_are_located_validate_errors(tmp_path, text, message, column):
    (tmp_path / "p.rule").write_text(PACK + f'\ntest FIN-950 "t"\n  given fixture "minimal"\n{text}\n  expect no FIN-950\n',
                                     encoding="utf-8")
    line = PACK.count("\n") + 4
    result = invoke("rules", "validate", "p.rule", cwd=tmp_path)
    assert result.returncode == 2
    assert f"p.rule:{line}:{column}: error: {message}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("patch, says", [
    ('with submission.as_of = "not a date"', "as_of cannot be 'not a date'"),
    ("with unit_plan.inventories.funds[F1] = 3", "does not end at a field"),
    ("with unit_plan.inventories.funds[F1].amount_wan_yuan = 3 years", "amount_wan_yuan is in wan_yuan, not 3 years"),
    ("without unit_plan.rights[R9]", "no record 'R9'"),
    ('with unit_plan.boundary = "POLYGON ((0 0, 1"', "bad WKT"),
])
def test_no_test_input_is_an_internal_error(tmp_path, patch, says):
    (tmp_path / "p.rule").write_text(PACK + f'\ntest FIN-950 "t"\n  given fixture "minimal"\n  {patch}\n  expect no FIN-950\n',
                                     encoding="utf-8")
    result = invoke("rules", "test", "p.rule", cwd=tmp_path)
    assert result.returncode in (1, 2), result.stdout + result.stderr
    assert says in result.stdout + result.stderr, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


@pytest.mark.parametrize("patch, message", [
    ("with unit_plan.inventories.funds[F1].amount_wan_yuan = 3 years",
     "unit_plan.inventories.funds[F1].amount_wan_yuan: amount_wan_yuan is in wan_yuan, not 3 years"),
    ("with unit_plan.inventories.funds[F1].channel = fiscl",
     "unit_plan.inventories.funds[F1].channel: channel cannot be 'fiscl': Input should be 'fiscal',"),
    ('with unit_plan.rights[R1].term_years = "ten"',
     "unit_plan.rights[R1].term_years: term_years cannot be 'ten': Input should be a valid number"),
    ('with unit_plan.boundary = "POLYGON ((0 0, 1"', "unit_plan.boundary: bad WKT"),
])
def test_a_with_value_that_cannot_go_into_its_field_is_a_validate_error(tmp_path, patch, message):
    (tmp_path / "p.rule").write_text(PACK + f'\ntest FIN-950 "t"\n  given fixture "minimal"\n  {patch}\n  expect no FIN-950\n',
                                     encoding="utf-8")
    result = invoke("rules", "validate", "p.rule", cwd=tmp_path)
    assert result.returncode == 2
    column = 3 + patch.index("= ") + 2  # at the value at fault (issue 24), not at `with`
    assert f"p.rule:{PACK.count(chr(10)) + 4}:{column}: error: {message}" in result.stderr, result.stderr
    assert "errors.pydantic.dev" not in result.stderr
