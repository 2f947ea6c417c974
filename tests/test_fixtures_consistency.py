"""The clean fixtures are consistent by every check of domain.md, verified from the raw files (no rulecheck code)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import shapely
import yaml
from shapely import wkt as shapely_wkt
from shapely.geometry import shape
from shapely.ops import unary_union

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CONSTRUCTION = tuple(f"{i:02d}" for i in range(7, 17))
TERM_CAPS = {"0701": 70, "09": 40, "1001": 50, "11": 50, "08": 50}  # the ones the fixtures use
SEA_CAPS = {"aquaculture": 15, "tourism": 25}
MINING_CAPS = {"large": 30, "medium": 20, "small": 10}


def _geometry(value, folder: Path):
    if isinstance(value, str) and value.endswith(".geojson"):
        collection = json.loads((folder / value).read_text(encoding="utf-8"))
        return unary_union([shape(f["geometry"]) for f in collection["features"]])
    return shapely_wkt.loads(value)


def _features(value, folder: Path) -> list[tuple[dict, object]]:
    if isinstance(value, list):
        return [({k: v for k, v in r.items() if k != "geometry"}, shapely_wkt.loads(r["geometry"])) for r in value]
    if "#" in value:
        import pyogrio

        path, layer = value.split("#")
        meta, _fids, geometries, fields = pyogrio.raw.read(str(folder / path), layer=layer)
        out = []
        for i, geometry in enumerate(geometries):
            props = {}
            for name, column in zip(meta["fields"], fields):
                v = column[i]
                if v is None or (isinstance(v, float) and v != v):
                    continue
                props[name] = v.item() if hasattr(v, "item") else v
            out.append((props, shapely.from_wkb(geometry)))
        return out
    collection = json.loads((folder / value).read_text(encoding="utf-8"))
    return [(f["properties"], shape(f["geometry"])) for f in collection["features"]]


def _load(name: str):
    folder = FIXTURES / name
    manifest = yaml.safe_load((folder / "submission.yaml").read_text(encoding="utf-8"))
    unit = manifest["unit_plan"]
    plan = manifest["detailed_plan"]
    return {
        "manifest": manifest,
        "unit": _geometry(unit["boundary"], folder),
        "rights": _features(unit["rights"], folder),
        "parcels": _features(plan["parcels"], folder),
        "lines": _features(plan["control_lines"], folder),
        "packages": {p["id"]: {**p, "geometry": _geometry(p["boundary"], folder)} for p in unit["packages"]},
    }


CLEAN = ["eco-recreation", "mine-land", "land-sea"]


@pytest.fixture(scope="module", params=CLEAN)
def bundle(request):
    return _load(request.param)


def _under(code: str, prefixes) -> bool:
    return any(code.startswith(p) for p in prefixes)


def test_geometries_valid_and_areas_declared(bundle):
    for props, geom in bundle["rights"] + bundle["parcels"]:
        assert geom.is_valid and not geom.is_empty, props["id"]
        assert props["area_m2"] == pytest.approx(geom.area, abs=0.01), props["id"]


def test_rights_and_packages_inside_unit(bundle):
    for props, geom in bundle["rights"]:
        assert geom.difference(bundle["unit"]).area < 0.01, props["id"]
    for package in bundle["packages"].values():
        assert package["geometry"].difference(bundle["unit"]).area < 0.01, package["id"]


def test_non_overlay_rights_do_not_overlap(bundle):
    rights = [(p, g) for p, g in bundle["rights"] if not p.get("overlay")]
    for i, (a, ga) in enumerate(rights):
        for b, gb in rights[i + 1 :]:
            assert ga.intersection(gb).area < 0.01, (a["id"], b["id"])


def test_rights_sit_on_parcels_of_their_land_use(bundle):
    for props, geom in bundle["rights"]:
        covering = [g for p, g in bundle["parcels"] if p["land_use"].startswith(props["land_use"][:4]) or
                    props["land_use"].startswith(p["land_use"])]  # fmt: skip
        uncovered = geom.difference(unary_union(covering)).area
        assert uncovered < 0.01, (props["id"], uncovered)
        kind, use = props["kind"], props["land_use"]
        if "construction" in kind:
            assert _under(use, CONSTRUCTION)
        if kind == "forest_management":
            assert use.startswith("03")
        if kind in ("mining", "exploration"):
            assert use.startswith("1002")
        if kind == "sea_area_use":
            assert _under(use, ("18", "19", "20", "21", "22", "24"))
        if kind == "land_contract_management":
            assert _under(use, ("01", "02", "03", "04"))


def test_construction_and_mining_rights_off_farmland_and_red_line(bundle):
    protected = [g for p, g in bundle["lines"] if p["kind"] in ("permanent_basic_farmland", "ecological_protection_red_line")]
    assert protected
    for props, geom in bundle["rights"]:
        if "construction" in props["kind"] or props["kind"] in ("mining", "exploration"):
            for line in protected:
                assert geom.intersection(line).area < 0.01, props["id"]


def test_terms_within_caps(bundle):
    for props, _ in bundle["rights"]:
        term, use = props["term_years"], props["land_use"]
        if "construction" in props["kind"]:
            cap = next(c for p, c in TERM_CAPS.items() if use.startswith(p))
            assert term <= cap, props["id"]
        elif props["kind"] == "sea_area_use":
            assert term <= SEA_CAPS[props["sea_use"]]
        elif props["kind"] == "mining":
            assert term <= MINING_CAPS[props["scale"]]
        elif props["kind"] == "exploration":
            assert term <= 5
        elif props["kind"] in ("land_contract_management", "forest_management"):
            assert term <= (30 if use.startswith("01") else 70)


def test_packages_and_contracts_agree(bundle):
    rights = {p["id"]: (p, g) for p, g in bundle["rights"]}
    parcels = {p["id"]: (p, g) for p, g in bundle["parcels"]}
    contracts = {c["package"]: c for c in bundle["manifest"]["contracts"]}
    for package in bundle["packages"].values():
        assert sorted(package["rights"]) == sorted(r for r, (p, _) in rights.items() if p.get("package") == package["id"])
        for r in package["rights"]:
            assert rights[r][1].difference(package["geometry"]).area < 0.01
        contract = contracts[package["id"]]
        supplied = {i["right"] for i in contract["items"]} | set(contract["attached_rights"])
        assert supplied == set(package["rights"])
        assert set(contract["attached_rights"]) == {r for r in package["rights"] if rights[r][0].get("overlay")}
        supply = package["supply"]
        assert contract["method"] == supply["method"] and contract["award"] == supply["award"]
        assert contract["price_wan_yuan"] >= supply["reserve_price_wan_yuan"]
        if any(_under(rights[r][0]["land_use"], ("0701", "09", "1001", "1002", "11")) for r in package["rights"]):
            assert contract["award"] in ("tender", "auction", "listing")
        finance = package["finance"]
        assert sum(finance["revenues"].values()) >= sum(finance["costs"].values())
        assert sum(s["share"] for s in package["revenue_sharing"]) == 100
        assert 0 <= finance["government_share"] <= 1
        duties = {d["id"]: d for d in package["duties"]}
        written = {d["duty"]: d for d in contract["duties"]}
        assert set(written) == set(duties)
        for duty_id, duty in duties.items():
            assert written[duty_id]["quantity"] >= duty["quantity"] and written[duty_id]["due"] <= duty["due"]
            if duty["kind"] == "ecological_restoration":
                assert finance["costs"].get("restoration", 0) > 0
            if "geometry" in duty:
                assert shapely_wkt.loads(duty["geometry"]).within(package["geometry"])
            resource = unary_union([g for p, g in parcels.values() if p["land_use"].startswith(duty["resource"])])
            assert duty["quantity"] * 10_000 <= resource.intersection(package["geometry"]).area + 0.01
        for item in contract["items"]:
            right, _ = rights[item["right"]]
            assert item["term_years"] <= right["term_years"]
            assert item["land_use"] == right["land_use"] and item["area_m2"] == right["area_m2"]
            for pid in [item.get("parcel")] + item.get("parcels", []):
                if pid:
                    parcel = parcels[pid][0]
                    for key in ("far_max", "density_max", "height_max", "green_min", "far_min", "density_min", "green_max"):
                        if key in parcel:
                            assert item[key] == parcel[key], (item["right"], key)
                    if _under(parcel["land_use"], ("07", "08", "09", "1001", "11")):
                        assert "far_max" in parcel


def test_indicator_proposals_equal_the_plan(bundle):
    parcels = {p["id"]: p for p, _ in bundle["parcels"]}
    for proposal in bundle["manifest"]["unit_plan"].get("indicator_proposals", []):
        parcel = parcels[proposal["parcel"]]
        assert all(parcel.get(k) == v for k, v in proposal.items() if k != "parcel")


def test_industrial_parcels_meet_the_2008_indicators(bundle):
    for props, _ in bundle["parcels"]:
        if props["land_use"].startswith("1001"):
            assert props["density_min"] >= 30 and props["green_max"] <= 20


def test_rights_and_parcels_share_vertices_exactly(bundle):
    vertices = {tuple(c) for _, g in bundle["parcels"] for c in shapely.get_coordinates(g)}
    for props, geom in bundle["rights"]:
        assert {tuple(c) for c in shapely.get_coordinates(geom)} <= vertices, props["id"]


def test_crs_is_a_cgcs2000_gauss_kruger_zone_and_coordinates_fit_it(bundle):
    from pyproj import CRS, Transformer

    crs = CRS.from_user_input(bundle["manifest"]["submission"]["crs"])
    assert "CGCS2000 / 3-degree Gauss-Kruger zone" in crs.name
    lon, lat = Transformer.from_crs(crs, 4490, always_xy=True).transform(*bundle["unit"].centroid.coords[0])
    assert 18 < lat < 26 and 109 < lon < 117  # Guangdong


def test_defects_table_lists_each_planted_defect():
    table = (FIXTURES / "eco-recreation-defects" / "DEFECTS.md").read_text(encoding="utf-8")
    rows = [line for line in table.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) >= 10
    defects = _load("eco-recreation-defects")
    parcels = {p["id"]: g for p, g in defects["parcels"]}
    assert not parcels["P15"].is_valid
    shares = defects["packages"]["PKG-B"]["revenue_sharing"]
    assert sum(s["share"] for s in shares) == 90


def test_committed_fixtures_are_the_generator_output(tmp_path, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "make_fixtures", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", tmp_path)
    monkeypatch.setenv("OGR_CURRENT_DATE", "2026-03-01T00:00:00.000Z")
    module.main()
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert written
    for relative in written:
        assert (tmp_path / relative).read_bytes() == (FIXTURES / relative).read_bytes(), relative


def test_the_allocation_method_parts_are_complete_and_consistent(bundle):
    """The method's requirements (domain.md "DOC"), read from the raw files: what the DOC rules check, verified apart."""
    manifest = bundle["manifest"]
    unit = manifest["unit_plan"]
    inventories = unit["inventories"]
    assert unit["zone"] == "non_concentrated" and unit["county_scheme"]
    for name in ("resources", "assets", "funds", "conditions", "demands", "policies"):
        assert inventories[name], name
    assets = inventories["assets"]
    funds = inventories["funds"]
    contracts = {c["package"]: c for c in manifest["contracts"]}
    surplus = 0.0
    for package in bundle["packages"].values():
        program = package["program"]
        mine = [a for a in assets if a.get("package") == package["id"]]
        assert mine and all(a["registered"] is True for a in mine), package["id"]
        assert sum(a["value_wan_yuan"] for a in mine) == pytest.approx(program["survey"]["appraised_value_wan_yuan"], abs=1)
        assert package["supply"]["reserve_price_wan_yuan"] >= program["survey"]["appraised_value_wan_yuan"]
        assert program["design"] and program["approvals"] and package["revenue_sharing"]
        assert program["assembly"]["deadline"] <= package["supply"]["start"]
        assert set(program["assembly"]["funds"]) <= {f["id"] for f in funds}
        assert set(package["finance"]["channels"]) <= {f["name"] for f in funds}
        start = contracts[package["id"]]["start"]
        assert all(a["status"] != "refused" and a["date"] <= start for a in program["approvals"]), package["id"]
        assert any(s.get("role") in ("legal_owner_representative", "agent_owner_representative") for s in package["revenue_sharing"])
        revenue = package["finance"]["revenues"]
        assert package["supply"]["reserve_price_wan_yuan"] <= revenue["transfer"] <= 1.5 * package["supply"]["reserve_price_wan_yuan"]
        surplus += sum(revenue.values()) - sum(package["finance"]["costs"].values())
    assert surplus - sum(unit["finance"]["costs"].values()) + sum(unit["finance"]["revenues"].values()) >= 0


def test_the_plan_s_facilities_are_facility_duties_of_the_package_holding_the_parcel(bundle):
    duties = {p["id"]: p["duties"] for p in bundle["packages"].values()}
    contract_duties = {c["package"]: {d["duty"] for d in c["duties"]} for c in bundle["manifest"]["contracts"]}
    for props, geom in bundle["parcels"]:
        for right, right_geom in bundle["rights"]:
            if not props.get("facilities") or right.get("overlay") or not right.get("package"):
                continue
            if right_geom.intersection(geom).area <= 1:
                continue
            for needed in props["facilities"]:
                found = [d for d in duties[right["package"]] if d["kind"] == "facility" and d.get("facility") == needed]
                assert found and found[0]["id"] in contract_duties[right["package"]], (props["id"], needed)
