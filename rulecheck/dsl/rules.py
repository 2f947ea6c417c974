"""The public names of the rule packs' modules, where they were before the split (packs: loading and overrides;
rulecompile: one rule compiled; compiled: a compiled rule run; catalog: the rule set)."""

from rulecheck.dsl.catalog import CONTRACT_FAMILIES, FAMILY_ORDER, RuleSet, rule_sort_key, suggest_rules
from rulecheck.dsl.compiled import (
    PARAPHRASE_MARK, SEVERITIES, UNVERIFIED_MARK, CompiledRule, RuleResult, basis_line, geojson_objects,
)
from rulecheck.dsl.packs import (
    FIELD_TYPES, all_pairs_warnings, default_rule_paths, load_rules, rule_files, validate, validated,
)

__all__ = ["CONTRACT_FAMILIES", "FAMILY_ORDER", "FIELD_TYPES", "PARAPHRASE_MARK", "SEVERITIES", "UNVERIFIED_MARK",
           "CompiledRule", "RuleResult", "RuleSet", "all_pairs_warnings", "basis_line", "default_rule_paths",
           "geojson_objects", "load_rules", "rule_files", "rule_sort_key", "suggest_rules", "validate", "validated"]
