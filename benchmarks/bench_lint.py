"""A clean lint of a fixture against the bare imports of rulecheck's dependencies (issue 8: at most 2x).

Runs, interleaved and each in a fresh process, --runs times:

    rulecheck check fixtures/eco-recreation/submission.yaml
    python -c "import lark, yaml, pydantic, shapely, pyproj, pyogrio, click"

and prints, as a markdown table, the minimum and the median wall time and CPU time (user + system of the
child, from os.wait4) of each, and their ratio.

    .venv/bin/python benchmarks/bench_lint.py                 # --runs 15
    .venv/bin/python benchmarks/bench_lint.py --runs 30 --fixture fixtures/NAME/submission.yaml

Before timing, rulecheck's own modules are byte-compiled (as `pip install` does for an installed package and
did for the dependencies; in an editable checkout with PYTHONDONTWRITEBYTECODE set, every run would
otherwise compile rulecheck's sources again, about 0.1 s) and each command is run once untimed, so the
per-user cache of parsed rule packs is written. `--no-compile` skips the byte-compiling.
Each lint must exit 0 and print the same bytes every time: the benchmark stops otherwise.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPENDENCIES = "import lark, yaml, pydantic, shapely, pyproj, pyogrio, click"


def timed(argv: list[str], cwd: Path) -> tuple[float, float, int, bytes]:
    """(wall seconds, CPU seconds of the child (user + system), exit status, standard output) of one run."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = child.stdout.read()
    child.stdout.close()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    return wall, usage.ru_utime + usage.ru_stime, child.returncode, out


def rulecheck_command() -> list[str]:
    script = Path(sys.executable).parent / "rulecheck"  # the console script beside this interpreter
    return [str(script)] if script.exists() else [sys.executable, "-m", "rulecheck"]


def commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (with uncommitted changes)" if dirty else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command (default 15)")
    parser.add_argument("--fixture", default="fixtures/eco-recreation/submission.yaml",
                        help="a clean submission (relative to the repository)")
    parser.add_argument("--no-compile", action="store_true", help="do not byte-compile rulecheck first")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    if not args.no_compile:
        import rulecheck

        compileall.compile_dir(str(Path(rulecheck.__file__).parent), quiet=1)
    commands = {
        "rulecheck check": [*rulecheck_command(), "check", args.fixture],
        "bare imports": [sys.executable, "-c", DEPENDENCIES],
    }
    expected = {}
    for name, argv in commands.items():  # untimed: fills the caches a second run finds
        _, _, status, out = timed(argv, ROOT)
        if status != 0:
            print(f"{name}: exit status {status}, not 0 ({' '.join(argv)})", file=sys.stderr)
            return 2
        expected[name] = out

    load_before = os.getloadavg()
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for run in range(args.runs):
        order = list(commands) if run % 2 == 0 else list(reversed(commands))  # neither always goes first
        for name in order:
            wall, cpu, status, out = timed(commands[name], ROOT)
            if status != 0 or out != expected[name]:
                print(f"{name}: run {run + 1} exited {status} or printed other output", file=sys.stderr)
                return 2
            walls[name].append(wall)
            cpus[name].append(cpu)
    load_after = os.getloadavg()

    lint, bare = commands
    print(f"commit {commit()}, {time.strftime('%Y-%m-%d %H:%M %Z')}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPU(s); {args.runs} interleaved runs of each; load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"lint: `{' '.join(Path(a).name if i == 0 else a for i, a in enumerate(commands[lint]))}` "
          f"({expected[lint].decode('utf-8', 'replace').strip()})")
    print()
    print("| command | wall min | wall median | CPU min | CPU median |")
    print("|---|---|---|---|---|")
    for name in commands:
        print(f"| {name} | {min(walls[name]):.3f} s | {statistics.median(walls[name]):.3f} s | "
              f"{min(cpus[name]):.3f} s | {statistics.median(cpus[name]):.3f} s |")
    ratios = {
        "wall min": min(walls[lint]) / min(walls[bare]),
        "wall median": statistics.median(walls[lint]) / statistics.median(walls[bare]),
        "CPU min": min(cpus[lint]) / min(cpus[bare]),
        "CPU median": statistics.median(cpus[lint]) / statistics.median(cpus[bare]),
    }
    print(f"| ratio | {ratios['wall min']:.2f}x | {ratios['wall median']:.2f}x | {ratios['CPU min']:.2f}x | "
          f"{ratios['CPU median']:.2f}x |")
    print()
    met = ratios["wall min"] <= 2 and ratios["CPU min"] <= 2
    print(f"target (at most 2x the bare imports, wall and CPU, minimum of the runs): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
