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
