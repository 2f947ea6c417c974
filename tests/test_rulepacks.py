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
FAMILY_FILES = ["geo", "ref", "lay", "ind", "dut", "sup", "fin", "doc"]
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
        # the law (a title in 《》, checked against the register by tests/test_citations.py) and its words, or
        # the source of a parameter's edition in force, or a data-quality check saying what it checks and why
        assert rule.basis_param or (("《" in rule.basis or rule.basis.startswith("数据质量检查：")) and rule.basis_text), \
            f"{where}: basis needs the law and its words"
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
        ("2023-08-01", 5.0, "years"),  # 自然资规〔2023〕6号 replaced the trial opinions (provenance unverified)
        ("2025-07-01", 5.0, "years"),  # 矿产资源法 (2024年修订) 第二十四条
    ]
    assert [e.provenance for e in editions] == ["secondary", "secondary", "unverified", "secondary"]


def test_term_caps_follow_the_regulation(params):
    def table(name):
        edition = params[name].editions[-1]
        return {entry.key: (entry.value.value, entry.value.unit) for entry in edition.entries}

    assert table("max_term_transfer") == {
        "07": (70.0, "years"), "1001": (50.0, "years"), "08": (50.0, "years"),
        "09": (40.0, "years"), None: (50.0, "years"),  # mining land and other uses: 综合或者其他用地五十年
    }
    assert table("mining_max_term") == {"large": (30.0, "years"), "medium": (20.0, "years"), "small": (10.0, "years")}
    sea = table("max_term_sea")
    assert [sea[k][0] for k in ["aquaculture", "ship_breaking", "tourism", "salt_mining", "public_welfare", "construction"]] == [
        15, 20, 25, 30, 40, 50,
    ]
    contract = table("max_term_land_contract")
    assert (contract["01"][0], contract["04"][0], contract["03"][0]) == (30, 50, 70)
    assert None not in contract and "02" not in contract  # no text caps an orchard contract
    assert [e.valid_from.isoformat() for e in params["min_term_land_contract"].editions] == ["2003-03-01", "2019-01-01"]


# ---- the packs run on the fixtures ----------------------------------------------------------------------

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="module")
def rule_set():
    from rulecheck.dsl import load_rules

    return load_rules()


def _check(rule_set, fixture: str, **kwargs) -> dict:
    from rulecheck.engine import check
    from rulecheck.model.submission import load_submission

    return check(load_submission(FIXTURES / fixture / "submission.yaml"), rule_set, lang="en", **kwargs)


def test_every_test_written_beside_the_rules_passes():
    from rulecheck.ruletests import run_rule_tests

    results = run_rule_tests()
    assert len(results) > 150
    failed = [r.render() for r in results if not r.passed]
    assert failed == []


@pytest.mark.parametrize("fixture", ["eco-recreation", "mine-land", "land-sea"])
def test_clean_fixtures_raise_no_conflict_and_nothing_indeterminate(rule_set, fixture):
    record = _check(rule_set, fixture)
    assert [(c["rule"], [s["id"] for s in c["subjects"]]) for c in record["conflicts"]] == []
    assert record["indeterminate"] == []


def test_every_planted_defect_is_caught_and_nothing_else(rule_set):
    record = _check(rule_set, "eco-recreation-defects")
    found = {(c["rule"], tuple(s["id"] for s in c["subjects"])) for c in record["conflicts"]}
    # one row per defect of fixtures/eco-recreation-defects/DEFECTS.md, by its number
    planted = {
        1: {("LAY-004", ("R12", "P05")), ("LAY-006", ("R12",)), ("LAY-009", ("R06", "R09", "R12"))},
        2: {("IND-010", ("C-A/R06", "P07"))},
        3: {("DUT-002", ("PKG-B", "D-B1", "C-B"))},
        4: {("SUP-010", ("R09",)), ("SUP-018", ("C-B/R09", "R09"))},
        5: {("LAY-007", ("R08", "CL-PBF-01")), ("LAY-004", ("R08", "P13")), ("LAY-006", ("R08",)),
            ("LAY-009", ("R08",)), ("LAY-010", ("PKG-C", "R08")), ("IND-018", ("C-C/R08", "R08"))},
        6: {("SUP-025", ("C-A", "PKG-A")), ("FIN-006", ("C-A", "PKG-A"))},
        7: {("SUP-021", ("C-C",)), ("SUP-022", ("PKG-C",)), ("DOC-070", ("PKG-C",)), ("DOC-071", ("C-C",))},
        8: {("FIN-001", ("PKG-B",))},
        9: {("LAY-003", ("R01", "R11"))},
        10: {("IND-001", ("P16", "P16"))},
        11: {("GEO-003", ("P15",)), ("GEO-011", ("P15",))},
        12: {("GEO-011", ("P20",))},
        13: {("REF-007", ("C-A/R07",))},
        # the allocation method's checks (issue 10)
        14: {("DOC-005", ("U03",))},
        15: {("DOC-008", ("PKG-C",))},
        16: {("DOC-014", ("PKG-C",))},
        17: {("DOC-015", ("A-03",))},
        18: {("DOC-016", ("PKG-B", "A-04", "A-05"))},
        19: {("REF-020", ("A-99",))},
        20: {("REF-021", ("PKG-A",))},
        21: {("DOC-017", ("PKG-B",))},
        22: {("DOC-018", ("R09",))},
        23: {("DOC-019", ("U03",)), ("CTY-011", ("U03",))},  # declared concentrated, yet outside every such area
        24: {("DOC-020", ("U03",))},
        25: {("DOC-021", ("U03",))},
        # the approvals of ④ come after the assembly deadline (DOC-062): a deadline moved past them puts them out of order
        26: {("DOC-022", ("PKG-B",)), ("DOC-062", ("PKG-B", "PKG-B/0901")), ("DOC-062", ("PKG-B", "PKG-B/0303"))},
        27: {("DOC-023", ("PKG-A", "PKG-A/0901", "C-A")), ("DOC-048", ("PKG-A", "PKG-A/0901"))},
        28: {("DOC-024", ("PKG-C",))},
        29: {("DOC-025", ("PKG-C",)), ("DOC-057", ("PKG-C",))},
        30: {("SUP-040", ("R07",))},
        31: {("SUP-041", ("C-B/R03", "R03"))},
        32: {("DUT-020", ("P07", "R06", "PKG-A"))},
        33: {("FIN-020", ("PKG-A",))},
        34: {("FIN-021", ("PKG-C", "P14"))},
        35: {("DOC-027", ("U03",))},
    }
    expected = set().union(*planted.values())
    assert found == expected
    assert record["indeterminate"] == []


def test_every_planted_land_sea_defect_is_caught_and_nothing_else(rule_set):
    record = _check(rule_set, "land-sea-defects")
    found = {(c["rule"], tuple(s["id"] for s in c["subjects"])) for c in record["conflicts"]}
    # one row per defect of fixtures/land-sea-defects/DEFECTS.md, by its number
    planted = {
        1: {("LAY-020", ("SR01",))},
        2: {("DOC-026", ("U05",))},
        3: {("DOC-001", ("U05",))},
        4: {("DOC-002", ("U05",))},
        5: {("DOC-003", ("U05",))},
        6: {("DOC-004", ("U05",))},
        7: {("DOC-006", ("U05",))},
        8: {("DOC-007", ("PKG-S2",))},
        9: {("DOC-009", ("PKG-S1",))},
        10: {("DOC-010", ("PKG-S2",))},
        11: {("DOC-013", ("PKG-S1",)), ("FIN-005", ("PKG-S1",))},
    }
    assert found == set().union(*planted.values())
    assert record["indeterminate"] == []


def test_exploration_cap_is_the_one_in_force_on_the_as_of_date(rule_set):
    # MR02 is a 5-year exploration licence: lawful from 2020-05-01, above the 3-year cap before
    before = _check(rule_set, "mine-land", as_of="2020-04-30", select=["SUP-017"])
    after = _check(rule_set, "mine-land", as_of="2020-05-01", select=["SUP-017"])
    assert [c["subjects"][0]["id"] for c in before["conflicts"]] == ["MR02"]
    assert "3 years" in before["conflicts"][0]["message"]
    assert after["conflicts"] == []


def test_province_override_replaces_the_national_figure():
    from rulecheck.dsl import load_rules

    rules = load_rules(params=[RULES / "params" / "provinces" / "44-example.rule"])
    record = _check(rules, "eco-recreation", select=["IND-030"])
    assert [c["subjects"][0]["id"] for c in record["conflicts"]] == ["P14"]
    assert "45%" in record["conflicts"][0]["message"]
    used = {p["name"]: p for p in record["rules"]["params"]}
    assert used["industrial_min_coverage"]["from"] == "2024-01-01"
