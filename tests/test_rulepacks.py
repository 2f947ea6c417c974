"""The built-in rule packs: they parse, every rule is complete, tested both ways, and names only known things."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rulecheck.dsl import ast
from rulecheck.dsl.parser import parse_file
from rulecheck.dsl.schema import ENUM_VALUES, ROOTS
from rulecheck.model.landuse import load_classification

RULES = Path(__file__).resolve().parent.parent / "rules"
FAMILY_FILES = ["geo", "ref", "lay", "ind", "dut", "sup", "fin"]
PARAM_FILES = sorted((RULES / "params").glob("*.rule"))
FUNCTIONS = {
    "present", "default", "abs", "total", "level1", "area", "intersection", "overlap_area", "difference",
    "outside_area", "union", "distance", "intersects", "overlaps", "within", "covers", "disjoint", "coverage",
    "is_valid", "validity_reason", "is_empty", "is_polygonal", "len", "tolerance", "sum", "count", "min", "max",
}


def _parse(path: Path) -> ast.Pack:
    pack, diagnostics = parse_file(path)
    assert diagnostics == [], "\n".join(str(d) for d in diagnostics)
    return pack


@pytest.fixture(scope="module")
def packs() -> dict[str, ast.Pack]:
    return {name: _parse(RULES / f"{name}.rule") for name in FAMILY_FILES}


@pytest.fixture(scope="module")
def params() -> dict[str, ast.Param]:
    out: dict[str, ast.Param] = {}
    for path in PARAM_FILES:
        for param in _parse(path).params:
            assert param.name not in out, f"param {param.name} declared twice"
            out[param.name] = param
    return out


def test_province_example_parses_and_redeclares_national_params(params):
    example = _parse(RULES / "params" / "provinces" / "44-example.rule")
    assert example.params, "the example override declares no param"
    for param in example.params:
        assert param.name in params, f"{param.name} overrides nothing"
        assert all(edition.source for edition in param.editions)


@pytest.mark.parametrize("family", FAMILY_FILES)
def test_every_rule_is_complete_and_in_its_family(packs, family):
    pack = packs[family]
    assert pack.rules, f"{family}.rule has no rule"
    for rule in pack.rules:
        where = f"{rule.id} ({pack.path}:{rule.span.line})"
        assert rule.family == family.upper(), where
        assert rule.title_zh and rule.title_en, where
        assert rule.basis.startswith("《") and rule.basis_text, f"{where}: basis needs the law and its words"
        assert rule.tags, where
        assert rule.message_zh is not None and rule.message_en is not None, where
        assert rule.require is not None, where
        holes = [p for p in rule.message_zh.parts if isinstance(p, ast.Expr)]
        assert holes, f"{where}: the message names no record or value"


def test_rule_ids_are_unique(packs):
    ids = [rule.id for pack in packs.values() for rule in pack.rules]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("family", FAMILY_FILES)
def test_every_rule_has_a_passing_and_a_failing_test(packs, family):
    pack = packs[family]
    for rule in pack.rules:
        tests = [t for t in pack.tests if t.rule == rule.id]
        passing = [t for t in tests if any(e.kind == "none" and e.rule == rule.id for e in t.expectations)]
        failing = [t for t in tests if any(e.kind == "conflict" and e.rule == rule.id for e in t.expectations)]
        assert passing and failing, f"{rule.id}: needs a clean test and a failing test"
        for test in tests:
            fixture = (RULES / test.given).resolve()
            assert (fixture / "submission.yaml").is_file(), f"{rule.id} '{test.name}': no fixture {test.given}"
    assert {t.rule for t in pack.tests} <= {r.id for r in pack.rules}, "a test names a rule not in its file"


def _names(node, bound: set[str], out: list[tuple[str, ast.Span]]) -> None:
    """Every free name in an expression, with scoping of quantifiers and comprehensions."""
    if isinstance(node, ast.Name):
        if node.name not in bound:
            out.append((node.name, node.span))
        return
    if isinstance(node, (ast.Quantifier, ast.Comprehension)):
        _names(node.source, bound, out)
        inner = bound | {node.var}
        for part in (node.cond, getattr(node, "body", None), getattr(node, "element", None)):
            if part is not None:
                _names(part, inner, out)
        return
    if isinstance(node, ast.Expr):
        for f in dataclasses.fields(node):
            if f.name == "span":
                continue
            value = getattr(node, f.name)
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, ast.Expr):
                    _names(item, bound, out)


def test_rules_name_only_known_things(packs, params):
    groups = set(load_classification().groups)
    known = set(params) | set(ENUM_VALUES) | set(ROOTS) | groups
    unknown = []
    for pack in packs.values():
        for rule in pack.rules:
            bound: set[str] = set()
            free: list[tuple[str, ast.Span]] = []
            for step in rule.steps:
                if isinstance(step, ast.ForStep):
                    _names(step.source, bound, free)
                    bound.add(step.var)
                    if step.cond is not None:
                        _names(step.cond, bound, free)
                elif isinstance(step, ast.LetStep):
                    _names(step.value, bound, free)
                    bound.add(step.var)
                else:
                    _names(step.cond, bound, free)
            for expr in (rule.require, rule.at):
                if expr is not None:
                    _names(expr, bound, free)
            for template in (rule.message_zh, rule.message_en):
                for part in template.parts:
                    if isinstance(part, ast.Expr):
                        _names(part, bound, free)
            unknown += [f"{rule.id} line {span.line}: {name}" for name, span in free if name not in known]
    assert unknown == []


def test_params_carry_dated_sourced_editions(params):
    for param in params.values():
        dates = [e.valid_from for e in param.editions]
        assert dates == sorted(dates) and len(set(dates)) == len(dates), param.name
        assert all(e.source for e in param.editions), param.name


def test_exploration_cap_changes_on_2020_05_01(params):
    editions = params["exploration_max_term"].editions
    assert [(e.valid_from.isoformat(), e.value.value, e.value.unit) for e in editions] == [
        ("1998-02-12", 3.0, "years"),
        ("2020-05-01", 5.0, "years"),
    ]


def test_term_caps_follow_the_regulation(params):
    def table(name):
        edition = params[name].editions[-1]
        return {entry.key: (entry.value.value, entry.value.unit) for entry in edition.entries}

    assert table("max_term_transfer") == {
        "07": (70.0, "years"), "1001": (50.0, "years"), "1002": (50.0, "years"), "08": (50.0, "years"),
        "09": (40.0, "years"), None: (50.0, "years"),
    }
    assert table("mining_max_term") == {"large": (30.0, "years"), "medium": (20.0, "years"), "small": (10.0, "years")}
    sea = table("max_term_sea")
    assert [sea[k][0] for k in ["aquaculture", "ship_breaking", "tourism", "salt_mining", "public_welfare", "construction"]] == [
        15, 20, 25, 30, 40, 50,
    ]
    contract = table("max_term_land_contract")
    assert (contract["01"][0], contract["04"][0], contract["03"][0]) == (30, 50, 70)
