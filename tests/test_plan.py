"""A loop's plan is a value (rulecheck/dsl/plan.py): frozen, comparable, printed by `rules validate --plan` and the
language server; the options it is planned with are passed, not switched in module globals; the planner reads
syntax and types and never the compiler."""

from __future__ import annotations

import ast as pyast
import dataclasses
from pathlib import Path

import pytest

import rulecheck
from rulecheck.dsl.plan import HashJoin, LoopPlan, PlanOptions, SpatialJoin, current_options, planning

ROOT = Path(__file__).resolve().parents[1]
DSL = ROOT / "rulecheck" / "dsl"

PACK = '''
rule TST-050
  title zh "测试" en "A join on ids, a spatial join and a local filter"
  severity info
  basis "测试" "test"
  for each right in unit_plan.rights where present(right.land_use)
  for each parcel in detailed_plan.parcels where intersects(right, parcel) and parcel.id != right.id
  for each p in detailed_plan.parcels where p.id == parcel.id
  require overlap_area(right, p) >= 0 m2
  message zh "{right}" en "{right}"
'''


def _plans(pack: Path, options: PlanOptions | None = None) -> list[LoopPlan]:
    with planning(options or PlanOptions()):
        rules = rulecheck.load_rules([pack])
    return next(r for r in rules.rules if r.id == "TST-050").plans


def test_a_plan_is_a_frozen_value_that_prints_itself(tmp_path):
    pack = tmp_path / "plan.rule"
    pack.write_text(PACK, encoding="utf-8")
    right, parcel, p = _plans(pack)
    assert [f.text for f in right.filters] == ["present(right.land_use)"] and not right.nested
    assert isinstance(parcel.spatial, SpatialJoin) and parcel.spatial.other_var == "right"
    assert parcel.spatial.predicate == "intersects" and parcel.hash_join is None
    assert [c.text for c in parcel.pair_conditions] == ["parcel.id != right.id"]
    assert isinstance(p.hash_join, HashJoin) and p.hash_join.exact and p.hash_join.branches[0].kind == "eq"
    assert p.per_pair == () and p.nested and p.source_fixed
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.var = "q"
    assert _plans(pack) == [right, parcel, p]  # planned again: equal values
    assert str(p) == "\n".join(p.describe()) == (
        "  p in detailed_plan.parcels: per binding, through an index\n    hash index: p.id == parcel.id")
    assert p["hash"] == "p.id == parcel.id" == p.as_dict()["hash"]  # read as the dict it was


def test_plan_options_are_passed_not_switched(tmp_path):
    pack = tmp_path / "plan.rule"
    pack.write_text(PACK, encoding="utf-8")
    assert current_options() == PlanOptions()
    with planning(PlanOptions(hash_joins=False, pair_conditions=False, local_keys=False)) as options:
        assert current_options() is options
    assert current_options() == PlanOptions()
    right, parcel, p = _plans(pack, PlanOptions(hash_joins=False, pair_conditions=False, local_keys=False))
    assert p.hash_join is None and p.per_pair == ("p.id == parcel.id",)
    assert parcel.pair_conditions == () and parcel.per_pair == ("parcel.id != right.id",)
    assert right.filters[0].key is None
    keyed = _plans(pack)[0]
    assert keyed.filters[0].key is not None


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    tree = pyast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in pyast.walk(tree):
        if isinstance(node, pyast.ImportFrom) and node.module:
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, pyast.Import):
            out += [(a.name, []) for a in node.names]
    return out


def test_the_planner_never_imports_the_compiler_nor_private_names():
    core = ["ast.py", "plan.py", "planner.py", "joins.py", "compiler.py", "parser.py"]
    for name in ("plan.py", "planner.py", "joins.py", "ast.py"):
        for module, names in _imports(DSL / name):
            assert module != "rulecheck.dsl.compiler" and not (module == "rulecheck.dsl" and "compiler" in names), name
    assert "rulecheck.dsl.joins" not in {m for m, _ in _imports(DSL / "planner.py")}
    for name in core:
        for module, names in _imports(DSL / name):
            if module.startswith("rulecheck"):
                private = [n for n in names if n.startswith("_")]
                assert not private, f"{name} imports {private} from {module}"


def test_the_language_server_shows_a_rules_plan(tmp_path):
    from rulecheck.dsl.lsp import RuleAnalysis

    analysis = RuleAnalysis((tmp_path / "plan.rule").as_uri(), PACK)
    lines = PACK.splitlines()
    at = next(n for n, line in enumerate(lines) if "for each p in" in line)
    shown = analysis.hover(at, lines[at].index("each"))
    assert shown.startswith("plan of TST-050:")
    assert "    hash index: p.id == parcel.id" in shown and "spatial index (STRtree): intersects(right, parcel)" in shown
