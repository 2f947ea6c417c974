"""Every test written beside the built-in rules passes (the same cases `rulecheck rules test rules/` runs)."""

from pathlib import Path

import pytest

from rulecheck.dsl.rules import load_rules
from rulecheck.ruletests import run_test

RULES = Path(__file__).resolve().parents[1] / "rules"
RULE_SET = load_rules([RULES])
CASES = RULE_SET.tests


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{t.rule}:{t.span.line}:{t.name}" for t, _, _ in CASES]
)
def test_rule_case(case):
    test, display, file = case
    result = run_test(test, display, file, RULE_SET)
    assert result.passed, result.render()


def test_every_rule_has_a_passing_and_a_failing_case():
    """Issue 4: each rule has at least one case expecting silence and one expecting a conflict."""
    silent, caught = set(), set()
    for test, _, _ in CASES:
        for expectation in test.expectations:
            (caught if expectation.kind == "conflict" else silent).add(expectation.rule)
    ids = {rule.id for rule in RULE_SET.rules}
    assert not ids - silent, f"rules without a passing case: {sorted(ids - silent)}"
    assert not ids - caught, f"rules without a failing case: {sorted(ids - caught)}"


INLINE_PACK = '''
rule LAY-901
  title zh "权益不得超过一公顷" en "Rights are at most one hectare"
  severity error
  basis "测试" "test"
  for each right in unit_plan.rights
  require area(right) <= 1 ha
  message zh "{right} 面积 {area(right)}" en "{right} measures {area(right)}"

test LAY-901 "a small inline submission, patched"
  given inline """
    format: rulecheck/v1
    submission: {id: T-1, as_of: 2026-03-01, crs: "EPSG:4526"}
    unit_plan:
      id: U
      direction: eco_recreation
      boundary: POLYGON ((38401000 2622000, 38401300 2622000, 38401300 2622100, 38401000 2622100, 38401000 2622000))
      rights:
        - {id: R1, kind: forest_management, land_use: "0301", geometry: "POLYGON ((38401000 2622000, 38401100 2622000, 38401100 2622100, 38401000 2622100, 38401000 2622000))"}
        - {id: R2, kind: forest_management, land_use: "0301", geometry: "POLYGON ((38401100 2622000, 38401300 2622000, 38401300 2622100, 38401100 2622100, 38401100 2622000))"}
    detailed_plan: {id: DP, status: draft}
    """
  expect LAY-901 on R2
test LAY-901 "an inline submission that does not load names its line"
  given inline """
    format: rulecheck/v1
    submission: {id: T-2, crs: "EPSG:4526"}
    unit_plan: {id: U, direction: eco_recreatoin}
    detailed_plan: {id: DP, status: draft}
    """
  expect no LAY-901
'''


def test_inline_submissions_in_rule_tests(tmp_path):
    pack = tmp_path / "inline.rule"
    pack.write_text(INLINE_PACK, encoding="utf-8")
    rule_set = load_rules([pack])
    first, second = (run_test(t, "inline.rule", f, rule_set) for t, _, f in rule_set.tests)
    assert first.passed, first.render()
    assert not second.passed
    # the loader's message points at the line of the rule file where the bad value is written
    text = second.render()
    assert "inline.rule:28:" in text and "eco_recreatoin" in text, text


def test_a_pack_of_ones_own_rules_uses_the_built_in_parameters(tmp_path):
    pack = tmp_path / "own.rule"
    pack.write_text(
        'rule SUP-900\n  title zh "商业用地期限" en "Commercial term"\n  severity error\n'
        '  basis "《城镇国有土地使用权出让和转让暂行条例》第十二条" "商业、旅游、娱乐用地四十年"\n'
        '  for each right in unit_plan.rights where right.land_use under "09" and present(right.term_years)\n'
        '  require right.term_years <= max_term_transfer[right.land_use]\n'
        '  message zh "权益 {right}" en "Right {right}"\n', encoding="utf-8")
    rule_set = load_rules([pack])
    assert [r.id for r in rule_set.rules] == ["SUP-900"]
    assert "max_term_transfer" in rule_set.params
    assert any(p.endswith("terms.rule") for p in rule_set.packs), "the report's provenance names the params used"
