"""Every pack on a county: `rulecheck check` end to end (a process per run, as a gate runs it) against the
hand-written pyogrio + shapely script of the spatial checks (benchmarks/handwritten.py), with wall time and
peak memory (/usr/bin/time -v), at 10k, 20k, 50k and 100k parcels (benchmarks/county.py).

    .venv/bin/python benchmarks/bench_county.py                      # 10000 20000 50000 100000
    .venv/bin/python benchmarks/bench_county.py --sizes 10000 20000  # a quick look
    .venv/bin/python benchmarks/bench_county.py --sizes 100000 --repeat 3   # least of 3 interleaved runs

Results go to benchmarks/data/bench_county.json and a markdown table on standard output."""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from county import DATA, write_county  # noqa: E402

PY = Path(sys.executable)
RULECHECK = PY.parent / "rulecheck"


def timed(cmd: list[str]) -> dict:
    """Wall time and peak resident memory of a command (its stdout kept)."""
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, cwd=ROOT)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", proc.stderr).group(1))
    system = float(re.search(r"System time \(seconds\): ([\d.]+)", proc.stderr).group(1))
    h, m, s = wall.groups()
    return {"seconds": round(int(h or 0) * 3600 + int(m) * 60 + float(s), 2), "cpu_s": round(user + system, 2),
            "peak_mb": round(int(rss.group(1)) / 1024),
            "status": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr[-3000:]}


def least(runs: list[dict]) -> dict:
    """The run of least wall time (on a machine whose speed drifts, the least disturbed one), with every run's
    wall and CPU times kept."""
    best = dict(min(runs, key=lambda r: r["seconds"]))
    if len(runs) > 1:
        best["runs"] = [(r["seconds"], r["cpu_s"]) for r in runs]
        best["cpu_s"] = min(r["cpu_s"] for r in runs)
        best["peak_mb"] = max(r["peak_mb"] for r in runs)  # the memory a run may need: the most any took
    return best


def bench(n: int, seed: int, geopandas_python: str | None = None, repeat: int = 1) -> dict:
    t = time.perf_counter()
    manifest = write_county(n, seed)
    generated = time.perf_counter() - t
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    report = DATA / f"report_{n}.json"
    rcs, hands, gpds = [], [], []
    for _ in range(repeat):  # interleaved, so a drift of the machine's speed touches each contender alike
        rcs.append(timed([str(RULECHECK), "check", str(manifest), "--format", "json", "--output", str(report),
                          "--timings", "-q"]))
        hands.append(timed([str(PY), str(HERE / "handwritten.py"), str(manifest)]))
        if geopandas_python:
            gpds.append(timed([geopandas_python, str(HERE / "handwritten_geopandas.py"), str(manifest)]))
    rc, hand = least(rcs), least(hands)
    gpd = least(gpds) if gpds else None
    out = {"parcels": n, "generated_s": round(generated, 1),
           "packages": len(doc["unit_plan"]["packages"]), "contracts": len(doc["contracts"]),
           "items": sum(len(c["items"]) for c in doc["contracts"]),
           "proposals": len(doc["unit_plan"]["indicator_proposals"]),
           "rulecheck": {k: rc[k] for k in ("seconds", "cpu_s", "peak_mb", "status", "runs") if k in rc},
           "handwritten": {k: hand[k] for k in ("seconds", "cpu_s", "peak_mb", "status", "runs") if k in hand}}
    if rc["status"] in (0, 1):
        record = json.loads(report.read_text(encoding="utf-8"))
        out["rights"] = None
        out["conflicts"] = dict(collections.Counter(c["rule"] for c in record["conflicts"]))
        out["indeterminate"] = len(record["indeterminate"])
        rows = sorted(record["timings"]["rules"], key=lambda r: -r["seconds"])
        out["rules_s"] = record["timings"]["seconds"]
        out["slowest"] = [(r["rule"], r["seconds"], r["visited"]) for r in rows[:6]]
    else:
        out["rulecheck"]["stderr"] = rc["stderr"]
    if gpd is not None:
        out["geopandas"] = {k: gpd[k] for k in ("seconds", "cpu_s", "peak_mb", "status", "runs") if k in gpd}
        if gpd["status"] == 0:
            out["geopandas"].update(json.loads(gpd["stdout"]))
        else:
            out["geopandas"]["stderr"] = gpd["stderr"]
    if hand["status"] == 0:
        out["handwritten"].update(json.loads(hand["stdout"]))
        for rule in ("LAY-003", "LAY-004", "LAY-006", "LAY-007"):  # the same joins find the same conflicts
            mine = out.get("conflicts", {}).get(rule, 0)
            if mine != out["handwritten"]["counts"][rule]:
                out.setdefault("mismatch", {})[rule] = (mine, out["handwritten"]["counts"][rule])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000, 50_000, 100_000])
    parser.add_argument("--seed", type=int, default=20260301)
    parser.add_argument("--geopandas", metavar="PYTHON", default=None,
                        help="the python of a venv with benchmarks/requirements.txt: also time handwritten_geopandas.py")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the contenders this many times, interleaved, and report the least wall time of each")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    results = []
    for n in args.sizes:
        result = bench(n, args.seed, args.geopandas, args.repeat)
        results.append(result)
        print(json.dumps(result, ensure_ascii=False), flush=True)
        (DATA / "bench_county.json").write_text(json.dumps({"commit": commit, "results": results}, indent=1), encoding="utf-8")
    print(f"\ncommit {commit}\n")
    print("| parcels | packages / contracts / items | rulecheck all packs: wall (CPU) | peak | hand-written script: wall (CPU) | peak | ratio wall (CPU) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        rc, hw = r["rulecheck"], r["handwritten"]
        print(f"| {r['parcels']:,} | {r['packages']} / {r['contracts']} / {r['items']:,} | {rc['seconds']:.1f} s ({rc['cpu_s']:.1f} s) | "
              f"{rc['peak_mb']} MB | {hw['seconds']:.1f} s ({hw['cpu_s']:.1f} s) | {hw['peak_mb']} MB | "
              f"{rc['seconds'] / hw['seconds']:.2f}× ({rc['cpu_s'] / hw['cpu_s']:.2f}×) |")
    if any("geopandas" in r for r in results):
        print("\n| parcels | geopandas script: wall (CPU) | peak | rulecheck / geopandas, wall (CPU) |")
        print("|---|---|---|---|")
        for r in results:
            if "geopandas" in r and r["geopandas"]["status"] == 0:
                g, rc = r["geopandas"], r["rulecheck"]
                print(f"| {r['parcels']:,} | {g['seconds']:.1f} s ({g['cpu_s']:.1f} s) | {g['peak_mb']} MB | "
                      f"{rc['seconds'] / g['seconds']:.2f}× ({rc['cpu_s'] / g['cpu_s']:.2f}×) |")
    if args.repeat > 1:
        print(f"\nleast of {args.repeat} interleaved runs (peak: the most of any); every run, wall (CPU):")
        for r in results:
            print(f"- {r['parcels']:,}: rulecheck " + ", ".join(f"{w:.1f} s ({c:.1f} s)" for w, c in r["rulecheck"]["runs"])
                  + "; script " + ", ".join(f"{w:.1f} s ({c:.1f} s)" for w, c in r["handwritten"]["runs"]))
    if len(results) > 1:
        first, last = results[0]["rulecheck"], results[-1]["rulecheck"]
        print(f"\ngrowth {results[0]['parcels']:,} -> {results[-1]['parcels']:,}: "
              f"{last['seconds'] / first['seconds']:.1f}× wall, {last['cpu_s'] / first['cpu_s']:.1f}× CPU")


if __name__ == "__main__":
    main()
