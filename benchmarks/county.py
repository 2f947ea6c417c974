"""A county-like submission for the all-packs benchmark and the complexity guard: parcels, rights and control
lines as in bench_rules.py, plus packages (with duties, finance, revenue sharing, supply), one contract per
package (an item per right, its duties, its overlays), and indicator proposals.

    .venv/bin/python benchmarks/county.py --parcels 10000       # writes benchmarks/data/county_10000_<seed>/

Seeded: the same bytes every run. The numbers follow issue 8's county: 100k parcels, ~36k rights, ~1000
packages and contracts."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import shapely

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_rules import DATA, generate, write_layer  # noqa: E402

RIGHTS_PER_PARCEL = 0.36
PARCELS_PER_PACKAGE = 100
BUILDING = ("07", "09", "10")  # codes carrying indicators (bench_rules gives them far/density/green/height)
INDICATORS = ("far_max", "density_max", "green_min", "height_max")


def _wkt(g) -> str:
    return shapely.to_wkt(g, rounding_precision=3)


def county(n_parcels: int, seed: int = 20260301, round_boundaries: int = 0) -> dict:
    """Every part of the submission: geometries with their properties, and the manifest's records. With
    `round_boundaries` > 0 (write_county) the unit's boundary is rounded too, and a package's boundary is the convex hull of its rights rounded with that many segments
    a quarter circle (hundreds of vertices: large enough to be prepared for the joins, as real boundaries are)
    instead of their bounding box."""
    base = generate(n_parcels, max(1, int(n_parcels * RIGHTS_PER_PARCEL)), seed)
    rng = np.random.default_rng(seed + 1)
    parcels, parcel_props = base["parcels"]
    rights, right_props = base["rights"]
    groups = base["groups"]
    n_packages = max(2, n_parcels // PARCELS_PER_PACKAGE)
    # packages are compact: rights in order along rows of cells of the square, cut into runs
    centres = shapely.get_coordinates(shapely.centroid(rights))
    side = max(1, int(round(n_packages ** 0.5)))
    x0, y0 = centres.min(axis=0)
    span = np.maximum(centres.max(axis=0) - (x0, y0), 1.0)
    cell = np.minimum((((centres - (x0, y0)) / span) * side).astype(int), side - 1)
    order = np.lexsort((cell[:, 0], cell[:, 1]))
    in_package = rng.random(len(rights)) < 0.7
    chunks = np.array_split(order, n_packages)
    packages, contracts = [], []
    for k, chunk in enumerate(chunks):
        members = [int(i) for i in chunk if in_package[i]]
        if not members:
            continue
        pid = f"PKG-{k + 1:04d}"
        for i in members:
            right_props[i]["package"] = pid
        if round_boundaries:
            boundary = shapely.convex_hull(shapely.geometrycollections(list(rights[members]))).buffer(
                1.0, quad_segs=round_boundaries)
        else:
            boundary = shapely.envelope(shapely.geometrycollections(list(rights[members]))).buffer(1.0, join_style="mitre")
        eco = [i for i in members if right_props[i]["land_use"].startswith("03")]
        duties = []
        if eco:
            ha = round(float(shapely.area(shapely.union_all(rights[eco]))) / 10_000 * 0.2, 2)
            duties.append({"id": f"D-{k + 1:04d}-1", "kind": "ecological_restoration", "resource": "03",
                           "quantity": max(ha, 0.01), "unit": "ha", "due": "2028-12-31"})
        duties.append({"id": f"D-{k + 1:04d}-2", "kind": "stewardship", "resource": "03", "quantity": 1, "unit": "count",
                       "due": "2030-12-31"})
        transfer = float(rng.integers(500, 8000))
        costs = {"assembly": round(transfer * 0.3, 1), "infrastructure": round(transfer * 0.2, 1)}
        if eco:
            costs["restoration"] = round(transfer * 0.05, 1)
        gov = round(float(rng.choice([40, 50, 60, 100])))
        packages.append({
            "id": pid, "name": f"资产包{k + 1}", "boundary": _wkt(boundary),
            "rights": [right_props[i]["id"] for i in members], "duties": duties,
            "finance": {"costs": costs, "revenues": {"transfer": transfer, "operation": round(transfer * 0.1, 1)},
                        "government_share": gov / 100, "channels": ["土地出让收入"]},
            "revenue_sharing": [{"party": "区人民政府", "share": gov}] + (
                [{"party": "村股份经济合作社", "share": 100 - gov}] if gov < 100 else []),
            "supply": {"method": "transfer", "award": "listing", "reserve_price_wan_yuan": transfer, "start": "2026-07-01"},
        })
        items, attached = [], []
        for i in members:
            props = right_props[i]
            if props["overlay"]:
                attached.append(props["id"])
                continue
            ids = [parcel_props[p]["id"] for p in groups[i]]
            item = {"right": props["id"], "parcel": ids[0], "land_use": props["land_use"],
                    "area_m2": round(float(shapely.area(rights[i])), 2), "term_years": props["term_years"]}
            if len(ids) > 1:
                item["parcels"] = ids
            first = parcel_props[groups[i][0]]
            for name in INDICATORS:
                if name in first:
                    item[name] = first[name]
            items.append(item)
        contracts.append({"id": f"C-{k + 1:04d}", "package": pid, "method": "transfer", "award": "listing",
                          "price_wan_yuan": transfer * 1.05, "start": "2026-07-01", "items": items,
                          "duties": [{"duty": d["id"], "quantity": d["quantity"], "unit": d["unit"], "due": d["due"]}
                                     for d in duties],
                          "attached_rights": attached})
    proposals = []
    for props in parcel_props:
        if props["land_use"][:2] in BUILDING and props["land_use"] != "1002" and "far_max" in props and rng.random() < 0.2:
            proposals.append({"parcel": props["id"], **{k: props[k] for k in INDICATORS}})
    return {**base, "packages": packages, "contracts": contracts, "proposals": proposals}


_ID = re.compile(r'"((?:P|R|PKG|C|D|CL)-[0-9-]+)"')


def tiled(c: dict, copies: int) -> dict:
    """`copies` disjoint copies of one county side by side (new ids, geometries moved east past a gap): exactly
    `copies` times every record, so a linear rule does exactly `copies` times the work of one copy."""
    if copies == 1:
        return c
    minx, _, maxx, _ = c["square"].bounds
    step = (maxx - minx) + 500.0
    out = {k: v for k, v in c.items()}
    for name in ("parcels", "rights", "control_lines"):
        geoms, props = c[name]
        all_geoms, all_props = [np.asarray(geoms, dtype=object)], [props]
        for k in range(1, copies):
            moved = shapely.transform(np.asarray(geoms, dtype=object), lambda xy, dx=k * step: xy + (dx, 0.0))
            all_geoms.append(moved)
            all_props.append(json.loads(_ID.sub(lambda m, k=k: f'"{m.group(1)}-{k}"', json.dumps(props, ensure_ascii=False))))
        out[name] = (np.concatenate(all_geoms), [p for ps in all_props for p in ps])
    out["square"] = shapely.multipolygons([shapely.transform(c["square"], lambda xy, dx=k * step: xy + (dx, 0.0))
                                           for k in range(copies)])
    for name in ("packages", "contracts", "proposals"):
        records = list(c[name])
        for k in range(1, copies):
            text = _ID.sub(lambda m, k=k: f'"{m.group(1)}-{k}"', json.dumps(c[name], ensure_ascii=False))
            copy = json.loads(text)
            if name == "packages":
                for package in copy:
                    package["boundary"] = _wkt(shapely.transform(shapely.from_wkt(package["boundary"]),
                                                                 lambda xy, dx=k * step: xy + (dx, 0.0)))
            records += copy
        out[name] = records
    return out


def write_county(n_parcels: int, seed: int = 20260301, folder: Path | None = None, regenerate: bool = False,
                 copies: int = 1, round_boundaries: int = 0) -> Path:
    """Write the bundle (layers + submission.json) into `folder` (default benchmarks/data/county_<n>_<seed>/)."""
    folder = folder or DATA / (f"county_{n_parcels}_{seed}" + (f"_x{copies}" if copies > 1 else "")
                               + (f"_round{round_boundaries}" if round_boundaries else ""))
    manifest = folder / "submission.json"
    if manifest.exists() and not regenerate:
        return manifest
    (folder / "layers").mkdir(parents=True, exist_ok=True)
    c = tiled(county(n_parcels, seed, round_boundaries), copies)
    write_layer(folder / "layers" / "parcels.geojson", "parcels", *c["parcels"])
    write_layer(folder / "layers" / "rights.geojson", "rights", *c["rights"])
    write_layer(folder / "layers" / "lines.geojson", "lines", *c["control_lines"])
    unit = c["square"] if not round_boundaries else c["square"].buffer(1.0, quad_segs=round_boundaries)
    (folder / "layers" / "unit.geojson").write_text(shapely.to_geojson(unit) + "\n", encoding="utf-8")
    doc = {
        "format": "rulecheck/v1",
        "submission": {"id": f"COUNTY-{n_parcels}", "title": "县域基准测试配置单元", "jurisdiction": "441802",
                       "as_of": "2026-03-01", "crs": "EPSG:4526"},
        "unit_plan": {"id": "U-COUNTY", "name": "县域基准测试配置单元", "direction": "urban_rural_integration",
                      "boundary": "layers/unit.geojson", "rights": "layers/rights.geojson",
                      "indicator_proposals": c["proposals"], "packages": c["packages"]},
        "detailed_plan": {"id": "DP-COUNTY", "status": "draft", "parcels": "layers/parcels.geojson",
                          "control_lines": "layers/lines.geojson"},
        "contracts": c["contracts"],
    }
    manifest.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parcels", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20260301)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--round-boundaries", type=int, default=0, metavar="SEGMENTS",
                        help="packages' boundaries rounded with SEGMENTS a quarter circle (hundreds of vertices)")
    args = parser.parse_args()
    print(write_county(args.parcels, args.seed, regenerate=args.regenerate, round_boundaries=args.round_boundaries))


if __name__ == "__main__":
    main()
