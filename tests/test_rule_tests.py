"""Every test written beside the built-in rules passes (the same cases `rulecheck rules test rules/` runs)."""

from pathlib import Path

import pytest

from rulecheck.dsl.rules import load_rules
from rulecheck.dsl.testing import run_test

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
