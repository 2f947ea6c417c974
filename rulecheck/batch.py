"""Many submissions at once: one check per manifest, in processes or on a Dask cluster, one report each and a
summary table. `check_one` is also what the HTTP service runs for every request (docs/service.md)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Callable, Iterable

from .checking import CheckOptions, check_one, ruleset_for

SUMMARY_FIELDS = ("manifest", "submission", "verdict", "passed", "error", "warning", "info", "indeterminate",
                  "waived", "report", "problem")


def manifests_in(target: str | Path) -> list[Path]:
    """The manifests a batch checks: DIR -> every ``*/submission.yaml`` (and DIR/submission.yaml), sorted; a file
    -> one manifest path per line (blank lines and ``#`` comments skipped, relative to the list's folder)."""
    from .diagnostics import Diagnostic, InputError

    target = Path(target)
    if target.is_dir():
        found = sorted(p for p in target.glob("*/submission.yaml") if p.is_file())
        if (target / "submission.yaml").is_file():
            found.insert(0, target / "submission.yaml")
        if not found:
            raise InputError([Diagnostic(str(target), "no submission found: expected DIR/*/submission.yaml",
                                         hint="give a folder of submission folders, or a file listing manifests")])
        return found
    if not target.is_file():
        raise InputError([Diagnostic(str(target), "not found: expected a folder of submissions or a list file")])
    listed = []
    for line in target.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            path = Path(line)
            listed.append(path if path.is_absolute() else target.parent / path)
    if not listed:
        raise InputError([Diagnostic(str(target), "the list names no manifest")])
    return listed


def run_batch(manifests: Iterable[Path], options: CheckOptions, *, jobs: int = 1, scheduler: str | None = None,
              progress: Callable[[int, int, dict], None] | None = None, worker: Callable = check_one) -> list[dict]:
    """Check every manifest, in manifest order: in `jobs` processes, or with Dask distributed when `scheduler` is
    ``local`` (an embedded LocalCluster of `jobs` workers) or an address such as ``tcp://HOST:8786`` (the workers
    must see the same paths). The results are the same whichever runs them. `worker(manifest, options)` checks one
    (a county's units: rulecheck.county.check_unit; it must be picklable: a module function or a partial of one)."""
    paths = [str(p) for p in manifests]
    results: list[dict | None] = [None] * len(paths)
    done = 0

    def finished(index: int, result: dict) -> None:
        nonlocal done
        results[index] = result
        done += 1
        if progress is not None:
            progress(done, len(paths), result)

    if scheduler:
        _run_dask(paths, options, jobs, scheduler, finished, worker)
    elif min(jobs, len(paths)) <= 1:  # one submission (or one process): no pool to start
        for index, path in enumerate(paths):
            finished(index, worker(path, options))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn: a worker must not inherit a parent's threads (a service, a Dask client) mid-flight
        with ProcessPoolExecutor(max_workers=min(jobs, len(paths)), mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(worker, path, options): index for index, path in enumerate(paths)}
            for future in as_completed(futures):
                finished(futures[future], future.result())
    return [r for r in results if r is not None]


def _run_dask(paths: list[str], options: CheckOptions, jobs: int, scheduler: str, finished, worker: Callable = check_one) -> None:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        from .diagnostics import Diagnostic, InputError

        raise InputError([Diagnostic("<command line>", "--scheduler needs Dask distributed, which is not installed",
                                     hint="pip install 'rulecheck-nrap[batch]'")]) from None
    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=max(jobs, 1), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        # pure=False: two manifests with the same text are still two submissions
        futures = client.map(worker, paths, options=options, pure=False)
        index = {future.key: n for n, future in enumerate(futures)}
        for future in as_completed(futures):
            finished(index[future.key], future.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def report_name(result: dict, taken: set[str]) -> str:
    """``<submission id>.json`` (the manifest's folder name for an unreadable one), unique within a batch."""
    record = result.get("record")
    stem = str(record["submission"]["id"]) if record else Path(result["manifest"]).parent.name or "submission"
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem).strip(".") or "submission"
    name, n = f"{stem}.json", 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}.json"
    taken.add(name)
    return name


def summary_rows(results: list[dict], names: list[str]) -> list[dict]:
    """One row per submission: its verdict and counts, or the first problem that kept it from being checked."""
    rows = []
    for result, name in zip(results, names):
        record = result.get("record")
        if record is None:
            first = result["diagnostics"][0] if result.get("diagnostics") else {}
            rows.append({"manifest": result["manifest"], "submission": "", "verdict": "unreadable", "passed": False,
                         "error": "", "warning": "", "info": "", "indeterminate": "", "waived": "", "report": name,
                         "problem": f"{first.get('path', '')}: {first.get('message', '')}"})
            continue
        summary = record["summary"]
        rows.append({"manifest": result["manifest"], "submission": record["submission"]["id"],
                     "verdict": summary.get("verdict"), "passed": summary.get("passed"),
                     **{key: summary.get(key, 0) for key in ("error", "warning", "info", "indeterminate", "waived")},
                     "report": name, "problem": ""})
    return rows


def summary_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_batch(results: list[dict], output_dir: str | Path) -> list[dict]:
    """Write one JSON report per submission (the problems of an unreadable one), summary.csv and summary.json."""
    from .report import render

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    taken: set[str] = {"summary.json"}
    names = [report_name(result, taken) for result in results]
    for result, name in zip(results, names):
        if result.get("record") is not None:
            text = render(result["record"], "json", lang=result["record"].get("lang", "zh"))
        else:
            text = json.dumps({"manifest": result["manifest"], "diagnostics": result["diagnostics"]},
                              ensure_ascii=False, indent=2) + "\n"
        (out / name).write_text(text, encoding="utf-8")
    rows = summary_rows(results, names)
    (out / "summary.csv").write_text(summary_csv(rows), encoding="utf-8")
    (out / "summary.json").write_text(json.dumps({"submissions": rows}, ensure_ascii=False, indent=2) + "\n",
                                      encoding="utf-8")
    return rows
