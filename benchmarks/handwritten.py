"""The spatial checks of a county submission written by hand with pyogrio + shapely: what a GIS analyst would
script, the yardstick for `rulecheck check` with every pack (benchmarks/bench_county.py).

    .venv/bin/python benchmarks/handwritten.py benchmarks/data/county_10000_20260301/submission.json

Reads the manifest and its layers (pyogrio.raw.read: attributes + WKB), then: geometry validity of parcels and
rights (GEO), overlapping parcels (GEO-012), overlapping rights (LAY-003), rights on parcels of a land use
that does not fit them and rights not covered by fitting parcels (LAY-004/006), construction or mineral rights
on basic farmland or the red line (LAY-007). Prints the conflict counts and the time."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pyogrio.raw
import shapely

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_rules import OVERLAP_MAX, shapely_lay003, shapely_lay004_006, shapely_lay007  # noqa: E402


def read_layer(path: Path, fields: list[str]) -> dict:
    meta, _, wkb, columns = pyogrio.raw.read(path)
    names = list(meta["fields"])
    out = {"geom": shapely.from_wkb(wkb)}
    for f in fields:
        out[f] = np.asarray(columns[names.index(f)]) if f in names else None
    return out


def main(manifest: Path) -> dict:
    started = time.perf_counter()
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    base = manifest.parent
    parcels = read_layer(base / doc["detailed_plan"]["parcels"], ["id", "land_use"])
    rights = read_layer(base / doc["unit_plan"]["rights"], ["id", "land_use", "kind", "overlay"])
    lines = read_layer(base / doc["detailed_plan"]["control_lines"], ["id", "kind"])
    loaded = time.perf_counter()
    a = {
        "r_geom": rights["geom"], "r_id": rights["id"].astype(object), "r_use": rights["land_use"].astype(object),
        "r_kind": rights["kind"].astype(object), "r_overlay": rights["overlay"].astype(bool),
        "p_geom": parcels["geom"], "p_use": parcels["land_use"].astype(object),
        "l_geom": lines["geom"], "l_kind": lines["kind"].astype(object),
    }
    counts = {"GEO-validity": int((~shapely.is_valid(a["p_geom"])).sum() + (~shapely.is_valid(a["r_geom"])).sum())}
    i, j = shapely.STRtree(a["p_geom"]).query(a["p_geom"], predicate="intersects")
    keep = i < j
    shared = shapely.area(shapely.intersection(a["p_geom"][i[keep]], a["p_geom"][j[keep]]))
    counts["GEO-012"] = int((shared > OVERLAP_MAX).sum())
    counts["LAY-003"] = shapely_lay003(a)
    counts["LAY-004"], counts["LAY-006"] = shapely_lay004_006(a)
    counts["LAY-007"] = shapely_lay007(a)
    done = time.perf_counter()
    return {"counts": counts, "read_s": round(loaded - started, 2), "total_s": round(done - started, 2)}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
