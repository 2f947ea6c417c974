"""A compiled rule keeps alive the AST it was compiled from, the nodes made while compiling among them.

The run's memo keys some values by a node's id (a condition that reads none of the rule's variables is
computed once per run, under the id of its node). An id is unique only while its object lives: a node made
while compiling (a `where` joined to the `for each` before it) and then freed could lend its id to a node of
another rule, which would then read the first rule's value. Checking one submission after another in one
process (tests/test_authors_round2.py after tests/test_aggregates_absent.py) made LAY-040 not applicable on
the defects fixture."""

from __future__ import annotations

import gc

from rulecheck.dsl import ast
from rulecheck.dsl.packs import load_rules


def test_a_where_joined_to_its_loop_lives_as_long_as_the_rule():
    rule = load_rules().by_id()["LAY-040"]
    loop = rule.merged_steps[0]
    assert isinstance(loop, ast.ForStep) and isinstance(loop.cond, ast.Logic)  # its own filter and the `where`
    assert loop is not rule.rule.steps[0]  # made while compiling, so held by the compiled rule alone
    gc.collect()
    assert rule.merged_steps[0] is loop
