"""Time loading a synthetic 100,000-parcel GeoJSON layer against pyogrio and shapely alone; with --county N, the
whole county submission of benchmarks/county.py (a JSON manifest with 1000 contracts inline, parcels, rights,
control lines) against the hand-written script's reading, and with --report its JSON report, in CPU time.

    .venv/bin/python benchmarks/bench_load.py                       # the 100k-parcel layer
    .venv/bin/python benchmarks/bench_load.py --county 100000       # a county's submission, loaded
    .venv/bin/python benchmarks/bench_load.py --county 20000 --report   # and its JSON report (runs one check)
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

# a grid of slightly perturbed quads in EPSG:4526 (CGCS2000 3-degree Gauss-Kruger zone 38, zone prefix in the easting)
ORIGIN_X, ORIGIN_Y, CELL = 38_500_000.0, 2_600_000.0, 40.0
LAND_USES = ["0701", "0901", "0902", "1001", "1101", "0301", "0101", "1401", "0804", "1207"]
FACILITIES = ["kindergarten", "clinic", "bus_stop", "public_toilet", "substation"]


def parcel_feature(i: int, side: int, rng: random.Random) -> dict:
    row, col = divmod(i, side)
    x0, y0 = ORIGIN_X + col * CELL, ORIGIN_Y + row * CELL

    def jitter(x: float, y: float) -> list[float]:
        return [round(x + rng.uniform(-2, 2), 3), round(y + rng.uniform(-2, 2), 3)]

    ring = [jitter(x0, y0), jitter(x0 + CELL, y0), jitter(x0 + CELL, y0 + CELL), jitter(x0, y0 + CELL)]
    ring.append(ring[0])
    land_use = LAND_USES[i % len(LAND_USES)]
    building = land_use[:2] in {"07", "08", "09", "10", "11"}
    props = {
        "id": f"P-{i:06d}",
        "land_use": land_use,
        "area_m2": round(CELL * CELL, 1),
        "far_max": round(rng.uniform(0.8, 3.5), 2) if building else None,
        "density_max": round(rng.uniform(25, 45), 1) if building else None,
        "green_min": round(rng.uniform(15, 35), 1) if building else None,
        "height_max": round(rng.uniform(12, 80), 0) if building else None,
        "facilities": rng.sample(FACILITIES, k=i % 3),
    }
    return {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def write_bundle(n: int) -> Path:
    """Write benchmarks/data/parcels_<n>.geojson (one feature per line) and a manifest using it."""
    DATA.mkdir(parents=True, exist_ok=True)
    layer = DATA / f"parcels_{n}.geojson"
    if not layer.exists():
        rng = random.Random(42)
        side = int(n**0.5) + 1
        with layer.open("w", encoding="utf-8") as out:
            out.write('{"type": "FeatureCollection", "name": "parcels", "features": [\n')
            for i in range(n):
                sep = ",\n" if i < n - 1 else "\n"
                out.write(json.dumps(parcel_feature(i, side, rng), ensure_ascii=False) + sep)
            out.write("]}\n")
    manifest = DATA / f"bench_{n}.yaml"
    manifest.write_text(
        f"""format: rulecheck/v1
submission:
  id: BENCH-{n}
  crs: EPSG:4526
  as_of: 2026-03-01
unit_plan:
  id: U-BENCH
  direction: urban_rural_integration
  boundary: "POLYGON ((38499000 2599000, 38520000 2599000, 38520000 2620000, 38499000 2620000, 38499000 2599000))"
detailed_plan:
  id: DP-BENCH
  status: draft
  parcels: {layer.name}
""",
        encoding="utf-8",
    )
    return manifest


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def cpu_best_of(repeat: int, contenders: dict) -> dict:
    """The least CPU time (time.process_time) of each contender, their runs interleaved (the machine is shared)."""
    import gc

    best = {name: float("inf") for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():
            gc.collect()
            start = time.process_time()
            result = fn()
            best[name] = min(best[name], time.process_time() - start)
            del result
    return best


def county(n: int, repeat: int, report: bool) -> None:
    """Load a county submission (benchmarks/county.py) as rulecheck does, and as the hand-written script reads it."""
    import sys

    sys.path.insert(0, str(HERE))
    from county import write_county
    from handwritten import read_layer

    import rulecheck
    from rulecheck.model import sources
    from rulecheck.model.submission import load_submission

    manifest = write_county(n)
    text = manifest.read_text(encoding="utf-8")
    doc = json.loads(text)
    base = manifest.parent

    def handwritten_read() -> tuple:
        read = json.loads(manifest.read_text(encoding="utf-8"))
        return (read, read_layer(base / doc["detailed_plan"]["parcels"], ["id", "land_use"]),
                read_layer(base / doc["unit_plan"]["rights"], ["id", "land_use", "kind", "overlay"]),
                read_layer(base / doc["detailed_plan"]["control_lines"], ["id", "kind"]))

    def line_tracking_yaml() -> object:
        with sources.no_gc():
            return sources.load_yaml_with(sources._LineLoader, text)

    import gc

    layers = [(base / doc["detailed_plan"]["parcels"]).read_bytes(), (base / doc["unit_plan"]["rights"]).read_bytes()]
    layer_texts = [data.decode("utf-8") for data in layers]

    def layers_json_loads() -> list:
        with sources.no_gc():
            return [json.loads(layer) for layer in layer_texts]

    def layers_parsed() -> list:  # as the loader parses them: orjson where sure (sources._orjson_document), lines
        with sources.no_gc():
            return [sources.parse_geojson(layer, data) for layer, data in zip(layer_texts, layers)]

    def load_paused() -> object:  # as `rulecheck check` loads: its collector paused around the load and the check
        gc.disable()
        try:
            return load_submission(manifest)
        finally:
            gc.enable()

    def load_and_young_collections() -> object:  # what a caller whose collector runs pays: the load, and walking
        loaded = load_submission(manifest)  # what it left young at the next collections
        gc.collect(1)
        return loaded

    figures = cpu_best_of(repeat, {
        "manifest: json.loads (no lines)": lambda: json.loads(text),
        "manifest: load_yaml (JSON read with lines)": lambda: sources.load_yaml(text, manifest.name),
        "manifest: the line-tracking YAML loader": line_tracking_yaml,
        "parcels + rights GeoJSON: json.loads": layers_json_loads,
        "parcels + rights GeoJSON: parse_geojson": layers_parsed,
        "hand-written script's reading (pyogrio.raw.read)": handwritten_read,
        "load_submission (the collector running)": lambda: load_submission(manifest),
        "load_submission and the young collections after": load_and_young_collections,
        "load_submission (the collector paused, as check)": load_paused,
    })
    print(f"county of {n} parcels ({len(doc['contracts'])} contracts, {len(text) / 1e6:.1f} MB manifest), "
          f"least CPU time of {repeat}:")
    for name, seconds in figures.items():
        print(f"  {name:50s} {seconds:6.2f} s")
    if not report:
        return
    from rulecheck.report import json_report

    record = rulecheck.check(load_submission(manifest), rulecheck.load_rules())
    public = {key: value for key, value in record.items() if key != "layers"}
    rendered = json_report.render(record, lang="zh")
    assert rendered == json.dumps(public, ensure_ascii=False, indent=2) + "\n", "the report's bytes differ"
    figures = cpu_best_of(repeat, {
        "json.dumps(indent=2), pure Python": lambda: json.dumps(public, ensure_ascii=False, indent=2),
        "json_report.render (C encoder + numpy indent)": lambda: json_report.render(record, lang="zh"),
    })
    print(f"JSON report: {len(record['conflicts'])} conflicts, {len(rendered.encode('utf-8')) / 1e6:.0f} MB, "
          f"the same bytes; least CPU time of {repeat}:")
    for name, seconds in figures.items():
        print(f"  {name:50s} {seconds:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=100_000, help="number of parcels (default 100000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is printed")
    parser.add_argument("--county", type=int, metavar="N", help="time a county submission of N parcels instead")
    parser.add_argument("--report", action="store_true", help="with --county: also check it and time its JSON report")
    args = parser.parse_args()
    if args.county:
        county(args.county, args.repeat, args.report)
        return

    import pyogrio.raw
    import shapely

    from rulecheck.model.submission import load_submission

    manifest = write_bundle(args.n)
    layer = DATA / f"parcels_{args.n}.geojson"
    size_mb = layer.stat().st_size / 1e6

    def shapely_alone() -> None:
        shapely.from_geojson(layer.read_text(encoding="utf-8"))

    figures = {
        "pyogrio.raw.read": best_of(args.repeat, lambda: pyogrio.raw.read(layer)),
        "shapely.from_geojson (whole file)": best_of(args.repeat, shapely_alone),
        "load_submission": best_of(args.repeat, lambda: load_submission(manifest)),
    }
    submission = load_submission(manifest)
    assert len(submission.detailed_plan.parcels) == args.n
    print(f"{args.n} parcels, {size_mb:.1f} MB GeoJSON, best of {args.repeat}:")
    for name, seconds in figures.items():
        print(f"  {name:36s} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
