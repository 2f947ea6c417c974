"""A layer delivered as a FileGDB (`file.gdb#layer`, a folder of tables) checks exactly as its GeoJSON twin."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyogrio
import pytest
from click.testing import CliRunner

from rulecheck.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def _conflicts(manifest: Path) -> tuple[dict, list[tuple]]:
    result = CliRunner().invoke(cli, ["check", str(manifest), "--format", "json", "--lang", "en"])
    assert result.exit_code in (0, 1), result.output
    record = json.loads(result.stdout)
    # a FileGDB keeps coordinates on a grid of about a micrometre: a self-intersection's place may move by that
    return record, [(c["rule"], tuple(s["id"] for s in c["subjects"]),
                     re.sub(r"\d+\.\d{4,}", lambda m: f"{float(m.group(0)):.3f}", c["message"]))
                    for c in record["conflicts"]]


@pytest.fixture
def twins(tmp_path) -> tuple[Path, Path]:
    """The defects fixture twice: parcels as GeoJSON, and the same parcels in a FileGDB (without the list field
    `facilities`, which neither a FileGDB nor a GeoPackage can hold as a list)."""
    geojson, filegdb = tmp_path / "geojson", tmp_path / "filegdb"
    for target in (geojson, filegdb):
        shutil.copytree(ROOT / "fixtures" / "eco-recreation-defects", target)
    source = geojson / "layers" / "parcels.geojson"
    collection = json.loads(source.read_text(encoding="utf-8"))
    for feature in collection["features"]:
        feature["properties"].pop("facilities", None)
        feature["properties"].pop("access", None)  # 准入要求, a list too
    source.write_text(json.dumps(collection, ensure_ascii=False, indent=0), encoding="utf-8")
    meta, _, geometry, fields = pyogrio.raw.read(source)
    pyogrio.raw.write(filegdb / "layers" / "plan.gdb", geometry, fields, meta["fields"], layer="DKDY",
                      driver="OpenFileGDB", crs=meta["crs"], geometry_type="MultiPolygon", encoding="UTF-8")
    (filegdb / "layers" / "parcels.geojson").unlink()
    manifest = filegdb / "submission.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert "parcels: layers/parcels.geojson" in text
    manifest.write_text(text.replace("parcels: layers/parcels.geojson", "parcels: layers/plan.gdb#DKDY"), encoding="utf-8")
    return geojson / "submission.yaml", manifest


def test_a_filegdb_layer_checks_as_its_geojson_twin(twins):
    from_geojson, from_filegdb = twins
    record_a, a = _conflicts(from_geojson)
    record_b, b = _conflicts(from_filegdb)
    assert a and a == b
    gdb = [i for i in record_b["submission"]["inputs"] if i["path"].startswith("layers/plan.gdb")]
    assert len(gdb) == 1 and len(gdb[0]["sha256"]) == 64, "the FileGDB folder is one input, hashed"
    located = {s["source"]["path"] for c in record_b["conflicts"] for s in c["subjects"] if s.get("source")}
    assert "layers/plan.gdb#DKDY" in located


def test_a_folder_that_is_not_a_filegdb_is_still_refused(twins):
    _, manifest = twins
    (manifest.parent / "layers" / "plain").mkdir()
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("layers/plan.gdb#DKDY", "layers/plain"),
                        encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(manifest)])
    assert result.exit_code == 2 and "layers/plain" in result.output


# ---- a planning database's layer: its own field names, areas in hectares -------------------------------------

PLANNING_DB = {"id": "DKBH", "land_use": "YDYHFLDM", "far_max": "RJL", "density_max": "JZMD", "green_min": "LDL",
               "height_max": "JZXG", "area_m2": "TBMJ"}


@pytest.fixture
def planning_db(twins) -> tuple[Path, Path]:
    """The FileGDB twin rewritten as a planning database delivers it: DKBH, YDYHFLDM, RJL, ..., TBMJ in hectares,
    and fields of its own (BSM, XZQDM) that are not part of the contract."""
    from_geojson, from_filegdb = twins
    source = from_geojson.parent / "layers" / "parcels.geojson"
    collection = json.loads(source.read_text(encoding="utf-8"))
    for number, feature in enumerate(collection["features"], start=1):
        props = feature["properties"]
        renamed = {PLANNING_DB.get(key, key): value for key, value in props.items()}
        if renamed.get("TBMJ") is not None:
            renamed["TBMJ"] = renamed["TBMJ"] / 10_000  # hectares
        feature["properties"] = {"BSM": number, "XZQDM": "441803", **renamed}
    converted = from_filegdb.parent / "layers" / "db.geojson"
    converted.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    meta, _, geometry, fields = pyogrio.raw.read(converted)
    shutil.rmtree(from_filegdb.parent / "layers" / "plan.gdb")
    pyogrio.raw.write(from_filegdb.parent / "layers" / "xxgh.gdb", geometry, fields, meta["fields"], layer="DKDY",
                      driver="OpenFileGDB", crs=meta["crs"], geometry_type="MultiPolygon", encoding="UTF-8")
    converted.unlink()
    text = from_filegdb.read_text(encoding="utf-8").replace(
        "parcels: layers/plan.gdb#DKDY",
        "parcels:\n    path: layers/xxgh.gdb#DKDY\n    fields: planning-db\n    units: {area_m2: ha}")
    from_filegdb.write_text(text, encoding="utf-8")
    return from_geojson, from_filegdb


def test_a_planning_database_layer_checks_as_its_geojson_twin(planning_db):
    from_geojson, from_db = planning_db
    record_a, a = _conflicts(from_geojson)
    record_b, b = _conflicts(from_db)
    assert a and a == b, "same conflicts: names mapped by the preset, hectares converted to m²"
    assert not any("BSM" in str(n) for n in record_b["submission"]["notes"])


def test_a_field_mapping_written_in_the_manifest_wins_and_errors_name_the_source_field(planning_db):
    _, manifest = planning_db
    text = manifest.read_text(encoding="utf-8")
    # a typo in an explicit mapping is an error, not an absent indicator
    manifest.write_text(text.replace("fields: planning-db", "fields: {preset: planning-db, far_max: RJLL}"),
                        encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(manifest)])
    assert result.exit_code == 2
    assert "no attribute 'RJLL' (mapped to 'far_max') in any record of this layer" in result.output
    assert "layers/xxgh.gdb#DKDY" in result.output

    # a value the contract refuses is located by the layer's own field name and the contract's, and the record's id
    manifest.write_text(text.replace("fields: planning-db", "fields: {preset: planning-db, far_max: XZQDM}"),
                        encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(manifest)])
    assert result.exit_code == 2
    assert re.search(r"layers/xxgh\.gdb#DKDY:\d+: error: XZQDM \(far_max\): expected a number <= 100 .*\(parcel P\d+, fid \d+\)",
                     result.output), result.output

    for bad, message in (("fields: no-such-preset", "no field preset 'no-such-preset'"),
                         ("fields: {far_maxx: RJL}", "'far_maxx' is not a field of these records"),
                         ("units: {far_max: ha}", "units can be given for area fields"),
                         ("units: {area_m2: acre}", "unknown area unit 'acre'")):
        old = "fields: planning-db" if bad.startswith("fields") else "units: {area_m2: ha}"
        manifest.write_text(text.replace(old, bad), encoding="utf-8")
        result = CliRunner().invoke(cli, ["check", str(manifest)])
        assert result.exit_code == 2 and message in result.output, (bad, result.output)
        assert "submission.yaml:" in result.output


# ---- list attributes in a GDAL layer: JSON text, as a GeoPackage keeps a string list ------------------------


def _gpkg_twin(tmp_path: Path, lists_as) -> Path:
    """The defects fixture with its parcels in a GeoPackage, the list fields (`facilities`, `access`) written as
    `lists_as(value)`, text either way."""
    folder = tmp_path / "gpkg"
    shutil.copytree(ROOT / "fixtures" / "eco-recreation-defects", folder)
    source = folder / "layers" / "parcels.geojson"
    collection = json.loads(source.read_text(encoding="utf-8"))
    assert any("access" in f["properties"] for f in collection["features"]), "the fixture has a list field to carry"
    for feature in collection["features"]:
        for key in ("facilities", "access"):
            if key in feature["properties"]:
                feature["properties"][key] = lists_as(feature["properties"][key])
    flat = tmp_path / "flat.geojson"
    flat.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    meta, _, geometry, fields = pyogrio.raw.read(flat)
    pyogrio.raw.write(folder / "layers" / "plan.gpkg", geometry, fields, meta["fields"], layer="parcels",
                      driver="GPKG", crs=meta["crs"], geometry_type="MultiPolygon")
    source.unlink()
    manifest = folder / "submission.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("parcels: layers/parcels.geojson",
                                                                      "parcels: layers/plan.gpkg#parcels"), encoding="utf-8")
    return manifest


def test_a_list_attribute_of_a_geopackage_is_json_text_and_checks_as_the_geojson_array(tmp_path):
    _, original = _conflicts(ROOT / "fixtures" / "eco-recreation-defects" / "submission.yaml")
    record, twin = _conflicts(_gpkg_twin(tmp_path, lambda v: json.dumps(v, ensure_ascii=False)))
    assert twin == original
    # DOC-083 reads parcels' `access`: it fires from the GeoPackage's JSON text as from the GeoJSON array
    assert any(rule == "DOC-083" for rule, _, _ in twin) == any(rule == "DOC-083" for rule, _, _ in original)


def test_a_list_attribute_that_is_not_a_json_array_is_a_located_error(tmp_path):
    manifest = _gpkg_twin(tmp_path, lambda v: "、".join(v) if isinstance(v, list) else v)
    result = CliRunner().invoke(cli, ["check", str(manifest), "--lang", "en"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "plan.gpkg#parcels" in result.output and "expected a list" in result.output
