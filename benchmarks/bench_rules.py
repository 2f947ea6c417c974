"""Time the layout rules (LAY) on a synthetic 100,000-parcel submission against hand-written shapely and geopandas joins."""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import shapely

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
if str(ROOT) not in sys.path:  # run from a venv that has the dependencies but not rulecheck itself installed
    sys.path.insert(0, str(ROOT))

# EPSG:4526 (CGCS2000 3-degree Gauss-Kruger zone 38, zone prefix in the easting), near Qingyuan
CENTRE_X, CENTRE_Y = 38_400_000.0, 2_620_000.0
MEAN_PARCEL_M2 = 2_500.0
BLOCK = 400.0  # land-use zoning block, m
URBAN_RADIUS = 0.45  # share of the half side that is the built-up area
# (code, weight) per zone; a block draws one code, 5 % of parcels draw again from the zone's list
URBAN = [("0701", 35), ("0901", 15), ("1001", 15), ("0702", 8), ("1401", 10), ("1207", 7), ("1701", 3), ("0301", 7)]
RURAL = [("0101", 28), ("0103", 14), ("0301", 30), ("0401", 5), ("0703", 10), ("1701", 6), ("1002", 4), ("1001", 3)]
KIND_OF = {  # level-1 or level-2 prefix -> kind of right
    "01": "land_contract_management", "03": "forest_management", "04": "land_management",
    "0703": "collective_construction_land_use", "1002": "mining", "17": "water_abstraction",
}
CONSTRUCTION_KINDS = {"construction_land_use", "collective_construction_land_use", "mining", "exploration"}
PROTECTED_LINES = {"permanent_basic_farmland", "ecological_protection_red_line"}
OVERLAP_MAX = 1.0  # m2, rules/params/tolerances.rule overlap_max
COVERAGE_MIN = 0.99  # rules/params/tolerances.rule coverage_min
SPATIAL_RULES = ["LAY-003", "LAY-004", "LAY-006", "LAY-007"]


def kind_of(code: str) -> str:
    return KIND_OF.get(code, KIND_OF.get(code[:2], "construction_land_use"))


# ---- the synthetic submission -----------------------------------------------------------------------


def generate(n_parcels: int, n_rights: int, seed: int) -> dict:
    """Parcels (a clipped Voronoi partition with zoned land uses), rights (unions of 1-3 neighbouring parcels,
    some shifted or grown across parcel edges, a few of a wrong land use, a few overlays), control lines
    (unions of parcels: the urban development boundary, basic farmland, ecological red line, ...)."""
    rng = np.random.default_rng(seed)
    side = (n_parcels * MEAN_PARCEL_M2) ** 0.5
    x0, y0 = CENTRE_X - side / 2, CENTRE_Y - side / 2
    square = shapely.box(x0, y0, x0 + side, y0 + side)
    pts = rng.uniform(0, side, size=(n_parcels, 2)) + (x0, y0)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=square, ordered=True))
    parcels = shapely.set_precision(shapely.intersection(cells, square), 0.001, mode="pointwise")

    # zoning: one code per block, urban inside the built-up radius, rural outside
    r = np.hypot(pts[:, 0] - CENTRE_X, pts[:, 1] - CENTRE_Y) / (side / 2)
    urban = r < URBAN_RADIUS
    blocks = ((pts[:, 0] - x0) // BLOCK).astype(int) * 10_000 + ((pts[:, 1] - y0) // BLOCK).astype(int)

    def draw(table, size):
        codes, weights = zip(*table)
        p = np.array(weights, float) / sum(weights)
        return np.array(codes)[rng.choice(len(codes), size=size, p=p)]

    block_ids = np.unique(blocks)
    block_urban = dict(zip(block_ids, draw(URBAN, len(block_ids))))
    block_rural = dict(zip(block_ids, draw(RURAL, len(block_ids))))
    codes = np.array([block_urban[b] if u else block_rural[b] for b, u in zip(blocks, urban)], dtype=object)
    noise = rng.random(n_parcels) < 0.05
    codes[noise & urban] = draw(URBAN, int((noise & urban).sum()))
    codes[noise & ~urban] = draw(RURAL, int((noise & ~urban).sum()))

    # neighbours (shared edges) and greedy grouping of 1-3 neighbours of the same land use into rights
    tree = shapely.STRtree(parcels)
    left, right = tree.query(parcels, predicate="intersects")
    keep = left != right
    left, right = left[keep], right[keep]
    starts = np.searchsorted(left, np.arange(n_parcels + 1))
    owner = np.full(n_parcels, -1)
    groups: list[list[int]] = []
    sizes = rng.choice([1, 2, 3], size=n_parcels, p=[0.3, 0.35, 0.35])
    for seed_parcel in rng.permutation(n_parcels):
        if owner[seed_parcel] >= 0:
            continue
        if len(groups) == n_rights:
            break
        group = [int(seed_parcel)]
        owner[seed_parcel] = len(groups)
        for nb in right[starts[seed_parcel]:starts[seed_parcel + 1]]:
            if len(group) >= sizes[seed_parcel]:
                break
            if owner[nb] < 0 and codes[nb] == codes[seed_parcel]:
                group.append(int(nb))
                owner[nb] = len(groups)
        groups.append(group)
    rights = np.array([shapely.coverage_union_all(parcels[g]) for g in groups], dtype=object)
    right_codes = np.array([codes[g[0]] for g in groups], dtype=object)
    n_r = len(rights)

    # defects a real draft has: rights shifted or grown across parcel edges, a wrong land use, overlays
    shifted = rng.random(n_r) < 0.02
    d = rng.uniform(-3, 3, size=(n_r, 2))
    rights[shifted] = [shapely.transform(g, lambda c, dx=dx, dy=dy: c + (dx, dy)) for g, (dx, dy) in zip(rights[shifted], d[shifted])]
    grown = ~shifted & (rng.random(n_r) < 0.01)
    rights[grown] = shapely.buffer(rights[grown].astype(object), rng.uniform(0.5, 2.5, int(grown.sum())), join_style="mitre")
    rights = shapely.set_precision(rights.astype(object), 0.001, mode="pointwise")
    wrong = rng.random(n_r) < 0.01
    right_codes[wrong] = draw(URBAN + RURAL, int(wrong.sum()))
    overlay = rng.random(n_r) < 0.02

    right_props = []
    for i in range(n_r):
        code = str(right_codes[i])
        kind = kind_of(code)
        right_props.append({
            "id": f"R-{i + 1:06d}", "kind": kind, "land_use": code,
            "ownership": "collective" if kind in ("land_contract_management", "collective_construction_land_use") else "state",
            "term_years": 40 if kind == "construction_land_use" else 30,
            "supply_method": "transfer" if kind == "construction_land_use" else "contract" if kind == "land_contract_management" else "lease",
            "overlay": bool(overlay[i]),
        })

    # control lines follow parcel edges, as real ones do
    lines, line_props = [], []

    def add_line(kind: str, mask: np.ndarray, name: str):
        if mask.any():
            lines.append(shapely.set_precision(shapely.coverage_union_all(parcels[mask]), 0.001, mode="pointwise"))
            line_props.append({"id": f"CL-{len(lines):02d}", "kind": kind, "name": name})

    add_line("urban_development_boundary", r < URBAN_RADIUS + 0.02, "城镇开发边界")
    for k, (cx, cy, rad) in enumerate([(0.62, 0.2, 0.22), (-0.6, -0.35, 0.25), (0.1, -0.75, 0.2), (-0.3, 0.72, 0.18)]):
        near = np.hypot(pts[:, 0] - (CENTRE_X + cx * side / 2), pts[:, 1] - (CENTRE_Y + cy * side / 2)) < rad * side / 2
        add_line("permanent_basic_farmland", near & np.array([c.startswith("01") for c in codes]), f"永久基本农田{k + 1}")
    for k, (cx, cy, rad) in enumerate([(-0.7, 0.3, 0.25), (0.7, -0.55, 0.22)]):
        near = np.hypot(pts[:, 0] - (CENTRE_X + cx * side / 2), pts[:, 1] - (CENTRE_Y + cy * side / 2)) < rad * side / 2
        add_line("ecological_protection_red_line", near & np.array([c.startswith("03") for c in codes]), f"生态保护红线{k + 1}")
    near = np.hypot(pts[:, 0] - CENTRE_X, pts[:, 1] - CENTRE_Y) < 0.06 * side / 2
    add_line("historic_protection", near, "历史文化保护范围")

    parcel_props = []
    for i in range(n_parcels):
        code = str(codes[i])
        props = {"id": f"P-{i + 1:06d}", "land_use": code, "area_m2": round(float(shapely.area(parcels[i])), 1)}
        if code[:2] in ("07", "09", "10") and code != "1002":
            props.update(far_max=round(float(rng.uniform(0.8, 3.5)), 2), density_max=round(float(rng.uniform(25, 45)), 1),
                         green_min=round(float(rng.uniform(15, 35)), 1), height_max=float(round(rng.uniform(12, 80))))
        parcel_props.append(props)
    return {"square": square, "parcels": (parcels, parcel_props), "rights": (rights, right_props), "groups": groups,
            "control_lines": (np.array(lines, dtype=object), line_props)}


def write_layer(path: Path, name: str, geoms, props: list[dict]) -> None:
    texts = shapely.to_geojson(np.asarray(geoms, dtype=object))
    with path.open("w", encoding="utf-8") as out:
        out.write('{"type": "FeatureCollection", "name": "%s", "features": [\n' % name)
        for i, (g, p) in enumerate(zip(texts, props)):
            sep = ",\n" if i < len(props) - 1 else "\n"
            out.write('{"type": "Feature", "properties": %s, "geometry": %s}%s' % (json.dumps(p, ensure_ascii=False), g, sep))
        out.write("]}\n")


def write_bundle(n_parcels: int, n_rights: int, seed: int, regenerate: bool = False) -> Path:
    """Write benchmarks/data/rules_<parcels>_<rights>_<seed>/ (layers + submission.yaml) unless it exists."""
    folder = DATA / f"rules_{n_parcels}_{n_rights}_{seed}"
    manifest = folder / "submission.yaml"
    if manifest.exists() and not regenerate:
        return manifest
    (folder / "layers").mkdir(parents=True, exist_ok=True)
    bundle = generate(n_parcels, n_rights, seed)
    write_layer(folder / "layers" / "parcels.geojson", "parcels", *bundle["parcels"])
    write_layer(folder / "layers" / "rights.geojson", "rights", *bundle["rights"])
    write_layer(folder / "layers" / "lines.geojson", "lines", *bundle["control_lines"])
    (folder / "layers" / "unit.geojson").write_text(shapely.to_geojson(bundle["square"]) + "\n", encoding="utf-8")
    manifest.write_text(
        f"""# Synthetic benchmark submission written by benchmarks/bench_rules.py (seed {seed}); do not edit.
format: rulecheck/v1
submission:
  id: BENCH-RULES-{n_parcels}
  title: 基准测试配置单元
  jurisdiction: "441802"
  as_of: 2026-03-01
  crs: EPSG:4526
unit_plan:
  id: U-BENCH
  name: 基准测试配置单元
  direction: urban_rural_integration
  boundary: layers/unit.geojson
  rights: layers/rights.geojson
detailed_plan:
  id: DP-BENCH
  status: draft
  parcels: layers/parcels.geojson
  control_lines: layers/lines.geojson
""",
        encoding="utf-8",
    )
    return manifest


# ---- the same joins, written by hand -----------------------------------------------------------------


def _under(codes: np.ndarray, prefixes: np.ndarray) -> np.ndarray:
    """Element-wise `code under prefix` for codes without separators (0901 under 09 and under 0901)."""
    return np.fromiter((c.startswith(p) for c, p in zip(codes, prefixes)), dtype=bool, count=len(codes))


def arrays_of(submission) -> dict:
    rights = submission.unit_plan.rights
    parcels = submission.detailed_plan.parcels
    lines = submission.detailed_plan.control_lines
    return {
        "r_geom": np.array([r.geometry for r in rights], dtype=object),
        "r_id": np.array([r.id for r in rights], dtype=object),
        "r_use": np.array([r.land_use for r in rights], dtype=object),
        "r_kind": np.array([r.kind.value for r in rights], dtype=object),
        "r_overlay": np.array([r.overlay for r in rights], dtype=bool),
        "p_geom": np.array([p.geometry for p in parcels], dtype=object),
        "p_use": np.array([p.land_use for p in parcels], dtype=object),
        "l_geom": np.array([c.geometry for c in lines], dtype=object),
        "l_kind": np.array([c.kind.value for c in lines], dtype=object),
    }


def shapely_lay003(a: dict) -> int:
    idx = np.flatnonzero(~a["r_overlay"])
    geoms, ids = a["r_geom"][idx], a["r_id"][idx]
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = ids[i] < ids[j]
    i, j = i[keep], j[keep]
    areas = shapely.area(shapely.intersection(geoms[i], geoms[j]))
    return int((areas > OVERLAP_MAX).sum())


def shapely_lay004_006(a: dict) -> tuple[int, int]:
    idx = np.flatnonzero(~a["r_overlay"])
    geoms, uses = a["r_geom"][idx], a["r_use"][idx]
    ri, pi = shapely.STRtree(a["p_geom"]).query(geoms, predicate="intersects")
    pieces = shapely.intersection(geoms[ri], a["p_geom"][pi])
    areas = shapely.area(pieces)
    fits = _under(uses[ri], a["p_use"][pi])
    lay004 = int(((areas > OVERLAP_MAX) & ~fits).sum())
    # coverage by the union of fitting parcels: sum the pieces where one piece, union them where several
    ri_f, pieces_f, areas_f = ri[fits], pieces[fits], areas[fits]
    covered = np.bincount(ri_f, weights=areas_f, minlength=len(geoms))
    counts = np.bincount(ri_f, minlength=len(geoms))
    order = np.argsort(ri_f, kind="stable")
    bounds = np.searchsorted(ri_f[order], np.arange(len(geoms) + 1))
    for k in np.flatnonzero(counts > 1):
        covered[k] = shapely.area(shapely.union_all(pieces_f[order[bounds[k]:bounds[k + 1]]]))
    total = shapely.area(geoms)
    lay006 = int((covered / total < COVERAGE_MIN - 1e-12).sum())
    return lay004, lay006


def shapely_lay007(a: dict) -> int:
    ridx = np.flatnonzero(np.isin(a["r_kind"], list(CONSTRUCTION_KINDS)))
    lidx = np.flatnonzero(np.isin(a["l_kind"], list(PROTECTED_LINES)))
    rg, lg = a["r_geom"][ridx], a["l_geom"][lidx]
    ri, li = shapely.STRtree(lg).query(rg, predicate="intersects")
    areas = shapely.area(shapely.intersection(rg[ri], lg[li]))
    return int((areas > OVERLAP_MAX).sum())


def run_shapely(submission) -> tuple[dict, dict]:
    times, counts = {}, {}
    t = time.perf_counter()
    a = arrays_of(submission)
    times["arrays"] = time.perf_counter() - t
    t = time.perf_counter()
    counts["LAY-003"] = shapely_lay003(a)
    times["LAY-003"] = time.perf_counter() - t
    t = time.perf_counter()
    counts["LAY-004"], counts["LAY-006"] = shapely_lay004_006(a)
    times["LAY-004+006"] = time.perf_counter() - t
    t = time.perf_counter()
    counts["LAY-007"] = shapely_lay007(a)
    times["LAY-007"] = time.perf_counter() - t
    return times, counts


# ---- the same joins with geopandas -------------------------------------------------------------------


def run_geopandas(submission) -> tuple[dict, dict]:
    import geopandas as gpd
    import pandas as pd

    times, counts = {}, {}
    crs = "EPSG:4526"
    t = time.perf_counter()
    a = arrays_of(submission)
    rights = gpd.GeoDataFrame({"rid": a["r_id"], "r_use": a["r_use"], "kind": a["r_kind"], "overlay": a["r_overlay"]},
                              geometry=a["r_geom"], crs=crs)
    parcels = gpd.GeoDataFrame({"p_use": a["p_use"]}, geometry=a["p_geom"], crs=crs)
    lines = gpd.GeoDataFrame({"lkind": a["l_kind"]}, geometry=a["l_geom"], crs=crs)
    times["frames"] = time.perf_counter() - t

    t = time.perf_counter()
    own = rights[~rights["overlay"]][["rid", "geometry"]]
    pairs = gpd.sjoin(own, own, predicate="intersects")
    pairs = pairs[pairs["rid_left"] < pairs["rid_right"]]
    other = own.geometry.values[own.index.get_indexer(pairs["index_right"])]
    areas = pairs.geometry.intersection(gpd.GeoSeries(other, index=pairs.index, crs=crs)).area
    counts["LAY-003"] = int((areas > OVERLAP_MAX).sum())
    times["LAY-003"] = time.perf_counter() - t

    t = time.perf_counter()
    own = rights[~rights["overlay"]][["rid", "r_use", "geometry"]]
    pieces = gpd.overlay(own, parcels, how="intersection", keep_geom_type=False)
    pieces["area"] = pieces.geometry.area
    fits = np.array([u.startswith(p) for u, p in zip(pieces["r_use"], pieces["p_use"])], dtype=bool)
    counts["LAY-004"] = int(((pieces["area"] > OVERLAP_MAX) & ~fits).sum())
    covered = pieces[fits].dissolve(by="rid").geometry.area
    share = covered.reindex(own["rid"]).fillna(0.0).to_numpy() / own.geometry.area.to_numpy()
    counts["LAY-006"] = int((share < COVERAGE_MIN - 1e-12).sum())
    times["LAY-004+006"] = time.perf_counter() - t

    t = time.perf_counter()
    built = rights[rights["kind"].isin(list(CONSTRUCTION_KINDS))][["rid", "geometry"]]
    protected = lines[lines["lkind"].isin(list(PROTECTED_LINES))]
    hits = gpd.overlay(built, protected, how="intersection", keep_geom_type=False)
    counts["LAY-007"] = int((hits.geometry.area > OVERLAP_MAX).sum())
    times["LAY-007"] = time.perf_counter() - t
    del pd
    return times, counts


# ---- rulecheck ---------------------------------------------------------------------------------------


JOINS = [("LAY-003", ["LAY-003"]), ("LAY-004+006", ["LAY-004", "LAY-006"]), ("LAY-007", ["LAY-007"])]


def run_rulecheck(submission, rules) -> tuple[float, dict, dict, dict]:
    import rulecheck

    t = time.perf_counter()
    report = rulecheck.check(submission, rules, select=["LAY"])
    total = time.perf_counter() - t
    all_counts = Counter(c["rule"] for c in report["conflicts"])
    per_rule, counts, statuses = {}, {}, {}
    for rule in rules.select(["LAY"]):
        t = time.perf_counter()
        one = rulecheck.check(submission, rules, select=[rule.id])
        per_rule[rule.id] = time.perf_counter() - t
        counts[rule.id] = sum(1 for c in one["conflicts"] if c["rule"] == rule.id)
        statuses[rule.id] = next((o.get("status") for o in one["outcomes"] if o.get("rule") == rule.id), "?")
        assert counts[rule.id] == all_counts.get(rule.id, 0)
    # a join's rules run in one check call, as in a real run: rules sharing a join (LAY-004 and LAY-006 both
    # intersect rights with parcels) share its intersections, as the hand-written script does
    for label, ids in JOINS:
        t = time.perf_counter()
        rulecheck.check(submission, rules, select=ids)
        per_rule[label] = time.perf_counter() - t
    return total, per_rule, counts, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parcels", type=int, default=100_000, help="number of parcels (default 100000)")
    parser.add_argument("--rights", type=int, default=None, help="number of rights (default: half the parcels)")
    parser.add_argument("--seed", type=int, default=20260301)
    parser.add_argument("--regenerate", action="store_true", help="write the data again even if it exists")
    parser.add_argument("--no-geopandas", action="store_true", help="skip the geopandas script")
    parser.add_argument("--only", choices=["rulecheck", "shapely", "geopandas"], help="run one contender (for profiling)")
    parser.add_argument("--gc", choices=["on", "freeze", "off"], default="on",
                        help="cyclic GC during the timed part: on (as a caller has it), freeze (gc.freeze() after the "
                             "load, so full collections skip the loaded submission), off")
    args = parser.parse_args()
    n_rights = args.rights or args.parcels // 2

    import rulecheck

    t = time.perf_counter()
    manifest = write_bundle(args.parcels, n_rights, args.seed, args.regenerate)
    gen = time.perf_counter() - t
    t = time.perf_counter()
    submission = rulecheck.load_submission(manifest)
    load = time.perf_counter() - t
    t = time.perf_counter()
    rules = rulecheck.load_rules()
    rules_load = time.perf_counter() - t
    up, dp = submission.unit_plan, submission.detailed_plan
    print(f"{len(dp.parcels)} parcels, {len(up.rights)} rights, {len(dp.control_lines)} control lines "
          f"({manifest.parent.relative_to(ROOT)}; written/found in {gen:.1f} s)")
    print(f"python {platform.python_version()}, shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), "
          f"numpy {np.__version__}")
    print(f"load_submission {load:.2f} s, load_rules {rules_load:.2f} s")
    gc.collect()
    if args.gc == "freeze":
        gc.freeze()
    elif args.gc == "off":
        gc.disable()
    print(f"cyclic GC during the timed part: {args.gc}")

    results = {}
    if args.only in (None, "rulecheck"):
        total, per_rule, counts, statuses = run_rulecheck(submission, rules)
        results["rulecheck"] = (total, per_rule, counts, statuses)
    if args.only in (None, "shapely"):
        results["shapely"] = run_shapely(submission)
    if args.only in (None, "geopandas") and not args.no_geopandas:
        try:
            import geopandas

            results["geopandas"] = run_geopandas(submission)
            print(f"geopandas {geopandas.__version__}")
        except ImportError:
            print("geopandas is not installed (pip install -r benchmarks/requirements.txt): skipped")

    if "rulecheck" in results:
        total, per_rule, counts, statuses = results["rulecheck"]
        print("\nrulecheck.check(select=[rule]) per rule:")
        print(f"| rule | time | conflicts | status |\n|---|---|---|---|")
        for rid, seconds in ((k, v) for k, v in per_rule.items() if k in counts):
            print(f"| {rid} | {seconds:.2f} s | {counts[rid]} | {statuses[rid]} |")
        print(f"| all LAY (one check call) | {total:.2f} s | {sum(counts.values())} | |")

    print("\nthe main spatial joins (time / conflicts):")
    joins = JOINS
    names = [n for n in ("rulecheck", "shapely", "geopandas") if n in results]
    print("| join | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    sums = dict.fromkeys(names, 0.0)
    for label, ids in joins:
        cells = []
        for n in names:
            if n == "rulecheck":
                secs = results[n][1][label]
                cnt = "/".join(str(results[n][2][i]) for i in ids)
            else:
                secs = results[n][0][label]
                cnt = "/".join(str(results[n][1][i]) for i in ids)
            sums[n] += secs
            cells.append(f"{secs:.2f} s ({cnt})")
        print(f"| {label} | " + " | ".join(cells) + " |")
    for n in names:
        if n != "rulecheck":
            prep = results[n][0]["arrays" if n == "shapely" else "frames"]
            sums[n] += prep
    print("| total (incl. arrays/frames from the submission) | " + " | ".join(f"{sums[n]:.2f} s" for n in names) + " |")
    if "rulecheck" in sums and "shapely" in sums:
        print(f"\nrulecheck / shapely: {sums['rulecheck'] / sums['shapely']:.1f}x", end="")
        if "geopandas" in sums:
            print(f"; rulecheck / geopandas: {sums['rulecheck'] / sums['geopandas']:.1f}x", end="")
        print()


if __name__ == "__main__":
    main()
