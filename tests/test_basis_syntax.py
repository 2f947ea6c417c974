"""The language of citations: a paraphrase marked as such, a basis that follows a parameter's edition, and the
provenance of each edition, from the pack text to the report."""

from __future__ import annotations

import datetime as dt

import pytest

import rulecheck
from rulecheck.diagnostics import InputError
from rulecheck.dsl.rules import validate

PACK = '''
param cap
  title zh "上限" en "Cap"
  from 2000-01-01 source "《海域使用管理法》第二十五条" "养殖用海十五年"
    provenance official "checked against the gazette"
    value 15 years
  from 2020-01-01 source "《某规定》第三条" paraphrase "上限改为十年"
    provenance secondary
    value 10 years
  from 2024-01-01 source "示例"
    value 8 years

rule SUP-900
  title zh "期限上限" en "Term cap"
  severity error
  basis source of cap
  for each right in unit_plan.rights where present(right.term_years)
  require right.term_years <= cap
  message zh "{right}" en "{right}"

rule SUP-901
  title zh "示例" en "Example"
  severity warning
  basis "《城乡规划法》第三十八条" paraphrase "规划条件纳入出让合同"
  for each right in unit_plan.rights where present(right.term_years)
  require right.term_years <= 1 years
  message zh "{right}" en "{right}"
'''


@pytest.fixture(scope="module")
def rule_set(tmp_path_factory):
    path = tmp_path_factory.mktemp("pack") / "cap.rule"
    path.write_text(PACK, encoding="utf-8")
    return rulecheck.load_rules([path])


@pytest.fixture(scope="module")
def minimal():
    return rulecheck.load_submission("fixtures/minimal/submission.yaml")


@pytest.mark.parametrize(
    ("as_of", "citation", "line"),
    [
        ("2010-06-01", "《海域使用管理法》第二十五条", "《海域使用管理法》第二十五条：养殖用海十五年"),
        ("2021-06-01", "《某规定》第三条", "《某规定》第三条：〔大意〕上限改为十年"),
        ("2025-06-01", "示例", "示例"),
    ],
)
def test_the_basis_follows_the_edition_in_force(rule_set, minimal, as_of, citation, line):
    record = rulecheck.check(minimal, rule_set, as_of=as_of, select=["SUP-900"])
    (conflict, *_) = record["conflicts"]
    assert conflict["basis"] == line
    assert record["rules"]["catalog"][0]["basis"]["citation"] == citation
    (applied,) = record["rules"]["params"]
    assert applied["source"] == citation
    assert applied["provenance"] == {"2010-06-01": "official", "2021-06-01": "secondary", "2025-06-01": "unstated"}[as_of]


def test_before_the_first_edition_the_rule_is_undecided_and_cites_nothing(rule_set, minimal):
    record = rulecheck.check(minimal, rule_set, as_of="1995-01-01", select=["SUP-900"])
    assert record["conflicts"] == [] and record["indeterminate"]
    assert record["rules"]["catalog"][0]["basis"]["from"] is None


def test_a_paraphrase_is_marked_in_the_catalog_and_the_conflict(rule_set, minimal):
    record = rulecheck.check(minimal, rule_set, select=["SUP-901"])
    assert record["rules"]["catalog"][0]["basis"] == {"citation": "《城乡规划法》第三十八条", "text": "规划条件纳入出让合同",
                                                      "paraphrase": True}
    assert all(c["basis"] == "《城乡规划法》第三十八条：〔大意〕规划条件纳入出让合同" for c in record["conflicts"])
    listed = rule_set.by_id()["SUP-900"].basis_at()
    assert [e["from"] for e in listed["editions"]] == ["2000-01-01", "2020-01-01", "2024-01-01"]
    assert rule_set.by_id()["SUP-900"].basis_at(dt.date(2021, 1, 1))["paraphrase"] is True


def test_a_basis_naming_no_parameter_is_refused_with_a_suggestion(tmp_path):
    path = tmp_path / "bad.rule"
    path.write_text(PACK.replace("basis source of cap", "basis source of cpa"), encoding="utf-8")
    with pytest.raises(InputError) as err:
        rulecheck.load_rules([path])
    text = str(err.value)
    assert "names cpa, which is not a parameter" in text and "did you mean 'cap'" in text


def test_an_unknown_provenance_is_a_syntax_error(tmp_path):
    path = tmp_path / "bad.rule"
    path.write_text(PACK.replace("provenance secondary", "provenance hearsay"), encoding="utf-8")
    diags = validate([path])
    assert any(d.severity == "error" and d.line == 8 for d in diags), [str(d) for d in diags]
