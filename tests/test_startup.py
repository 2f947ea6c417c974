"""What a clean lint loads (issue 8: a lint costs at most twice the bare imports of its dependencies).

Guarded without timing: a `rulecheck check` of a clean fixture, through the console entry point in a fresh
process, must not import what a text report does not need, must not import the parser when every pack is
cached, and must leave the garbage collector running once it has started up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rulecheck

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "fixtures" / "eco-recreation" / "submission.yaml"

# imported only by the formats, commands and servers that need them
NOT_FOR_A_TEXT_LINT = (
    "jinja2", "markupsafe", "rulecheck.report.html_report",  # --format html
    "xml.etree.ElementTree", "rulecheck.report.junit",  # --format junit
    "rulecheck.report.sarif", "rulecheck.report.geojson", "rulecheck.report.markdown",
    "rulecheck.report.github", "rulecheck.report.gitlab", "rulecheck.report.json_report",
    "sqlalchemy", "rulecheck.history",  # history, impact, serve
    "fastapi", "starlette", "uvicorn", "rulecheck.service.app",  # serve
    "dask", "distributed", "rulecheck.batch",  # batch
    "pygls", "rulecheck.dsl.lsp",  # the language server
)
# a pack in the per-user cache is unpickled, not parsed
PARSER = ("lark", "rulecheck.dsl.parser")

_RUN = """
import atexit, gc, json, sys
out, argv = sys.argv[1], sys.argv[2:]
def report():
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"modules": sorted(sys.modules), "gc_enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}, f)
atexit.register(report)
from rulecheck.cli import main
try:
    main(argv)
finally:
    report()
"""


def _lint(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "after.json"
    env = {k: v for k, v in os.environ.items() if k not in ("RULECHECK_NO_CACHE", "RULECHECK_DEBUG")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    run = subprocess.run([sys.executable, "-c", _RUN, str(out), "check", str(FIXTURE), *args],
                         capture_output=True, text=True, encoding="utf-8", env=env, cwd=ROOT, timeout=300)
    return run, json.loads(out.read_text(encoding="utf-8"))


def _imported(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == n or m.startswith(n + ".") for n in names)]


def test_a_clean_text_lint_imports_no_other_format_nor_server(tmp_path):
    first, _ = _lint(tmp_path)  # fills the pack cache
    assert first.returncode == 0, first.stderr
    run, after = _lint(tmp_path)
    assert run.returncode == 0, run.stderr
    shipped = len(rulecheck.load_rules().rules)
    assert run.stdout == first.stdout and f"已运行 {shipped} 条规则" in run.stdout  # the whole check: every shipped rule
    assert _imported(after["modules"], NOT_FOR_A_TEXT_LINT) == []
    assert _imported(after["modules"], PARSER) == []  # every pack came from the cache
    assert "rulecheck.report.text" in after["modules"]  # what it does need is there


def test_a_lint_without_the_cache_parses_and_prints_the_same(tmp_path, monkeypatch):
    cached, _ = _lint(tmp_path)
    monkeypatch.setenv("RULECHECK_NO_CACHE", "1")
    env_run = subprocess.run([sys.executable, "-m", "rulecheck", "check", str(FIXTURE)], capture_output=True,
                             text=True, encoding="utf-8", cwd=ROOT, timeout=300)
    assert env_run.returncode == 0 and env_run.stdout == cached.stdout


@pytest.mark.parametrize("fmt, module", [("html", "jinja2"), ("junit", "rulecheck.report.junit"),
                                         ("sarif", "rulecheck.report.sarif")])
def test_the_format_asked_for_is_imported_when_it_is_written(tmp_path, fmt, module):
    run, after = _lint(tmp_path, "--format", fmt, "--output", str(tmp_path / f"report.{fmt}"))
    assert run.returncode == 0, run.stderr
    assert module in after["modules"] and (tmp_path / f"report.{fmt}").stat().st_size > 0
    assert "jinja2" not in after["modules"] or fmt == "html"


def test_the_collector_runs_again_after_start_up(tmp_path):
    """The console command pauses the cyclic GC while it starts up; after the rules are loaded it runs again,
    with the start-up's objects frozen out of its passes (and a caller catching the exit gets it back)."""
    run, after = _lint(tmp_path)
    assert run.returncode == 0, run.stderr
    assert after["gc_enabled"] is True
    assert after["frozen"] > 10_000  # the modules, models and compiled rules of the start-up


def test_other_commands_start_with_the_collector_running(tmp_path):
    out = tmp_path / "after.json"
    code = _RUN.replace("from rulecheck.cli import main", "import gc\nfrom rulecheck.cli import cli, main\n"
                        "cli.add_command(__import__('click').command('probe')(lambda: print(gc.isenabled())))")
    run = subprocess.run([sys.executable, "-c", code, str(out), "probe"], capture_output=True, text=True,
                         encoding="utf-8", cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "True"  # paused only on the way to `check`'s rules
