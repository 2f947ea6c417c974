"""Throughput of `rulecheck batch` on the fixtures (submissions per second): one process vs every core, and
Dask distributed on a LocalCluster of every core. The fixtures are listed --repeat times in one LIST file.

    .venv/bin/python benchmarks/bench_batch.py            # --repeat 8
    .venv/bin/python benchmarks/bench_batch.py --county 2000 --repeat 6   # six county-like submissions
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=8, help="times each submission is listed")
    parser.add_argument("--county", type=int, default=0, metavar="PARCELS",
                        help="instead of the fixtures, county-like submissions of this many parcels (county.py), "
                             "one per seed")
    args = parser.parse_args()
    if args.county:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from county import write_county

        manifests = [write_county(args.county, seed=20260301 + n) for n in range(args.repeat)]
        args.repeat = 1
    else:
        manifests = sorted((ROOT / "fixtures").glob("*/submission.yaml"))
    cores = os.cpu_count() or 1
    exe = Path(sys.executable).parent / "rulecheck"
    with tempfile.TemporaryDirectory() as scratch:
        listing = Path(scratch) / "list.txt"
        listing.write_text("\n".join(str(m) for m in manifests * args.repeat) + "\n", encoding="utf-8")
        total = len(manifests) * args.repeat
        print(f"{total} submissions ({len(manifests)} x {args.repeat}), {cores} core(s)")
        print(f"| run | seconds | submissions/s |\n|---|---|---|")
        for label, extra in (("1 process", ["--jobs", "1"]), (f"{cores} processes", ["--jobs", str(cores)]),
                             (f"Dask LocalCluster, {cores} workers", ["--jobs", str(cores), "--scheduler", "local"])):
            out = Path(scratch) / label.replace(" ", "_").replace(",", "")
            started = time.perf_counter()
            subprocess.run([str(exe), "batch", str(listing), "--output-dir", str(out), "-q", *extra], check=False)
            seconds = time.perf_counter() - started
            print(f"| {label} | {seconds:.1f} | {total / seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
