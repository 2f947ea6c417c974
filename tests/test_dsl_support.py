"""Helpers for the rule-language tests: tiny rule packs and inline-WKT submissions written into tmp_path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

import rulecheck

ROOT = Path(__file__).resolve().parent.parent
# the console command installed beside the interpreter running the tests (any virtualenv, wherever it is), else
# the one on PATH
RULECHECK = Path(sys.executable).with_name("rulecheck")
if not RULECHECK.exists():
    RULECHECK = Path(shutil.which("rulecheck") or "rulecheck")
FIXTURES = ROOT / "fixtures"
PARAMS_DIR = ROOT / "rules" / "params"

# EPSG:4526 (CGCS2000 3-degree GK zone 38) metres, near Qingyuan
X0, Y0 = 38_401_000, 2_622_000


def box(x: float, y: float, w: float = 100, h: float | None = None) -> str:
    """A rectangle as WKT, offset (x, y) metres from the origin of the test area."""
    h = w if h is None else h
    x1, y1, x2, y2 = X0 + x, Y0 + y, X0 + x + w, Y0 + y + h
    return f"POLYGON (({x1} {y1}, {x2} {y1}, {x2} {y2}, {x1} {y2}, {x1} {y1}))"


def rule_text(rule_id: str, body: str, *, severity: str = "error", message: str | None = None) -> str:
    """A complete rule: the boilerplate clauses around `body` (steps and require)."""
    body = textwrap.indent(textwrap.dedent(body).strip(), "  ")
    message = message or f'message zh "{rule_id} 冲突" en "{rule_id} conflict"'
    return (f'rule {rule_id}\n  title zh "测试规则" en "Test rule"\n  severity {severity}\n'
            f'  basis "测试依据" "测试条文"\n{body}\n  {message}\n')


def write_pack(tmp_path: Path, text: str, name: str = "test.rule") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def right(rid: str, geometry: str, kind: str = "forest_management", land_use: str = "0301", **extra) -> dict:
    return {"id": rid, "kind": kind, "land_use": land_use, "geometry": geometry, **extra}


def parcel(pid: str, geometry: str, land_use: str = "0301", **extra) -> dict:
    return {"id": pid, "land_use": land_use, "geometry": geometry, **extra}


def write_submission(tmp_path: Path, *, rights=None, parcels=None, control_lines=None, packages=None,
                     contracts=None, proposals=None, as_of="2026-03-01", name="submission.yaml",
                     boundary: str | None = None) -> Path:
    """A manifest with every record inline (WKT geometries), in the format of fixtures/minimal."""
    doc = {
        "format": "rulecheck/v1",
        "submission": {"id": "T-DSL", "title": "测试", "jurisdiction": "441803", "as_of": as_of,
                       "crs": "EPSG:4526"},
        "unit_plan": {"id": "U-T", "direction": "eco_recreation", "boundary": boundary or box(-1000, -1000, 12000),
                      "rights": rights or [], "indicator_proposals": proposals or [], "packages": packages or []},
        "detailed_plan": {"id": "DP-T", "status": "draft", "parcels": parcels or [],
                          "control_lines": control_lines or []},
        "contracts": contracts or [],
    }
    if doc["submission"]["as_of"] is None:
        del doc["submission"]["as_of"]
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run_pack(tmp_path: Path, pack: str, manifest: Path, *, with_params: bool = False, **kwargs) -> dict:
    """Load the pack (optionally with the shipped params), load the submission, check; the report record."""
    path = write_pack(tmp_path, pack, "pack.rule")
    paths = [path] + ([PARAMS_DIR] if with_params else [])
    rules = rulecheck.load_rules(paths)
    submission = rulecheck.load_submission(str(manifest))
    kwargs.setdefault("lang", "en")
    return rulecheck.check(submission, rules, **kwargs)


def subjects(conflict: dict) -> list[str]:
    return [s["id"] for s in conflict["subjects"]]


def conflicts_of(record: dict, rule_id: str) -> list[dict]:
    return [c for c in record["conflicts"] if c["rule"] == rule_id]


def outcome_of(record: dict, rule_id: str) -> dict:
    return next(o for o in record["outcomes"] if o["rule"] == rule_id)


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The installed console command, as a user runs it."""
    return subprocess.run([str(RULECHECK), *map(str, args)], capture_output=True, text=True, cwd=cwd or ROOT,
                          timeout=300)


def invoke(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The same command run in this process with click's CliRunner (faster), in `cwd`."""
    from click.testing import CliRunner

    from rulecheck.cli import cli as command

    previous = os.getcwd()
    os.chdir(cwd or ROOT)
    try:
        result = CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def cli_json(*args: str, cwd: Path | None = None) -> tuple[int, dict]:
    proc = cli(*args, "--format", "json", cwd=cwd)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


__all__ = ["FIXTURES", "PARAMS_DIR", "ROOT", "RULECHECK", "X0", "Y0", "box", "cli", "cli_json", "invoke", "conflicts_of",
           "outcome_of", "parcel", "right", "rule_text", "run_pack", "subjects", "write_pack", "write_submission"]
