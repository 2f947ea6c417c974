"""`rulecheck batch` (processes, and Dask distributed on a LocalCluster: the same bytes) and `rulecheck impact`
(what a parameter change adds and removes, per submission), through the command line."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from rulecheck.cli import cli

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
CHECKED = sorted(p.parent.name for p in FIXTURES.glob("*/submission.yaml"))


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def by_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("batch") / "processes"
    result = run("batch", FIXTURES, "--output-dir", out, "--jobs", 2, "--lang", "en")
    return result, out


def test_batch_writes_each_report_as_check_would_and_a_summary(by_processes):
    result, out = by_processes
    assert result.exit_code == 1, result.output  # the -defects fixtures fail
    rows = list(csv.DictReader((out / "summary.csv").open(encoding="utf-8")))
    assert [Path(r["manifest"]).parent.name for r in rows] == CHECKED
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["submissions"] == json.loads(
        json.dumps([{**r, "passed": r["passed"] == "True",
                     **{k: int(r[k]) for k in ("error", "warning", "info", "indeterminate", "waived")}} for r in rows]))
    for row in rows:
        single = run("check", row["manifest"], "--format", "json", "--lang", "en", "--no-config")
        assert (out / row["report"]).read_text(encoding="utf-8") == single.stdout
        record = json.loads(single.stdout)
        assert row["verdict"] == record["summary"]["verdict"]
        assert row["submission"] == record["submission"]["id"]
        assert (row["verdict"] == "failed") == row["manifest"].endswith("-defects/submission.yaml")
    assert f"{len(CHECKED)} submission(s)" in result.output
    progress = result.stderr if result.stderr_bytes is not None else result.output
    assert f"[{len(CHECKED)}/{len(CHECKED)}]" in progress


def test_batch_on_a_dask_local_cluster_gives_identical_results(by_processes, tmp_path):
    pytest.importorskip("distributed")
    _, processes = by_processes
    out = tmp_path / "dask"
    result = run("batch", FIXTURES, "--output-dir", out, "--jobs", 2, "--lang", "en", "--scheduler", "local")
    assert result.exit_code == 1, result.output
    assert tree(out) == tree(processes)
    single = tmp_path / "one-process"
    assert run("batch", FIXTURES, "--output-dir", single, "--jobs", 1, "--lang", "en", "-q").exit_code == 1
    assert tree(single) == tree(processes)


def test_batch_on_a_dask_scheduler_address(by_processes, tmp_path):
    distributed = pytest.importorskip("distributed")
    _, processes = by_processes
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://")
        out = tmp_path / "cluster"
        result = run("batch", FIXTURES, "--output-dir", out, "--lang", "en", "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 1, result.output
    assert tree(out) == tree(processes)


def test_batch_list_goes_on_past_an_unreadable_submission(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text(f"# two submissions and a broken one\n{FIXTURES / 'minimal' / 'submission.yaml'}\n\n"
                       f"{FIXTURES / 'broken' / 'unknown-enum.yaml'}\n{FIXTURES / 'land-sea' / 'submission.yaml'}\n",
                       encoding="utf-8")
    out = tmp_path / "out"
    result = run("batch", listing, "--output-dir", out, "--jobs", 1, "-q")
    assert result.exit_code == 2
    rows = list(csv.DictReader((out / "summary.csv").open(encoding="utf-8")))
    assert [r["verdict"] for r in rows] == ["passed", "unreadable", "passed"]
    assert "unknown-enum.yaml" in rows[1]["problem"]
    problems = json.loads((out / rows[1]["report"]).read_text(encoding="utf-8"))
    assert problems["diagnostics"][0]["line"]


def test_batch_refuses_an_unknown_rule_once_before_checking(tmp_path):
    result = run("batch", FIXTURES, "--output-dir", tmp_path / "out", "--select", "NOPE-1")
    assert result.exit_code == 2
    assert not (tmp_path / "out").exists()


def _coverage_params(tmp_path: Path, percent: int) -> Path:
    path = tmp_path / f"coverage-{percent}.rule"
    path.write_text(f"""param industrial_min_coverage
  title zh "工业项目建筑系数下限（测试）"
        en "Minimum building coverage of an industrial project (test)"
  from 2008-01-31 source "测试：建筑系数下限 {percent}%"
    provenance practice "a figure for the impact test"
    value {percent} %
""", encoding="utf-8")
    return path


def _below(percent: float) -> dict[str, set[str]]:
    """Submission id -> its industrial (1001) parcels whose minimum coverage is below `percent`, from the data."""
    import rulecheck

    found = {}
    for manifest in sorted(FIXTURES.glob("*/submission.yaml")):
        submission = rulecheck.load_submission(manifest)
        low = {p.id for p in submission.detailed_plan.parcels
               if str(p.land_use).startswith("1001") and p.coverage is not None and p.coverage < percent}
        found[submission.submission.id] = low
    return found


def test_impact_of_raising_the_industrial_coverage_minimum(tmp_path):
    expected = _below(45)
    result = run("impact", "--params", _coverage_params(tmp_path, 45), "--against", FIXTURES, "--format", "json",
                 "--jobs", 2, "--lang", "en")
    assert result.exit_code == 1, result.output
    impact = json.loads(result.stdout)
    affected = {row["submission"]: row for row in impact["submissions"] if row["status"] == "affected"}
    assert set(affected) == {sid for sid, low in expected.items() if low}
    assert impact["affected"] == len(affected) > 0
    for sid, row in affected.items():
        assert row["removed"] == []
        flagged_parcels = {s["id"] for c in row["added"] if c["rule"] == "IND-030" for s in c["subjects"]}
        assert flagged_parcels == expected[sid]
        assert all("45%" in c["message"] for c in row["added"])
    unaffected = {row["submission"] for row in impact["submissions"] if row["status"] == "unaffected"}
    assert unaffected == {sid for sid, low in expected.items() if not low}


def test_impact_of_a_change_that_affects_nothing(tmp_path):
    assert not any(_below(40).values())  # every industrial parcel already meets 40 %
    result = run("impact", "--params", _coverage_params(tmp_path, 40), "--against", FIXTURES, "--jobs", 2)
    assert result.exit_code == 0, result.output
    assert f"0 of {len(CHECKED)} submission(s) affected" in result.output


def test_impact_lowering_the_minimum_removes_conflicts(tmp_path):
    # a copy of a fixture whose industrial parcel sits at 40 %: raising the base to 45 % flags it; the change
    # back to 30 % removes those conflicts
    folder = tmp_path / "subs"
    shutil.copytree(FIXTURES / "mine-land", folder / "mine-land")
    result = run("impact", "--base-params", _coverage_params(tmp_path, 45), "--params", _coverage_params(tmp_path, 30),
                 "--against", folder, "--format", "json", "--jobs", 1, "--lang", "en")
    assert result.exit_code == 1, result.output
    row = json.loads(result.stdout)["submissions"][0]
    assert row["added"] == [] and {c["rule"] for c in row["removed"]} == {"IND-030", "IND-032"}
    assert (row["verdict_before"], row["verdict_after"]) == ("failed", "passed")
