"""The law as it stood, from the command line: the corrected cases of issue 9 on small bundles and the fixtures,
with the exit status, the rules that fire and the basis each report prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
EXE = Path(sys.executable).with_name("rulecheck")

SQUARE = "POLYGON ((38401000 2622000, 38401200 2622000, 38401200 2622100, 38401000 2622100, 38401000 2622000))"
ORDER_39 = "《招标拍卖挂牌出让国有建设用地使用权规定》（国土资源部令第39号）第四条"
ORDER_11 = "《招标拍卖挂牌出让国有土地使用权规定》（国土资源部令第11号）第四条"


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXE), *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=300)


def report(*args) -> tuple[int, dict]:
    result = run("check", *args, "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def fired(record: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for conflict in record["conflicts"]:
        out.setdefault(conflict["rule"], []).append(conflict)
    return out


def one_parcel_transfer(tmp_path: Path, land_use: str, as_of: str, award: str = "agreement", **parcel) -> Path:
    """A unit of one state construction right on one parcel, in one package, transferred by one contract."""
    manifest = {
        "format": "rulecheck/v1",
        "submission": {"id": "LAW-1", "title": "law case", "jurisdiction": "441803", "as_of": as_of, "crs": "EPSG:4526"},
        "unit_plan": {
            "id": "U-LAW", "direction": "industry_integration", "boundary": SQUARE,
            "rights": [{"id": "R1", "kind": "construction_land_use", "land_use": land_use, "ownership": "state",
                        "term_years": 40, "supply_method": "transfer", "package": "PKG-1", "geometry": SQUARE}],
            "packages": [{"id": "PKG-1", "boundary": SQUARE, "rights": ["R1"],
                          "finance": {"costs": {"assembly": 80}, "revenues": {"transfer": 120}, "government_share": 0.6},
                          "revenue_sharing": [{"party": "县人民政府", "share": 100}],
                          "supply": {"method": "transfer", "award": award, "reserve_price_wan_yuan": 100}}],
        },
        "detailed_plan": {"id": "DP-LAW", "status": "approved", "control_lines": [],
                          "parcels": [{"id": "P1", "land_use": land_use, "area_m2": 20000, "geometry": SQUARE, **parcel}]},
        "contracts": [{"id": "C1", "package": "PKG-1", "method": "transfer", "award": award, "price_wan_yuan": 120,
                       "start": as_of, "items": [{"right": "R1", "parcel": "P1", "land_use": land_use, "area_m2": 20000,
                                                  "term_years": 40, **parcel}]}],
    }
    path = tmp_path / "submission.yaml"
    path.write_text(yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_a_mining_land_transfer_by_agreement_passes(tmp_path):
    # the one-parcel unit carries no inventories or program (the DOC family would ask for them): not the point here
    code, record = report(one_parcel_transfer(tmp_path, "1002", "2026-03-01"), "--ignore", "DOC")
    assert code == 0, record["conflicts"]
    assert "SUP-021" not in fired(record) and "SUP-022" not in fired(record)
    assert record["indeterminate"] == []
    # and the same agreement transfer of commercial land is caught, citing order 39 in force on the date
    code, record = report(one_parcel_transfer(tmp_path, "0901", "2026-03-01", far_max=1.2, density_max=35,
                                              green_min=30, height_max=15), "--ignore", "DOC")
    assert code == 1 and set(fired(record)) >= {"SUP-021", "SUP-022"}
    assert fired(record)["SUP-021"][0]["basis"].startswith(ORDER_39)


def test_a_2005_industrial_transfer_by_agreement_passes():
    defects = FIXTURES / "eco-recreation-defects" / "submission.yaml"
    code, record = report(defects, "--as-of", "2005-06-01", "--select", "SUP-021,SUP-022")
    assert code == 0 and record["conflicts"] == [] and record["indeterminate"] == []
    groups = [p for p in record["rules"]["params"] if p.get("kind") == "group"]
    assert [(g["name"], g["from"], g["value"], g["provenance"]) for g in groups] == [
        ("operating", "2002-07-01", "0701, 09", "secondary")]
    # from 2007-11-01 industrial land is operating land: the planted agreement transfer C-C is caught
    code, record = report(defects, "--as-of", "2008-01-01", "--select", "SUP-021")
    assert code == 1 and [c["subjects"][0]["id"] for c in record["conflicts"]] == ["C-C"]
    assert record["conflicts"][0]["basis"].startswith(ORDER_39 + "：工业、商业")


def test_a_2005_commercial_transfer_by_agreement_cites_order_11(tmp_path):
    path = one_parcel_transfer(tmp_path, "0901", "2005-06-01", far_max=1.2, density_max=35, green_min=30, height_max=15)
    result = run("check", path, "--select", "SUP-021", "--lang", "zh", "--no-color")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SUP-021" in result.stdout and f"依据: {ORDER_11}：商业、旅游、娱乐和商品住宅等各类经营性用地" in result.stdout


def test_a_2018_collective_market_transfer_fails():
    clean = FIXTURES / "eco-recreation" / "submission.yaml"
    code, record = report(clean, "--as-of", "2018-06-01", "--select", "SUP-028,SUP-029")
    assert code == 1
    assert {rule: [c["subjects"][0]["id"] for c in cs] for rule, cs in fired(record).items()} == {
        "SUP-028": ["R09"], "SUP-029": ["C-B/R09"]}
    # in 2018 the law in force was the 1998 text, which forbade it
    assert all(c["basis"] == "《土地管理法》（1998年修订）第六十三条：农民集体所有的土地的使用权不得出让、转让或者出租用于非农业建设"
               for c in record["conflicts"])
    # the same transfer in 2026 is lawful: commercial collective land may enter the market since 2020-01-01
    code, record = report(clean, "--select", "SUP-028,SUP-029")
    assert code == 0 and record["conflicts"] == []
    assert {o["rule"]: o["status"] for o in record["outcomes"]} == {"SUP-028": "pass", "SUP-029": "pass"}


def test_a_partial_indicator_proposal_passes(tmp_path):
    manifest = yaml.safe_load((FIXTURES / "minimal" / "submission.yaml").read_text(encoding="utf-8"))
    manifest["unit_plan"]["indicator_proposals"] = [{"parcel": "P2", "far_max": 1.2}]  # only one of four
    path = tmp_path / "submission.yaml"
    path.write_text(yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False), encoding="utf-8")
    code, record = report(path)
    assert code == 0 and record["conflicts"] == [] and record["indeterminate"] == []
    outcomes = {o["rule"]: o["status"] for o in record["outcomes"]}
    assert outcomes["IND-001"] == "pass"
    assert all(outcomes[r] == "not_applicable" for r in ("IND-003", "IND-005", "IND-007"))
    # a stated indicator that differs is still a conflict
    manifest["unit_plan"]["indicator_proposals"] = [{"parcel": "P2", "far_max": 1.5}]
    path.write_text(yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False), encoding="utf-8")
    code, record = report(path)
    assert code == 1 and list(fired(record)) == ["IND-001"]


@pytest.mark.parametrize(
    ("as_of", "code", "citation", "provenance"),
    [
        ("2019-06-01", 1, "《矿产资源勘查区块登记管理办法》（国务院令第240号）第十条", "secondary"),
        ("2021-01-01", 0, "《自然资源部关于推进矿产资源管理改革若干事项的意见（试行）》（自然资规〔2019〕7号）第七项", "secondary"),
        # the trial opinions were replaced in 2023 (by a text whose item is not checked), then by the revised law
        ("2024-01-01", 0, "《自然资源部关于深化矿产资源管理改革若干事项的意见》（自然资规〔2023〕6号）（条款待核）", "unverified"),
        ("2026-03-01", 0, "《矿产资源法》（2024年修订）第二十四条", "secondary"),
    ],
)
def test_an_exploration_licence_cites_the_text_in_force(as_of, code, citation, provenance):
    mine = FIXTURES / "mine-land" / "submission.yaml"
    result = run("check", mine, "--as-of", as_of, "--select", "SUP-017", "--lang", "zh", "--no-color")
    assert result.returncode == code, result.stdout + result.stderr
    if code:
        assert f"依据: {citation}：勘查许可证有效期最长为3年" in result.stdout
        assert "自然资规" not in result.stdout
    _, record = report(mine, "--as-of", as_of, "--select", "SUP-017")
    (applied,) = [p for p in record["rules"]["params"] if p["name"] == "exploration_max_term"]
    assert applied["source"] == citation and applied["provenance"] == provenance and applied["from"]
    assert record["rules"]["catalog"][0]["basis"]["citation"] == citation


def test_every_edition_applied_is_listed_with_date_source_and_provenance():
    _, record = report(FIXTURES / "eco-recreation" / "submission.yaml")
    params = record["rules"]["params"]
    assert params and all(p["from"] and p["source"] and p["provenance"] in ("official", "secondary", "practice", "unverified")
                          for p in params)
    names = {p["name"] for p in params}
    assert {"max_term_transfer", "industrial_min_coverage", "public_auction_awards", "operating"} <= names
    coverage = next(p for p in params if p["name"] == "industrial_min_coverage")
    assert coverage["from"] == "2023-06-01" and "UNVERIFIED" in coverage["provenance_note"]


def test_a_right_without_a_term_is_a_conflict_not_a_pass(tmp_path):
    path = one_parcel_transfer(tmp_path, "1002", "2026-03-01")
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    del manifest["unit_plan"]["rights"][0]["term_years"]
    del manifest["contracts"][0]["items"][0]["term_years"]
    path.write_text(yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False), encoding="utf-8")
    code, record = report(path, "--ignore", "DOC")  # no inventories or program in this one-parcel unit
    assert code == 1
    assert {r: [s["id"] for c in cs for s in c["subjects"]] for r, cs in fired(record).items()} == {
        "SUP-006": ["R1"], "SUP-007": ["C1/R1", "R1"]}


# ---- issue 20: the law as it is ---------------------------------------------------------------------------------


def write(path: Path, manifest: dict) -> Path:
    path.write_text(yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def allocated_school(tmp_path: Path, as_of: str = "2026-03-01") -> dict:
    """An allocated (划拨) school parcel (0804) with its planning conditions, no term anywhere."""
    path = one_parcel_transfer(tmp_path, "0804", as_of, far_max=1.2, density_max=35, green_min=30, height_max=15)
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    right = manifest["unit_plan"]["rights"][0]
    right["supply_method"] = "allocation"
    del right["term_years"]
    manifest["unit_plan"]["packages"][0]["supply"] = {"method": "allocation"}
    contract = manifest["contracts"][0]
    contract["method"] = "allocation"
    del contract["award"], contract["items"][0]["term_years"]
    return manifest


def test_an_allocated_school_parcel_without_a_term_passes(tmp_path):
    """Finding 1: 城市房地产管理法 第二十三条第二款: an allocated right has no term, so none is demanded of it."""
    path = write(tmp_path / "submission.yaml", allocated_school(tmp_path))
    code, record = report(path, "--ignore", "DOC")
    assert code == 0, record["conflicts"]
    assert record["conflicts"] == [] and record["indeterminate"] == []
    outcomes = {o["rule"]: o["status"] for o in record["outcomes"]}
    assert outcomes["SUP-006"] == outcomes["SUP-007"] == "not_applicable"
    # the same school transferred (出让) without a term is caught, each kind citing its own text in force
    manifest = allocated_school(tmp_path)
    manifest["unit_plan"]["rights"][0]["supply_method"] = "transfer"
    manifest["contracts"][0]["method"] = "transfer"
    manifest["contracts"][0]["award"] = "listing"
    manifest["unit_plan"]["packages"][0]["supply"] = {"method": "transfer", "award": "listing", "reserve_price_wan_yuan": 100}
    code, record = report(write(tmp_path / "submission.yaml", manifest), "--ignore", "DOC")
    assert code == 1 and set(fired(record)) == {"SUP-006", "SUP-007"}, fired(record)
    basis = fired(record)["SUP-007"][0]["basis"]
    assert "《民法典》第三百四十八条（建设用地使用权的最高年限与出让合同载明的期限）" in basis
    assert "《矿产资源法》（2024年修订）第二十四条（探矿权、采矿权）" in basis and "国务院令第240号" not in basis
    # before 2021 the contract clause was 物权法 第一百三十八条
    code, record = report(write(tmp_path / "submission.yaml", manifest), "--ignore", "DOC", "--as-of", "2015-06-01",
                          "--select", "SUP-007")
    assert code == 1 and "《物权法》第一百三十八条" in record["conflicts"][0]["basis"]
    assert "民法典" not in record["conflicts"][0]["basis"]


def collective_warehouse(tmp_path: Path) -> Path:
    path = one_parcel_transfer(tmp_path, "1101", "2026-03-01", award="listing", far_max=1.2, density_max=35,
                               green_min=15, height_max=15)
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    manifest["unit_plan"]["rights"][0].update(kind="collective_construction_land_use", ownership="collective")
    return write(path, manifest)


def test_collective_warehousing_entering_the_market_in_2026_passes(tmp_path):
    """Finding 2: "工业、商业等经营性用途" is an open list: warehousing (1101) may enter the market too."""
    path = collective_warehouse(tmp_path)
    code, record = report(path, "--ignore", "DOC")
    assert code == 0 and record["conflicts"] == [] and record["indeterminate"] == [], record["conflicts"]
    outcomes = {o["rule"]: o["status"] for o in record["outcomes"]}
    assert outcomes["SUP-028"] == outcomes["SUP-029"] == "pass"
    (group,) = [p for p in record["rules"]["params"] if p["name"] == "collective_market_entry"]
    assert group["value"] == "09, 1001, 11" and group["from"] == "2021-09-01"
    assert "《土地管理法实施条例》（2021年修订）第三十八条" in group["source"]
    # in 2018 the 1998 text forbade it: still caught
    code, record = report(path, "--as-of", "2018-06-01", "--select", "SUP-028")
    assert code == 1 and record["conflicts"][0]["basis"].startswith("《土地管理法》（1998年修订）第六十三条")


def test_a_2001_commercial_agreement_transfer_warns(tmp_path):
    """Finding 3: from 1995-01-01 城市房地产管理法 第十二条第二款 asked for auction or tender where conditions allowed."""
    path = one_parcel_transfer(tmp_path, "0901", "2001-06-01", far_max=1.2, density_max=35, green_min=30, height_max=15)
    result = run("check", path, "--select", "SUP-021,SUP-022", "--lang", "zh", "--no-color")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "警告 SUP-021" in result.stdout and "0 个错误，2 个警告" in result.stdout
    assert "依据: 《城市房地产管理法》（1994年）第十二条第二款：〔大意〕商业、旅游、娱乐和豪华住宅用地，有条件的，必须采取拍卖、招标方式" in result.stdout
    _, record = report(path, "--select", "SUP-021,SUP-022")
    assert {c["rule"]: c["severity"] for c in record["conflicts"]} == {"SUP-021": "warning", "SUP-022": "warning"}
    # before 1995 no use had to be auctioned (nothing to check: the run decided nothing, so it does not pass);
    # from 2002-07-01 (令第11号) the same transfer is an error
    _, record = report(one_parcel_transfer(tmp_path, "0901", "1994-06-01", far_max=1.2, density_max=35,
                                           green_min=30, height_max=15), "--select", "SUP-021")
    assert record["conflicts"] == [] and [o["status"] for o in record["outcomes"]] == ["not_applicable"]
    code, record = report(one_parcel_transfer(tmp_path, "0901", "2002-08-01", far_max=1.2, density_max=35,
                                              green_min=30, height_max=15), "--select", "SUP-021")
    assert code == 1 and record["conflicts"][0]["severity"] == "error"
    assert record["conflicts"][0]["basis"].startswith(ORDER_11)


def test_a_2007_01_01_industrial_agreement_transfer_fails(tmp_path):
    """Finding 4: the State Council's 2006 notice put industrial land to tender, auction or listing before 令第39号."""
    industrial = dict(far_max=1.2, density_max=35, density_min=40, coverage=40, green_max=10, height_max=15)
    path = one_parcel_transfer(tmp_path, "1001", "2007-01-01", **industrial)
    result = run("check", path, "--select", "SUP-021", "--lang", "zh", "--no-color")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "依据: 《国务院关于加强土地调控有关问题的通知》（国发〔2006〕31号）（条款待核）" in result.stdout
    _, record = report(path, "--select", "SUP-021")
    (group,) = [p for p in record["rules"]["params"] if p["name"] == "operating"]
    assert group["from"] == "2006-09-05" and "1001" in group["value"] and "11" not in group["value"].split(", ")
    # before the notice it passed; from 2007-10-01 物权法 第一百三十七条 is printed
    _, record = report(one_parcel_transfer(tmp_path, "1001", "2006-06-01", **industrial), "--select", "SUP-021")
    assert record["conflicts"] == [] and [o["status"] for o in record["outcomes"]] == ["not_applicable"]
    code, record = report(one_parcel_transfer(tmp_path, "1001", "2007-10-15", **industrial), "--select", "SUP-021")
    assert code == 1 and record["conflicts"][0]["basis"].startswith("《物权法》第一百三十七条第二款")


def test_coverage_not_density_is_compared_with_the_industrial_minimum(tmp_path):
    """Finding 12: 建筑系数 (coverage) counts buildings, structures and yards; 建筑密度 (density) is another indicator."""
    def industrial(**indicators):
        return one_parcel_transfer(tmp_path, "1001", "2020-06-01", award="listing", far_max=1.2, density_max=60,
                                   green_max=10, height_max=15, **indicators)

    # low density, enough coverage: passes
    code, record = report(industrial(density_min=10, coverage=35), "--select", "IND-030,IND-032")
    assert code == 0 and record["conflicts"] == [], record["conflicts"]
    # high density, too little coverage: both the parcel and the contract item are caught, naming coverage
    code, record = report(industrial(density_min=50, coverage=25), "--select", "IND-030,IND-032")
    assert code == 1
    assert {c["rule"]: c["subjects"][0]["id"] for c in record["conflicts"]} == {"IND-030": "P1", "IND-032": "C1/R1"}
    assert all(c["expected"] == "coverage >= 30%" and c["actual"] == "coverage = 25%" for c in record["conflicts"])
    # density alone, no coverage: the minimum cannot be shown to be met
    code, record = report(industrial(density_min=50), "--select", "IND-030")
    assert code == 1 and record["conflicts"][0]["actual"].startswith("coverage = ")  # (missing), in the report language


def _mine_land_with_item_coverage(tmp_path: Path, percent: int) -> Path:
    folder = tmp_path / "mine-land"
    import shutil
    shutil.copytree(FIXTURES / "mine-land", folder)
    manifest_path = folder / "submission.yaml"
    manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    (item,) = [i for c in manifest["contracts"] for i in c["items"] if i["right"] == "MR03"]
    item["coverage"] = percent
    return write(manifest_path, manifest)


def test_a_conflict_on_an_unverified_figure_is_marked_and_does_not_block(tmp_path):
    """Deliver 3: the 2023 industrial figures (provenance unverified) apply, but what rests on them says so in every
    format and is at most a warning; a province pack giving the figure with better provenance makes it an error."""
    path = _mine_land_with_item_coverage(tmp_path, 35)  # meets the 2008 30 %, not the unverified 2023 40 %
    code, record = report(path, "--select", "IND-030,IND-032")
    assert code == 0, record["conflicts"]
    (conflict,) = record["conflicts"]
    assert conflict["rule"] == "IND-032" and conflict["severity"] == "warning" and conflict["severity_written"] == "error"
    assert conflict["unverified"] is True and conflict["unverified_params"] == ["industrial_min_coverage"]
    assert record["summary"]["unverified"] == 1 and record["summary"]["error"] == 0
    (applied,) = [p for p in record["rules"]["params"] if p["name"] == "industrial_min_coverage"]
    assert applied["provenance"] == "unverified" and applied["from"] == "2023-06-01"
    text = run("check", path, "--select", "IND-032", "--lang", "zh", "--no-color").stdout
    assert "警告 IND-032 〔数值待核〕工业用地合同条目 C-M/MR03" in text and "1 个数值待核" in text
    sarif = json.loads(run("check", path, "--select", "IND-032", "--format", "sarif").stdout)
    (result,) = sarif["runs"][0]["results"]
    assert result["level"] == "warning" and result["properties"]["unverified"] is True
    # the 2008 figure (secondary) is not marked: the same item at 25 % in 2020 is an error
    code, record = report(_mine_land_with_item_coverage(tmp_path / "old", 25), "--select", "IND-032", "--as-of", "2020-01-01")
    assert code == 1 and record["conflicts"][0]["severity"] == "error" and "unverified" not in record["conflicts"][0]
    assert record["summary"]["unverified"] == 0
    # a province supplying the 2023 figure with better provenance: an error again, unmarked
    override = tmp_path / "44-checked.rule"
    override.write_text('''param industrial_min_coverage
  title zh "工业项目建筑系数下限（省级核定）" en "Minimum building coverage (checked by the province)"
  from 2008-01-31 source "《工业项目建设用地控制指标》（国土资发〔2008〕24号）（条款待核）"
    paraphrase "工业项目的建筑系数应不低于30%"
    provenance secondary "as the national edition"
    value 30 %
  from 2023-06-01 source "《工业项目建设用地控制指标》（自然资发〔2023〕72号）（条款待核）"
    paraphrase "工业项目的建筑系数应不低于40%"
    provenance official "checked by the province against the issued text (test)"
    value 40 %
''', encoding="utf-8")
    code, record = report(path, "--select", "IND-032", "--params", override)
    assert code == 1 and record["conflicts"][0]["severity"] == "error" and "unverified" not in record["conflicts"][0]


def test_mining_land_with_two_intending_users_must_be_put_to_competition(tmp_path):
    """Finding 4: mining land is not operating land (令第39号 第四条第二款), but 同一宗地有两个以上意向用地者 puts any
    transfer to tender, auction or listing (物权法 第一百三十七条, from 2007-10-01)."""
    path = one_parcel_transfer(tmp_path, "1002", "2026-03-01")
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    manifest["unit_plan"]["packages"][0]["supply"]["intending_users"] = 2
    code, record = report(write(path, manifest), "--select", "SUP-021,SUP-022,SUP-042")
    assert code == 1 and {c["rule"] for c in record["conflicts"]} == {"SUP-042"}
    assert record["conflicts"][0]["basis"].startswith(ORDER_39) and "同一宗地有两个以上意向用地者" in record["conflicts"][0]["basis"]
    # one intending user: agreement is lawful for mining land
    manifest["unit_plan"]["packages"][0]["supply"]["intending_users"] = 1
    code, record = report(write(path, manifest), "--select", "SUP-021,SUP-022,SUP-042")
    assert record["conflicts"] == []


def test_allocation_outside_public_interest_is_an_error_only_for_operating_land(tmp_path):
    """土地管理法 第五十四条（三）（四): state-supported energy, transport and water infrastructure may be allocated on
    other classes, so allocating mining or other non-operating land is a warning for a reviewer, operating land an error."""
    import shutil
    folder = tmp_path / "mine-land"
    shutil.copytree(FIXTURES / "mine-land", folder)
    manifest = yaml.safe_load((folder / "submission.yaml").read_text(encoding="utf-8"))
    (contract,) = [c for c in manifest["contracts"] if c["id"] == "C-M"]
    contract["method"] = "allocation"
    code, record = report(write(folder / "submission.yaml", manifest), "--select", "SUP-024")
    assert code == 1
    severities = {c["subjects"][0]["id"]: c["severity"] for c in record["conflicts"]}
    assert severities.pop("C-M/MR03") == "error"  # industrial land (1001): operating
    assert severities and set(severities.values()) == {"warning"}
