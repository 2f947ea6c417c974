"""Nothing the submitter ships controls the gate or the machine (issue 19, item 6; ../shared/repro B13, N01-N05,
N11-N13, N16): a bundle's own settings file, a layer file of the wrong shape, a manifest that is a symlink out of
its folder, a planted compiled-pack cache, escapes in ids, bad language-server framing, endless layers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFECTS = ROOT / "fixtures" / "eco-recreation-defects"
EXE = Path(sys.executable).with_name("rulecheck")


def invoke(*args, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    """The command in this process (click's runner), in `cwd`."""
    from click.testing import CliRunner

    from rulecheck.cli import cli

    here = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, [str(a) for a in args], env={"NO_COLOR": None, "FORCE_COLOR": None} | (env or {}))
    finally:
        os.chdir(here)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def run(*args, cwd: Path = ROOT, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The installed command in a process of its own."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")} | (env or {})
    return subprocess.run([str(EXE), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=full_env)


# ---- N03: a settings file inside the bundle ---------------------------------------------------------------


@pytest.fixture
def ci(tmp_path) -> Path:
    """A CI checkout: ci/bundle is the submitter's bundle (the defects fixture), ci/victim a folder beside it."""
    shutil.copytree(DEFECTS, tmp_path / "ci" / "bundle")
    (tmp_path / "ci" / "victim").mkdir()
    (tmp_path / "ci" / "victim" / "report.html").write_text("important", encoding="utf-8")
    return tmp_path / "ci"


@pytest.mark.parametrize("settings", [
    'fail-on = "never"\n',
    'select = ["GEO-001"]\n',
    'rules = ["policy/ok.rule"]\n',
    'output-dir = "../victim"\nformats = ["html"]\n',
    'rules = ["/proc/self/environ"]\n',
    'waivers = "w.yaml"\n',
])
def test_a_settings_file_in_the_bundle_changes_nothing(ci, settings):
    bundle = ci / "bundle"
    (bundle / "policy").mkdir()
    (bundle / "policy" / "ok.rule").write_text(
        'rule GEO-001\n  title zh "t" en "t"\n  severity error\n  basis "b" "c"\n  for each p in detailed_plan.parcels\n'
        '  require true\n  message zh "m" en "m"\n', encoding="utf-8")
    (bundle / "rulecheck.toml").write_text(settings, encoding="utf-8")
    (ci / "rulecheck.toml").unlink(missing_ok=True)
    for cwd, manifest in ((ci, "bundle/submission.yaml"), (ci.parent, "ci/bundle/submission.yaml")):
        result = run("check", manifest, "--lang", "en", cwd=cwd, env={"CI_JOB_TOKEN": "glcbt-SECRET123"})
        assert result.returncode == 1, (settings, result.stdout[-300:], result.stderr[-300:])
        assert result.stdout.rstrip().endswith("FAILED") and "42 errors" in result.stdout
        assert "glcbt-SECRET123" not in result.stdout + result.stderr
        assert "Settings file" not in result.stdout
    assert (ci / "victim" / "report.html").read_text(encoding="utf-8") == "important"
    # run from inside the bundle: the file is in the working folder but is the submitter's; said, not read
    inside = run("check", "submission.yaml", "--lang", "en", cwd=bundle)
    assert inside.returncode == 1 and "not read" in inside.stderr and "rulecheck.toml" in inside.stderr


def test_the_working_folders_settings_apply_and_every_report_names_them(ci):
    (ci / "rulecheck.toml").write_text('fail-on = "never"\nselect = ["IND"]\n', encoding="utf-8")
    text = run("check", "bundle/submission.yaml", "--lang", "en", cwd=ci)
    assert text.returncode == 0
    assert "Settings file: rulecheck.toml (applied: fail-on, select)" in text.stdout.splitlines()[-2]
    out = ci / "out"
    result = invoke("check", "bundle/submission.yaml", "--lang", "en", "--output-dir", out,
                    *[x for fmt in ("json", "sarif", "markdown", "github", "html", "text") for x in ("--format", fmt)],
                    cwd=ci)
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == "Settings file: rulecheck.toml (applied: fail-on, select)"
    record = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert record["config"] == {"path": "rulecheck.toml", "applied": ["fail-on", "select"]}
    sarif = json.loads((out / "report.sarif").read_text(encoding="utf-8"))
    assert sarif["runs"][0]["properties"]["settings"] == record["config"]
    for name in ("report.md", "report.github.txt", "report.html", "report.txt"):
        assert "Settings file: rulecheck.toml" in (out / name).read_text(encoding="utf-8"), name
    # no settings file: the JSON report and SARIF say none
    (ci / "rulecheck.toml").unlink()
    result = invoke("check", "bundle/submission.yaml", "--format", "json", cwd=ci)
    assert json.loads(result.stdout)["config"] == {"path": None, "applied": []}
    # --config names the submitter's file when the gate's owner means it
    (ci / "bundle" / "rulecheck.toml").write_text('fail-on = "never"\n', encoding="utf-8")
    named = invoke("check", "bundle/submission.yaml", "--config", "bundle/rulecheck.toml", "--lang", "en", cwd=ci)
    assert named.returncode == 0 and "Settings file: bundle/rulecheck.toml (applied: fail-on)" in named.stdout


# ---- B13, N01: layer files of the wrong shape ----------------------------------------------------------------


@pytest.mark.parametrize("document, expected", [
    ({"type": ["Polygon"]}, "layers/unit.geojson:1: error: expected a GeoJSON geometry, Feature or FeatureCollection"),
    ({"type": {"a": 1}}, "layers/unit.geojson:1: error: expected a GeoJSON geometry, Feature or FeatureCollection"),
    ({"type": "FeatureCollection", "features": []}, "layers/unit.geojson:1: error: no geometry found"),
])
def test_a_geometry_source_of_the_wrong_shape_is_a_located_input_error(tmp_path, document, expected):
    bundle = tmp_path / "bundle"
    shutil.copytree(DEFECTS, bundle)
    (bundle / "layers" / "unit.geojson").write_text(json.dumps(document), encoding="utf-8")
    result = invoke("check", "submission.yaml", "--lang", "en", cwd=bundle)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr and "bug" not in result.stderr


# ---- N04: a manifest or layer that resolves outside the bundle --------------------------------------------------


SECRET = "machine example.com login bob password s3cr3tpw"


@pytest.mark.parametrize("target", ["netrc", "/proc/self/environ"])
def test_a_manifest_that_is_a_symlink_out_of_its_folder_is_refused_without_a_byte_of_it(tmp_path, target):
    (tmp_path / "netrc").write_text(SECRET + "\n", encoding="utf-8")
    bundle = tmp_path / "batch" / "bundle"
    bundle.mkdir(parents=True)
    (bundle / "submission.yaml").symlink_to(tmp_path / "netrc" if target == "netrc" else target)
    env = {"CI_JOB_TOKEN": "glcbt-SECRET123"}
    result = run("check", "batch/bundle/submission.yaml", "--lang", "en", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "symlink to a file outside its own folder" in result.stderr
    for secret in ("s3cr3tpw", "glcbt-SECRET123", "machine", "PATH="):
        assert secret not in result.stdout + result.stderr
    batch = run("batch", "batch", "--output-dir", "out", "--lang", "en", cwd=tmp_path, env=env)
    assert batch.returncode == 2, batch.stderr
    written = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "out").iterdir())
    assert "symlink to a file outside" in written
    for secret in ("s3cr3tpw", "glcbt-SECRET123", "PATH="):
        assert secret not in written + batch.stdout + batch.stderr


def test_a_layer_that_resolves_outside_the_bundle_is_refused_without_a_byte_of_it(tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(DEFECTS, bundle)
    (tmp_path / "secret.geojson").write_text('{"type": "' + SECRET + '"}', encoding="utf-8")
    (bundle / "layers" / "unit.geojson").unlink()
    (bundle / "layers" / "unit.geojson").symlink_to(tmp_path / "secret.geojson")
    manifest = (bundle / "submission.yaml").read_text(encoding="utf-8")
    (bundle / "submission.yaml").write_text(
        manifest.replace("layers/package-A.geojson", "../secret.geojson")
        .replace("layers/package-B.geojson", str(tmp_path / "secret.geojson")), encoding="utf-8")
    result = invoke("check", "submission.yaml", "--lang", "en", cwd=bundle)
    assert result.returncode == 2
    assert result.stderr.count("outside the submission's folder") + result.stderr.count("absolute path") + \
        result.stderr.count("leaves the submission's folder") >= 3, result.stderr
    assert "s3cr3tpw" not in result.stdout + result.stderr
