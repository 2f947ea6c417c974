"""handwritten.py's spatial checks written with geopandas (read_file, sjoin, overlay, dissolve), the other
yardstick of benchmarks/bench_county.py. Runs in its own venv (pip install -r benchmarks/requirements.txt):

    /path/to/geopandas-venv/bin/python benchmarks/handwritten_geopandas.py benchmarks/data/county_10000_20260301/submission.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_rules import CONSTRUCTION_KINDS, COVERAGE_MIN, OVERLAP_MAX, PROTECTED_LINES  # noqa: E402


def main(manifest: Path) -> dict:
    started = time.perf_counter()
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    base = manifest.parent
    crs = "EPSG:4526"
    parcels = gpd.read_file(base / doc["detailed_plan"]["parcels"], engine="pyogrio").set_crs(crs, allow_override=True)
    rights = gpd.read_file(base / doc["unit_plan"]["rights"], engine="pyogrio").set_crs(crs, allow_override=True)
    lines = gpd.read_file(base / doc["detailed_plan"]["control_lines"], engine="pyogrio").set_crs(crs, allow_override=True)
    loaded = time.perf_counter()
    parcels = parcels.rename(columns={"id": "pid", "land_use": "p_use"})[["pid", "p_use", "geometry"]]
    rights = rights.rename(columns={"id": "rid", "land_use": "r_use"})
    rights["overlay"] = rights["overlay"].astype(bool)
    counts = {"GEO-validity": int((~parcels.geometry.is_valid).sum() + (~rights.geometry.is_valid).sum())}

    pairs = gpd.sjoin(parcels[["pid", "geometry"]], parcels[["pid", "geometry"]], predicate="intersects")
    pairs = pairs[pairs["pid_left"] < pairs["pid_right"]]
    other = parcels.geometry.values[parcels.index.get_indexer(pairs["index_right"])]
    shared = pairs.geometry.intersection(gpd.GeoSeries(other, index=pairs.index, crs=crs)).area
    counts["GEO-012"] = int((shared > OVERLAP_MAX).sum())

    own = rights[~rights["overlay"]][["rid", "geometry"]]
    pairs = gpd.sjoin(own, own, predicate="intersects")
    pairs = pairs[pairs["rid_left"] < pairs["rid_right"]]
    other = own.geometry.values[own.index.get_indexer(pairs["index_right"])]
    areas = pairs.geometry.intersection(gpd.GeoSeries(other, index=pairs.index, crs=crs)).area
    counts["LAY-003"] = int((areas > OVERLAP_MAX).sum())

    own = rights[~rights["overlay"]][["rid", "r_use", "geometry"]]
    pieces = gpd.overlay(own, parcels[["p_use", "geometry"]], how="intersection", keep_geom_type=False)
    pieces["area"] = pieces.geometry.area
    fits = np.array([u.startswith(p) for u, p in zip(pieces["r_use"], pieces["p_use"])], dtype=bool)
    counts["LAY-004"] = int(((pieces["area"] > OVERLAP_MAX) & ~fits).sum())
    covered = pieces[fits].dissolve(by="rid").geometry.area
    share = covered.reindex(own["rid"]).fillna(0.0).to_numpy() / own.geometry.area.to_numpy()
    counts["LAY-006"] = int((share < COVERAGE_MIN - 1e-12).sum())

    built = rights[rights["kind"].isin(list(CONSTRUCTION_KINDS))][["rid", "geometry"]]
    protected = lines[lines["kind"].isin(list(PROTECTED_LINES))][["kind", "geometry"]]
    hits = gpd.overlay(built, protected, how="intersection", keep_geom_type=False)
    counts["LAY-007"] = int((hits.geometry.area > OVERLAP_MAX).sum())
    done = time.perf_counter()
    return {"counts": counts, "read_s": round(loaded - started, 2), "total_s": round(done - started, 2)}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
