"""Every rule's basis names a real text with its article or section, and quotes only its registered words."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

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


# the sections of the method paper (../shared/method/wang-zhou-2026-asset-planning.md) a basis may name
METHOD_SECTIONS = ("§2.2.1", "§2.2.2", "§3.1", "§3.1.1", "§3.1.2", "§3.1.3", "§3.2", "§4.1", "§4.2")
PAPER = Path(__file__).resolve().parents[2] / "shared" / "method" / "wang-zhou-2026-asset-planning.md"
_SECTION_REF = re.compile(r"§(\d+(?:\.\d+)*)")


def _method_bases():
    for rule in RULES.rules:
        for where, citation, text, paraphrase in _bases(rule):
            if METHOD in citation:
                yield where, citation, text, paraphrase


def _paper_sections() -> dict[str, str]:
    """Section number -> its text (from its heading to the next numbered heading), spaces and line breaks removed
    (the paper's page breaks split lines)."""
    out: dict[str, list[str]] = {}
    current = None
    for line in PAPER.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^#+\s*(\d+(?:\.\d+)*)\s", line)
        if m:
            current = "§" + m.group(1)
            out[current] = []
        if current is not None:
            out[current].append(line)
    return {sec: re.sub(r"\s+", "", "".join(lines)) for sec, lines in out.items()}


def test_method_citations_name_a_section_and_paraphrase():
    """The method paper is cited with the section the rule follows from, and never as a verbatim quote."""
    cited = 0
    for where, citation, text, paraphrase in _method_bases():
        cited += 1
        named = _SECTION_REF.findall(citation.split("》", 1)[1])
        assert named and all("§" + n in METHOD_SECTIONS for n in named), (where, named)
        assert "王朝宇、周玉" in citation and "10.16361/j.upf.202601008" in citation, where
        assert paraphrase, where
    assert cited >= 60
    assert tuple(load_sources()[METHOD]["sections"]) == METHOD_SECTIONS


@pytest.mark.skipif(not PAPER.exists(), reason="the method's text (../shared/method/) is not beside this clone")
def test_the_method_sections_exist_and_say_what_the_bases_quote():
    """Every section a basis names exists in the paper, and every phrase a method paraphrase puts in “” is the
    paper's own words in one of the sections that basis names: an auditor reads the rest against that section."""
    sections = _paper_sections()
    assert set(METHOD_SECTIONS) <= set(sections), set(METHOD_SECTIONS) - set(sections)
    for where, citation, text, paraphrase in _method_bases():
        named = ["§" + n for n in _SECTION_REF.findall(citation.split("》", 1)[1])]
        body = "".join(sections[n] for n in named)
        phrases = re.findall(r"“([^”]+)”", text)
        assert phrases, f"{where}: a method paraphrase quotes at least one phrase of its section in “”"
        for phrase in phrases:
            assert re.sub(r"\s+", "", phrase) in body, f"{where}: “{phrase}” is not in {', '.join(named)}"


def test_the_sentence_the_audit_found_is_gone():
    """Issue 20, finding 14: GEO-011 attributed to §4.1 a sentence the paper does not contain."""
    for where, citation, text, paraphrase in _method_bases():
        assert "详细规划确定各地块的范围与面积" not in text, where
    geo011 = RULES.by_id()["GEO-011"].basis_at(dt.date(2026, 3, 1))
    assert METHOD not in geo011["citation"] and geo011["citation"].startswith("数据质量检查：面积一致性")


DATA_QUALITY_RULES = {"GEO-002", "GEO-004", "GEO-010", "GEO-011", "GEO-012", "REF-001", "REF-002", "REF-003",
                      "REF-005", "REF-006", "REF-010", "REF-011", "REF-012", "REF-013", "REF-014", "REF-015", "REF-020"}


def test_checks_the_method_does_not_speak_to_are_data_quality_checks():
    by_id = RULES.by_id()
    for rid in sorted(DATA_QUALITY_RULES):
        citation = by_id[rid].rule.basis
        assert citation.startswith("数据质量检查："), rid
        assert METHOD not in citation, rid
    # geometry validity follows OGC Simple Features where the rule checks a polygon; every rule citing it is a
    # data-quality check, and a standard sets no date before which the check is not in force
    assert all("OGC 06-103r4" in by_id[r].rule.basis for r in ("GEO-002", "GEO-004"))
    ogc = [r for r in RULES.rules if r.rule.basis_param is None and "OGC 06-103r4" in r.rule.basis]
    assert len(ogc) >= 8 and all(r.rule.basis.startswith("数据质量检查：几何有效性；") for r in ogc)
    assert all(commencement(r.rule.basis) == [] for r in ogc)
    assert check_basis("数据质量检查：", "", True) and check_basis("数据质量检查：《城乡规划法》", "", True)


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
            assert e.provenance in ("official", "secondary", "practice", "unverified"), (name, e.valid_from)


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
            assert e.source and e.provenance in ("official", "secondary", "practice", "unverified"), (group.name, e.valid_from)


# ---- bases never predate their texts (issue 20) ----------------------------------------------------------------

from rulecheck.citations import commencement, not_yet_in_force  # noqa: E402


def _editions():
    """(where, from, citation) of every parameter edition and every dated land-use group edition."""
    for name, param in sorted(RULES.params.items()):
        for e in param.editions:
            yield f"param {name}", e.valid_from, e.source
    for group in load_classification().groups.values():
        for e in group.editions:
            yield f"group {group.name}", e.valid_from, e.source


def test_every_cited_text_has_a_commencement_in_the_register():
    for title, entry in load_sources().items():
        assert entry.get("effective"), f"{title}: the register gives no commencement (effective)"
    for where, _, citation in _editions():
        for c in commencement(citation):
            assert c.date is not None, (where, citation, c.title)
    for rule in RULES.rules:
        if rule.rule.basis_param is None:
            for c in commencement(rule.rule.basis):
                assert c.date is not None, (rule.id, c.title)


def test_no_edition_is_in_force_before_its_texts(capsys):
    """The list a reviewer reads (printed with -s): every edition and fixed basis, each text with its commencement;
    an edition that starts before a text it cites commenced fails, and so does a rule whose stated start
    (`applies from`) is before its fixed basis's texts."""
    lines, wrong = [], []
    for where, start, citation in _editions():
        texts = commencement(citation)
        lines.append(f"{where} from {start}: " + "; ".join(f"《{c.title}》{c.version and '（' + c.version + '）'} {c.date}"
                                                        for c in texts))
        wrong += [(where, str(start), c.title, str(c.date)) for c in not_yet_in_force(citation, start)]
    for rule in RULES.rules:
        r = rule.rule
        if r.basis_param is not None:
            continue
        texts = commencement(r.basis)
        latest = max((c.date for c in texts), default=None)  # None: a data-quality check cites no text
        lines.append(f"{rule.id} (fixed basis, in force from {latest}): "
                     + "; ".join(f"《{c.title}》{c.version and '（' + c.version + '）'} {c.date}" for c in texts))
        if r.applies_from is not None:
            wrong += [(rule.id, str(r.applies_from), c.title, str(c.date)) for c in not_yet_in_force(r.basis, r.applies_from)]
    print("\n".join(lines))
    assert len(lines) > len(RULES.rules)
    assert wrong == []


def test_a_basis_printed_for_a_date_cites_only_texts_in_force_on_it():
    """For every rule that follows a parameter or dated group, on each edition's first day and on the day before the
    next edition, the basis printed names only texts already in force."""
    for rule in RULES.rules:
        name = rule.rule.basis_param
        if name is None:
            continue
        param = RULES.params.get(name) or load_classification().groups[name]
        starts = [e.valid_from for e in param.editions]
        days = starts + [later - dt.timedelta(days=1) for later in starts[1:]] + [dt.date(2026, 3, 1)]
        for day in days:
            basis = rule.basis_at(day)
            assert not_yet_in_force(basis["citation"], day) == [], (rule.id, str(day), basis["citation"])


def test_the_check_catches_an_edition_that_predates_its_text():
    # the finding of issue 20: 民法典 cited from 1990
    assert [c.title for c in not_yet_in_force("《民法典》第三百四十四条", dt.date(1990, 1, 1))] == ["民法典"]
    assert not_yet_in_force("《物权法》第一百三十五条", dt.date(2007, 10, 1)) == []
    # a version mark is read: the 2019 text of the land law commenced 2020-01-01
    assert [c.date for c in not_yet_in_force("《土地管理法》（2019年修正）第六十三条", dt.date(2019, 12, 31))] == [
        dt.date(2020, 1, 1)]
    assert not_yet_in_force("《土地管理法》（1998年修订）第六十三条", dt.date(2019, 12, 31)) == []
