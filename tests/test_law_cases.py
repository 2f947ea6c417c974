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
    (tmp_path / "scheme.yaml").write_bytes((FIXTURES / "minimal" / "scheme.yaml").read_bytes())  # the scheme it names
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
    assert params and all(p["from"] and p["source"] and p["provenance"] in ("official", "secondary", "practice")
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
