"""Every rule's basis names a real text with its article or section, and quotes only its registered words."""

from __future__ import annotations

import datetime as dt
import re

import pytest

import rulecheck
from rulecheck.citations import check_basis, load_sources
from rulecheck.model.landuse import load_classification

RULES = rulecheck.load_rules()
METHOD = "国土空间规划协同视角下自然资源资产规划体系与实施型资产规划编制实施模式"


def _bases(rule):
    """(where, citation, text, paraphrase) of a rule's basis; for `basis source of PARAM`, one per edition."""
    r = rule.rule
    if r.basis_param is None:
        return [(rule.id, r.basis, r.basis_text, r.basis_paraphrase)]
    param = RULES.params.get(r.basis_param) or load_classification().groups[r.basis_param]  # a parameter or a dated group
    return [(f"{rule.id} via {r.basis_param} from {e.valid_from}", e.source, e.text, e.paraphrase) for e in param.editions]


def test_the_list_of_bases():
    """The list a reviewer reads: every rule with the basis it prints (printed with -s)."""
    lines = [f"{where}: {citation}" for rule in RULES.rules for where, citation, _, _ in _bases(rule)]
    assert len(lines) >= len(RULES.rules) >= 90
    print("\n".join(lines))


@pytest.mark.parametrize("rule", RULES.rules, ids=lambda r: r.id)
def test_basis_names_a_known_text_with_article(rule):
    for where, citation, text, paraphrase in _bases(rule):
        assert check_basis(citation, text, paraphrase) == [], where


def test_no_rule_cites_the_guide_that_does_not_exist():
    for rule in RULES.rules:
        for _, citation, _, _ in _bases(rule):
            assert "配置规划编制指南" not in citation


def test_method_citations_name_a_section_and_paraphrase():
    """The method paper is cited with the section the rule follows from, and never as a verbatim quote."""
    cited = 0
    for rule in RULES.rules:
        for where, citation, text, paraphrase in _bases(rule):
            if METHOD in citation:
                cited += 1
                assert re.search(r"§(3\.1\.1|3\.1\.2|3\.1\.3|3\.1|3\.2|4\.1|4\.2)(?![.\d])", citation), where
                assert "王朝宇、周玉" in citation and "10.16361/j.upf.202601008" in citation, where
                assert paraphrase, where
    assert cited >= 30


@pytest.mark.parametrize(
    ("citation", "text", "paraphrase", "needle"),
    [
        ("《自然资源资产配置规划编制指南》", "", True, "not a known document"),
        ("《城乡规划法》", "", False, "gives no article or section"),
        ("城乡规划法第三十八条", "", False, "names no document"),
        ("《城乡规划法》第三十八条", "出让地块的位置、面积等规划条件应作为出让合同的组成部分", False, "is not the words"),
        ("《民法典》第二百零九条、第三百四十五条", "同一空间不得重复设立同类用益物权", False, "is not the words"),
        ("王朝宇、周玉《国土空间规划协同视角下自然资源资产规划体系与实施型资产规划编制实施模式》§5.9", "x", True,
         "names no section"),
    ],
)
def test_the_check_refuses_what_the_issue_found(citation, text, paraphrase, needle):
    problems = check_basis(citation, text, paraphrase)
    assert any(needle in p for p in problems), problems


def test_registry_entries_have_issuer_dates_and_provenance():
    for title, entry in load_sources().items():
        assert entry.get("issuer") or entry.get("authors"), title
        assert any(entry.get(k) for k in ("adopted", "effective")), title
        for q in entry.get("quotations") or []:
            assert q["article"] and q["text"] and q["provenance"] in ("official", "secondary"), (title, q)


def test_every_edition_states_its_provenance():
    for name, param in RULES.params.items():
        for e in param.editions:
            assert e.provenance in ("official", "secondary", "practice"), (name, e.valid_from)


def test_a_basis_following_a_parameter_prints_the_edition_in_force():
    sup017 = RULES.by_id()["SUP-017"]
    then = sup017.basis_at(dt.date(2019, 6, 1))
    now = sup017.basis_at(dt.date(2021, 1, 1))
    assert then["citation"].startswith("《矿产资源勘查区块登记管理办法》") and "第十条" in then["citation"]
    assert "3年" in then["text"] and not then["paraphrase"]
    assert "自然资规〔2019〕7号" in now["citation"] and now["paraphrase"]


def test_a_basis_following_a_dated_group_prints_the_text_in_force():
    sup028 = RULES.by_id()["SUP-028"]
    assert sup028.basis_at(dt.date(2018, 6, 1))["citation"] == "《土地管理法》（1998年修订）第六十三条"
    assert "不得出让、转让或者出租用于非农业建设" in sup028.basis_at(dt.date(2018, 6, 1))["text"]
    assert sup028.basis_at(dt.date(2021, 1, 1))["citation"] == "《土地管理法》（2019年修正）第六十三条"
    assert sup028.basis_at(dt.date(1995, 1, 1))["from"] is None


def test_dated_group_editions_carry_provenance():
    for group in load_classification().groups.values():
        for e in group.editions:
            assert e.source and e.provenance in ("official", "secondary", "practice"), (group.name, e.valid_from)
