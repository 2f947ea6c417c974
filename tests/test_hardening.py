"""Issue 14, "What was seen": every probe that once ended in an internal error, ran without bound, read outside
the submission or wrote where it should not, as a regression test run the way a user meets it (the CLI)."""

from __future__ import annotations

import json
import os
import re
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from loader_helpers import BASE, X0, Y0, square, wkt_square
from rulecheck.cli import cli

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
LOCATED = re.compile(r"^(\S+?):(\d+)(:\d+)?: error: ", re.MULTILINE)


def run(*args: str, cwd: Path | None = None, env: dict | None = None):
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(cli, list(args), env=env)
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(cli, list(args), env=env)
    finally:
        os.chdir(old)


def refused(result, file: str, *words: str, line: int | None = None, whole_file: bool = False) -> str:
    """Exit 2, no internal error, a diagnostic located in `file` (with a line unless it is about the whole
    file), every word in the output."""
    text = result.stdout + result.stderr
    assert result.exit_code == 2, text
    assert "internal error" not in text and "Traceback" not in text, text
    pattern = re.compile(r"^(\S+?)(?::(\d+))?(:\d+)?: error: ", re.MULTILINE) if whole_file else LOCATED
    located = [m for m in pattern.finditer(result.stderr) if m.group(1).endswith(file)]
    assert located, f"no located error in {file}: {result.stderr}"
    if line is not None:
        assert any(int(m.group(2)) == line for m in located), result.stderr
    for word in words:
        assert word in text, f"{word!r} not in {text}"
    return text


def ok(result) -> str:
    text = result.stdout + result.stderr
    assert result.exit_code in (0, 1), text
    return text


def bundle(tmp_path: Path, manifest: str = BASE, files: dict[str, str | bytes | dict] | None = None) -> Path:
    for name, content in (files or {}).items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    path = tmp_path / "submission.yaml"
    path.write_text(textwrap.dedent(manifest), encoding="utf-8")
    return path


RIGHT_INLINE = f"""  rights:
    - id: R1
      kind: forest_management
      land_use: "0301"
      geometry: {wkt_square(X0, Y0)}
"""


def with_rights(source: str) -> str:
    """BASE with its rights read from `source` (a layer path)."""
    assert RIGHT_INLINE in BASE
    return BASE.replace(RIGHT_INLINE, f"  rights: {source}\n")


def rights_layer(geometry, **properties) -> dict:
    props = {"id": "R1", "kind": "forest_management", "land_use": "0301", **properties}
    return {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": props, "geometry": geometry}]}


def polygon(z: float | None = None) -> dict:
    ring = [[x, y] + ([z] if z is not None else []) for x, y in square(X0, Y0)]
    return {"type": "Polygon", "coordinates": [ring]}


# ---- common GIS exports ----------------------------------------------------------------------------


def test_geojson_positions_with_z_load_with_a_note(tmp_path):
    path = bundle(tmp_path, with_rights("rights.geojson"), {"rights.geojson": rights_layer(polygon(z=12.5))})
    result = run("check", str(path), "--format", "json", "--lang", "en")
    ok(result)
    notes = json.loads(result.stdout)["submission"]["notes"]
    assert any("z coordinates were dropped" in note for note in notes), notes


def test_inline_polygon_z_renders_the_html_report(tmp_path):
    z_square = "POLYGON Z ((" + ", ".join(f"{x} {y} 3" for x, y in square(X0, Y0)) + "))"
    path = bundle(tmp_path, BASE.replace(f"geometry: {wkt_square(X0, Y0)}", f"geometry: {z_square}"))
    result = run("check", str(path), "--format", "html", "--output", str(tmp_path / "r.html"))
    ok(result)
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!")


def test_curved_geometry_is_refused_clearly(tmp_path):
    curve = "CURVEPOLYGON(CIRCULARSTRING(38401000 2622000, 38401050 2622050, 38401100 2622000, 38401050 2621950, 38401000 2622000))"
    path = bundle(tmp_path, BASE.replace(f"boundary: {wkt_square(X0, Y0, 200)}", f"boundary: {curve}"))
    refused(run("check", str(path)), "submission.yaml", "curved geometry (CURVEPOLYGON)", "CONVERT_TO_LINEAR")
    path = bundle(tmp_path, with_rights("rights.geojson"), {"rights.geojson": rights_layer(polygon())})
    path.write_text(path.read_text().replace(f"      geometry: {wkt_square(X0, Y0)}\ncontracts", f"      geometry: {curve}\ncontracts"))
    refused(run("check", str(path)), "submission.yaml", "curved geometry")


def test_empty_geometries_are_refused_clearly(tmp_path):
    path = bundle(tmp_path, with_rights("rights.geojson"),
                  {"rights.geojson": rights_layer({"type": "LineString", "coordinates": []})})
    refused(run("check", str(path)), "rights.geojson", "empty", line=1)
    path = bundle(tmp_path, BASE.replace(f"boundary: {wkt_square(X0, Y0, 200)}", "boundary: POLYGON EMPTY"))
    refused(run("check", str(path)), "submission.yaml", "empty geometry")
    for empty in ({"type": "MultiPolygon", "coordinates": [[]]}, {"type": "Polygon", "coordinates": [[]]}):
        path = bundle(tmp_path, with_rights("rights.geojson"), {"rights.geojson": rights_layer(empty)})
        refused(run("check", str(path)), "rights.geojson")


def test_a_geometry_type_that_is_a_list_is_refused(tmp_path):
    path = bundle(tmp_path, with_rights("rights.geojson"),
                  {"rights.geojson": rights_layer({"type": ["Polygon"], "coordinates": polygon()["coordinates"]})})
    refused(run("check", str(path)), "rights.geojson", '"type" must be text')


# ---- numbers ---------------------------------------------------------------------------------------


def test_integers_of_5000_digits_are_refused_where_they_are(tmp_path):
    digits = "1" * 5000
    path = bundle(tmp_path, BASE.replace("quantity: 10000", f"quantity: {digits}"))
    refused(run("check", str(path)), "submission.yaml", "too long to be a number", line=BASE.splitlines().index("          quantity: 10000") + 1)
    layer = json.dumps(rights_layer(polygon())).replace('"land_use": "0301"', f'"land_use": "0301", "area_m2": {digits}')
    path = bundle(tmp_path, with_rights("rights.geojson"), {"rights.geojson": layer})
    refused(run("check", str(path)), "rights.geojson", "area_m2")


def test_a_5000_digit_coordinate_in_a_layer_of_any_key_order(tmp_path):
    # features that do not start with "type" are placed by the exact scan, which must read such numbers too
    feature = {"properties": {"id": "R1", "kind": "forest_management", "land_use": "0301"}, "type": "Feature",
               "geometry": polygon()}
    layer = json.dumps({"type": "FeatureCollection", "features": [feature]}).replace(str(X0), "1" * 5000)
    path = bundle(tmp_path, with_rights("rights.geojson"), {"rights.geojson": layer})
    refused(run("check", str(path)), "rights.geojson", "out of range")


def test_a_400_digit_coordinate_is_refused(tmp_path):
    layer = json.dumps(rights_layer(polygon())).replace(str(X0), "9" * 400)
    path = bundle(tmp_path, with_rights("rights.geojson"), {"rights.geojson": layer})
    refused(run("check", str(path)), "rights.geojson", "out of range")


@pytest.mark.parametrize("field, value, words", [
    ("term_years", "1e20", ["<= 999", "years"]),
    ("term_years", "8000", ["<= 999"]),
    ("term_years", "-40", ["> 0"]),
    ("area_m2", "-5", [">= 0"]),
    ("area_m2", ".inf", ["finite"]),
])
def test_absurd_values_of_a_right_name_the_bound(tmp_path, field, value, words):
    path = bundle(tmp_path, BASE.replace('land_use: "0301"\n      geometry', f'land_use: "0301"\n      {field}: {value}\n      geometry', 1))
    refused(run("check", str(path)), "submission.yaml", field, *words)


@pytest.mark.parametrize("insert, words", [
    ("      finance: {costs: {assembly: .inf}}\n", ["costs.assembly", "finite"]),
    ("      finance: {costs: {assembly: -100}}\n", ["costs.assembly", ">= 0"]),
    ("      finance: {government_share: .nan}\n", ["government_share", "finite"]),
])
def test_absurd_money_is_refused(tmp_path, insert, words):
    path = bundle(tmp_path, BASE.replace("      rights: [R1]\n", "      rights: [R1]\n" + insert))
    refused(run("check", str(path)), "submission.yaml", *words)


def test_infinite_and_negative_indicators_are_refused(tmp_path):
    for value, word in ((".inf", "finite"), ("-1", ">= 0"), ("1e400", "finite")):
        path = bundle(tmp_path, BASE.replace('      land_use: "0301"\n      geometry: ' + wkt_square(X0, Y0) + "\ncontracts",
                                             f'      land_use: "0301"\n      far_max: {value}\n      geometry: {wkt_square(X0, Y0)}\ncontracts'))
        refused(run("check", str(path)), "submission.yaml", "far_max", word)


def test_dates_outside_the_calendar_are_refused(tmp_path):
    path = bundle(tmp_path, BASE.replace("due: 2030-12-31", "due: 9999-12-31"))
    refused(run("check", str(path)), "submission.yaml", "2999-12-31")


def test_a_parameter_of_1e999_is_refused_at_validation(tmp_path):
    params = tmp_path / "p.rule"
    params.write_text('param max_term_transfer\n  title zh "出让年限" en "Transfer term"\n'
                      '  from 2020-01-01 source "x"\n    by land_use\n      "09": 1e999 %\n      otherwise: 50 years\n',
                      encoding="utf-8")
    result = run("rules", "validate", str(ROOT / "rules"), "--params", str(params))
    refused(result, "p.rule", "out of range", line=5)
    result = run("check", str(FIXTURES / "minimal" / "submission.yaml"), "--params", str(params))
    refused(result, "p.rule", "out of range")


# ---- structure -------------------------------------------------------------------------------------


def test_100000_nested_brackets_in_a_layer(tmp_path):
    text = '{"type": "FeatureCollection", "features": [' + "[" * 100_000 + "]" * 100_000 + "]}"
    path = bundle(tmp_path, with_rights("rights.geojson"), {"rights.geojson": text})
    refused(run("check", str(path)), "rights.geojson", "max_depth", line=1)


def test_deep_nesting_in_the_manifest(tmp_path):
    path = bundle(tmp_path, BASE.replace("  title:", "  title:").replace("  id: T-01", "  id: " + "[" * 990 + "]" * 990))
    refused(run("check", str(path)), "submission.yaml", "max_depth")


def test_a_300_character_layer_name(tmp_path):
    path = bundle(tmp_path, with_rights("r" * 300 + ".geojson"))
    refused(run("check", str(path)), "submission.yaml", "rights")


@pytest.mark.parametrize("where", ["yaml", "geojson"])
def test_a_lone_surrogate_in_an_id_is_refused_and_no_report_is_left(tmp_path, where):
    if where == "yaml":
        path = bundle(tmp_path, BASE.replace("    - id: R1\n", '    - id: "R\\ud800"\n'))
        expected_file = "submission.yaml"
    else:
        layer = json.dumps(rights_layer(polygon())).replace('"id": "R1"', '"id": "R\\ud800"')
        path = bundle(tmp_path, with_rights("rights.geojson"), {"rights.geojson": layer})
        expected_file = "rights.geojson"
    report = tmp_path / "out" / "report.html"
    refused(run("check", str(path), "--format", "html", "--output", str(report)), expected_file)
    assert not report.exists()


def _rule(body: str) -> str:
    return (f'rule HRD-001\n  title zh "测试" en "Test"\n  severity error\n  basis "依据" "条文"\n'
            f"  for each p in detailed_plan.parcels\n  require {body}\n  message zh \"冲突\" en \"conflict\"\n")


@pytest.mark.parametrize("body", ["not " * 1000 + "true", "- " * 500 + "1 > 0", " and ".join(["true"] * 5000),
                                  "len([" * 300 + "1" + "])" * 300 + " > 0"])
def test_deeply_nested_rule_expressions_are_located(tmp_path, body):
    pack = tmp_path / "deep.rule"
    pack.write_text(_rule(body), encoding="utf-8")
    refused(run("rules", "validate", str(pack)), "deep.rule", "max_expr_depth", line=6)


def test_nesting_within_the_limit_validates_and_runs(tmp_path):
    pack = tmp_path / "deep.rule"
    pack.write_text(_rule("not " * 90 + "p.far_max > 100"), encoding="utf-8")
    result = run("rules", "validate", str(pack))
    assert result.exit_code == 0, result.stderr
    ok(run("check", str(FIXTURES / "minimal" / "submission.yaml"), "--rules", str(pack)))


WAIVER = "- rule: IND-002\n  subjects: [P-0412]\n  reason: r\n  approver: a\n  basis: b\n  expires: 2031-01-01\n"


@pytest.mark.parametrize("text, words", [
    ("- rule: " + "[" * 900 + "]" * 900 + "\n", ["max_depth"]),
    (WAIVER.replace("2031-01-01", "1" * 5000), ["too long to be a number"]),
    ("- <<: {expires: 2031-02-30}\n  rule: IND-002\n  subjects: [P-0412]\n  reason: r\n  approver: a\n  basis: b\n",
     ["expires", "2031-02-30"]),
    ("- " + "{a: " * 200 + "1" + "}" * 200 + "\n", ["max_depth"]),
])
def test_waiver_files_that_once_crashed(tmp_path, text, words):
    (tmp_path / "waivers.yaml").write_text(text, encoding="utf-8")
    result = run("check", str(FIXTURES / "minimal" / "submission.yaml"), "--waivers", str(tmp_path / "waivers.yaml"))
    refused(result, "waivers.yaml", *words)


# ---- limits ----------------------------------------------------------------------------------------


def _bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_fast(tmp_path):
    manifest = "bombs:\n" + textwrap.indent(_bomb(), "  ") + BASE.replace("  direction: eco_recreation", "  direction: *a9")
    path = bundle(tmp_path, manifest)
    started = time.monotonic()
    text = refused(run("check", str(path)), "submission.yaml", "max_yaml_nodes", "RULECHECK_LIMIT_MAX_YAML_NODES")
    assert time.monotonic() - started < 10, text
    (tmp_path / "w.yaml").write_text(_bomb() + "waivers:\n" + textwrap.indent(WAIVER.replace("2031-01-01", "*a9"), "  "))
    started = time.monotonic()
    refused(run("check", str(FIXTURES / "minimal" / "submission.yaml"), "--waivers", str(tmp_path / "w.yaml")),
            "w.yaml", "max_yaml_nodes")
    assert time.monotonic() - started < 10


def test_vertices_records_and_file_size_are_limited_and_named(tmp_path):
    ring = [[X0 + 100 * (i / 2000), Y0] for i in range(2000)] + [[X0 + 100, Y0 + 100], [X0, Y0 + 100], [X0, Y0]]
    path = bundle(tmp_path, with_rights("rights.geojson"),
                  {"rights.geojson": rights_layer({"type": "Polygon", "coordinates": [ring]})})
    refused(run("check", str(path), "--limit", "max_vertices=1000"), "rights.geojson", "2003 vertices",
            "--limit max_vertices=N")
    ok(run("check", str(path)))  # the default serves a county
    refused(run("check", str(path), "--limit", "max_file_mb=0.01"), "rights.geojson", "max_file_mb", whole_file=True)
    refused(run("check", str(path), "--limit", "max_total_vertices=100"), "submission.yaml", "max_total_vertices",
            whole_file=True)
    result = run("check", str(path), "--limit", "nonsense=3")
    assert result.exit_code == 2 and "unknown limit" in result.stderr
    three = rights_layer(polygon())
    three["features"] *= 3
    path = bundle(tmp_path, with_rights("rights.geojson"), {"rights.geojson": three})
    refused(run("check", str(path), env={"RULECHECK_LIMIT_MAX_RECORDS": "2"}), "rights.geojson", "3 records",
            "RULECHECK_LIMIT_MAX_RECORDS=N", whole_file=True)


def test_diagnostics_stay_linear_in_a_big_manifest(tmp_path):
    records = "".join(f"    - id: P{i}\n      land_use: \"0301\"\n      far_max: -1\n      geometry: POINT (0 0)\n"
                      for i in range(16_000))
    manifest = BASE.replace("  parcels:\n    - id: P1\n", "  parcels:\n" + records + "    - id: P1\n")
    path = bundle(tmp_path, manifest)
    started = time.monotonic()
    result = run("check", str(path))
    refused(result, "submission.yaml", "far_max")
    assert result.stderr.count("far_max") >= 16_000
    assert time.monotonic() - started < 30


def test_a_rule_pack_over_the_size_limit(tmp_path):
    pack = tmp_path / "big.rule"
    pack.write_text(_rule('p.land_use == "' + "a" * (5 * 2**20) + '"'), encoding="utf-8")
    refused(run("rules", "validate", str(pack)), "big.rule", "max_rule_file_mb", whole_file=True)


def test_many_syntax_errors_in_a_rule_pack_stay_linear(tmp_path):
    pack = tmp_path / "many.rule"
    pack.write_text("".join(_rule("p.far_max >").replace("HRD-001", f"HRD-{i:03d}") for i in range(1, 1000)) * 3,
                    encoding="utf-8")
    started = time.monotonic()
    result = run("rules", "validate", str(pack))
    refused(result, "many.rule")
    assert time.monotonic() - started < 30


def test_a_rule_past_its_time_budget_is_a_located_error(tmp_path):
    pack = tmp_path / "slow.rule"
    pack.write_text(
        'rule HRD-009\n  title zh "慢" en "Slow"\n  severity error\n  basis "依据" "条文"\n'
        "  for each a in detailed_plan.parcels\n  for each b in detailed_plan.parcels\n"
        "  for each c in detailed_plan.parcels\n  for each d in detailed_plan.parcels\n"
        "  for each e in detailed_plan.parcels\n  for each f in detailed_plan.parcels\n"
        "  require a.id != f.id or b.id == b.id\n"
        '  message zh "冲突" en "conflict"\n', encoding="utf-8")
    started = time.monotonic()
    result = run("check", str(FIXTURES / "eco-recreation" / "submission.yaml"), "--rules", str(pack),
                 "--limit", "rule_seconds=1")
    refused(result, "slow.rule", "HRD-009", "rule_seconds", line=1)
    assert time.monotonic() - started < 30


# ---- reading outside the submission ----------------------------------------------------------------


VRT = """<OGRVRTDataSource><OGRVRTLayer name="rights"><SrcDataSource>CSV:/etc/passwd</SrcDataSource>
</OGRVRTLayer></OGRVRTDataSource>"""


def test_a_vrt_layer_is_never_opened(tmp_path):
    path = bundle(tmp_path, with_rights("rights.vrt"), {"rights.vrt": VRT})
    text = refused(run("check", str(path)), "submission.yaml", "not a layer format")
    assert "root:" not in text
    path = bundle(tmp_path, with_rights("rights.gpkg"), {"rights.gpkg": VRT})  # a VRT in disguise
    text = refused(run("check", str(path)), "submission.yaml", "not a GPKG file")
    assert "root:" not in text


@pytest.mark.parametrize("source", ["/vsicurl/http://127.0.0.1:9/x.gpkg", "http://127.0.0.1:9/x.geojson",
                                    "CSV:/etc/passwd", "/vsizip/x.zip/rights.shp"])
def test_virtual_file_systems_and_urls_are_never_read(tmp_path, source):
    path = bundle(tmp_path, with_rights(source))
    text = refused(run("check", str(path), "--allow-outside"), "submission.yaml")
    assert "root:" not in text


def test_paths_out_of_the_folder_are_refused_unless_allowed(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "rights.geojson").write_text(json.dumps(rights_layer(polygon())), encoding="utf-8")
    folder = tmp_path / "bundle"
    folder.mkdir()
    for source, word in (("../elsewhere/rights.geojson", "'..'"), (str(outside / "rights.geojson"), "absolute path"),
                         ("linked.geojson", "symlink")):
        path = bundle(folder, with_rights(source))
        if source == "linked.geojson":
            (folder / "linked.geojson").symlink_to(outside / "rights.geojson")
        refused(run("check", str(path)), "submission.yaml", word, "--allow-outside")
        ok(run("check", str(path), "--allow-outside"))


def test_a_non_json_file_is_never_echoed(tmp_path):
    path = bundle(tmp_path, with_rights("secret.json"), {"secret.json": "password=hunter2\n"})
    text = refused(run("check", str(path)), "secret.json", "JSON syntax error")
    assert "hunter2" not in text


def _test_pack(tmp_path: Path, given: str, patch: str = "") -> Path:
    pack = tmp_path / "pack" / "t.rule"
    pack.parent.mkdir(parents=True, exist_ok=True)
    pack.write_text(_rule("p.land_use == p.land_use") + f'\ntest HRD-001 "probe"\n  given {given}\n{patch}  expect no HRD-001\n',
                    encoding="utf-8")
    return pack


def test_rule_tests_read_only_inside_the_pack_and_the_packaged_fixtures(tmp_path):
    secret = tmp_path / "secret.yaml"
    secret.write_text("token: s3cr3t-value\n", encoding="utf-8")
    for given in (f'submission "{secret}"', 'submission "../secret.yaml"', 'fixture "/etc"'):
        pack = _test_pack(tmp_path, given)
        result = run("rules", "test", str(pack))
        assert result.exit_code == 1, result.stdout + result.stderr
        text = result.stdout + result.stderr
        assert "outside the pack's folder" in text and "s3cr3t" not in text and "internal error" not in text
    pack = _test_pack(tmp_path, f'fixture "{FIXTURES / "minimal"}"')
    result = run("rules", "test", str(pack))
    assert result.exit_code == 0, result.stdout + result.stderr


def test_patch_paths_reach_only_contract_fields(tmp_path):
    pack = _test_pack(tmp_path, f'fixture "{FIXTURES / "minimal"}"',
                      '  with unit_plan.__class__.__init__.__globals__.len = 1\n')
    refused(run("rules", "validate", str(pack)), "t.rule", "no field '__class__'", line=11)
    result = run("rules", "test", str(pack))
    assert result.exit_code in (1, 2) and "internal error" not in result.stdout + result.stderr
    assert len([1, 2]) == 2
    pack = _test_pack(tmp_path, f'fixture "{FIXTURES / "minimal"}"', "  with unit_plan.directon = mine_land\n")
    refused(run("rules", "validate", str(pack)), "t.rule", "did you mean 'direction'?", line=11)


# ---- outputs ---------------------------------------------------------------------------------------


def test_an_input_is_never_overwritten_by_a_report(tmp_path):
    path = bundle(tmp_path, with_rights("rights.geojson"), {"rights.geojson": rights_layer(polygon())})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for target in ("submission.yaml", "rights.geojson"):
        refused(run("check", str(path), "--format", "json", "--output", str(tmp_path / target)), target, "input file",
                whole_file=True)
    (tmp_path / "alias.json").symlink_to(tmp_path / "submission.yaml")
    refused(run("check", str(path), "--format", "json", "--output", str(tmp_path / "alias.json")), "alias.json",
            whole_file=True)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "alias.json"} == before


def test_a_symlink_at_the_output_path_is_replaced_not_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").symlink_to(victim)
    ok(run("check", str(FIXTURES / "minimal" / "submission.yaml"), "--format", "json", "--output-dir", str(out)))
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert not (out / "report.json").is_symlink()
    json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert [p.name for p in out.iterdir()] == ["report.json"]  # no temporary file left


def test_a_failed_write_leaves_the_old_report_and_no_temporary(tmp_path, monkeypatch):
    from rulecheck import cli as cli_module
    from rulecheck.diagnostics import InputError

    report = tmp_path / "report.json"
    report.write_text("old", encoding="utf-8")

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli_module.os, "replace", broken)
    with pytest.raises(InputError, match="No space left"):
        cli_module._write(str(report), "new text")
    assert report.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


HOSTILE = "\x1b[32mPASSED\x1b[0m\r\x1b[8m![x](http://example.invalid/x.png)"


def _hostile_record() -> dict:
    from rulecheck import check, load_rules, load_submission

    record = check(load_submission(FIXTURES / "eco-recreation-defects" / "submission.yaml"), load_rules(), lang="en")
    conflict = record["conflicts"][0]
    conflict["subjects"][0]["id"] = HOSTILE
    conflict["message"] = HOSTILE
    record["submission"]["title"] = HOSTILE
    return record


def test_terminal_junit_and_markdown_escape_hostile_text():
    from rulecheck import report

    record = _hostile_record()
    text = report.render(record, "text", lang="en", color=True)
    assert "\x1b[32mPASSED" not in text and "\x1b[8m" not in text and "\r" not in text
    assert "\\x1b[32mPASSED" in text  # shown, escaped
    assert "\x1b[" not in report.render_summary_line(record, lang="en")
    ET.fromstring(report.render(record, "junit", lang="en").encode("utf-8"))  # well-formed
    markdown = report.render(record, "markdown", lang="en")
    assert not re.search(r"(?<!\\)\]\(http", markdown) and "![x]" not in markdown and "\x1b" not in markdown


def test_hostile_ids_end_to_end(tmp_path):
    manifest = BASE.replace("  id: T-01", '  id: "T-01\\e[8m\\r"\n  title: "\\e[32mPASSED ![x](http://example.invalid/x.png)"')
    path = bundle(tmp_path, manifest)
    result = run("check", str(path), "--format", "text", "--format", "markdown", "--format", "junit",
                 "--output", "-", "--output", str(tmp_path / "r.md"), "--output", str(tmp_path / "r.xml"))
    text = ok(result)
    assert "\x1b[32m" not in text and "\r" not in text
    assert not re.search(r"(?<!\\)\]\(http", (tmp_path / "r.md").read_text(encoding="utf-8"))
    ET.parse(tmp_path / "r.xml")


# ---- errors that once had no line --------------------------------------------------------------------


def test_encoding_errors_have_a_line_and_column(tmp_path):
    path = bundle(tmp_path)
    path.write_bytes(path.read_bytes().replace(b"title", b"title").replace(b"id: U1", b"id: U\xff1"))
    line = BASE.splitlines().index("  id: U1") + 1
    refused(run("check", str(path)), "submission.yaml", "not UTF-8 text (byte", line=line)
    assert f"submission.yaml:{line}:8: error" in run("check", str(path)).stderr
    path = bundle(tmp_path, with_rights("rights.geojson"),
                  {"rights.geojson": json.dumps(rights_layer(polygon()), indent=1).encode().replace(b'"R1"', b'"R\xfe1"')})
    refused(run("check", str(path)), "rights.geojson", "not UTF-8 text")
    (tmp_path / "w.yaml").write_bytes(b"- rule: IND-002\n  reason: \xff\n")
    refused(run("check", str(FIXTURES / "minimal" / "submission.yaml"), "--waivers", str(tmp_path / "w.yaml")), "w.yaml",
            "not UTF-8", line=2)


def test_unacceptable_characters_have_a_line_and_column(tmp_path):
    path = bundle(tmp_path, BASE.replace("  id: U1", "  id: U\x071"))
    line = BASE.splitlines().index("  id: U1") + 1
    text = refused(run("check", str(path)), "submission.yaml", "U+0007", line=line)
    assert "position" not in text and "\x07" not in text
    (tmp_path / "w.yaml").write_text(WAIVER.replace("reason: r", "reason: r\x07"), encoding="utf-8")
    refused(run("check", str(FIXTURES / "minimal" / "submission.yaml"), "--waivers", str(tmp_path / "w.yaml")),
            "w.yaml", "U+0007", line=3)


# ---- code execution: nothing is unpickled from a folder others can write ----------------------------

_OLD_PARSER = """
import sys
from lark import Lark
from rulecheck.dsl.parser import GRAMMAR
Lark(GRAMMAR.read_text(encoding="utf-8"), parser="lalr", start=["start", "expr"], propagate_positions=True,
     maybe_placeholders=True, cache=True)
"""


def test_a_file_planted_in_the_temp_folder_is_never_loaded(tmp_path):
    import pickle
    import subprocess
    import sys

    shared = tmp_path / "tmp"
    shared.mkdir()
    marker = tmp_path / "planted-code-ran"
    env = {**os.environ, "TMPDIR": str(shared), "RULECHECK_NO_CACHE": "1", "HOME": str(tmp_path / "home")}
    # learn the name lark's temp-folder cache takes (what rulecheck once loaded), then plant code under it
    subprocess.run([sys.executable, "-c", _OLD_PARSER], env=env, check=True, cwd=ROOT)
    (cached,) = list(shared.glob(".lark_*"))
    first_line = cached.read_bytes().split(b"\n", 1)[0]

    class Planted:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    cached.write_bytes(first_line + b"\n" + pickle.dumps(Planted()))
    # the planted file does run code for a parser built with the temp-folder cache: the probe is real
    subprocess.run([sys.executable, "-c", _OLD_PARSER], env=env, cwd=ROOT, capture_output=True)
    assert marker.exists()
    marker.unlink()
    cached.write_bytes(first_line + b"\n" + pickle.dumps(Planted()))
    result = subprocess.run([sys.executable, "-c", "from rulecheck.cli import main; main()", "rules", "validate",
                             str(ROOT / "rules")], env=env, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and "rule pack(s) OK" in result.stdout, result.stderr
    assert not marker.exists()


@pytest.mark.parametrize("text, words", [
    ("[" * 100_000 + "]" * 100_000, ["max_depth"]),
    ('{"conflicts": [], "a": ' + "1" * 5000 + "}", []),
    ("\ufeff{\"conflicts\": [}", ["not valid JSON"]),
])
def test_reports_given_to_diff_and_baseline_are_read_safely(tmp_path, text, words):
    report = tmp_path / "old.json"
    report.write_text(text, encoding="utf-8")
    result = run("diff", str(report), str(report))
    output = result.stdout + result.stderr
    assert result.exit_code in (0, 1, 2) and "internal error" not in output, output
    for word in words:
        assert word in output
    result = run("check", str(FIXTURES / "minimal" / "submission.yaml"), "--baseline", str(report))
    assert "internal error" not in result.stdout + result.stderr


def test_a_pipe_or_device_at_the_output_path_is_written_to_never_replaced(tmp_path):
    import stat
    import threading

    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    link = tmp_path / "stdout-like"
    link.symlink_to(fifo)  # as /dev/stdout is a symlink to the process's output
    for target in (fifo, link):
        received = []
        reader = threading.Thread(target=lambda: received.append(open(fifo, encoding="utf-8").read()))
        reader.start()
        ok(run("check", str(FIXTURES / "minimal" / "submission.yaml"), "--format", "json", "--output", str(target)))
        reader.join(timeout=30)
        assert json.loads(received[0])["format"] == "rulecheck/report/v1"
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and link.is_symlink()
