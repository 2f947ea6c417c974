"""The rule language: grammar, parser, checker/compiler and rule sets (their tests run in rulecheck.ruletests)."""

from rulecheck.dsl.packs import load_rules, validate

__all__ = ["load_rules", "validate"]
