"""A plain (non-editable) install of the built wheel works on its own: rule tests pass, reports name no machine path."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args, cwd, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """The wheel built from this checkout, installed into a fresh venv in a temporary folder.

    The venv gets the wheel alone (--no-deps, --no-index: no network); its dependencies are made visible by a
    .pth line naming this interpreter's site-packages, which comes after the venv's own, so `rulecheck` is
    imported from the wheel, never from the checkout (asserted below)."""
    base = tmp_path_factory.mktemp("install")
    # built from a copy of what the distribution is made of: no stale build/ of the checkout, nothing written into it
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("rulecheck", "rules", "fixtures"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = base / "wheels"
    built = _run([sys.executable, "-m", "pip", "wheel", source, "--no-deps", "-q", "-w", wheels], cwd=base)
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next(wheels.glob("*.whl"))
    assert wheel.name.startswith("rulecheck_nrap-"), wheel.name

    venv = base / "venv"
    made = _run([sys.executable, "-m", "venv", venv], cwd=base)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=base).stdout.strip())
    (site / "zz_outer_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    done = _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], cwd=base)
    assert done.returncode == 0, done.stdout + done.stderr

    where = _run([python, "-c", "import rulecheck; print(rulecheck.__file__)"], cwd=base).stdout.strip()
    assert Path(where).is_relative_to(site), f"rulecheck imported from {where}, not from the installed wheel"
    return {"base": base, "venv": venv, "site": site, "exe": venv / "bin" / "rulecheck", "python": python}


@pytest.mark.slow
def test_rule_tests_pass_from_a_wheel_install_run_elsewhere(installed):
    elsewhere = installed["base"] / "elsewhere"
    elsewhere.mkdir()
    result = _run([installed["exe"], "rules", "test"], cwd=elsewhere)
    last = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    passed = int(re.fullmatch(r"(\d+) passed, 0 failed", last).group(1))
    assert passed > 100, last
    assert str(installed["site"]) not in result.stdout  # tests are shown as rulecheck:sup.rule:370


@pytest.mark.slow
def test_reports_from_a_wheel_install_name_packs_not_machine_paths(installed):
    work = installed["base"] / "work"
    shutil.copytree(ROOT / "fixtures" / "eco-recreation-defects", work)
    out = work / "out"
    result = _run([installed["exe"], "check", "submission.yaml", "--lang", "en", "--format", "json", "--format", "sarif",
                   "--format", "text", "--format", "html", "--output-dir", out], cwd=work)
    assert result.returncode == 1, result.stdout + result.stderr
    record = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert record["rules"]["packs"] and all(p.startswith("rulecheck:") for p in record["rules"]["packs"])
    assert "rulecheck:sup.rule" in record["rules"]["packs"]
    assert len(record["rules"]["sha256"]) == 64
    assert "<svg" in (out / "report.html").read_text(encoding="utf-8"), "the HTML template ships in the wheel"
    for name in ("report.json", "report.sarif", "report.txt", "report.html"):
        text = (out / name).read_text(encoding="utf-8")
        for machine_path in (str(installed["site"]), str(installed["venv"]), str(ROOT), str(work)):
            assert machine_path not in text, f"{name} shows {machine_path}"

    # the same rule packs from a checkout give the same names and the same digest
    here = subprocess.run([Path(sys.executable).with_name("rulecheck"), "check", "submission.yaml", "--format", "json"],
                          cwd=work, capture_output=True, text=True, timeout=300)
    checkout = json.loads(here.stdout)
    assert checkout["rules"]["packs"] == record["rules"]["packs"]
    assert checkout["rules"]["sha256"] == record["rules"]["sha256"]


@pytest.mark.slow
def test_python_dash_m_runs_the_installed_command(installed):
    result = _run([installed["python"], "-m", "rulecheck", "--version"], cwd=installed["base"])
    assert result.returncode == 0 and "rulecheck" in result.stdout, result.stdout + result.stderr
    schema = _run([installed["python"], "-m", "rulecheck", "schema"], cwd=installed["base"])
    assert schema.stdout == (ROOT / "docs" / "submission.schema.json").read_text(encoding="utf-8")
