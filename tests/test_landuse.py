"""Tests of the land and sea use classification: the shipped table, groups, suggestions, province overrides."""

from __future__ import annotations

import textwrap

import pytest

from rulecheck.diagnostics import InputError
from rulecheck.model.landuse import Classification, load_classification


@pytest.fixture(scope="module")
def national() -> Classification:
    return load_classification()


def test_all_24_level1_classes_with_names(national):
    level1 = [c for c in national.codes if len(c) == 2]
    assert level1 == [f"{i:02d}" for i in range(1, 25)]
    assert national.name("09") == "商业服务业用地"
    assert national.name("24", lang="en") == "other sea"


@pytest.mark.parametrize(
    ("level1", "expected"),
    [
        ("01", ["0101", "0102", "0103"]),
        ("02", ["0201", "0202", "0203", "0204", "0205"]),
        ("03", ["0301", "0302", "0303", "0304"]),
        ("05", ["0501", "0502", "0503", "0504", "0505", "0506", "0507"]),
        ("07", ["0701", "0702", "0703", "0704"]),
        ("09", ["0901", "0902", "0903", "0904"]),
        ("10", ["1001", "1002", "1003"]),
        ("12", [f"12{i:02d}" for i in range(1, 10)]),
        ("13", [f"13{i:02d}" for i in range(1, 13)]),
        ("17", [f"17{i:02d}" for i in range(1, 7)]),
        ("18", ["1801", "1802", "1803", "1804"]),
        ("22", [f"22{i:02d}" for i in range(1, 7)]),
        ("23", [f"23{i:02d}" for i in range(1, 8)]),
        ("16", []),
        ("24", []),
    ],
)
def test_level2_tables(national, level1, expected):
    assert [c for c in national.codes if len(c) == 4 and c.startswith(level1)] == expected


def test_frequently_used_codes_of_the_domain_notes_are_known(national):
    names = {
        "0101": "水田", "0301": "乔木林地", "0507": "红树林地", "0701": "城镇住宅用地", "0703": "农村宅基地",
        "0804": "教育用地", "0901": "商业用地", "0903": "娱乐用地", "1001": "工业用地", "1002": "采矿用地",
        "1101": "物流仓储用地", "1207": "城镇村道路用地", "1401": "公园绿地", "1402": "防护绿地",
        "1802": "增养殖用海", "2101": "风景旅游用海",
    }  # fmt: skip
    for code, zh in names.items():
        assert national.is_known(code)
        assert national.name(code) == zh


def test_alias_1601_reads_as_16(national):
    assert national.is_known("1601")
    assert national.name("1601") == "留白用地"
    assert national.level1("1601") == "16"
    assert national.in_group("1601", "construction")


def test_unknown_codes_and_non_strings(national):
    assert not national.is_known("0905")
    assert not national.is_known("25")
    assert not national.is_known(101)  # a code read as a number is not a code
    with pytest.raises(KeyError):
        national.name("0905")


def test_under_and_level1(national):
    assert national.under("0901", "09")
    assert national.under("09", "09")
    assert national.under("090104", "0901")
    assert not national.under("09", "0901")
    assert not national.under("1001", "10" + "02")
    assert national.level1("100102") == "10"


@pytest.mark.parametrize(
    ("code", "group", "expected"),
    [
        ("0901", "operating", True),
        ("0701", "operating", True),
        ("0703", "operating", False),  # a rural homestead is not operating land
        ("1002", "operating", False),  # 招拍挂规定 第四条第二款: industrial land excludes mining land
        ("1003", "operating", False),
        ("0804", "public_interest", True),
        ("1207", "public_interest", True),
        ("0301", "construction", False),
        ("1601", "construction", True),
        ("0301", "ecological_resource", True),
        ("1802", "ecological_resource", True),
        ("1801", "ecological_resource", False),
        ("2101", "sea", True),
        ("2301", "sea", False),  # 23 其他土地 is land
        ("1001", "building", True),
        ("1002", "building", False),  # mining land has no building indicators
        ("0507", "ecological", True),
        ("0601", "agricultural", True),
    ],
)
def test_groups(national, code, group, expected):
    assert national.in_group(code, group) is expected


@pytest.mark.parametrize(
    ("code", "group", "day", "expected"),
    [
        ("0901", "operating", "1994-12-31", False),  # before 城市房地产管理法 (1994)
        ("0901", "operating", "1995-01-01", True),  # 第十二条第二款: where conditions allow (SUP-021 warns)
        ("0701", "operating", "2002-06-30", False),  # commodity housing from 国土资源部令第11号
        ("0701", "operating", "2002-07-01", True),
        ("1001", "operating", "2005-06-01", False),  # industrial land joins with the State Council's 2006 notice
        ("1001", "operating", "2006-09-05", True),
        ("1101", "operating", "2007-09-30", False),
        ("1101", "operating", "2007-10-01", True),  # 物权法 第一百三十七条 (令第39号 names warehousing from 11-01)
        ("1002", "operating", "2026-01-01", False),
        ("0901", "collective_market_entry", "2019-12-31", False),  # 土地管理法 (2019) 第六十三条 from 2020-01-01
        ("0901", "collective_market_entry", "2020-01-01", True),
        ("1101", "collective_market_entry", "2026-01-01", True),  # "工业、商业等经营性用途" is an open list
        ("0701", "collective_market_entry", "2026-01-01", False),
    ],
)
def test_dated_groups(national, code, group, day, expected):
    import datetime as dt

    assert national.in_group(code, group, dt.date.fromisoformat(day)) is expected
    edition = national.groups[group].edition_at(dt.date.fromisoformat(day))
    assert edition is None or (edition.source and edition.valid_from <= dt.date.fromisoformat(day))


def test_dated_group_errors(tmp_path):
    path = tmp_path / "local.yaml"
    path.write_text(
        "groups:\n  g:\n    zh: 组\n    source: s\n    editions:\n"
        "      - {from: 2010-01-01, codes: [\"09\"], source: a}\n"
        "      - {from: 2005-01-01, codes: [\"09\"], source: b, provenance: maybe}\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        load_classification(override=path)
    text = str(err.value)
    assert "date order" in text and "unknown provenance 'maybe'" in text and ":7" in text


def test_every_group_has_names_codes_and_source(national):
    for name in ("construction", "agricultural", "ecological", "ecological_resource", "sea", "operating",
                 "public_interest", "building"):  # fmt: skip
        group = national.groups[name]
        assert group.name == name and group.zh and group.en and group.source
        assert all(national.is_known(c) for c in group.codes)
    assert national.groups["construction"].codes == tuple(f"{i:02d}" for i in range(7, 17))


def test_groups_of(national):
    assert national.groups_of("090104") == [
        "building", "collective_market_entry", "commercial_tourism_entertainment", "construction", "operating",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("written", "suggested"),
    [("0905", "0901"), ("101", "0101"), ("商业用地", "0901"), ("commerce", "0901"), ("0109", "0101"), ("xyz", None)],
)
def test_suggest(national, written, suggested):
    assert national.suggest(written) == suggested


def test_source_and_date_are_shipped(national):
    assert national.source["document"] == "自然资发〔2023〕234号"
    assert str(national.source["applies_from"]) == "2023-11-22"


def test_default_is_cached():
    assert load_classification().codes is not None
    from rulecheck.model import landuse

    before = landuse._default.cache_info().hits
    load_classification()
    assert landuse._default.cache_info().hits == before + 1


def test_province_file_is_picked_by_jurisdiction(national):
    guangdong = load_classification(jurisdiction="441802")
    assert "coastal_ecological" in guangdong.groups
    assert guangdong.in_group("2203", "ecological_resource")
    assert not national.in_group("2203", "ecological_resource")
    assert guangdong.files[-1] == "rulecheck/data/provinces/44.yaml"
    # no file for Hunan (43): the national table alone
    assert "coastal_ecological" not in load_classification(jurisdiction="430100").groups


def test_override_file_adds_codes_and_replaces_groups(tmp_path):
    path = tmp_path / "local.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            codes:
              "090106": {zh: 民宿用地, en: guesthouses}
              "0901": {zh: 商业用地（本地）, en: commerce}
            groups:
              operating:
                zh: 经营性用地
                en: operating land
                codes: ["09", "1001"]
                source: local rule
            """
        ),
        encoding="utf-8",
    )
    local = load_classification(override=path)
    assert local.is_known("090106") and local.level1("090106") == "09"
    assert local.name("0901") == "商业用地（本地）"
    assert not local.in_group("0701", "operating")
    assert local.in_group("090106", "operating")
    assert load_classification().name("0901") == "商业用地"  # the cached default is not touched


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("codes:\n  \"0901\": {zh: 商业用地\n", 3, "YAML syntax error"),
        ("codes:\n  0101: {zh: 水田}\n", 2, "must be a quoted string"),
        ("codes:\n  \"09x1\": {zh: 商业}\n", 2, "not a land-use code"),
        ("codes:\n  \"0905\": {en: shops}\n", 2, "Chinese name"),
        ("groups:\n  mine:\n    zh: 矿\n    codes: [\"1002\", \"1099\"]\n    source: x\n", 4, "unknown land-use code '1099'"),
        ("groups:\n  mine:\n    zh: 矿\n    codes: [\"1002\"]\n", 3, "a group needs source"),
        ("grups: {}\n", 1, "unknown key 'grups'"),
    ],
)
def test_bad_override_is_located(tmp_path, text, line, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_classification(override=path)
    diagnostic = info.value.diagnostics[0]
    assert diagnostic.path == str(path)
    assert diagnostic.line == line
    assert needle in diagnostic.message


def test_missing_override_file(tmp_path):
    with pytest.raises(InputError) as info:
        load_classification(override=tmp_path / "nowhere.yaml")
    assert "not found" in info.value.diagnostics[0].message
