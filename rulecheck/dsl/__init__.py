"""The rule language: grammar, parser, checker/compiler, rule sets and rule tests."""

from rulecheck.dsl.rules import load_rules, validate


def run_rule_tests(paths=None, params=None, add=None):
    """Run the tests written beside the rules; a list of TestResult (`add`: packs added to the built-in rules)."""
    from rulecheck.dsl.testing import run_rule_tests as _run

    return _run(paths, params, add=add) if add else _run(paths, params)


__all__ = ["load_rules", "run_rule_tests", "validate"]
