"""Data mistakes speak (issue 19, items 2 and 3): a misspelt attribute, a mistyped field mapping and a CRS that
does not fit the coordinates are located errors (exit 2), never a check switched off or a silent reprojection;
load warnings are printed on every run and listed in the JSON report; a reprojection is said in every summary."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyogrio
import pyproj
import pytest

from test_dsl_support import FIXTURES, invoke

DEFECTS = FIXTURES / "eco-recreation-defects"
CLEAN = FIXTURES / "eco-recreation"


def _copy(tmp_path: Path, source: Path = DEFECTS) -> Path:
    folder = tmp_path / source.name
    shutil.copytree(source, folder)
    return folder / "submission.yaml"


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if text in line)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _record(result) -> dict:
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return json.loads(result.stdout)


# ---- a misspelt attribute is an error naming the field meant ---------------------------------------------------


def test_a_misspelt_indicator_in_a_layer_is_an_error_not_a_vanished_conflict(tmp_path):
    manifest = _copy(tmp_path)
    before = _record(invoke("check", manifest, "--format", "json", "--lang", "en"))
    assert any(c["rule"] == "IND-010" and "P07" in [s["id"] for s in c["subjects"]] for c in before["conflicts"])

    layer = manifest.parent / "layers" / "parcels.geojson"
    _replace(layer, '"id": "P07", "land_use": "0901", "area_m2": 43848.05, "far_max": 1.2',
             '"id": "P07", "land_use": "0901", "area_m2": 43848.05, "far_mx": 1.2')
    result = invoke("check", manifest, "--format", "json", "--lang", "en")
    assert result.returncode == 2, result.stdout
    line = _line_of(layer, '"far_mx"')
    assert re.search(rf"layers/parcels\.geojson:{line}: error: features\[\d+\]\.properties\.far_mx: attribute 'far_mx' "
                     r"is not a field of the contract.*\(parcel P07\)", result.stderr), result.stderr
    assert "hint: did you mean 'far_max'?" in result.stderr


def test_an_attribute_in_another_letter_case_is_a_misspelling_too(tmp_path):
    manifest = _copy(tmp_path)
    layer = manifest.parent / "layers" / "parcels.geojson"
    _replace(layer, '"id": "P07", "land_use": "0901", "area_m2": 43848.05, "far_max": 1.2',
             '"id": "P07", "land_use": "0901", "area_m2": 43848.05, "FAR_MAX": 1.2')
    result = invoke("check", manifest, "--lang", "en")
    assert result.returncode == 2 and "did you mean 'far_max'?" in result.stderr, result.stderr


def _planning_db(tmp_path: Path, rename: dict[str, str], fields: str = "planning-db") -> Path:
    """The defects fixture with its parcels in a FileGDB as a planning database delivers them (DKBH, RJL, ... and
    fields of its own), its field names renamed by `rename` on the way."""
    manifest = _copy(tmp_path)
    layers = manifest.parent / "layers"
    preset = {"id": "DKBH", "land_use": "YDYHFLDM", "far_max": "RJL", "density_max": "JZMD", "green_min": "LDL",
              "height_max": "JZXG", "area_m2": "TBMJ"}
    collection = json.loads((layers / "parcels.geojson").read_text(encoding="utf-8"))
    for number, feature in enumerate(collection["features"], start=1):
        props = {preset.get(k, k): v for k, v in feature["properties"].items() if k not in ("facilities", "access")}  # list fields no FileGDB holds
        props = {rename.get(k, k): v for k, v in props.items()}
        feature["properties"] = {"BSM": number, "XZQDM": "441803", "JZMJ": 1000.0, **props}
    converted = layers / "db.geojson"
    converted.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    meta, _, geometry, columns = pyogrio.raw.read(converted)
    pyogrio.raw.write(layers / "xxgh.gdb", geometry, columns, meta["fields"], layer="DKDY", driver="OpenFileGDB",
                      crs=meta["crs"], geometry_type="MultiPolygon", encoding="UTF-8")
    converted.unlink()
    (layers / "parcels.geojson").unlink()
    _replace(manifest, "parcels: layers/parcels.geojson", f"parcels:\n    path: layers/xxgh.gdb#DKDY\n    fields: {fields}")
    return manifest


def test_a_misspelt_field_of_a_planning_database_under_the_preset_is_an_error(tmp_path):
    clean = _planning_db(tmp_path / "a", {})
    result = invoke("check", clean, "--format", "json", "--lang", "en")
    record = _record(result)
    assert any(c["rule"] == "IND-010" for c in record["conflicts"])
    assert record["diagnostics"] == [] and "warning" not in result.stderr, "JZMJ, BSM, XZQDM are the database's own"

    manifest = _planning_db(tmp_path / "b", {"RJL": "RLJ"})
    result = invoke("check", manifest, "--lang", "en")
    assert result.returncode == 2, result.stdout
    assert re.search(r"layers/xxgh\.gdb#DKDY:\d+: error: RLJ: attribute 'RLJ' is not mapped to any field, and no record "
                     r"has 'RJL', which fields: planning-db maps to 'far_max'", result.stderr), result.stderr
    assert "did you mean 'RJL'?" in result.stderr


def test_a_mapping_naming_a_field_the_layer_lacks_is_located_at_the_manifest_line_with_the_nearest_field(tmp_path):
    manifest = _planning_db(tmp_path, {}, fields="{preset: planning-db, far_max: RJLL}")
    # run in the manifest's folder: files are named from the working folder (issue 24)
    result = invoke("check", manifest, "--lang", "en", cwd=manifest.parent)
    assert result.returncode == 2, result.stdout
    line = _line_of(manifest, "far_max: RJLL")
    assert re.search(rf"^submission\.yaml:{line}: error: detailed_plan\.parcels\.fields\.far_max: no attribute 'RJLL' "
                     r"\(mapped to 'far_max'\) in any record of this layer \(layers/xxgh\.gdb#DKDY\)", result.stderr, re.M), result.stderr
    assert "hint: did you mean 'RJL'?" in result.stderr
    assert "error: RJL:" not in result.stderr, "the layer's own field is not blamed for the manifest's typo"


FIELD = 'field detailed_plan.parcels.appraised_value: number wan_yuan "评估价" "Appraised value"\n'
RULE = """
rule FIN-951
  title zh "地块评估价上限（示例）" en "Appraised value cap (example)"
  severity warning
  basis "示例"
  for each p in detailed_plan.parcels where present(p.appraised_value)
  require p.appraised_value <= 100 wan_yuan
  message zh "地块 {p} 评估价 {p.appraised_value}" en "Parcel {p} appraised at {p.appraised_value}"
"""


@pytest.mark.parametrize("attribute", ["appraised_value", "apraised_value"])
def test_a_misspelt_province_field_in_a_layer_is_an_error_and_a_declared_one_no_warning(tmp_path, attribute):
    manifest = _copy(tmp_path, CLEAN)
    layer = manifest.parent / "layers" / "parcels.geojson"
    _replace(layer, '"id": "P01",', f'"id": "P01", "{attribute}": 118,')
    (tmp_path / "prov.rule").write_text(FIELD + RULE, encoding="utf-8")
    result = invoke("check", manifest, "--add-rules", "prov.rule", "--format", "json", "--lang", "en", cwd=tmp_path)
    if attribute == "appraised_value":
        record = _record(result)
        assert [c["rule"] for c in record["conflicts"]] == ["FIN-951"]
        assert record["diagnostics"] == [] and "warning" not in result.stderr, "a declared field is read, not ignored"
        return
    assert result.returncode == 2, result.stdout
    line = _line_of(layer, attribute)
    assert re.search(rf"layers/parcels\.geojson:{line}: error: features\[0\]\.properties\.apraised_value: attribute "
                     r"'apraised_value' is not a field the rule packs declare", result.stderr), result.stderr
    assert "did you mean 'appraised_value'? (declared at prov.rule:1)" in result.stderr


# ---- warnings are printed on every run and listed in the report -----------------------------------------------


def test_a_load_warning_is_printed_on_a_clean_run_and_listed_with_its_place(tmp_path):
    manifest = _copy(tmp_path, CLEAN)
    layer = manifest.parent / "layers" / "parcels.geojson"
    _replace(layer, '"id": "P03",', '"id": "P03", "remarks": "待核实",')
    line = _line_of(layer, '"remarks"')
    for args in ((), ("--format", "json", "--output", str(tmp_path / "r.json")), ("--quiet",)):
        result = invoke("check", manifest, "--lang", "en", *args)
        assert result.returncode == 0, result.stderr
        assert re.search(rf"^layers/parcels\.geojson:{line}: warning: features\[\d+\]\.properties\.remarks: attribute "
                         r"'remarks' is not part of the contract and is ignored \(parcel P03\)$", result.stderr, re.M), (args, result.stderr)
    (diagnostic,) = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["diagnostics"]
    assert {k: diagnostic[k] for k in ("severity", "path", "line")} == {"severity": "warning", "path": "layers/parcels.geojson",
                                                                         "line": line}
    assert diagnostic["field"].endswith(".properties.remarks") and "remarks" in diagnostic["message"]


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir() if (p / "submission.yaml").is_file()))
def test_the_shipped_fixtures_load_without_a_warning(name):
    result = invoke("check", FIXTURES / name / "submission.yaml", "--format", "json", "--lang", "en")
    record = _record(result)
    assert record["diagnostics"] == [] and result.stderr == "", result.stderr
    assert "reprojected" not in record["summary"]


# ---- the CRS is checked against the coordinates -----------------------------------------------------------------


@pytest.mark.parametrize("declared, said", [
    ("EPSG:3857", "EPSG:3857 (WGS 84 / Pseudo-Mercator) uses the Popular Visualisation Pseudo Mercator projection"),
    ("EPSG:4527", "the eastings carry the Gauss-Krüger zone number 38"),
    ("EPSG:4547", "the eastings carry the Gauss-Krüger zone number 38"),
    ("EPSG:32650", "the eastings carry the Gauss-Krüger zone number 38"),
])
def test_a_declared_crs_that_does_not_fit_the_coordinates_is_a_located_error_naming_the_likely_one(tmp_path, declared, said):
    manifest = _copy(tmp_path)
    _replace(manifest, "crs: EPSG:4526", f"crs: {declared}")
    result = invoke("check", manifest, "--format", "json", "--lang", "en", cwd=manifest.parent)
    assert result.returncode == 2, result.stdout[:300]
    line = _line_of(manifest, f"crs: {declared}")
    assert re.search(rf"^submission\.yaml:{line}: error: submission\.crs: the declared CRS does not fit the data: ",
                     result.stderr, re.M), result.stderr
    assert said in result.stderr
    assert "the coordinates fit EPSG:4526 (CGCS2000 / 3-degree Gauss-Kruger zone 38)" in result.stderr
    assert "hint: declare crs: EPSG:4526" in result.stderr


def test_eastings_without_the_zone_number_under_a_zone_crs_name_the_unprefixed_crs(tmp_path):
    manifest = tmp_path / "submission.yaml"
    manifest.write_text((FIXTURES / "minimal" / "submission.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    text = manifest.read_text(encoding="utf-8")
    stripped = re.sub(r"\b38(\d{6}(?:\.\d+)?)\b", r"\1", text)
    assert stripped != text
    manifest.write_text(stripped, encoding="utf-8")
    result = invoke("check", manifest, "--lang", "en")
    assert result.returncode == 2
    assert "the eastings carry no zone number" in result.stderr
    assert "the coordinates fit EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E)" in result.stderr, result.stderr


def test_a_layer_whose_own_crs_does_not_fit_it_is_an_error_at_the_layer(tmp_path):
    manifest = _copy(tmp_path)
    layer = manifest.parent / "layers" / "parcels.geojson"
    _replace(layer, "urn:ogc:def:crs:EPSG::4526", "urn:ogc:def:crs:EPSG::3857")
    result = invoke("check", manifest, "--lang", "en", cwd=manifest.parent)
    assert result.returncode == 2
    assert re.search(r"^layers/parcels\.geojson:1: error: crs: layer layers/parcels\.geojson: its own CRS EPSG:3857 does "
                     r"not fit it", result.stderr, re.M), result.stderr


# ---- a reprojection is said in the summary of every format --------------------------------------------------------


@pytest.fixture(scope="module")
def reprojected(tmp_path_factory) -> Path:
    """The clean fixture with its parcels delivered in CGCS2000 longitude/latitude (EPSG:4490)."""
    manifest = _copy(tmp_path_factory.mktemp("lonlat"), CLEAN)
    layer = manifest.parent / "layers" / "parcels.geojson"
    collection = json.loads(layer.read_text(encoding="utf-8"))
    to_degrees = pyproj.Transformer.from_crs(4526, 4490, always_xy=True)

    def move(coordinates):
        if isinstance(coordinates[0], (int, float)):
            return list(to_degrees.transform(coordinates[0], coordinates[1]))
        return [move(c) for c in coordinates]

    for feature in collection["features"]:
        feature["geometry"]["coordinates"] = move(feature["geometry"]["coordinates"])
    collection["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}}
    layer.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return manifest


SAID = "Coordinates reprojected: EPSG:4490 → EPSG:4526 (layers/parcels.geojson)"


@pytest.mark.parametrize("fmt", ["text", "markdown", "sarif", "junit", "html", "github"])
def test_a_reprojection_is_said_in_every_summary(reprojected, fmt):
    result = invoke("check", reprojected, "--format", fmt, "--lang", "en")
    assert result.returncode == 0, result.stderr
    assert SAID in result.stdout, result.stdout[-2000:]
    if fmt == "text":
        assert result.stdout.splitlines()[-2:] == [SAID, result.stdout.splitlines()[-1]]
        assert result.stdout.splitlines()[-1].endswith("PASSED")


def test_a_reprojection_is_in_the_json_summary_and_in_chinese(reprojected):
    record = _record(invoke("check", reprojected, "--format", "json", "--lang", "en"))
    assert record["summary"]["reprojected"] == [{"layer": "layers/parcels.geojson", "from": "EPSG:4490", "to": "EPSG:4526"}]
    text = invoke("check", reprojected, "--lang", "zh").stdout
    assert "坐标已重投影：EPSG:4490 → EPSG:4526（layers/parcels.geojson）" in text


def test_a_reprojection_is_said_on_the_terminal_when_the_reports_go_to_files(reprojected, tmp_path):
    result = invoke("check", reprojected, "--format", "json", "--output", str(tmp_path / "r.json"), "--lang", "en")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == SAID and result.stdout.splitlines()[1].endswith("PASSED")


def test_an_attribute_beside_the_field_it_resembles_is_no_misspelling(tmp_path):
    """ArcGIS gives a new Shapefile an `Id` column of its own: beside the id the records have, it switches nothing
    off, so it is a warning (an attribute the contract does not know), not an error."""
    manifest = _copy(tmp_path, CLEAN)
    layer = manifest.parent / "layers" / "parcels.geojson"
    _replace(layer, '"id": "P03",', '"id": "P03", "Id": 0,')
    result = invoke("check", manifest, "--format", "json", "--lang", "en")
    record = _record(result)
    assert [d["message"] for d in record["diagnostics"]] == ["attribute 'Id' is not part of the contract and is ignored (parcel P03)"]


@pytest.mark.parametrize("declared, said, likely", [
    ("EPSG:4490", "the coordinates are not longitude/latitude (e.g. 38", "EPSG:4526 (CGCS2000 / 3-degree Gauss-Kruger zone 38)"),
    ("EPSG:4326", "the coordinates are not longitude/latitude (e.g. 38", "EPSG:4526 (CGCS2000 / 3-degree Gauss-Kruger zone 38)"),
])
def test_projected_coordinates_under_a_geographic_crs_name_the_zone(tmp_path, declared, said, likely):
    manifest = _copy(tmp_path)
    _replace(manifest, "crs: EPSG:4526", f"crs: {declared}")
    result = invoke("check", manifest, "--lang", "en")
    assert result.returncode == 2
    line = _line_of(manifest, f"crs: {declared}")
    assert f"submission.yaml:{line}: error: submission.crs: the declared CRS does not fit the data: {said}" in result.stderr
    assert f"the coordinates fit {likely}" in result.stderr, result.stderr


def test_the_sarif_with_a_reprojection_and_a_load_warning_is_valid_and_locates_the_warning(reprojected, tmp_path):
    import jsonschema

    schemas = next((p for p in (Path("/work/shared/schemas"), Path(__file__).resolve().parents[2] / "shared" / "schemas")
                    if p.exists()), None)
    if schemas is None:
        pytest.skip("the SARIF schema (../shared/schemas) is not beside this clone")
    manifest = tmp_path / "bundle" / "submission.yaml"
    shutil.copytree(reprojected.parent, manifest.parent)
    _replace(manifest.parent / "layers" / "lines.geojson", '"id": "CL-PBF-01",', '"id": "CL-PBF-01", "remarks": "x",')
    sarif = json.loads(invoke("check", manifest, "--format", "sarif", "--lang", "en").stdout)
    schema = json.loads((schemas / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    assert sorted(jsonschema.Draft7Validator(schema).iter_errors(sarif), key=str) == []
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [n["descriptor"]["id"] for n in notes] == ["reprojected", "load"]
    assert notes[0]["message"]["text"] == SAID and notes[0]["level"] == "note"
    assert notes[1]["level"] == "warning" and "remarks" in notes[1]["message"]["text"]
    assert notes[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "layers/lines.geojson"
    assert notes[1]["locations"][0]["physicalLocation"]["region"]["startLine"] == _line_of(
        manifest.parent / "layers" / "lines.geojson", '"remarks"')
