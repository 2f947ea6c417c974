"""The console command on the real fixtures, each report format read by its real consumer."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pyogrio
import pytest
import xmlschema

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
CLEAN = ["eco-recreation", "mine-land", "land-sea"]
DEFECTS = FIXTURES / "eco-recreation-defects" / "submission.yaml"
SCHEMAS = ROOT.parent / "shared" / "schemas"
if not SCHEMAS.exists():
    SCHEMAS = Path("/work/shared/schemas")
EXE = Path(sys.executable).with_name("rulecheck")


def run(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXE), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", CLEAN)
def test_clean_fixture_exits_0_with_one_quiet_line(name):
    result = run("check", FIXTURES / name / "submission.yaml", "--lang", "en")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("No conflicts")
    assert len(result.stdout.strip().splitlines()) == 1
    assert result.stderr == ""


def test_defects_exit_1_and_read_in_both_languages():
    zh = run("check", DEFECTS, "--lang", "zh")
    en = run("check", DEFECTS, "--lang", "en")
    assert zh.returncode == en.returncode == 1
    assert "LAY-007" in zh.stdout and "永久基本农田" in zh.stdout or "permanent_basic_farmland" in zh.stdout
    assert "未通过" in zh.stdout.splitlines()[-1]
    assert "FAILED" in en.stdout.splitlines()[-1]
    # the subject of a layout conflict is located at its feature's line in the layer file
    assert "rights:R08 (fixtures/eco-recreation-defects/layers/rights.geojson:" in en.stdout  # from the working folder


def test_unreadable_input_exits_2_with_a_located_message(tmp_path):
    broken = sorted((FIXTURES / "broken").glob("*.yaml"))
    assert broken
    for manifest in broken:
        result = run("check", manifest)
        assert result.returncode == 2, manifest
        assert "Traceback" not in result.stderr
        assert manifest.name in result.stderr and ": error: " in result.stderr


def test_rules_that_cannot_be_read_exit_2(tmp_path):
    pack = tmp_path / "bad.rule"
    pack.write_text('rule IND-900\n  title zh "甲" en "a"\n  severity error\n  basis "x"\n'
                    '  for each item in contracts.items\n  require item.far_maxx <= 1\n  message zh "甲" en "a"\n',
                    encoding="utf-8")
    result = run("check", FIXTURES / "mine-land" / "submission.yaml", "--rules", pack)
    assert result.returncode == 2
    assert "bad.rule:6:" in result.stderr and "did you mean 'far_max'" in result.stderr


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    result = run("check", DEFECTS, "--lang", "en", "--explain", "--output-dir", out,
                 *[a for fmt in ("json", "sarif", "junit", "geojson", "html", "markdown", "text") for a in ("--format", fmt)])
    assert result.returncode == 1, result.stderr
    return out


def test_json_report_keeps_the_contract_and_carries_provenance(reports):
    record = json.loads((reports / "report.json").read_text(encoding="utf-8"))
    assert record["tool"]["name"] == "rulecheck"
    assert record["submission"]["as_of"] and record["submission"]["inputs"]
    assert all(len(i["sha256"]) == 64 for i in record["submission"]["inputs"])
    assert len(record["rules"]["sha256"]) == 64 and record["rules"]["packs"]
    assert record["rules"]["params"], "the parameter values used, with their sources"
    assert all(p["source"] for p in record["rules"]["params"])
    assert set(record["summary"]) >= {"error", "warning", "info", "passed"} and record["summary"]["passed"] is False
    statuses = {o["status"] for o in record["outcomes"]}
    assert statuses <= {"pass", "fail", "not_applicable", "indeterminate"} and "fail" in statuses
    for conflict in record["conflicts"]:
        assert set(conflict) >= {"rule", "severity", "title", "message", "basis", "subjects", "expected", "actual", "geometry"}
        assert conflict["rule"].split("-")[0] in {"GEO", "REF", "LAY", "IND", "DUT", "SUP", "FIN", "DOC", "CTY"}
        assert conflict["subjects"] and all(s["collection"] and s["id"] for s in conflict["subjects"])
    farmland = next(c for c in record["conflicts"] if c["rule"] == "LAY-007")
    assert {s["id"] for s in farmland["subjects"]} == {"R08", "CL-PBF-01"}
    assert farmland["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert farmland["explanation"], "--explain gives the operand values"


def test_sarif_report_is_valid_2_1_0(reports):
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    sarif = json.loads((reports / "report.sarif").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert results and all(r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1 for r in results
                           if r["locations"] and "region" in r["locations"][0]["physicalLocation"])


def test_junit_report_is_valid_against_the_xsd(reports):
    xmlschema.XMLSchema(str(SCHEMAS / "junit.xsd")).validate(str(reports / "report.xml"))


def test_geojson_report_is_read_by_gdal(reports):
    path = reports / "report.geojson"
    info = pyogrio.read_info(path)
    assert info["features"] > 0
    assert "4526" in (info["crs"] or "")
    _, _, geometry, fields = pyogrio.raw.read(path)
    names = list(info["fields"])
    assert "rule" in names and "LAY-007" in list(fields[names.index("rule")])


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_html_report_renders_in_headless_chromium(reports, tmp_path):
    page = reports / "report.html"
    text = page.read_text(encoding="utf-8")
    assert "<svg" in text and "LAY-007" in text and "http://" not in text.replace("http://www.w3.org", "")
    png = tmp_path / "page.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1200,1600",
                    page.as_uri()], capture_output=True, timeout=120)
    assert png.exists() and png.stat().st_size > 20_000


def test_same_inputs_same_bytes(tmp_path):
    a = run("check", DEFECTS, "--format", "json", "--output", tmp_path / "a.json")
    b = run("check", DEFECTS, "--format", "json", "--output", tmp_path / "b.json")
    assert a.returncode == b.returncode == 1
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_fail_on_and_waivers_gate(tmp_path):
    waivers = tmp_path / "waivers.yaml"
    record = json.loads(run("check", DEFECTS, "--format", "json").stdout)
    errors = [c for c in record["conflicts"] if c["severity"] == "error"]
    catalog = {e["id"]: e for e in record["rules"]["catalog"]}
    waivable = [c for c in errors if catalog[c["rule"]]["waivable"]]
    not_waivable = [c for c in errors if not catalog[c["rule"]]["waivable"]]
    entries = "".join(
        f"- rule: {c['rule']}\n  subjects: [{', '.join(s['id'] for s in c['subjects'])}]\n  reason: accepted at review\n"
        f"  approver: 审查组\n  basis: 会议纪要 2026-03\n  expires: 2027-01-01\n" for c in errors)
    waivers.write_text(entries, encoding="utf-8")
    result = run("check", DEFECTS, "--waivers", waivers, "--format", "json")
    waived = json.loads(result.stdout)
    assert waived["summary"]["waived"] >= len(waivable)
    # a rule declared not waivable still fails the gate
    assert result.returncode == (1 if not_waivable else 0)
    assert len(waived["waivers"]["refused"]) == len(not_waivable)
    assert run("check", DEFECTS, "--fail-on", "never").returncode == 0


def test_rules_validate_checks_a_province_override_against_the_packs(tmp_path):
    ok = run("rules", "validate", ROOT / "rules", "--params", ROOT / "rules" / "params" / "provinces" / "44-example.rule")
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "gd.rule"
    bad.write_text('param max_term_transfr\n  title zh "甲" en "a"\n  from 2020-01-01 source "粤"\n    value 40 years\n',
                   encoding="utf-8")
    result = run("rules", "validate", ROOT / "rules", "--params", bad)
    assert result.returncode == 2
    assert "gd.rule:1:7" in result.stderr and "did you mean 'max_term_transfer'" in result.stderr
