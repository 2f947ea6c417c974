"""A county submission of N units (issue 21, deliverable 5): `rulecheck check county.yaml` against the N unit checks
run one by one (`rulecheck check Uxx/submission.yaml`, a process each, as a reviewer or a gate runs them), in one
run, with wall time.

    .venv/bin/python benchmarks/bench_county_units.py              # 50 units
    .venv/bin/python benchmarks/bench_county_units.py --units 10   # a quick look

Each unit is the clean eco-recreation fixture (a 2.8 km² unit: 21 parcels, 12 rights, 3 packages with their
programs and contracts, the six inventories) moved to its own place on a grid and its ids prefixed, so nothing
overlaps and no id is held twice; the scheme draws every unit (fixtures/make_county.py writes them). The county is
written to benchmarks/data/county_units_<N>/ (git-ignored); results to benchmarks/data/bench_county_units.json."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
sys.path.insert(0, str(ROOT / "fixtures"))

import make_county  # noqa: E402
import shapely  # noqa: E402
from shapely.ops import unary_union  # noqa: E402

RULECHECK = Path(sys.executable).parent / "rulecheck"
COLUMNS = 10


def write(n: int) -> Path:
    folder = DATA / f"county_units_{n}"
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    uids = [f"U{i + 1:03d}" for i in range(n)]
    for i, uid in enumerate(uids):
        make_county.make_unit(folder / uid, uid, 3000.0 * (i % COLUMNS), -2000.0 * (i // COLUMNS))
    entries = [make_county._entry(folder, uid, phase=1 + 3 * i // n) for i, uid in enumerate(uids)]
    whole = unary_union([e["geometry"] for e in entries]).envelope.buffer(300, join_style="mitre")
    make_county.write_scheme(folder, entries, [{"id": "KA-1", "kind": "assembly_area", "name": "全县重点整备片区",
                                                "geometry": whole}])
    make_county.write_county(folder, "U*/submission.yaml", f"Benchmark: a county of {n} units (bench_county_units.py).")
    return folder


def timed(args: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.run([str(RULECHECK), *args], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"rulecheck {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return time.perf_counter() - started, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2, help="processes for the parallel county check")
    args = parser.parse_args()
    folder = write(args.units)
    units = sorted(folder.glob("U*/submission.yaml"))
    # one by one, as N separate checks (a process each); then the county check, in one process and in --jobs
    one_by_one = []
    for manifest in units:
        seconds, code = timed(["check", str(manifest), "--format", "json", "--lang", "en"])
        assert code == 0, manifest
        one_by_one.append(seconds)
    county_1, code_1 = timed(["check", str(folder / "county.yaml"), "--format", "json", "--lang", "en", "-j", "1"])
    county_j, code_j = timed(["check", str(folder / "county.yaml"), "--format", "json", "--lang", "en", "-j", str(args.jobs)])
    total = sum(one_by_one)
    result = {"units": args.units, "unit_checks_sum_s": round(total, 2), "unit_check_mean_s": round(total / len(units), 3),
              "county_check_j1_s": round(county_1, 2), f"county_check_j{args.jobs}_s": round(county_j, 2),
              "ratio_j1": round(county_1 / total, 3), f"ratio_j{args.jobs}": round(county_j / total, 3),
              "county_exit": [code_1, code_j]}
    DATA.mkdir(exist_ok=True)
    (DATA / "bench_county_units.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"| units | sum of unit checks (one by one) | county check -j 1 | ratio | county check -j {args.jobs} | ratio |")
    print("|---|---|---|---|---|---|")
    print(f"| {args.units} | {total:.1f} s | {county_1:.1f} s | {county_1 / total:.2f} | {county_j:.1f} s | {county_j / total:.2f} |")


if __name__ == "__main__":
    main()
